/**
 * Learning-rate schedules: functions from the number of steps already taken (0 for the first
 * step) to a learning rate, for any optimizer's `learningRate` option.
 *
 * @module
 */

/**
 * Options of {@linkcode linearDecay}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LinearDecayOptions } from "./schedules.ts";
 * const micrograd: LinearDecayOptions = { initial: 1.0, final: 0.1, steps: 100 };
 * assert.ok(micrograd.steps === 100);
 * ```
 */
export interface LinearDecayOptions {
  /** The rate of step 0: a finite number > 0. */
  readonly initial: number;
  /** The rate reached at step `steps` and kept afterwards: a finite number ≥ 0. */
  readonly final: number;
  /** How many steps the decay takes: a positive integer. */
  readonly steps: number;
}

/**
 * A rate falling in a straight line from `initial` at step 0 to `final` at step `steps`:
 * `initial − (initial − final)·k / steps`, then `final`. micrograd's demo uses
 * `{ initial: 1.0, final: 0.1, steps: 100 }`, that is `lr = 1.0 − 0.9·k/100`, to the bit.
 *
 * @throws {RangeError} when an option is out of range, or (the schedule) when `k` is not a
 * whole number ≥ 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linearDecay } from "./schedules.ts";
 * const lr = linearDecay({ initial: 1.0, final: 0.1, steps: 100 });
 * assert.ok(lr(0) === 1 && lr(50) === 1.0 - 0.9 * 50 / 100 && lr(200) === 0.1);
 * ```
 */
export function linearDecay(options: LinearDecayOptions): (k: number) => number {
  const { initial, final, steps } = options;
  checkedRate("linearDecay", "initial", initial, false);
  checkedRate("linearDecay", "final", final, true);
  checkedCount("linearDecay", "steps", steps, 1);
  const drop = initial - final;
  return (k: number): number => {
    checkedCount("linearDecay", "step", k, 0);
    return k >= steps ? final : initial - drop * k / steps;
  };
}

/**
 * Options of {@linkcode cosineWithWarmup}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CosineWithWarmupOptions } from "./schedules.ts";
 * const options: CosineWithWarmupOptions = { peak: 3e-4, warmupSteps: 100, totalSteps: 5000 };
 * assert.ok(options.warmupSteps < options.totalSteps);
 * ```
 */
export interface CosineWithWarmupOptions {
  /** The highest rate, reached at the end of the warm-up: a finite number > 0. */
  readonly peak: number;
  /** Steps of linear warm-up: a whole number ≥ 0 and < `totalSteps`. */
  readonly warmupSteps: number;
  /** Step at which the cosine reaches `final`: a positive integer. */
  readonly totalSteps: number;
  /** The rate at `totalSteps` and after: a finite number in [0, peak] (default 0). */
  readonly final?: number;
}

/**
 * Linear warm-up then cosine decay (Loshchilov & Hutter's SGDR without restarts, as GPT
 * training uses it). With `W = warmupSteps` and `T = totalSteps`:
 *
 * ```text
 * k < W:       peak · (k + 1) / W
 * W ≤ k < T:   final + (peak − final) · (1 + cos(π·(k − W)/(T − W))) / 2
 * k ≥ T:       final
 * ```
 *
 * Every step before `T` has a rate > 0; a `final` of 0 makes an optimizer refuse steps past
 * `T`, which is the point of a schedule of fixed length.
 *
 * @throws {RangeError} when an option is out of range, or (the schedule) when `k` is not a
 * whole number ≥ 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cosineWithWarmup } from "./schedules.ts";
 * const lr = cosineWithWarmup({ peak: 1, warmupSteps: 2, totalSteps: 6 });
 * assert.ok(lr(0) === 0.5 && lr(1) === 1 && lr(2) === 1);
 * assert.ok(Math.abs(lr(4) - 0.5) < 1e-15 && lr(6) === 0);
 * ```
 */
export function cosineWithWarmup(options: CosineWithWarmupOptions): (k: number) => number {
  const { peak, warmupSteps, totalSteps } = options;
  const final = options.final ?? 0;
  checkedRate("cosineWithWarmup", "peak", peak, false);
  checkedRate("cosineWithWarmup", "final", final, true);
  if (final > peak) {
    throw new RangeError(`cosineWithWarmup: final (${final}) must not exceed peak (${peak})`);
  }
  checkedCount("cosineWithWarmup", "totalSteps", totalSteps, 1);
  checkedCount("cosineWithWarmup", "warmupSteps", warmupSteps, 0);
  if (warmupSteps >= totalSteps) {
    throw new RangeError(
      `cosineWithWarmup: warmupSteps (${warmupSteps}) must be less than totalSteps (${totalSteps})`,
    );
  }
  const decaySteps = totalSteps - warmupSteps;
  return (k: number): number => {
    checkedCount("cosineWithWarmup", "step", k, 0);
    if (k < warmupSteps) return peak * (k + 1) / warmupSteps;
    if (k >= totalSteps) return final;
    const progress = (k - warmupSteps) / decaySteps;
    return final + (peak - final) * (1 + Math.cos(Math.PI * progress)) / 2;
  };
}

function checkedRate(where: string, what: string, x: number, zeroAllowed: boolean): void {
  const ok = typeof x === "number" && (zeroAllowed ? x >= 0 : x > 0) && x < Infinity;
  if (!ok) {
    throw new RangeError(
      `${where}: ${what} must be a finite number ${zeroAllowed ? "≥" : ">"} 0, got ${x}`,
    );
  }
}

function checkedCount(where: string, what: string, n: number, least: number): void {
  if (!Number.isInteger(n) || n < least) {
    throw new RangeError(`${where}: ${what} must be a whole number ≥ ${least}, got ${n}`);
  }
}
