/**
 * The training loop of a language model, in small parts: a loop that steps an optimizer on
 * the loss of each step's batch (gradients optionally clipped by `nn`'s `clipGradNorm`),
 * evaluates every `evalInterval` steps, keeps track of the best evaluation and reports
 * progress; and evaluation of a mean loss over fixed batches.
 *
 * The loop asks for the loss *of step s* (`lossAt(s)`), not for "the next batch": when the
 * batch of each step is a function of the seed and the step, a run resumed from a
 * checkpoint at step s sees exactly the batches an uninterrupted run would have.
 *
 * @module
 */

import { clipGradNorm } from "../nn/clip.ts";
import { noGrad, type Tensor } from "../tensor/tensor.ts";
import type { Progress } from "../util/progress.ts";
import type { TensorAdamW } from "./adamw.ts";

/**
 * One evaluation: the step it followed and the losses measured (e.g. `train` and `test`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Evaluation } from "./train.ts";
 * const e: Evaluation = { step: 500, losses: { train: 2.3, test: 2.35 } };
 * assert.equal(e.losses.test, 2.35);
 * ```
 */
export interface Evaluation {
  /** How many optimizer steps had been taken. */
  readonly step: number;
  /** The losses by name. */
  readonly losses: Readonly<Record<string, number>>;
}

/**
 * Options of {@linkcode trainLoop}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainLoopOptions } from "./train.ts";
 * const partial: Partial<TrainLoopOptions> = { maxSteps: 5000, evalInterval: 500 };
 * assert.equal(partial.evalInterval, 500);
 * ```
 */
export interface TrainLoopOptions {
  /** Steps the parameters; its `stepCount` is where the loop starts (a resumed run). */
  readonly optimizer: TensorAdamW;
  /** The loop stops when the optimizer has taken this many steps. */
  readonly maxSteps: number;
  /** The scalar loss of the batch of step `step` (0-based), with a graph to the parameters. */
  readonly lossAt: (step: number) => Tensor;
  /** Evaluate after every this many steps, and after the last (default 500). */
  readonly evalInterval?: number;
  /** The losses to record at an evaluation (called inside `noGrad`). */
  readonly evaluate?: (step: number) => Readonly<Record<string, number>>;
  /** Which evaluated loss picks the best model (default `"test"`). */
  readonly selectBy?: string;
  /** The best evaluation so far, when resuming (default none). */
  readonly best?: Evaluation | null;
  /**
   * Called after each evaluation with whether it is the best so far (save a checkpoint
   * here); awaited before training goes on.
   */
  readonly onEvaluation?: (evaluation: Evaluation, isBest: boolean) => void | Promise<void>;
  /**
   * Clip the gradients' global norm to this value before each step, with `nn`'s
   * `clipGradNorm` (default: no clipping).
   */
  readonly clipNorm?: number;
  /** Where progress is reported (default none). */
  readonly progress?: Progress;
}

/**
 * What {@linkcode trainLoop} did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrainResult } from "./train.ts";
 * const r: TrainResult = { steps: 10, lastLoss: 2.5, evaluations: [], best: null, msPerStep: 3 };
 * assert.equal(r.best, null);
 * ```
 */
export interface TrainResult {
  /** The optimizer's step count at the end. */
  readonly steps: number;
  /** The training loss of the last step taken (NaN when no step was taken). */
  readonly lastLoss: number;
  /** Every evaluation of this call, in order. */
  readonly evaluations: readonly Evaluation[];
  /** The best evaluation, counting `options.best`. */
  readonly best: Evaluation | null;
  /** Mean wall time of a training step in this call (evaluations excluded), in ms. */
  readonly msPerStep: number;
}

/**
 * Trains until the optimizer has taken `maxSteps` steps: for each step, the loss of its
 * batch, backward, optional clipping, an optimizer step; an evaluation every
 * `evalInterval` steps and after the last; the best evaluation (lowest `selectBy` loss)
 * reported through `onEvaluation`.
 *
 * @throws {RangeError} for `maxSteps` or `evalInterval` that is not a whole number, or an
 * evaluation without the `selectBy` loss.
 *
 * @example Fit a scalar, evaluating every 10 steps.
 * ```ts
 * import assert from "node:assert/strict";
 * import { trainLoop } from "./train.ts";
 * import { TensorAdamW } from "./adamw.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const w = tensor([0], { requiresGrad: true });
 * const optimizer = new TensorAdamW(new Map([["w", w]]), { learningRate: 0.1 });
 * const result = await trainLoop({
 *   optimizer,
 *   maxSteps: 30,
 *   lossAt: () => w.sub(1).pow(2).sum(),
 *   evalInterval: 10,
 *   evaluate: () => ({ test: (w.data[0] - 1) ** 2 }),
 * });
 * assert.equal(result.steps, 30);
 * assert.deepEqual(result.evaluations.map((e) => e.step), [10, 20, 30]);
 * assert.equal(result.best!.step, 30);
 * ```
 */
export async function trainLoop(options: TrainLoopOptions): Promise<TrainResult> {
  const { optimizer, maxSteps, lossAt, evaluate, progress } = options;
  const evalInterval = options.evalInterval ?? 500;
  const selectBy = options.selectBy ?? "test";
  if (!Number.isSafeInteger(maxSteps) || maxSteps < 0) {
    throw new RangeError(`trainLoop: maxSteps must be a whole number ≥ 0, got ${maxSteps}`);
  }
  if (!Number.isSafeInteger(evalInterval) || evalInterval < 1) {
    throw new RangeError(`trainLoop: evalInterval must be a whole number ≥ 1, got ${evalInterval}`);
  }
  const evaluations: Evaluation[] = [];
  let best = options.best ?? null;
  let lastLoss = NaN;
  let trainingMs = 0;
  const first = optimizer.stepCount;
  while (optimizer.stepCount < maxSteps) {
    const step = optimizer.stepCount;
    const started = performance.now();
    optimizer.zeroGrad();
    const loss = lossAt(step);
    // Only the parameters' gradients are read: the pass's other arrays serve the next step.
    loss.backward(undefined, { intermediateGrads: false });
    if (options.clipNorm !== undefined) {
      clipGradNorm([...optimizer.parameters.values()], options.clipNorm);
    }
    optimizer.step();
    lastLoss = loss.item();
    trainingMs += performance.now() - started;
    const done = optimizer.stepCount;
    progress?.update(done, { loss: lastLoss });
    if (evaluate !== undefined && (done % evalInterval === 0 || done === maxSteps)) {
      const losses = noGrad(() => evaluate(done));
      const score = losses[selectBy];
      if (typeof score !== "number") {
        throw new RangeError(`trainLoop: the evaluation has no "${selectBy}" loss to select by`);
      }
      const evaluation: Evaluation = { step: done, losses };
      const isBest = best === null || score < best.losses[selectBy];
      if (isBest) best = evaluation;
      evaluations.push(evaluation);
      progress?.log(
        `step ${done}: ` +
          Object.entries(losses).map(([k, v]) => `${k} loss ${v.toFixed(4)}`).join(", ") +
          (isBest ? " (best)" : ""),
      );
      await options.onEvaluation?.(evaluation, isBest);
    }
  }
  progress?.done();
  const steps = optimizer.stepCount;
  return {
    steps,
    lastLoss,
    evaluations,
    best,
    msPerStep: steps > first ? trainingMs / (steps - first) : 0,
  };
}

/**
 * A loss over several batches, weighted by how many targets each counts: the mean loss of
 * every target in them together. `lossOf` returns a batch's mean loss and its count of
 * (non-ignored) targets; it runs inside `noGrad`.
 *
 * @throws {RangeError} when there are no batches, no counted targets, or a loss is not
 * finite.
 *
 * @example Two batches of 1 and 3 targets.
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanLoss } from "./train.ts";
 * const batches = [{ loss: 4, count: 1 }, { loss: 2, count: 3 }];
 * assert.equal(meanLoss(batches, (b) => b), 2.5);
 * ```
 */
export function meanLoss<B>(
  batches: readonly B[],
  lossOf: (batch: B) => { readonly loss: number; readonly count: number },
): number {
  if (batches.length === 0) throw new RangeError("meanLoss: no batches");
  let total = 0;
  let count = 0;
  noGrad(() => {
    for (const batch of batches) {
      const r = lossOf(batch);
      if (!Number.isFinite(r.loss)) throw new RangeError(`meanLoss: a batch's loss is ${r.loss}`);
      total += r.loss * r.count;
      count += r.count;
    }
  });
  if (count === 0) throw new RangeError("meanLoss: the batches count no targets");
  return total / count;
}
