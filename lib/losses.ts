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
 * import { mse } from "./losses.ts";
 * import { Value } from "./value.ts";
 * const p = new Value(3);
 * const loss = mse([p, 1], [1, 1]); // ((3 − 1)² + 0²) / 2
 * loss.backward();
 * console.assert(loss.data === 2 && p.grad === 2);
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

/** A Value for `x`, which may be a number; anything else is refused naming `where`. */
function asValue(where: string, x: Value | number): Value {
  if (x instanceof Value) return x;
  if (typeof x !== "number") {
    throw new TypeError(`${where}: expected a Value or a number, got ${typeof x} ${String(x)}`);
  }
  return new Value(x);
}
