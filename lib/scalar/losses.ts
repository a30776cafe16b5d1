/**
 * Loss functions on scalar `Value`s, each composed from the registry's ops, so their
 * gradients come from the engine and are verified with it.
 *
 * @module
 */

import { Value } from "./value.ts";

/**
 * Mean squared error, `Σ (pᵢ − tᵢ)² / n`, of equally long, non-empty lists.
 *
 * @throws {RangeError} when the lists are empty or differ in length.
 * @throws {TypeError} when an element is neither a Value nor a number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mse } from "./losses.ts";
 * import { Value } from "./value.ts";
 * const p = new Value(3);
 * const loss = mse([p, 1], [1, 1]); // ((3 − 1)² + 0²) / 2
 * loss.backward();
 * assert.ok(loss.data === 2 && p.grad === 2);
 * ```
 */
export function mse(
  predictions: readonly (Value | number)[],
  targets: readonly (Value | number)[],
): Value {
  if (predictions.length !== targets.length) {
    throw new RangeError(
      `mse: ${predictions.length} predictions but ${targets.length} targets`,
    );
  }
  if (predictions.length === 0) throw new RangeError("mse: no predictions");
  let total: Value | null = null;
  for (let i = 0; i < predictions.length; i++) {
    const error = asValue("mse", predictions[i]).sub(targets[i]).pow(2);
    total = total === null ? error : total.add(error);
  }
  return (total as Value).div(predictions.length);
}

/**
 * Binary cross-entropy of logits `zᵢ` against targets `yᵢ ∈ [0, 1]`, averaged:
 * `(1/n) Σ softplus(zᵢ) − yᵢ·zᵢ`, which equals `−y·log σ(z) − (1 − y)·log(1 − σ(z))` but never
 * takes the logarithm of a probability that has rounded to 0 (its gradient, `σ(zᵢ) − yᵢ`,
 * stays exact for logits of any size).
 *
 * @throws {RangeError} when the lists are empty or differ in length, or a target is outside
 * [0, 1].
 * @throws {TypeError} when an element is neither a Value nor a number.
 *
 * @example A confident wrong answer costs about its logit; the gradient saturates at 1.
 * ```ts
 * import assert from "node:assert/strict";
 * import { binaryCrossEntropyWithLogits } from "./losses.ts";
 * import { Value } from "./value.ts";
 * const z = new Value(1000);
 * const loss = binaryCrossEntropyWithLogits([z], [0]);
 * loss.backward();
 * assert.ok(loss.data === 1000 && z.grad === 1);
 * ```
 */
export function binaryCrossEntropyWithLogits(
  logits: readonly (Value | number)[],
  targets: readonly number[],
): Value {
  const where = "binaryCrossEntropyWithLogits";
  checkedPairs(where, "logits", logits, targets);
  let total: Value | null = null;
  for (let i = 0; i < logits.length; i++) {
    const y = targets[i];
    if (typeof y !== "number" || !(y >= 0 && y <= 1)) {
      throw new RangeError(`${where}: target ${i} must be a number in [0, 1], got ${y}`);
    }
    const z = asValue(where, logits[i]);
    const term = y === 0 ? z.softplus() : z.softplus().sub(z.mul(y));
    total = total === null ? term : total.add(term);
  }
  return (total as Value).mul(1 / logits.length);
}

/**
 * `log Σᵢ exp(zᵢ)`, computed as `m + log Σᵢ exp(zᵢ − m)` with `m = maxᵢ zᵢ`, so no
 * exponential overflows. The shift `m` is a constant: the function does not depend on it,
 * so its gradient, `softmax(z)`, is exact.
 *
 * @throws {RangeError} when `logits` is empty.
 * @throws {TypeError} when an element is neither a Value nor a number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logSumExp } from "./losses.ts";
 * const lse = logSumExp([1000, 1000]);
 * assert.ok(Math.abs(lse.data - (1000 + Math.LN2)) < 1e-12);
 * ```
 */
export function logSumExp(logits: readonly (Value | number)[]): Value {
  const { values, max } = shiftedLogits("logSumExp", logits);
  let total: Value | null = null;
  for (const z of values) {
    const e = z.sub(max).exp();
    total = total === null ? e : total.add(e);
  }
  return (total as Value).log().add(max);
}

/**
 * The probabilities `pᵢ = exp(zᵢ − m) / Σⱼ exp(zⱼ − m)` of logits `z` (with `m = maxⱼ zⱼ`, so
 * no exponential overflows and the denominator is at least 1).
 *
 * @throws {RangeError} when `logits` is empty.
 * @throws {TypeError} when an element is neither a Value nor a number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { softmax } from "./losses.ts";
 * const p = softmax([0, Math.log(3)]);
 * assert.ok(Math.abs(p[0].data - 0.25) < 1e-15 && Math.abs(p[1].data - 0.75) < 1e-15);
 * ```
 */
export function softmax(logits: readonly (Value | number)[]): Value[] {
  const { values, max } = shiftedLogits("softmax", logits);
  const exps = values.map((z) => z.sub(max).exp());
  let total = exps[0];
  for (let i = 1; i < exps.length; i++) total = total.add(exps[i]);
  return exps.map((e) => e.div(total));
}

/**
 * Cross-entropy of one example: `−log softmax(z)[target] = logSumExp(z) − z[target]`, for
 * logits `z` and the index `target` of the true class.
 *
 * @throws {RangeError} when `logits` is empty or `target` is not an integer index into it.
 * @throws {TypeError} when an element is neither a Value nor a number.
 *
 * @example The gradient is `softmax(z) − onehot(target)`.
 * ```ts
 * import assert from "node:assert/strict";
 * import { crossEntropy } from "./losses.ts";
 * import { Value } from "./value.ts";
 * const z = [new Value(0), new Value(0)];
 * const loss = crossEntropy(z, 1);
 * loss.backward();
 * assert.ok(Math.abs(loss.data - Math.LN2) < 1e-15);
 * assert.ok(z[0].grad === 0.5 && z[1].grad === -0.5);
 * ```
 */
export function crossEntropy(logits: readonly (Value | number)[], target: number): Value {
  if (!Number.isInteger(target) || target < 0 || target >= logits.length) {
    throw new RangeError(
      `crossEntropy: target must be an integer index in [0, ${logits.length}), got ${target}`,
    );
  }
  const values = logits.map((z) => asValue("crossEntropy", z));
  return logSumExp(values).sub(values[target]);
}

/**
 * The max-margin (SVM hinge) loss of micrograd's demo, averaged:
 * `(Σᵢ relu(1 + (−yᵢ)·sᵢ)) · (1/n)` for scores `sᵢ` and labels `yᵢ ∈ {−1, +1}`. The sum is a
 * left fold in order and the mean a product with `1/n`, exactly as benchmark workload W1
 * computes it.
 *
 * @throws {RangeError} when the lists are empty or differ in length, or a label is not ±1.
 * @throws {TypeError} when a score is neither a Value nor a number.
 *
 * @example Only the example inside the margin costs anything.
 * ```ts
 * import assert from "node:assert/strict";
 * import { hinge } from "./losses.ts";
 * const loss = hinge([2, 0.5], [1, 1]); // (relu(1 − 2) + relu(1 − 0.5)) / 2
 * assert.ok(loss.data === 0.25);
 * ```
 */
export function hinge(scores: readonly (Value | number)[], labels: readonly number[]): Value {
  checkedPairs("hinge", "scores", scores, labels);
  let total: Value | null = null;
  for (let i = 0; i < scores.length; i++) {
    const y = labels[i];
    if (y !== 1 && y !== -1) {
      throw new RangeError(`hinge: label ${i} must be -1 or 1, got ${y}`);
    }
    const margin = asValue("hinge", scores[i]).mul(-y).add(1).relu();
    total = total === null ? margin : total.add(margin);
  }
  return (total as Value).mul(1.0 / scores.length);
}

/**
 * An L2 penalty, `coefficient · Σ p²`, the sum a left fold over `parameters` in order (as
 * benchmark workload W1 computes its regularisation).
 *
 * @throws {RangeError} when `parameters` is empty or `coefficient` is negative or not finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { l2Penalty } from "./losses.ts";
 * import { Value } from "./value.ts";
 * const w = new Value(3);
 * const penalty = l2Penalty([w, new Value(4)], 0.5);
 * penalty.backward();
 * assert.ok(penalty.data === 12.5 && w.grad === 3);
 * ```
 */
export function l2Penalty(parameters: readonly Value[], coefficient: number): Value {
  if (!(typeof coefficient === "number" && coefficient >= 0 && coefficient < Infinity)) {
    throw new RangeError(`l2Penalty: coefficient must be a finite number ≥ 0, got ${coefficient}`);
  }
  if (parameters.length === 0) throw new RangeError("l2Penalty: no parameters");
  let total: Value | null = null;
  for (const p of parameters) {
    const square = asValue("l2Penalty", p).mul(p);
    total = total === null ? square : total.add(square);
  }
  return (total as Value).mul(coefficient);
}

function checkedPairs(
  where: string,
  what: string,
  inputs: readonly unknown[],
  targets: readonly unknown[],
): void {
  if (inputs.length !== targets.length) {
    throw new RangeError(`${where}: ${inputs.length} ${what} but ${targets.length} targets`);
  }
  if (inputs.length === 0) throw new RangeError(`${where}: no ${what}`);
}

/** The logits as Values and their largest value, after checking there is at least one. */
function shiftedLogits(
  where: string,
  logits: readonly (Value | number)[],
): { values: Value[]; max: number } {
  if (logits.length === 0) throw new RangeError(`${where}: no logits`);
  const values = logits.map((z) => asValue(where, z));
  let max = -Infinity;
  for (const z of values) if (z.data > max) max = z.data;
  return { values, max };
}

/** A Value for `x`, which may be a number; anything else is refused naming `where`. */
function asValue(where: string, x: Value | number): Value {
  if (x instanceof Value) return x;
  if (typeof x !== "number") {
    throw new TypeError(`${where}: expected a Value or a number, got ${typeof x} ${String(x)}`);
  }
  return new Value(x);
}
