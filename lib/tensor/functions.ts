/**
 * The tensor engine's operations as plain functions: `matmul(a, b)` is `a.matmul(b)`,
 * `softmax(x)` is `x.softmax()`, and so on, for code that reads better that way (and for
 * the names the README lists). Each checks that its first argument is a `Tensor`, then calls
 * the method, so the method's documentation is the function's.
 *
 * Naming across engines: a plain name (`softmax`, `crossEntropy`, `mse`, `logSumExp`…) is
 * the tensor function, here and at the package root; the scalar function of the same name is
 * imported from `/scalar`.
 *
 * @module
 */

import type { DivOptions } from "../scalar/value.ts";
import {
  type ClampParams,
  type ReduceParams,
  type SliceParams,
  tensorOps,
  type TrilParams,
} from "./ops.ts";
import { applyOp, fromScalar, Tensor } from "./tensor.ts";

function checked(op: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) {
    const shown = Array.isArray(x) ? `an array of ${x.length}` : `${typeof x} ${String(x)}`;
    throw new TypeError(`${op}: expected a Tensor, got ${shown}`);
  }
  return x;
}

// ---------------------------------------------------------------------------------------
// Element-wise
// ---------------------------------------------------------------------------------------
/**
 * a + b, broadcast.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { add, tensor } from "./mod.ts";
 * assert.deepEqual(add(tensor([1, 2]), 10).toArray(), [11, 12]);
 * ```
 */
export function add(a: Tensor, b: Tensor | number): Tensor {
  return checked("add", a).add(b);
}
/**
 * a − b, broadcast.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sub, tensor } from "./mod.ts";
 * assert.deepEqual(sub(tensor([1, 2]), 1).toArray(), [0, 1]);
 * ```
 */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  return checked("sub", a).sub(b);
}
/**
 * a · b element by element, broadcast.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mul, tensor } from "./mod.ts";
 * assert.deepEqual(mul(tensor([1, 2]), 3).toArray(), [3, 6]);
 * ```
 */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  return checked("mul", a).mul(b);
}
/**
 * a / b element by element, broadcast, with the scalar engine's rule: a denominator's
 * magnitude is kept at least `eps` (default `DEFAULT_EPS`), and where it is smaller the
 * denominator gets no gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { div, tensor } from "./mod.ts";
 * assert.deepEqual(div(tensor([1, 1]), tensor([4, 0]), { eps: 0.5 }).toArray(), [0.25, 2]);
 * ```
 */
export function div(a: Tensor, b: Tensor | number, options?: DivOptions): Tensor {
  return checked("div", a).div(b, options);
}

/**
 * a ** exponent: a number exponent is a constant; a Tensor exponent is differentiated too
 * (which needs a positive base).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pow, tensor } from "./mod.ts";
 * assert.deepEqual(pow(tensor([-2, 3]), 2).toArray(), [4, 9]);
 * ```
 */
export function pow(a: Tensor, exponent: Tensor | number): Tensor {
  return checked("pow", a).pow(exponent);
}
/**
 * −x, element by element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { neg, tensor } from "./mod.ts";
 * assert.deepEqual(neg(tensor([1, -2])).toArray(), [-1, 2]);
 * ```
 */
export function neg(x: Tensor): Tensor {
  return checked("neg", x).neg();
}
/**
 * e^x, element by element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exp, tensor } from "./mod.ts";
 * assert.deepEqual(exp(tensor([0])).toArray(), [1]);
 * ```
 */
export function exp(x: Tensor): Tensor {
  return checked("exp", x).exp();
}
/**
 * Natural logarithm, element by element; elements must be positive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { log, tensor } from "./mod.ts";
 * assert.deepEqual(log(tensor([1])).toArray(), [0]);
 * ```
 */
export function log(x: Tensor): Tensor {
  return checked("log", x).log();
}
/**
 * Square root, element by element; elements must be ≥ 0 (> 0 for a gradient).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sqrt, tensor } from "./mod.ts";
 * assert.deepEqual(sqrt(tensor([4, 9])).toArray(), [2, 3]);
 * ```
 */
export function sqrt(x: Tensor): Tensor {
  return checked("sqrt", x).sqrt();
}
/**
 * |x|, element by element, with derivative 0 at 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { abs, tensor } from "./mod.ts";
 * assert.deepEqual(abs(tensor([-2, 3])).toArray(), [2, 3]);
 * ```
 */
export function abs(x: Tensor): Tensor {
  return checked("abs", x).abs();
}
/**
 * Hyperbolic tangent, element by element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tanh, tensor } from "./mod.ts";
 * assert.deepEqual(tanh(tensor([0])).toArray(), [0]);
 * ```
 */
export function tanh(x: Tensor): Tensor {
  return checked("tanh", x).tanh();
}
/**
 * max(x, 0), element by element, with derivative 0 at 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relu, tensor } from "./mod.ts";
 * assert.deepEqual(relu(tensor([-1, 2])).toArray(), [0, 2]);
 * ```
 */
export function relu(x: Tensor): Tensor {
  return checked("relu", x).relu();
}
/**
 * 1 / (1 + e^−x), element by element, without overflow.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sigmoid, tensor } from "./mod.ts";
 * assert.deepEqual(sigmoid(tensor([0])).toArray(), [0.5]);
 * ```
 */
export function sigmoid(x: Tensor): Tensor {
  return checked("sigmoid", x).sigmoid();
}
/**
 * log(1 + e^x), element by element, without overflow.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { softplus, tensor } from "./mod.ts";
 * assert.deepEqual(softplus(tensor([0])).toArray(), [Math.log(2)]);
 * ```
 */
export function softplus(x: Tensor): Tensor {
  return checked("softplus", x).softplus();
}
/**
 * GELU in its tanh approximation, as GPT-2 computes it, element by element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gelu, tensor } from "./mod.ts";
 * assert.deepEqual(gelu(tensor([0])).toArray(), [0]);
 * ```
 */
export function gelu(x: Tensor): Tensor {
  return checked("gelu", x).gelu();
}
/**
 * Sine, element by element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sin, tensor } from "./mod.ts";
 * assert.deepEqual(sin(tensor([0])).toArray(), [0]);
 * ```
 */
export function sin(x: Tensor): Tensor {
  return checked("sin", x).sin();
}
/**
 * Cosine, element by element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cos, tensor } from "./mod.ts";
 * assert.deepEqual(cos(tensor([0])).toArray(), [1]);
 * ```
 */
export function cos(x: Tensor): Tensor {
  return checked("cos", x).cos();
}
/**
 * The element-wise larger of `a` and `b`, broadcast; at a tie the gradient goes to `a`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maximum, tensor } from "./mod.ts";
 * assert.deepEqual(maximum(tensor([1, 5]), 3).toArray(), [3, 5]);
 * ```
 */
export function maximum(a: Tensor, b: Tensor | number): Tensor {
  return checked("maximum", a).max(b);
}

/**
 * The element-wise smaller of `a` and `b`, broadcast; at a tie the gradient goes to `a`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { minimum, tensor } from "./mod.ts";
 * assert.deepEqual(minimum(tensor([1, 5]), 3).toArray(), [1, 3]);
 * ```
 */
export function minimum(a: Tensor, b: Tensor | number): Tensor {
  return checked("minimum", a).min(b);
}

/**
 * `x` with every element kept within [`min`, `max`] (either may be left out).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clamp, tensor } from "./mod.ts";
 * assert.deepEqual(clamp(tensor([-2, 0.5, 2]), { min: -1, max: 1 }).toArray(), [-1, 0.5, 1]);
 * ```
 */
export function clamp(x: Tensor, bounds: ClampParams): Tensor {
  return checked("clamp", x).clamp(bounds);
}

// ---------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------

/**
 * Sum over `axis` (all axes when none is given).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sum, tensor } from "./mod.ts";
 * assert.deepEqual(sum(tensor([[1, 2], [3, 4]]), { axis: 0 }).toArray(), [4, 6]);
 * ```
 */
export function sum(x: Tensor, options?: ReduceParams): Tensor {
  return checked("sum", x).sum(options);
}

/**
 * Mean over `axis` (all axes when none is given).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mean, tensor } from "./mod.ts";
 * assert.equal(mean(tensor([[1, 2], [3, 4]])).item(), 2.5);
 * ```
 */
export function mean(x: Tensor, options?: ReduceParams): Tensor {
  return checked("mean", x).mean(options);
}

/**
 * The largest element over `axis` (all axes when none is given); given a tensor or a
 * number instead, the element-wise larger of the two, as {@linkcode maximum}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { max, tensor } from "./mod.ts";
 * assert.deepEqual(max(tensor([[1, 5], [4, 2]]), { axis: 1 }).toArray(), [5, 4]);
 * ```
 */
export function max(x: Tensor, other?: Tensor | number | ReduceParams): Tensor {
  return checked("max", x).max(other);
}

/**
 * The smallest element over `axis` (all axes when none is given); given a tensor or a
 * number instead, the element-wise smaller of the two, as {@linkcode minimum}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { min, tensor } from "./mod.ts";
 * assert.deepEqual(min(tensor([[1, 5], [4, 2]]), { axis: 1 }).toArray(), [1, 2]);
 * ```
 */
export function min(x: Tensor, other?: Tensor | number | ReduceParams): Tensor {
  return checked("min", x).min(other);
}

/**
 * Position of the first largest element along `axis` (of the flattened tensor when none is
 * given); a constant, with no gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { argmax, tensor } from "./mod.ts";
 * assert.deepEqual(argmax(tensor([[1, 5], [4, 2]]), { axis: 1 }).toArray(), [1, 0]);
 * ```
 */
export function argmax(x: Tensor, options?: ReduceParams): Tensor {
  return checked("argmax", x).argmax(options);
}

/**
 * log Σ exp(x) over `axis` (all axes when none is given), computed without overflow: the
 * maximum is taken out first (as a constant, which changes neither the value nor the
 * gradient, softmax).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logSumExp, tensor } from "./mod.ts";
 * const y = logSumExp(tensor([[1000, 1000], [0, Math.log(3)]]), { axis: 1 });
 * assert.ok(Math.abs(y.data[0] - (1000 + Math.log(2))) < 1e-12);
 * assert.ok(Math.abs(y.data[1] - Math.log(4)) < 1e-15);
 * ```
 */
export function logSumExp(x: Tensor, options?: ReduceParams): Tensor {
  checked("logSumExp", x);
  const axis = options?.axis;
  const top = x.max({ axis, keepDims: true }).detach();
  const kept = x.sub(top).exp().sum({ axis, keepDims: true }).log().add(top);
  if (options?.keepDims === true) return kept;
  return axis === undefined ? kept.reshape([]) : kept.squeeze(axis);
}

/**
 * Mean squared error of `predictions` against `targets` (broadcast): mean((p − t)²).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mse, tensor } from "./mod.ts";
 * assert.equal(mse(tensor([1, 2, 3]), tensor([1, 2, 5])).item(), 4 / 3);
 * ```
 */
export function mse(predictions: Tensor, targets: Tensor | number): Tensor {
  return checked("mse", predictions).sub(targets).pow(2).mean();
}

// ---------------------------------------------------------------------------------------
// Linear algebra and shapes
// ---------------------------------------------------------------------------------------

/**
 * Matrix product over the last two axes, batch axes broadcast: `[..., m, k] × [..., k, n]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmul, tensor } from "./mod.ts";
 * assert.deepEqual(matmul(tensor([[1, 2]]), tensor([[3], [4]])).toArray(), [[11]]);
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return checked("matmul", a).matmul(b);
}

/**
 * `x` with two axes swapped (default: the last two); a copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor, transpose } from "./mod.ts";
 * assert.deepEqual(transpose(tensor([[1, 2, 3]])).toArray(), [[1], [2], [3]]);
 * ```
 */
export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  return checked("transpose", x).transpose(axis0, axis1);
}

/**
 * `x` with its axes reordered: result axis i is axis `axes[i]` of `x`; a copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { permute, zeros } from "./mod.ts";
 * assert.deepEqual(permute(zeros([2, 3, 4]), [2, 0, 1]).shape, [4, 2, 3]);
 * ```
 */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  return checked("permute", x).permute(axes);
}

/**
 * The elements of `x` in a new shape (one size may be `-1`); a copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { arange, reshape } from "./mod.ts";
 * assert.deepEqual(reshape(arange(6), [2, -1]).toArray(), [[0, 1, 2], [3, 4, 5]]);
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return checked("reshape", x).reshape(shape);
}

/**
 * `x` without the size-1 axis `axis` (every size-1 axis when none is given); a copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { squeeze, zeros } from "./mod.ts";
 * assert.deepEqual(squeeze(zeros([2, 1, 3])).shape, [2, 3]);
 * ```
 */
export function squeeze(x: Tensor, axis?: number): Tensor {
  return checked("squeeze", x).squeeze(axis);
}

/**
 * `x` with a new size-1 axis at `axis` (a position in the result); a copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unsqueeze, zeros } from "./mod.ts";
 * assert.deepEqual(unsqueeze(zeros([2, 3]), 0).shape, [1, 2, 3]);
 * ```
 */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  return checked("unsqueeze", x).unsqueeze(axis);
}

/**
 * Positions `start` to `end` (exclusive) of `x` along `axis`; a copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slice, tensor } from "./mod.ts";
 * assert.deepEqual(slice(tensor([[1, 2, 3]]), { axis: 1, start: 1 }).toArray(), [[2, 3]]);
 * ```
 */
export function slice(x: Tensor, range: SliceParams): Tensor {
  return checked("slice", x).slice(range);
}

// ---------------------------------------------------------------------------------------
// Language-model building blocks
// ---------------------------------------------------------------------------------------

/**
 * Probabilities along `axis` (default the last): exp(x − max) / Σ exp(x − max).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { softmax, tensor } from "./mod.ts";
 * assert.deepEqual(softmax(tensor([[0, 0]])).toArray(), [[0.5, 0.5]]);
 * ```
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  return checked("softmax", x).softmax(axis);
}

/**
 * log softmax along `axis` (default the last), by the log-sum-exp trick.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logSoftmax, tensor } from "./mod.ts";
 * assert.deepEqual(logSoftmax(tensor([[0, 0]])).toArray(), [[-Math.log(2), -Math.log(2)]]);
 * ```
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return checked("logSoftmax", x).logSoftmax(axis);
}

/**
 * The lower triangle of the last two axes (column ≤ row + diagonal), `fill` elsewhere: with
 * `fill: -1e9` before a softmax, attention's causal mask.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ones, tril } from "./mod.ts";
 * assert.deepEqual(tril(ones([2, 2])).toArray(), [[1, 0], [1, 1]]);
 * ```
 */
export function tril(x: Tensor, options?: TrilParams): Tensor {
  return checked("tril", x).tril(options);
}

/**
 * Element-wise choice: `a` where `condition` is non-zero (or true), `b` elsewhere; all three
 * broadcast. The condition is a constant; each gradient goes to the input chosen.
 *
 * @throws {TypeError} when the condition is neither a Tensor nor an array.
 * @throws {RangeError} when the shapes do not broadcast.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor, where } from "./mod.ts";
 * const x = tensor([-1, 2, -3]);
 * assert.deepEqual(where(tensor([0, 1, 0]), x, 0).toArray(), [0, 2, 0]);
 * assert.deepEqual(where([true, false, true], x, tensor(9)).toArray(), [-1, 9, -3]);
 * ```
 */
export function where(
  condition: Tensor | ArrayLike<number | boolean>,
  a: Tensor | number,
  b: Tensor | number,
): Tensor {
  let values: Float64Array;
  let shape: readonly number[];
  if (condition instanceof Tensor) {
    values = Float64Array.from(condition.data);
    shape = condition.shape;
  } else if (
    condition !== null && typeof condition === "object" && typeof condition.length === "number"
  ) {
    values = Float64Array.from(condition, (c) => (c ? 1 : 0));
    shape = [condition.length];
  } else {
    throw new TypeError(`where: the condition must be a Tensor or an array, got ${condition}`);
  }
  const inputs = [a, b].map((x) => (typeof x === "number" ? fromScalar(x) : checked("where", x)));
  return applyOp(tensorOps.where, inputs, { condition: { values, shape } });
}
