/**
 * The first rung: the next character depends on the current one only. Two ways to the same
 * model: {@linkcode CountingBigram} counts pairs and normalises (the maximum-likelihood
 * answer, in closed form), {@linkcode Bigram} learns a `[vocab, vocab]` table of logits by
 * gradient descent. Trained to convergence without weight decay, the learned one reaches the
 * counting one's loss (a test holds them to 1e-3 nats).
 *
 * @module
 */

import { gather, Tensor } from "../tensor/tensor.ts";
import {
  checkedConfig,
  idsTensor,
  type LanguageModel,
  type ModelConfig,
  type ModelOptions,
  type TokenIds,
} from "./model.ts";
import { adoptParameters } from "./_layers.ts";

/**
 * makemore's `Bigram`: logits of the next token are a row of a learned `[vocab, vocab]`
 * table (starting at 0), picked by the current token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Bigram } from "./bigram.ts";
 * const model = new Bigram({ vocabSize: 5, blockSize: 8, nLayer: 1, nHead: 1, nEmbd: 1, nEmbd2: 1 });
 * assert.deepEqual(model.forward([[0, 3, 4]]).shape, [1, 3, 5]);
 * ```
 */
export class Bigram implements LanguageModel {
  /** `"bigram"`. */
  readonly type = "bigram";
  /** The sizes (only `vocabSize` matters). */
  readonly config: ModelConfig;
  /** The table of logits: row i holds the logits of the token after token i. */
  readonly logits: Tensor;

  /**
   * A bigram model of `config.vocabSize` tokens, all logits 0 (or the given `logits`).
   *
   * @throws {RangeError} for bad sizes or a given table that does not fit.
   */
  constructor(config: ModelConfig, options: ModelOptions = {}) {
    this.config = checkedConfig("bigram", config);
    const n = this.config.vocabSize;
    const fresh = new Tensor(new Float64Array(n * n), [n, n], { requiresGrad: true });
    const p = adoptParameters("bigram", new Map([["logits", fresh]]), options.parameters);
    this.logits = p.get("logits") as Tensor;
  }

  /** The table's rows for each id: `[batch, time, vocab]`. */
  forward(ids: TokenIds): Tensor {
    return gather(this.logits, idsTensor(ids));
  }

  /** `logits`. */
  namedParameters(): Map<string, Tensor> {
    return new Map([["logits", this.logits]]);
  }
}

/**
 * Options of {@linkcode CountingBigram}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CountingBigramOptions } from "./bigram.ts";
 * const addOne: CountingBigramOptions = { smoothing: 1 };
 * assert.equal(addOne.smoothing, 1);
 * ```
 */
export interface CountingBigramOptions {
  /** Added to every pair's count (Laplace smoothing), ≥ 0 (default 1). */
  readonly smoothing?: number;
}

/**
 * The bigram model by counting: `P(next = j | current = i) = (count(i, j) + α) / Σⱼ (count(i,
 * j) + α)`, counted over the (input, target) pairs of training sequences. With α = 0 this
 * is the maximum-likelihood bigram, the optimum the learned {@linkcode Bigram} approaches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CountingBigram } from "./bigram.ts";
 * const model = new CountingBigram(3, { smoothing: 0 });
 * model.count([[0, 1, 1]], [[1, 1, 2]]); // pairs 0→1, 1→1, 1→2
 * assert.equal(model.probability(1, 2), 0.5);
 * assert.ok(Math.abs(model.loss([[1]], [[1]]) - Math.log(2)) < 1e-15);
 * ```
 */
export class CountingBigram {
  /** Number of token ids. */
  readonly vocabSize: number;
  /** The smoothing α. */
  readonly smoothing: number;
  /** Pair counts, row-major `[current, next]`. */
  readonly counts: Float64Array;

  /**
   * An empty table for `vocabSize` tokens.
   *
   * @throws {RangeError} for a bad size or smoothing.
   */
  constructor(vocabSize: number, options: CountingBigramOptions = {}) {
    if (!Number.isSafeInteger(vocabSize) || vocabSize < 1) {
      throw new RangeError(
        `CountingBigram: vocabSize must be a whole number ≥ 1, got ${vocabSize}`,
      );
    }
    const smoothing = options.smoothing ?? 1;
    if (!(smoothing >= 0 && smoothing < Infinity)) {
      throw new RangeError(
        `CountingBigram: smoothing must be a finite number ≥ 0, got ${smoothing}`,
      );
    }
    this.vocabSize = vocabSize;
    this.smoothing = smoothing;
    this.counts = new Float64Array(vocabSize * vocabSize);
  }

  /**
   * Adds the pairs `(x[b][t], y[b][t])` to the counts, skipping targets of −1 (padding).
   *
   * @throws {RangeError} for an id out of range or rows of different lengths.
   */
  count(x: readonly (readonly number[])[], y: readonly (readonly number[])[]): void {
    forEachPair("CountingBigram.count", this.vocabSize, x, y, (i, j) => {
      this.counts[i * this.vocabSize + j]++;
    });
  }

  /**
   * `P(next = j | current = i)`.
   *
   * @throws {RangeError} when row i has no counts and no smoothing (the probability is
   * undefined).
   */
  probability(i: number, j: number): number {
    const n = this.vocabSize;
    let row = 0;
    for (let k = 0; k < n; k++) row += this.counts[i * n + k];
    row += this.smoothing * n;
    if (row === 0) {
      throw new RangeError(`CountingBigram: token ${i} was never seen and smoothing is 0`);
    }
    return (this.counts[i * n + j] + this.smoothing) / row;
  }

  /**
   * Mean negative log-likelihood of the targets `y` after inputs `x` (−1 targets skipped),
   * in nats.
   *
   * @throws {RangeError} when a pair has probability 0 (no smoothing), or there are no pairs.
   */
  loss(x: readonly (readonly number[])[], y: readonly (readonly number[])[]): number {
    let total = 0;
    let pairs = 0;
    forEachPair("CountingBigram.loss", this.vocabSize, x, y, (i, j) => {
      const p = this.probability(i, j);
      if (p === 0) {
        throw new RangeError(`CountingBigram: the pair ${i}→${j} has probability 0`);
      }
      total -= Math.log(p);
      pairs++;
    });
    if (pairs === 0) throw new RangeError("CountingBigram.loss: no pairs");
    return total / pairs;
  }

  /** The table of log-probabilities `[vocab, vocab]`, as a learned bigram's logits. */
  logProbabilities(): Tensor {
    const n = this.vocabSize;
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) out[i * n + j] = Math.log(this.probability(i, j));
    }
    return new Tensor(out, [n, n]);
  }
}

function forEachPair(
  where: string,
  vocabSize: number,
  x: readonly (readonly number[])[],
  y: readonly (readonly number[])[],
  visit: (i: number, j: number) => void,
): void {
  if (x.length !== y.length) {
    throw new RangeError(`${where}: ${x.length} input rows but ${y.length} target rows`);
  }
  for (let b = 0; b < x.length; b++) {
    if (x[b].length !== y[b].length) {
      throw new RangeError(`${where}: row ${b} has ${x[b].length} inputs, ${y[b].length} targets`);
    }
    for (let t = 0; t < x[b].length; t++) {
      const i = x[b][t];
      const j = y[b][t];
      if (j === -1) continue;
      for (const id of [i, j]) {
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
          throw new RangeError(
            `${where}: id ${id} at row ${b}, position ${t} is not in [0, ${vocabSize})`,
          );
        }
      }
      visit(i, j);
    }
  }
}
