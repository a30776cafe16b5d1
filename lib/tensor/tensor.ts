/**
 * The N-d tensor engine: `Tensor` (storage, shape, gradient), creation functions, and the
 * reverse-mode `backward` over graphs of tensor ops.
 *
 * A scalar graph needs one node per multiply-add: a 256×256 matrix product would be 33
 * million nodes. Here a node is a whole op (`matmul`, `softmax`…) over `Float64Array`
 * storage, and its backward is a loop over arrays. The ops themselves, each forward beside
 * its backward, live in the registry of `ops.ts`; this module only links their results into
 * a graph and walks it in reverse topological order, exactly as the scalar `Value` engine
 * does one number at a time.
 *
 * @module
 */

import { isGradEnabled } from "../scalar/grad_mode.ts";
import { Random, type RandomSource, randomSourceOf, type SeedOptions } from "../util/random.ts";
import type { DivOptions } from "../scalar/value.ts";
import {
  float32GradientArrayToOverwrite,
  gradientArrayToOverwrite,
  releaseGradientArrays,
} from "./_gradient_pool.ts";
import {
  allocate,
  asDType,
  checkedDType,
  type DType,
  dtypeOf,
  type FloatArray,
  resultDType,
} from "./_dtype.ts";
import { firstNonFinite } from "./kernels/simd.ts";
import {
  argmaxPositions,
  type AttentionParams,
  type BackwardContext,
  type ClampParams,
  type IndexList,
  type ReduceParams,
  type SelfAttentionParams,
  type SliceParams,
  type TensorData,
  tensorOps,
  type TensorOpSpec,
  type TrilParams,
} from "./ops.ts";
import {
  checkedShape,
  contiguousStrides,
  formatShape,
  normalizeAxis,
  sameShape,
  sizeOf,
} from "./_shape.ts";

// One switch for both engines: `noGrad` turns off recording for Values and Tensors alike.
export { noGrad } from "../scalar/grad_mode.ts";

/**
 * Nested arrays of numbers, as {@linkcode tensor} reads them and `toArray` writes them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NestedNumbers } from "./tensor.ts";
 * const matrix: NestedNumbers = [[1, 2], [3, 4]];
 * assert.ok(Array.isArray(matrix));
 * ```
 */
export type NestedNumbers = number | readonly NestedNumbers[];

/**
 * Options of the tensor constructor and the creation functions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type TensorOptions, zeros } from "./tensor.ts";
 * const options: TensorOptions = { requiresGrad: true };
 * assert.ok(zeros([2], options).requiresGrad);
 * ```
 */
export interface TensorOptions {
  /** Whether `backward` computes a gradient for this tensor (default `false`). */
  readonly requiresGrad?: boolean;
  /**
   * Element type: `"float64"` (the default) or `"float32"`. Given to the constructor, data of
   * the other type is converted (rounded to float32, or widened exactly).
   */
  readonly dtype?: DType;
}

// Results of registry ops are checked where they are made (with the op's name in the
// message), so the constructor need not scan them a second time.
let trustedData = false;

// Stamp of the current topological walk: a tensor whose `mark` differs has not been reached.
// (Tensor graphs hold tens of nodes, so the order is materialised; the scalar engine, whose
// graphs hold millions, sweeps their creation order instead.)
let walkEpoch = 0;

/**
 * An N-dimensional array of numbers (float64, or float32 as an option) in a computational graph.
 *
 * Storage is one `Float64Array` (or `Float32Array`), row-major and contiguous (`strides` follow
 * from `shape`); every op returns a new tensor with its own storage, never a view. A tensor with
 * `requiresGrad` records how each result was made from it, and `backward` fills `grad` for
 * every tensor in that graph. Values that are not finite are refused with a `RangeError`
 * naming the op, so the engine never holds NaN or ±Infinity silently.
 *
 * A tensor also works as a flat parameter for the optimizers (`size`, `readValues`,
 * `readGrads`, `writeValues`, `zeroGrad`).
 *
 * @example Fit w so that x·w = y, with a 2-vector w.
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "./tensor.ts";
 * const x = tensor([[1, 0], [1, 1]]);
 * const y = tensor([[1], [3]]);
 * const w = tensor([[0], [0]], { requiresGrad: true });
 * for (let step = 0; step < 300; step++) {
 *   const loss = x.matmul(w).sub(y).pow(2).mean();
 *   loss.backward();
 *   for (let i = 0; i < 2; i++) w.data[i] -= 0.3 * w.grad!.data[i];
 *   w.zeroGrad();
 * }
 * assert.ok(Math.abs(w.data[0] - 1) < 1e-6 && Math.abs(w.data[1] - 2) < 1e-6);
 * ```
 */
export class Tensor {
  /** The elements, row-major. Writable: that is how parameters are trained. */
  readonly data: FloatArray;
  /** Size of each axis; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** Row-major strides: how far apart, in `data`, neighbours along each axis are. */
  readonly strides: readonly number[];
  /** Whether `backward` computes a gradient for this tensor. */
  requiresGrad: boolean;
  #grad: Tensor | null;
  /** The registry op that produced this tensor, or `null` for a leaf or a constant. */
  op: TensorOpSpec | null;
  /** The op's tensor inputs (empty for a leaf). */
  inputs: readonly Tensor[];
  /** The op's parameters (axis, shape, indices…), as backward needs them. */
  params: unknown;
  /** What the op's forward kept for its backward (e.g. softmax probabilities). */
  saved: unknown;
  /** Stamp of the last topological walk that reached this tensor. */
  mark: number;

  /**
   * A leaf tensor over `data` (not copied, unless `options.dtype` asks for the other element
   * type) with shape `shape`.
   *
   * @throws {TypeError} when `data` is not a Float64Array or a Float32Array, `shape` not an
   * array, or `options.dtype` not a dtype.
   * @throws {RangeError} when sizes disagree or an element is not finite.
   */
  constructor(data: FloatArray, shape: readonly number[], options?: TensorOptions) {
    if (!(data instanceof Float64Array) && !(data instanceof Float32Array)) {
      throw new TypeError(
        `Tensor: data must be a Float64Array or a Float32Array, got ${describe(data)}`,
      );
    }
    if (options?.dtype !== undefined) data = asDType(data, checkedDType("Tensor", options.dtype));
    const checked = trustedData ? shape : checkedShape("Tensor", shape);
    if (!trustedData) {
      if (sizeOf(checked) !== data.length) {
        throw new RangeError(
          `Tensor: shape ${formatShape(checked)} holds ${sizeOf(checked)} elements, ` +
            `data has ${data.length}`,
        );
      }
      checkFinite("Tensor", "data", data, checked);
    }
    this.data = data;
    this.shape = Object.freeze([...checked]);
    this.strides = Object.freeze(contiguousStrides(checked));
    this.requiresGrad = options?.requiresGrad ?? false;
    if (typeof this.requiresGrad !== "boolean") {
      throw new TypeError(
        `Tensor: requiresGrad must be a boolean, got ${describe(this.requiresGrad)}`,
      );
    }
    this.#grad = null;
    this.op = null;
    this.inputs = [];
    this.params = undefined;
    this.saved = undefined;
    this.mark = 0;
  }

  /** Element type of `data`: `"float64"` or `"float32"`. */
  get dtype(): DType {
    return dtypeOf(this.data);
  }

  /**
   * ∂root/∂this after `backward` (same shape as this), or `null` before. Leaves accumulate
   * it across calls until `zeroGrad`; other tensors hold the last pass's gradient. May be
   * set by hand to `null` or to a tensor of this one's shape.
   *
   * @throws {RangeError} (on assignment) for a tensor of another shape.
   * @throws {TypeError} (on assignment) for anything but a Tensor or `null`.
   */
  get grad(): Tensor | null {
    return this.#grad;
  }
  set grad(gradient: Tensor | null) {
    if (gradient !== null) {
      if (!(gradient instanceof Tensor)) {
        throw new TypeError(`grad: must be a Tensor or null, got ${describe(gradient)}`);
      }
      if (!sameShape(gradient.shape, this.shape)) {
        throw new RangeError(
          `grad: a gradient of shape ${formatShape(gradient.shape)} cannot be assigned to a ` +
            `tensor of shape ${formatShape(this.shape)}`,
        );
      }
    }
    this.#grad = gradient;
  }

  /** Number of elements (the product of the shape's sizes). */
  get size(): number {
    return this.data.length;
  }

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  // --- element-wise ops (NumPy broadcasting; numbers are lifted to constant scalars) ---

  /** this + other, broadcast. */
  add(other: Tensor | number): Tensor {
    return applyOp(tensorOps.add, [this, lift("add", other, this)], undefined);
  }
  /** this − other, broadcast. */
  sub(other: Tensor | number): Tensor {
    return applyOp(tensorOps.sub, [this, lift("sub", other, this)], undefined);
  }
  /** this · other element by element, broadcast. */
  mul(other: Tensor | number): Tensor {
    return applyOp(tensorOps.mul, [this, lift("mul", other, this)], undefined);
  }
  /**
   * this / other element by element, broadcast, by the scalar engine's rule: a denominator's
   * magnitude is kept at least `eps` (default `DEFAULT_EPS`, sign kept, 0 counts as
   * positive). Where |other| < eps the result does not depend on `other`, so it gets no
   * gradient there: the derivative of what is computed.
   *
   * @throws {RangeError} when `eps` is negative or not finite, or a result is not finite.
   */
  div(other: Tensor | number, options?: DivOptions): Tensor {
    return applyOp(tensorOps.div, [this, lift("div", other, this)], options);
  }
  /**
   * this ** exponent. A number exponent is a constant (any base, if it is whole); a Tensor
   * exponent is differentiated too, which needs every base element positive.
   *
   * @throws {RangeError} for a Tensor exponent and a non-positive base element, or a
   * result that is not finite.
   */
  pow(exponent: Tensor | number): Tensor {
    if (!(exponent instanceof Tensor)) {
      return applyOp(tensorOps.powConst, [this], { exponent: checkedNumber("pow", exponent) });
    }
    const bad = this.data.findIndex((x) => !(x > 0));
    if (bad !== -1) {
      throw new RangeError(
        `pow: a Tensor exponent needs a positive base (d/dy x^y = x^y·ln x), got base ` +
          `${this.data[bad]} at ${formatIndex(bad, this.shape)}`,
      );
    }
    return applyOp(tensorOps.pow, [this, exponent], undefined);
  }
  /** −this */
  neg(): Tensor {
    return applyOp(tensorOps.neg, [this], undefined);
  }
  /** e^this, element by element. */
  exp(): Tensor {
    return applyOp(tensorOps.exp, [this], undefined);
  }
  /** Natural logarithm, element by element; elements must be positive. */
  log(): Tensor {
    return applyOp(tensorOps.log, [this], undefined);
  }
  /** Square root, element by element; elements must be ≥ 0 (> 0 for a gradient). */
  sqrt(): Tensor {
    return applyOp(tensorOps.sqrt, [this], undefined);
  }
  /** Hyperbolic tangent, element by element. */
  tanh(): Tensor {
    return applyOp(tensorOps.tanh, [this], undefined);
  }
  /** max(x, 0), element by element, with derivative 0 at 0. */
  relu(): Tensor {
    return applyOp(tensorOps.relu, [this], undefined);
  }
  /** 1 / (1 + e^−x), element by element, without overflow. */
  sigmoid(): Tensor {
    return applyOp(tensorOps.sigmoid, [this], undefined);
  }
  /** GELU in its tanh approximation, ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as GPT-2. */
  gelu(): Tensor {
    return applyOp(tensorOps.gelu, [this], undefined);
  }
  /** |x|, element by element, with derivative 0 at 0. */
  abs(): Tensor {
    return applyOp(tensorOps.abs, [this], undefined);
  }
  /** log(1 + e^x), element by element, without overflow. */
  softplus(): Tensor {
    return applyOp(tensorOps.softplus, [this], undefined);
  }
  /** Sine, element by element. */
  sin(): Tensor {
    return applyOp(tensorOps.sin, [this], undefined);
  }
  /** Cosine, element by element. */
  cos(): Tensor {
    return applyOp(tensorOps.cos, [this], undefined);
  }
  /**
   * Keeps every element within [`min`, `max`] (either bound may be left out). The gradient
   * passes where an element lies within the bounds (bounds included, as in PyTorch).
   *
   * @throws {RangeError} when a bound is not finite or `min > max`.
   */
  clamp(bounds: ClampParams): Tensor {
    return applyOp(tensorOps.clamp, [this], bounds);
  }
  /**
   * Without an axis of size 1: `axis`, or every size-1 axis when none is given; a copy.
   *
   * @throws {RangeError} when `axis` is out of range or its size is not 1.
   */
  squeeze(axis?: number): Tensor {
    return applyOp(tensorOps.squeeze, [this], axis === undefined ? undefined : { axis });
  }
  /**
   * With a new axis of size 1 at `axis` (a position in the result; −1 appends); a copy.
   *
   * @throws {RangeError} when `axis` is out of range.
   */
  unsqueeze(axis: number): Tensor {
    return applyOp(tensorOps.unsqueeze, [this], { axis });
  }

  // --- reductions ---

  /** Sum over `axis` (all axes when none is given), left to right along it. */
  sum(options?: ReduceParams): Tensor {
    return applyOp(tensorOps.sum, [this], options);
  }
  /** Mean over `axis` (all axes when none is given). */
  mean(options?: ReduceParams): Tensor {
    return applyOp(tensorOps.mean, [this], options);
  }
  /**
   * Given a tensor or a number: the element-wise larger of the two, broadcast (as
   * `Value.max`; at a tie the gradient goes to this). Otherwise: the largest element over
   * `axis` (all axes when none is given), whose gradient goes to the first largest element.
   */
  max(other?: Tensor | number | ReduceParams): Tensor {
    if (other instanceof Tensor || typeof other === "number") {
      return applyOp(tensorOps.maximum, [this, lift("max", other, this)], undefined);
    }
    return applyOp(tensorOps.max, [this], other);
  }
  /**
   * Given a tensor or a number: the element-wise smaller of the two, broadcast (as
   * `Value.min`). Otherwise: the smallest element over `axis` (all axes when none is given),
   * whose gradient goes to the first smallest element.
   */
  min(other?: Tensor | number | ReduceParams): Tensor {
    if (other instanceof Tensor || typeof other === "number") {
      return applyOp(tensorOps.minimum, [this, lift("min", other, this)], undefined);
    }
    return applyOp(tensorOps.min, [this], other);
  }
  /**
   * Position of the first largest element along `axis` (of the flattened tensor when none
   * is given), as a constant tensor of whole numbers: it has no gradient.
   *
   * @throws {RangeError} for a bad axis or an empty axis.
   */
  argmax(options?: ReduceParams): Tensor {
    const { positions, layout } = argmaxPositions("argmax", this, options);
    const out = new Float64Array(positions.length);
    for (let i = 0; i < out.length; i++) {
      // The flat position (o·size + k)·inner + i, reduced to k.
      out[i] = Math.floor(positions[i] / layout.inner) % layout.size;
    }
    return trusted(out, layout.shape);
  }

  // --- linear algebra and shapes ---

  /**
   * Matrix product over the last two axes, `[..., m, k] × [..., k, n] → [..., m, n]`, with
   * the leading (batch) axes broadcast.
   *
   * @throws {RangeError} naming both shapes when they do not fit.
   */
  matmul(other: Tensor): Tensor {
    return applyOp(tensorOps.matmul, [this, checkedTensor("matmul", other)], undefined);
  }
  /** Swaps two axes (default: the last two); a copy. */
  transpose(axis0 = -2, axis1 = -1): Tensor {
    const a = normalizeAxis("transpose", axis0, this.shape);
    const b = normalizeAxis("transpose", axis1, this.shape);
    const axes = this.shape.map((_, i) => (i === a ? b : i === b ? a : i));
    return applyOp(tensorOps.permute, [this], { axes });
  }
  /** Reorders the axes: result axis i is axis `axes[i]` of this; a copy. */
  permute(axes: readonly number[]): Tensor {
    return applyOp(tensorOps.permute, [this], { axes });
  }
  /** The same elements in a new shape (one size may be `-1`); a copy. */
  reshape(shape: readonly number[]): Tensor {
    return applyOp(tensorOps.reshape, [this], { shape });
  }
  /** Positions `start` to `end` (exclusive) along `axis`; a copy. */
  slice(range: SliceParams): Tensor {
    return applyOp(tensorOps.slice, [this], range);
  }
  /** Probabilities along `axis` (default the last): exp(x − max) / Σ exp(x − max). */
  softmax(axis = -1): Tensor {
    return applyOp(tensorOps.softmax, [this], { axis });
  }
  /** log softmax along `axis` (default the last), by the log-sum-exp trick. */
  logSoftmax(axis = -1): Tensor {
    return applyOp(tensorOps.logSoftmax, [this], { axis });
  }
  /**
   * Mean cross-entropy of these logits (`[..., classes]`) against integer class `targets`,
   * fused and stable: see {@linkcode crossEntropy}.
   */
  crossEntropy(targets: Tensor | ArrayLike<number>, options?: CrossEntropyOptions): Tensor {
    return crossEntropy(this, targets, options);
  }
  /** Rows of this table picked by integer `indices`: see {@linkcode gather}. */
  gather(indices: Tensor | ArrayLike<number>): Tensor {
    return gather(this, indices);
  }
  /**
   * Keeps the lower triangle of the last two axes (column ≤ row + diagonal) and puts `fill`
   * elsewhere: with `fill: -1e9` before a softmax, the causal mask of attention.
   */
  tril(options?: TrilParams): Tensor {
    return applyOp(tensorOps.tril, [this], options);
  }

  // --- gradients ---

  /**
   * Fills `grad` with ∂this/∂t for every tensor t in the graph that requires a gradient, by
   * the chain rule in reverse topological order. A tensor of one element needs no
   * `gradient` (it is 1); any other needs one of its own shape (the vector of a
   * vector-Jacobian product). Leaves add this pass's gradient to what they held; every
   * other tensor holds this pass's gradient alone. If any gradient is not finite, a
   * `RangeError` names the op and nothing is changed.
   *
   * With `intermediateGrads: false` (what a training step wants) only the leaves get a
   * gradient: the other tensors' `grad` is left as it was, and the arrays this pass
   * computed are reused by the passes after it instead of being allocated anew.
   *
   * @throws {RangeError} when this tensor does not require a gradient, when a non-scalar
   * gets no gradient or one of the wrong shape, or when a gradient is not finite.
   * @throws {TypeError} when `intermediateGrads` is not a boolean.
   */
  backward(
    gradient?: Tensor,
    options?: {
      /** Whether tensors other than leaves keep this pass's gradient (default `true`). */
      readonly intermediateGrads?: boolean;
    },
  ): void {
    const intermediateGrads = options?.intermediateGrads ?? true;
    if (typeof intermediateGrads !== "boolean") {
      throw new TypeError(
        `backward: intermediateGrads must be a boolean, got ${describe(intermediateGrads)}`,
      );
    }
    if (!this.requiresGrad) {
      throw new RangeError(
        "backward: this tensor does not require a gradient: none of the tensors it was " +
          "computed from has requiresGrad (or it was computed inside noGrad)",
      );
    }
    let seed: FloatArray;
    if (gradient === undefined) {
      if (this.size !== 1) {
        throw new RangeError(
          `backward: the output has shape ${formatShape(this.shape)}, not one element: ` +
            `pass a gradient of that shape, or reduce the output to a scalar first`,
        );
      }
      seed = allocate(this.dtype, 1).fill(1);
    } else {
      checkedTensor("backward", gradient);
      if (!sameShape(gradient.shape, this.shape)) {
        throw new RangeError(
          `backward: gradient ${formatShape(gradient.shape)} does not match the output's ` +
            `shape ${formatShape(this.shape)}`,
        );
      }
      // A copy, of the gradient's own element type: the root's gradient (and any op's that
      // hands it on) must not be the caller's tensor, which the caller may change afterwards.
      seed = gradient.data.slice();
    }
    propagate(this, seed, intermediateGrads);
  }

  /** A constant tensor sharing this one's storage, outside any graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new RangeError(`item: needs exactly one element, shape is ${formatShape(this.shape)}`);
    }
    return this.data[0];
  }

  /** The elements as nested arrays (a number for a scalar). */
  toArray(): NestedNumbers {
    const build = (axis: number, offset: number): NestedNumbers => {
      if (axis === this.shape.length) return this.data[offset];
      const out: NestedNumbers[] = [];
      for (let i = 0; i < this.shape[axis]; i++) {
        out.push(build(axis + 1, offset + i * this.strides[axis]));
      }
      return out;
    };
    return build(0, 0);
  }

  // --- the optimizers' flat-parameter interface ---

  /** Copies the elements into `into[offset..offset + size)`. */
  readValues(into: Float64Array, offset: number): void {
    into.set(this.data, offset);
  }
  /** Copies the gradient into `into[offset..offset + size)`: zeros when there is none. */
  readGrads(into: Float64Array, offset: number): void {
    if (this.grad === null) into.fill(0, offset, offset + this.size);
    else into.set(this.grad.data, offset);
  }
  /**
   * Overwrites the elements with `from[offset..offset + size)`.
   *
   * @throws {RangeError} when a new value is not finite (nothing is written then).
   */
  writeValues(from: Float64Array, offset: number): void {
    const values = from.subarray(offset, offset + this.size);
    if (values.length !== this.size) {
      throw new RangeError(
        `writeValues: needs ${this.size} values from offset ${offset}, ${from.length} given`,
      );
    }
    checkFinite("writeValues", "new value", values, this.shape);
    this.data.set(values);
  }
  /** Forgets the gradient (it reads as zeros until the next `backward`). */
  zeroGrad(): void {
    this.grad = null;
  }

  /** A readable summary, e.g. `Tensor([2,3], op=add, requiresGrad)`. */
  toString(): string {
    const shown = Array.from(this.data.subarray(0, 8)).join(", ");
    const more = this.size > 8 ? `, … (${this.size} elements)` : "";
    const made = this.op === null ? "" : `, op=${this.op.name}`;
    const grad = this.requiresGrad ? ", requiresGrad" : "";
    return `Tensor(${formatShape(this.shape)} [${shown}${more}]${made}${grad})`;
  }

  /** How `console.log` shows a Tensor in Deno. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

/**
 * Applies a registry op to tensors: runs its forward, refuses a result that is not finite,
 * and (unless inside `noGrad`) records the op when an input requires a gradient.
 * Every tensor method goes through here; so do the tests that walk the registry.
 *
 * @throws {RangeError} from the op's checks, or naming the op when its result holds a value
 * that is not finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyOp, tensor } from "./tensor.ts";
 * import { tensorOps } from "./ops.ts";
 * const x = tensor([1, 2, 3], { requiresGrad: true });
 * const y = applyOp(tensorOps.sum, [x], undefined);
 * y.backward();
 * assert.ok(y.item() === 6 && x.grad!.data.join() === "1,1,1");
 * ```
 */
export function applyOp<P>(op: TensorOpSpec<P>, inputs: readonly Tensor[], params: P): Tensor {
  const result = op.forward(inputs, params);
  // The result's element type by the engine's rule, rounded here, so each op need not know.
  const data = asDType(result.data, resultDType(inputs));
  const bad = firstNonFinite(data);
  if (bad !== -1) throw forwardError(op, inputs, data, result.shape, bad);
  const out = trusted(data, result.shape);
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.op = op as TensorOpSpec;
    out.inputs = inputs.slice();
    out.params = params;
    out.saved = result.saved;
  }
  return out;
}

/**
 * Every tensor `root` depends on through tensors that require a gradient, inputs before
 * the tensors made from them, `root` last. Iterative (no recursion), with a stamp in each
 * tensor's `mark` instead of a Set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor, tensorTopologicalOrder } from "./tensor.ts";
 * const x = tensor([1, 2], { requiresGrad: true });
 * const y = x.mul(x).sum();
 * assert.ok(tensorTopologicalOrder(y).length === 3); // x, x·x, the sum
 * ```
 */
export function tensorTopologicalOrder(root: Tensor): Tensor[] {
  walkEpoch = walkEpoch >= 0x3ffffff0 ? 2 : walkEpoch + 2;
  const entered = walkEpoch;
  const emitted = walkEpoch + 1;
  const order: Tensor[] = [];
  const stack: Tensor[] = [root];
  while (stack.length > 0) {
    const node = stack[stack.length - 1];
    if (node.mark !== entered && node.mark !== emitted) {
      node.mark = entered;
      const inputs = node.inputs;
      for (let j = inputs.length - 1; j >= 0; j--) {
        const input = inputs[j];
        if (input.requiresGrad && input.mark !== emitted) stack.push(input);
      }
    } else {
      stack.pop();
      if (node.mark === entered) {
        node.mark = emitted;
        order.push(node);
      }
    }
  }
  return order;
}

/** The backward pass proper: computes every gradient aside, then commits them all at once. */
function propagate(root: Tensor, seed: FloatArray, intermediateGrads: boolean): void {
  const order = tensorTopologicalOrder(root);
  const slot = new Map<Tensor, number>();
  for (let i = 0; i < order.length; i++) slot.set(order[i], i);
  // This pass's gradient of each tensor. An array may be shared (an op can hand its own
  // gradient straight to an input), so it is only ever added into once it is `owned`.
  // Float64, or float32 where an op computed a float32 tensor's gradient in float32.
  const pass: (FloatArray | null)[] = new Array(order.length).fill(null);
  // The pass's other arrays: float32 gradients widened for an op that reads float64, and
  // sums replaced by wider ones.
  const extra: FloatArray[] = [];
  const owned = new Uint8Array(order.length);
  pass[order.length - 1] = seed;
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i];
    const op = node.op;
    const grad = pass[i];
    if (op === null || grad === null) continue;
    const inputs = node.inputs;
    const needs = inputs.map((t) => t.requiresGrad);
    // A float32 gradient goes to the op's float32 backward where it has one; any other op
    // reads it widened to float64 (exactly). The node's own gradient stays the float32 one;
    // the widened copy (which the op may hand on as an input's gradient) is the pass's too.
    const float32 = grad instanceof Float32Array &&
      op.backwardFloat32 !== undefined && node.data instanceof Float32Array;
    // The array the op reads: its gradient, or that widened. Both are finite (checked when
    // they were made), so an op that hands one on as an input's gradient needs no new check.
    let given: FloatArray = grad;
    if (!float32 && grad instanceof Float32Array) {
      given = gradientArrayToOverwrite(grad.length);
      given.set(grad);
      extra.push(given);
    }
    const context = {
      grad: given,
      inputs,
      out: node,
      saved: node.saved,
      params: node.params,
      needs,
    };
    const grads = float32
      ? op.backwardFloat32!(context as BackwardContext<unknown, Float32Array>)
      : op.backward(context as BackwardContext<unknown>);
    for (let j = 0; j < inputs.length; j++) {
      if (!needs[j]) continue;
      const g = grads[j] as FloatArray;
      const at = slot.get(inputs[j]) as number;
      const held = pass[at];
      if (held === null) {
        pass[at] = g;
      } else {
        // Two float32 gradients add up in float32 (checked below: a sum beyond float32's
        // range is refused, as any gradient that is not finite); any other pair in float64.
        const float32 = held instanceof Float32Array && g instanceof Float32Array;
        if (owned[at] === 1 && (float32 || held instanceof Float64Array)) {
          addInto(held, g);
        } else {
          const sum = float32
            ? float32GradientArrayToOverwrite(g.length)
            : gradientArrayToOverwrite(g.length);
          sumInto(sum, held, g);
          if (owned[at] === 1) extra.push(held);
          pass[at] = sum;
          owned[at] = 1;
        }
      }
      const total = pass[at] as FloatArray;
      const handedOn = held === null && g === given; // unchanged: no new check
      const bad = handedOn ? -1 : firstNonFinite(total);
      if (bad !== -1) {
        throw new RangeError(
          `backward: the gradient reaching input ${j} of ${op.name} ` +
            `(shape ${formatShape(inputs[j].shape)}) is ${total[bad]} ` +
            `at ${formatIndex(bad, inputs[j].shape)}`,
        );
      }
    }
  }
  // Leaves accumulate: compute every new total first, so a failure changes nothing. A leaf's
  // total is stored in the leaf's element type (an optimizer reads it beside the values) and
  // checked after that rounding, so a float64 sum beyond float32's range is refused too. It
  // is always fresh storage: never the pass's array, which another tensor's gradient may hold.
  const totals: FloatArray[] = new Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const node = order[i];
    const grad = pass[i] as FloatArray;
    if (node.op !== null) {
      totals[i] = grad;
      continue;
    }
    const total = allocate(node.dtype, grad.length);
    if (node.grad === null) {
      total.set(grad);
    } else {
      const before = node.grad.data;
      for (let e = 0; e < total.length; e++) total[e] = grad[e] + before[e];
    }
    const bad = firstNonFinite(total);
    if (bad !== -1) {
      throw new RangeError(
        `backward: the accumulated gradient of a leaf ${formatShape(node.shape)} would be ` +
          `${total[bad]} at ${formatIndex(bad, node.shape)}`,
      );
    }
    totals[i] = total;
  }
  if (intermediateGrads) {
    // The others keep the array they were computed in (float32 where an op made it so).
    for (let i = 0; i < order.length; i++) order[i].grad = trusted(totals[i], order[i].shape);
    return;
  }
  for (let i = 0; i < order.length; i++) {
    if (order[i].op === null) order[i].grad = trusted(totals[i], order[i].shape);
  }
  // Nothing reaches this pass's arrays now (the leaves' totals are copies, no other tensor
  // was given one, the seed is the engine's own): later passes reuse them.
  // One call, so that an array in both lists (an op may hand on its gradient) is taken once.
  releaseGradientArrays([...pass, ...extra]);
}

/** held[e] += g[e] for every element (one loop per pair of element types stays monomorphic). */
function addInto(held: FloatArray, g: FloatArray): void {
  if (held instanceof Float64Array) {
    if (g instanceof Float64Array) addInto64(held, g);
    else addInto64From32(held, g);
  } else {
    addInto32(held, g as Float32Array);
  }
}

function addInto64(held: Float64Array, g: Float64Array): void {
  for (let e = 0; e < g.length; e++) held[e] += g[e];
}

function addInto64From32(held: Float64Array, g: Float32Array): void {
  for (let e = 0; e < g.length; e++) held[e] += g[e];
}

function addInto32(held: Float32Array, g: Float32Array): void {
  for (let e = 0; e < g.length; e++) held[e] += g[e];
}

/** sum[e] = held[e] + g[e] for every element, a loop per pair of types as `addInto`. */
function sumInto(sum: FloatArray, held: FloatArray, g: FloatArray): void {
  if (sum instanceof Float32Array) sumInto32(sum, held as Float32Array, g as Float32Array);
  else if (held instanceof Float64Array && g instanceof Float64Array) sumInto64(sum, held, g);
  else sumIntoMixed(sum, held, g);
}

function sumInto64(sum: Float64Array, held: Float64Array, g: Float64Array): void {
  for (let e = 0; e < g.length; e++) sum[e] = held[e] + g[e];
}

function sumInto32(sum: Float32Array, held: Float32Array, g: Float32Array): void {
  for (let e = 0; e < g.length; e++) sum[e] = held[e] + g[e];
}

function sumIntoMixed(sum: Float64Array, held: FloatArray, g: FloatArray): void {
  for (let e = 0; e < g.length; e++) sum[e] = held[e] + g[e];
}

// ---------------------------------------------------------------------------------------
// Creation
// ---------------------------------------------------------------------------------------

/**
 * A tensor from nested arrays of numbers (a plain number makes a scalar). Rows must all have
 * the same length.
 *
 * @throws {TypeError} when an element is not a number or an array.
 * @throws {RangeError} for ragged arrays or elements that are not finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "./tensor.ts";
 * const m = tensor([[1, 2, 3], [4, 5, 6]]);
 * assert.ok(m.shape.join() === "2,3" && m.data[4] === 5);
 * ```
 */
export function tensor(values: NestedNumbers, options?: TensorOptions): Tensor {
  const shape: number[] = [];
  let probe: NestedNumbers = values;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = (probe as readonly NestedNumbers[])[0];
  }
  const data = new Float64Array(sizeOf(shape));
  let filled = 0;
  const visit = (node: NestedNumbers, axis: number, path: string): void => {
    if (axis === shape.length) {
      if (typeof node !== "number") {
        throw new TypeError(`tensor: element ${path} must be a number, got ${describe(node)}`);
      }
      if (!Number.isFinite(node)) {
        throw new RangeError(`tensor: element ${path} must be finite, got ${node}`);
      }
      data[filled++] = node;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[axis]) {
      throw new RangeError(
        `tensor: ragged nested arrays: ${path || "the top level"} should be an array of ` +
          `${shape[axis]} (as the first one at that depth), got ${describe(node)}`,
      );
    }
    for (let i = 0; i < node.length; i++) visit(node[i], axis + 1, `${path}[${i}]`);
  };
  visit(values, 0, "");
  return new Tensor(data, shape, options);
}

/**
 * A tensor of the given shape filled with `value`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { full } from "./tensor.ts";
 * assert.ok(full([2, 2], 7).data.every((x) => x === 7));
 * ```
 */
export function full(shape: readonly number[], value: number, options?: TensorOptions): Tensor {
  const checked = checkedShape("full", shape);
  return new Tensor(
    new Float64Array(sizeOf(checked)).fill(checkedNumber("full", value)),
    checked,
    options,
  );
}

/**
 * A tensor of zeros.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zeros } from "./tensor.ts";
 * assert.ok(zeros([3]).data.join() === "0,0,0");
 * ```
 */
export function zeros(shape: readonly number[], options?: TensorOptions): Tensor {
  return full(shape, 0, options);
}

/**
 * A tensor of ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ones } from "./tensor.ts";
 * assert.ok(ones([2, 1]).data.join() === "1,1");
 * ```
 */
export function ones(shape: readonly number[], options?: TensorOptions): Tensor {
  return full(shape, 1, options);
}

/**
 * A scalar (shape `[]`) tensor holding `value`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromScalar } from "./tensor.ts";
 * const t = fromScalar(2.5);
 * assert.ok(t.shape.length === 0 && t.item() === 2.5);
 * ```
 */
export function fromScalar(value: number, options?: TensorOptions): Tensor {
  return new Tensor(new Float64Array([checkedNumber("fromScalar", value)]), [], options);
}

/**
 * Options of {@linkcode arange}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { arange, type ArangeOptions } from "./tensor.ts";
 * const options: ArangeOptions = { start: 1, step: 2 };
 * assert.ok(arange(7, options).data.join() === "1,3,5");
 * ```
 */
export interface ArangeOptions extends TensorOptions {
  /** First value (default 0). */
  readonly start?: number;
  /** Distance between values: finite and non-zero (default 1). */
  readonly step?: number;
}

/**
 * The 1-d tensor `start, start + step, …` up to `stop` (excluded), as NumPy's `arange`.
 *
 * @throws {RangeError} when a bound is not finite or `step` is 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { arange } from "./tensor.ts";
 * assert.ok(arange(4).data.join() === "0,1,2,3");
 * ```
 */
export function arange(stop: number, options?: ArangeOptions): Tensor {
  const start = checkedNumber("arange", options?.start ?? 0);
  const step = checkedNumber("arange", options?.step ?? 1);
  checkedNumber("arange", stop);
  if (step === 0) throw new RangeError("arange: step must not be 0");
  const count = Math.max(0, Math.ceil((stop - start) / step));
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = start + i * step;
  return new Tensor(data, [count], options);
}

/**
 * Options of {@linkcode rand} and {@linkcode randn}: where the numbers come from (a `seed`
 * or a `source`, one of them required, as everywhere in the library).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randn, type RandomTensorOptions } from "./tensor.ts";
 * const options: RandomTensorOptions = { seed: 3 };
 * assert.ok(randn([2], options).data[0] === randn([2], options).data[0]);
 * ```
 */
export interface RandomTensorOptions extends TensorOptions, SeedOptions {
  /** Seed of a fresh `Random`. */
  readonly seed?: number;
  /** A generator to draw from instead (it advances), e.g. shared by several calls. */
  readonly source?: RandomSource;
}

/** A standard normal draw: `Random`'s own, or Box–Muller from any uniform source. */
function normalDraw(source: RandomSource): number {
  if (source instanceof Random) return source.normal();
  // 1 − u is in (0, 1], so the logarithm is finite.
  const radius = Math.sqrt(-2 * Math.log(1 - source.next()));
  return radius * Math.cos(2 * Math.PI * source.next());
}

/**
 * A tensor of standard normal draws from `options`' seed or source.
 *
 * @throws {RangeError} when neither a seed nor a source is given, or both.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randn } from "./tensor.ts";
 * const x = randn([1000], { seed: 1 });
 * assert.ok(Math.abs(x.mean().item()) < 0.1);
 * ```
 */
export function randn(shape: readonly number[], options?: RandomTensorOptions): Tensor {
  const checked = checkedShape("randn", shape);
  const source = randomSourceOf("randn", options);
  const data = new Float64Array(sizeOf(checked));
  for (let i = 0; i < data.length; i++) data[i] = normalDraw(source);
  return new Tensor(data, checked, options);
}

/**
 * A tensor of uniform draws in [0, 1) from `options`' seed or source.
 *
 * @throws {RangeError} when neither a seed nor a source is given, or both.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rand } from "./tensor.ts";
 * const x = rand([3], { seed: 1 });
 * assert.ok(x.data.every((u) => u >= 0 && u < 1));
 * ```
 */
export function rand(shape: readonly number[], options?: RandomTensorOptions): Tensor {
  const checked = checkedShape("rand", shape);
  const source = randomSourceOf("rand", options);
  const data = new Float64Array(sizeOf(checked));
  for (let i = 0; i < data.length; i++) data[i] = source.next();
  return new Tensor(data, checked, options);
}

// ---------------------------------------------------------------------------------------
// Ops of several tensors
// ---------------------------------------------------------------------------------------

/**
 * Joins tensors along an existing axis (default 0); all other sizes must agree.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { concat, tensor } from "./tensor.ts";
 * const c = concat([tensor([[1, 2]]), tensor([[3, 4], [5, 6]])]);
 * assert.ok(c.shape.join() === "3,2" && c.data.join() === "1,2,3,4,5,6");
 * ```
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  return applyOp(tensorOps.concat, checkedTensors("concat", tensors), { axis });
}

/**
 * Stacks same-shape tensors along a new axis (default 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stack, tensor } from "./tensor.ts";
 * const s = stack([tensor([1, 2]), tensor([3, 4])], 1);
 * assert.ok(s.shape.join() === "2,2" && s.data.join() === "1,3,2,4");
 * ```
 */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  return applyOp(tensorOps.stack, checkedTensors("stack", tensors), { axis });
}

/**
 * Rows of `table` (axis 0) picked by integer `indices`: the result has shape
 * `[...indices.shape, ...table.shape.slice(1)]`. Backward adds each row's gradient into the
 * row it was read from (an embedding lookup).
 *
 * @throws {RangeError} for an index that is not an integer in `[0, table.shape[0])`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gather, tensor } from "./tensor.ts";
 * const table = tensor([[0, 0], [1, 1], [2, 2]], { requiresGrad: true });
 * const rows = gather(table, [2, 0, 2]);
 * rows.sum().backward();
 * assert.ok(rows.shape.join() === "3,2" && table.grad!.data.join() === "1,1,0,0,2,2");
 * ```
 */
export function gather(table: Tensor, indices: Tensor | ArrayLike<number>): Tensor {
  return applyOp(tensorOps.gather, [checkedTensor("gather", table)], {
    indices: toIndexList("gather", indices),
  });
}

/**
 * Options of {@linkcode crossEntropy}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CrossEntropyOptions } from "./tensor.ts";
 * const padded: CrossEntropyOptions = { ignoreIndex: -1 };
 * assert.ok(padded.ignoreIndex === -1);
 * ```
 */
export interface CrossEntropyOptions {
  /**
   * Rows whose target is this value (outside `[0, classes)`, e.g. −1 for padding) are left
   * out of the loss and of the mean, as PyTorch's `ignore_index` (default none).
   */
  readonly ignoreIndex?: number;
}

/**
 * Mean cross-entropy of `logits` (`[..., classes]`) against integer class `targets` (one per
 * row, of shape `logits.shape.slice(0, -1)`): `mean(−log softmax(logits)[target])`, fused
 * and stable. With `ignoreIndex`, rows of that target count for nothing and the mean is
 * over the remaining rows.
 *
 * @throws {RangeError} for targets of the wrong shape, not integers in `[0, classes)` (or the
 * ignored index), or all ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crossEntropy, tensor } from "./tensor.ts";
 * const logits = tensor([[0, 0], [0, 0], [5, -5]]);
 * assert.ok(Math.abs(crossEntropy(logits, [0, 1, 0]).item() - 2 * Math.log(2) / 3) < 0.01);
 * // The padded third row is left out: the mean is over two rows.
 * const padded = crossEntropy(logits, [0, 1, -1], { ignoreIndex: -1 });
 * assert.ok(Math.abs(padded.item() - Math.log(2)) < 1e-15);
 * ```
 */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor | ArrayLike<number>,
  options?: CrossEntropyOptions,
): Tensor {
  return applyOp(tensorOps.crossEntropy, [checkedTensor("crossEntropy", logits)], {
    targets: toIndexList("crossEntropy", targets),
    ignoreIndex: options?.ignoreIndex,
  });
}

/**
 * Options of {@linkcode layerNorm}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LayerNormOptions } from "./tensor.ts";
 * const options: LayerNormOptions = { eps: 1e-6 };
 * assert.ok(options.eps! > 0);
 * ```
 */
export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number;
}

/**
 * Layer normalisation over the last axis: `(x − mean) / √(var + eps) · weight + bias`, with
 * the biased variance; `weight` and `bias` have the last axis' size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerNorm, ones, tensor, zeros } from "./tensor.ts";
 * const y = layerNorm(tensor([[1, 3]]), ones([2]), zeros([2]), { eps: 1e-12 });
 * assert.ok(Math.abs(y.data[0] + 1) < 1e-9 && Math.abs(y.data[1] - 1) < 1e-9);
 * ```
 */
export function layerNorm(
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  options?: LayerNormOptions,
): Tensor {
  const inputs = [x, weight, bias].map((t) => checkedTensor("layerNorm", t));
  return applyOp(tensorOps.layerNorm, inputs, { eps: options?.eps ?? 1e-5 });
}

/**
 * Scaled dot-product attention in one op: `softmax(scale·q·kᵀ)·v` over the last two axes of
 * `[..., Tq, d]` queries and `[..., Tk, d]` keys and values (the leading axes alike), causal by
 * default, scale 1/√d by default. Causal: query i sees keys j ≤ i + Tk − Tq, so with Tq = Tk
 * each position sees itself and the ones before, and with fewer queries (a new token after
 * cached keys) the queries are the last positions. Forward and backward are fused: nothing
 * but the probabilities is kept, and no transpose is made.
 *
 * @throws {RangeError} when the shapes do not fit, have fewer than 2 axes, or a causal call
 * has more queries than keys.
 *
 * @example One query row attends to itself only, under the causal mask.
 * ```ts
 * import assert from "node:assert/strict";
 * import { attention, tensor } from "./tensor.ts";
 * const q = tensor([[1, 0], [0, 1]]);
 * const v = tensor([[5, 6], [7, 8]]);
 * const out = attention(q, q, v);
 * assert.deepEqual(Array.from(out.data.subarray(0, 2)), [5, 6]);
 * ```
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionParams): Tensor {
  const inputs = [q, k, v].map((t) => checkedTensor("attention", t));
  return applyOp(tensorOps.attention, inputs, options);
}

/**
 * Multi-head self-attention straight from a fused projection: the last axis of `qkv`
 * (`[..., T, 3C]`, as nanoGPT's `c_attn` makes it) holds q, k and v side by side, each of
 * `heads` heads of `C / heads` features; the result `[..., T, C]` holds the heads' outputs
 * side by side. The same as slicing q, k and v out, splitting each into heads
 * (`[..., heads, T, d]`), {@linkcode attention} and merging the heads back, but in one op:
 * no slice, reshape or permute tensors, in forward or backward. Causal by default, scale
 * 1/√d by default (d the head size).
 *
 * @throws {RangeError} when `heads` is not a whole number ≥ 1, or the last axis is not a
 * multiple of 3·heads, or `qkv` has fewer than 2 axes.
 *
 * @example Two heads of width 1: each position of each head attends to itself and before.
 * ```ts
 * import assert from "node:assert/strict";
 * import { attention, randn, selfAttention } from "./tensor.ts";
 * const qkv = randn([1, 3, 6], { seed: 1 });
 * const y = selfAttention(qkv, { heads: 2 });
 * // Head 0 is columns 0, 2 and 4 (its q, k and v).
 * const part = (c: number) => qkv.slice({ axis: 2, start: c, end: c + 1 });
 * const head0 = attention(part(0), part(2), part(4));
 * assert.deepEqual(y.shape, [1, 3, 2]);
 * for (let t = 0; t < 3; t++) assert.ok(Math.abs(y.data[2 * t] - head0.data[t]) < 1e-12);
 * ```
 */
export function selfAttention(qkv: Tensor, options: SelfAttentionParams): Tensor {
  return applyOp(tensorOps.selfAttention, [checkedTensor("selfAttention", qkv)], options);
}

/**
 * Options of {@linkcode dropout}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DropoutOptions } from "./tensor.ts";
 * import { Random } from "../util/random.ts";
 * const options: DropoutOptions = { p: 0.1, source: new Random(1) };
 * assert.ok(options.training === undefined); // training by default
 * ```
 */
export interface DropoutOptions {
  /** Probability of zeroing each element, in [0, 1). */
  readonly p: number;
  /** Where masks come from (required): each call draws one seed from it. */
  readonly source: RandomSource;
  /** In evaluation mode (`false`) dropout is the identity (default `true`). */
  readonly training?: boolean;
}

/**
 * Inverted dropout: each element is zeroed with probability `p` and the others scaled by
 * 1/(1 − p), with a mask drawn from `source`; the identity when `training` is false.
 *
 * @throws {TypeError} when `source` is not a RandomSource.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dropout, ones } from "./tensor.ts";
 * import { Random } from "../util/random.ts";
 * const y = dropout(ones([1000]), { p: 0.5, source: new Random(3) });
 * assert.ok(y.data.every((v) => v === 0 || v === 2));
 * const same = ones([3]);
 * assert.ok(dropout(same, { p: 0.5, source: new Random(3), training: false }) === same);
 * ```
 */
export function dropout(x: Tensor, options: DropoutOptions): Tensor {
  checkedTensor("dropout", x);
  if (options.training === false) return x;
  if (options?.source === undefined) {
    throw new RangeError(
      "dropout: give a source for the masks (e.g. { p, source: new Random(1) }): no random " +
        "numbers are drawn without one",
    );
  }
  const source = randomSourceOf("dropout", { source: options.source });
  const seed = Math.floor(source.next() * 4294967296);
  return applyOp(tensorOps.dropout, [x], { p: options.p, seed });
}

/**
 * `x · weightᵀ + bias` over the last axis of `x`, with `weight` of shape `[out, in]` (as
 * PyTorch) and an optional `bias` `[out]`. In float64 each output is the left fold
 * `((b + w₀x₀) + w₁x₁) + …` of a micrograd neuron, in that order, so it reproduces scalar
 * engines (and the W1 workload) bit for bit; in float32 the same fold runs with fused
 * multiply-adds (each step rounded once), as float32 training does elsewhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linear, tensor } from "./tensor.ts";
 * const y = linear(tensor([[1, 2]]), tensor([[3, 4], [5, 6]]), tensor([10, 20]));
 * assert.ok(y.data.join() === "21,37");
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const inputs = bias === undefined ? [x, weight] : [x, weight, bias];
  return applyOp(tensorOps.linear, checkedTensors("linear", inputs), undefined);
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** A tensor over checked data, made without scanning it again. */
function trusted(data: FloatArray, shape: readonly number[]): Tensor {
  trustedData = true;
  try {
    return new Tensor(data, shape);
  } finally {
    trustedData = false;
  }
}

/** A number as a constant scalar of `like`'s element type (a Tensor is itself). */
function lift(op: string, x: Tensor | number, like: Tensor): Tensor {
  if (x instanceof Tensor) return x;
  return trusted(asDType(new Float64Array([checkedNumber(op, x)]), like.dtype), []);
}

function checkedNumber(op: string, x: unknown): number {
  if (typeof x !== "number") {
    throw new TypeError(`${op}: operand must be a number or a Tensor, got ${describe(x)}`);
  }
  if (!Number.isFinite(x)) throw new RangeError(`${op}: operand must be finite, got ${x}`);
  return x;
}

function checkedTensor(op: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) {
    throw new TypeError(`${op}: expected a Tensor, got ${describe(x)}`);
  }
  return x;
}

function checkedTensors(op: string, xs: unknown): Tensor[] {
  if (!Array.isArray(xs)) throw new TypeError(`${op}: expected an array of Tensors`);
  return xs.map((x) => checkedTensor(op, x));
}

function toIndexList(op: string, indices: Tensor | ArrayLike<number>): IndexList {
  if (indices instanceof Tensor) {
    return { values: Float64Array.from(indices.data), shape: indices.shape };
  }
  if (indices === null || typeof indices !== "object" || typeof indices.length !== "number") {
    throw new TypeError(`${op}: indices must be a Tensor or an array, got ${describe(indices)}`);
  }
  return { values: Float64Array.from(indices), shape: [indices.length] };
}

function describe(x: unknown): string {
  if (Array.isArray(x)) return `an array of ${x.length}`;
  return `${typeof x} ${typeof x === "string" ? JSON.stringify(x) : String(x)}`;
}

function checkFinite(op: string, what: string, data: FloatArray, shape: readonly number[]): void {
  const bad = firstNonFinite(data);
  if (bad !== -1) {
    throw new RangeError(
      `${op}: ${what} at ${formatIndex(bad, shape)} is ${data[bad]}, not a finite number`,
    );
  }
}

/** The N-d index of flat position `flat` in a row-major tensor of `shape`, e.g. `[1,0,2]`. */
function formatIndex(flat: number, shape: readonly number[]): string {
  const index = new Array<number>(shape.length);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = flat % shape[axis];
    flat = Math.floor(flat / shape[axis]);
  }
  return formatShape(index);
}

function forwardError(
  op: TensorOpSpec,
  inputs: readonly TensorData[],
  data: FloatArray,
  shape: readonly number[],
  bad: number,
): RangeError {
  const shapes = inputs.map((t) => formatShape(t.shape)).join(", ");
  // For an element-wise op of one input the culprit is the input element at the same place.
  const culprit = op.elementwise && inputs.length === 1 && sameShape(inputs[0].shape, shape)
    ? ` (input ${inputs[0].data[bad]})`
    : "";
  return new RangeError(
    `${op.name}: result element ${formatIndex(bad, shape)} is ${data[bad]}${culprit}, ` +
      `not a finite number (input shapes ${shapes})`,
  );
}
