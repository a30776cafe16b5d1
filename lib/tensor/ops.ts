/**
 * The tensor op registry: every differentiable tensor op, its forward and backward side by
 * side, and the data that says which inputs it is defined on.
 *
 * An op works on flat `Float64Array` storage and shapes only; it knows nothing of graphs.
 * `forward` computes the result (and whatever backward will need, in `saved`); `backward`
 * turns the gradient of the result into the gradients of the inputs that need one. The
 * `Tensor` class (tensor.ts) links results into a graph and runs backward in order; the test
 * suite reads each op's `cases` (plain data: symbolic shapes, value domains, parameters),
 * draws inputs from them and gradient-checks the op, so an op added here cannot escape.
 *
 * The element-wise ops are not written here a second time: each is a scalar op of the scalar
 * registry (`../ops.ts`), its forward and local derivative applied element by element.
 *
 * Every result is a new contiguous row-major array, never a view: views would save copies
 * but make every op reason about strides and aliasing.
 *
 * @module
 */

import { type InputDomain, type OpName, ops, type OpSpec } from "../scalar/ops.ts";
import { DEFAULT_EPS } from "../scalar/value.ts";
import { Random } from "../util/random.ts";
import {
  broadcastIndex,
  broadcastShapes,
  repeatPeriod,
  stridedPositions,
  sumToShape,
} from "./_broadcast.ts";
import {
  type BinaryLoops,
  binaryLoops,
  hotLoops,
  type UnaryLoops,
  unaryLoops,
} from "./kernels/_elementwise.ts";
import { attentionBackward, attentionForward, type AttentionSizes } from "./kernels/_attention.ts";
import { product } from "./kernels/_product.ts";
import { addColumnSums } from "./_matmul.ts";
import {
  type AttentionHeads,
  routedBinaryLoops,
  routedUnaryLoops,
  simdAttention,
  simdAttentionRouted,
  simdKernels,
  simdRouted,
} from "./kernels/simd.ts";
import { allocate, asDType, asFloat64, dtypeOf, type FloatArray, resultDType } from "./_dtype.ts";
import {
  float32GradientArrayToOverwrite,
  gradientArray,
  gradientArrayToOverwrite,
  gradientArrayToOverwriteLike,
  releaseGradientArrays,
} from "./_gradient_pool.ts";
import {
  checkedShape,
  contiguousStrides,
  formatShape,
  normalizeAxis,
  sameShape,
  type Shape,
  sizeOf,
  splitAtAxis,
} from "./_shape.ts";

/**
 * What an op reads of a tensor: its flat row-major storage and its shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TensorData } from "./ops.ts";
 * const t: TensorData = { data: new Float64Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
 * assert.ok(t.data.length === 6);
 * ```
 */
export interface TensorData {
  /** Elements in row-major order (float64, or float32 for a float32 tensor). */
  readonly data: FloatArray;
  /** Size of each axis. */
  readonly shape: readonly number[];
}

/**
 * What an op's forward returns: the result, and whatever its backward will need.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OpResult } from "./ops.ts";
 * const r: OpResult = { data: new Float64Array([1]), shape: [], saved: null };
 * assert.ok(r.shape.length === 0);
 * ```
 */
export interface OpResult {
  /** The result's elements, row-major (the engine rounds them to float32 for float32 inputs). */
  readonly data: FloatArray;
  /** The result's shape. */
  readonly shape: readonly number[];
  /** Op-specific intermediate values kept for backward (e.g. softmax probabilities). */
  readonly saved: unknown;
}

/**
 * Everything an op's backward receives. `G` is the type of `grad`: float64, or float32 for
 * an op's {@linkcode TensorOpSpec.backwardFloat32}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BackwardContext } from "./ops.ts";
 * const data = new Float64Array([2]);
 * const ctx: BackwardContext<undefined> = {
 *   grad: new Float64Array([1]),
 *   inputs: [{ data, shape: [] }],
 *   out: { data, shape: [] },
 *   saved: null,
 *   params: undefined,
 *   needs: [true],
 * };
 * assert.ok(ctx.needs[0]);
 * ```
 */
export interface BackwardContext<P, G extends FloatArray = Float64Array> {
  /** ∂loss/∂result, one element per element of the result. */
  readonly grad: G;
  /** The op's inputs, as forward saw them. */
  readonly inputs: readonly TensorData[];
  /** The op's result. */
  readonly out: TensorData;
  /** What forward put in {@linkcode OpResult.saved}. */
  readonly saved: unknown;
  /** The op's parameters (axis, shape, indices…), as forward received them. */
  readonly params: P;
  /** Which inputs need a gradient; backward may return `null` for the others. */
  readonly needs: readonly boolean[];
}

/**
 * A size in a symbolic shape: a number is that size; a name is a size drawn once per case
 * and shared by every input that names it; `"..."` (first position only) is a batch of
 * leading axes drawn once per case, which each input may shorten or collapse to size 1
 * (NumPy broadcasting).
 *
 * @example `matmul`'s inputs: batch dims broadcast, inner sizes shared.
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Dim } from "./ops.ts";
 * const a: Dim[] = ["...", "m", "k"];
 * const b: Dim[] = ["...", "k", "n"];
 * assert.ok(a[2] === b[1]);
 * ```
 */
export type Dim = number | string;

/**
 * One tensor input of a test case: a symbolic shape and the interval its elements come from.
 *
 * @example The input of `log`: any shape, positive elements.
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TensorInputSpec } from "./ops.ts";
 * const spec: TensorInputSpec = { shape: ["..."], domain: { min: 0.05, max: 5 } };
 * assert.ok(spec.domain.min > 0);
 * ```
 */
export interface TensorInputSpec {
  /** Symbolic shape (see {@linkcode Dim}). */
  readonly shape: readonly Dim[];
  /** Interval of the elements (with kinks to avoid, as for scalar ops). */
  readonly domain: InputDomain;
  /**
   * Smallest gap between any two elements, when ties are kinks (`max`: the maximum jumps
   * from one element to another where two are equal).
   */
  readonly separation?: number;
}

/**
 * How one parameter of a test case is chosen.
 *
 * - `constant`: always `value`.
 * - `oneOf`: one of `values`.
 * - `axis`: a valid axis of input `input` (negative ones too); `optional` adds `undefined`
 *   (meaning "all axes"), which is the only choice for a scalar input.
 * - `newAxis`: a valid position for a new axis in input `input` (`[-rank-1, rank]`).
 * - `permutation`: an ordering of input `input`'s axes.
 * - `reshape`: a shape with as many elements as input `input`, maybe with one `-1`.
 * - `slice`: `axis`, `start` and `end` inside input `input` (negative positions too), spread
 *   into the parameter object (the name this spec is given is not used).
 * - `indices`: `{ values, shape }`, integers in `[0, size of below)` of symbolic `shape`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ParamSpec } from "./ops.ts";
 * const keepDims: ParamSpec = { kind: "oneOf", values: [true, false] };
 * assert.ok(keepDims.kind === "oneOf");
 * ```
 */
export type ParamSpec =
  | { readonly kind: "constant"; readonly value: unknown }
  | { readonly kind: "oneOf"; readonly values: readonly unknown[] }
  | { readonly kind: "axis"; readonly input: number; readonly optional?: boolean }
  | { readonly kind: "newAxis"; readonly input: number }
  | { readonly kind: "permutation"; readonly input: number }
  | { readonly kind: "reshape"; readonly input: number }
  | { readonly kind: "slice"; readonly input: number }
  | { readonly kind: "indices"; readonly shape: readonly Dim[]; readonly below: string };

/**
 * A family of valid calls of an op, as data: its tensor inputs, its parameters, and the
 * range of every named size. An op's cases together are its checked domain.
 *
 * @example `sum` over an optional axis of any tensor.
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OpCase } from "./ops.ts";
 * const c: OpCase = {
 *   inputs: [{ shape: ["..."], domain: { min: -5, max: 5 } }],
 *   params: { axis: { kind: "axis", input: 0, optional: true } },
 * };
 * assert.ok(c.inputs.length === 1);
 * ```
 */
export interface OpCase {
  /** One spec per tensor input. */
  readonly inputs: readonly TensorInputSpec[];
  /** The parameter object's fields, each with how it is chosen. */
  readonly params?: Readonly<Record<string, ParamSpec>>;
  /** Ranges of named sizes (default 1 to 3 for every name). */
  readonly sizes?: Readonly<Record<string, readonly [number, number]>>;
  /** Largest rank of the `"..."` batch (default 2). */
  readonly maxBatchRank?: number;
}

/**
 * A tensor op: a forward and a backward over flat storage, and the cases it is checked on.
 *
 * @example Declaring an op (doubling) the way the registry does:
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TensorOpSpec } from "./ops.ts";
 * const double: TensorOpSpec<undefined> = {
 *   name: "double",
 *   arity: 1,
 *   elementwise: true,
 *   forward: ([a]) => ({ data: a.data.map((x) => 2 * x), shape: a.shape, saved: null }),
 *   backward: ({ grad }) => [grad.map((g) => 2 * g)],
 *   cases: [{ inputs: [{ shape: ["..."], domain: { min: -1, max: 1 } }] }],
 * };
 * const r = double.forward([{ data: new Float64Array([3]), shape: [] }], undefined);
 * assert.ok(r.data[0] === 6);
 * ```
 */
export interface TensorOpSpec<P = unknown> {
  /** Name used in error messages and graph drawings. */
  readonly name: string;
  /** Number of tensor inputs, or `"variadic"` for one or more (`concat`, `stack`). */
  readonly arity: number | "variadic";
  /** True when each result element depends on the same-index element(s) of the inputs. */
  readonly elementwise: boolean;
  /**
   * The result of the op on `inputs` with `params`.
   *
   * @throws {RangeError} when shapes, axes, indices or parameters are invalid.
   */
  forward(inputs: readonly TensorData[], params: P): OpResult;
  /**
   * The gradients of the inputs (one array per input, in input order, each with the
   * input's number of elements; `null` where `needs` is false). An array may alias
   * `grad` or another returned array: the engine copies before it accumulates. A gradient
   * may be a Float32Array only for a float32 input (computed in float32, as PyTorch does);
   * the engine refuses it, like any gradient, if it is not finite.
   */
  backward(context: BackwardContext<P>): (FloatArray | null)[];
  /**
   * Optional: backward for a float32 result whose gradient arrives in float32 (from an op
   * that computed it so), read as it is instead of widened to float64 first. Without it the
   * engine widens such a gradient and calls `backward`.
   */
  backwardFloat32?(context: BackwardContext<P, Float32Array>): (FloatArray | null)[];
  /** Valid calls, as data for the gradient checks. */
  readonly cases: readonly OpCase[];
}

// ---------------------------------------------------------------------------------------
// Input domains of the cases
// ---------------------------------------------------------------------------------------

const anywhere: InputDomain = { min: -3, max: 3 };
const positive: InputDomain = { min: 0.1, max: 4 };
const nonZero: InputDomain = { min: -3, max: 3, avoid: [0], clearance: 0.3 };
const any: TensorInputSpec = { shape: ["..."], domain: anywhere };

function defineTensorOp<P>(spec: TensorOpSpec<P>): TensorOpSpec<P> {
  // One field order for every op, so the engine's reads stay monomorphic.
  return Object.freeze({
    name: spec.name,
    arity: spec.arity,
    elementwise: spec.elementwise,
    forward: spec.forward,
    backward: spec.backward,
    backwardFloat32: spec.backwardFloat32, // undefined when absent: same fields for every op
    cases: spec.cases,
  });
}

// ---------------------------------------------------------------------------------------
// Element-wise ops
// ---------------------------------------------------------------------------------------

/** An input read through its broadcast index map, materialised at the result's size. */
function expand(data: FloatArray, map: Int32Array | null): FloatArray {
  if (map === null) return data;
  const out = new Float64Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = data[map[i]];
  return out;
}

interface BroadcastMaps {
  readonly mapA: Int32Array | null;
  readonly mapB: Int32Array | null;
}

/**
 * How a binary op reads one input: `data` repeated with period `period` (result element i
 * reads `data[i mod period]`). That is the input's own storage when broadcasting repeats it
 * whole (a scalar, a row, an equal shape: see `repeatPeriod`); any other broadcast is
 * materialised at the result's size through `map`, which backward uses to sum the gradient
 * back to the input's shape.
 */
interface BroadcastOperand {
  readonly data: FloatArray;
  readonly period: number;
  readonly map: Int32Array | null;
}

function broadcastOperand(shape: Shape, size: number, input: TensorData): BroadcastOperand {
  const period = repeatPeriod(shape, input.shape);
  if (period !== -1) return { data: input.data, period, map: null };
  const map = broadcastIndex(shape, input.shape) as Int32Array;
  return { data: expand(input.data, map), period: size, map };
}

/**
 * A binary element-wise op with broadcasting, made from the scalar registry's `spec`: the
 * same forward and local derivatives, applied element by element, so an op's calculus is
 * written once for both engines (the loops are in kernels/_elementwise.ts; the hot ops have
 * their own). Backward sums the gradient of a repeated input over its repetitions.
 */
function defineBinary(
  spec: OpSpec,
  cases: readonly OpCase[],
  name: string = spec.name,
  loops: BinaryLoops = binaryLoops(spec),
): TensorOpSpec<undefined> {
  function backward(
    { grad, inputs: [a, b], out, needs }: BackwardContext<undefined>,
  ): (FloatArray | null)[] {
    const x = broadcastOperand(out.shape, grad.length, a);
    const y = broadcastOperand(out.shape, grad.length, b);
    const gradients: (Float64Array | null)[] = [null, null];
    for (const which of [0, 1] as const) {
      if (!needs[which]) continue;
      const operand = which === 0 ? x : y;
      // −0 is the exact identity of addition (+0 would turn a −0 gradient into +0).
      const g = gradientArrayToOverwrite(operand.period).fill(-0);
      loops.backward(which, x.data, x.period, y.data, y.period, out.data, grad, g);
      gradients[which] = sumToShape(g, operand.map, (which === 0 ? a : b).data.length);
    }
    return gradients;
  }

  // A float32 gradient of a float32 result (so both operands are float32). An operand of the
  // result's size gets a float32 gradient: each element computed as `backward` does (there:
  // −0 + slope·grad, which is slope·grad exactly) and rounded once; where the slope is 1
  // (`loops.unitSlope`) that is the gradient itself, handed on with no copy. A repeated
  // operand's gradient sums over its repetitions: that stays `backward`'s float64 sum (as does
  // the gradient of an operand whose slope reads a repeated one).
  function backwardFloat32(
    context: BackwardContext<undefined, Float32Array>,
  ): (FloatArray | null)[] {
    const { grad, inputs: [a, b], out, needs } = context;
    const n = grad.length;
    const gradients: (FloatArray | null)[] = [null, null];
    const repeated = [false, false];
    const bothWhole = a.data.length === n && b.data.length === n;
    for (const which of [0, 1] as const) {
      if (!needs[which]) continue;
      if ((which === 0 ? a : b).data.length !== n) {
        repeated[which] = true;
      } else if (loops.unitSlope?.[which]) {
        gradients[which] = grad;
      } else if (!bothWhole) {
        repeated[which] = true; // its slope reads the other, repeated operand: `backward`'s way
      } else {
        const g = float32GradientArrayToOverwrite(n);
        const x = a.data as Float32Array, y = b.data as Float32Array;
        loops.backward32!(which, x, y, out.data as Float32Array, grad, g);
        gradients[which] = g;
      }
    }
    if (repeated[0] || repeated[1]) {
      const wide = gradientArrayToOverwrite(n);
      wide.set(grad);
      const summed = backward({ ...context, grad: wide, needs: repeated });
      releaseGradientArrays([wide]); // `backward` never returns its grad
      if (repeated[0]) gradients[0] = summed[0];
      if (repeated[1]) gradients[1] = summed[1];
    }
    return gradients;
  }

  return defineTensorOp<undefined>({
    name,
    arity: 2,
    elementwise: true,
    forward([a, b]) {
      const shape = broadcastShapes(name, a.shape, b.shape);
      const out = allocate(resultDType([a, b]), sizeOf(shape));
      const x = broadcastOperand(shape, out.length, a);
      const y = broadcastOperand(shape, out.length, b);
      loops.forward(x.data, x.period, y.data, y.period, out);
      return { data: out, shape, saved: null };
    },
    backward,
    backwardFloat32: loops.backward32 === undefined ? undefined : backwardFloat32,
    cases,
  });
}

/** A unary element-wise op made from the scalar registry's `spec`, checked on its domain. */
function defineUnary(spec: OpSpec, loops: UnaryLoops = unaryLoops(spec)): TensorOpSpec<undefined> {
  return defineTensorOp<undefined>({
    name: spec.name,
    arity: 1,
    elementwise: true,
    forward([a]) {
      const out = allocate(dtypeOf(a.data), a.data.length);
      loops.forward(a.data, out);
      return { data: out, shape: a.shape, saved: null };
    },
    backward({ grad, inputs: [a], out }) {
      const gx = gradientArrayToOverwrite(grad.length); // every element written
      loops.backward(a.data, out.data, grad, gx);
      return [gx];
    },
    // A float32 gradient (of a float32 input): each element computed as `backward` does, then
    // rounded once. Only ops with loops of their own have it; the others get theirs widened.
    backwardFloat32: loops.backward32 === undefined ? undefined : ({ grad, inputs: [a], out }) => {
      const gx = float32GradientArrayToOverwrite(grad.length); // every element written
      loops.backward32!(a.data as Float32Array, out.data as Float32Array, grad, gx);
      return [gx];
    },
    cases: [{ inputs: [{ shape: ["..."], domain: spec.domains[0][0] }], maxBatchRank: 3 }],
  });
}

const broadcastPair: readonly OpCase[] = [
  { inputs: [any, any], maxBatchRank: 3 },
];

// ---------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------

/**
 * Parameters of `sum`, `mean` and `max`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReduceParams } from "./ops.ts";
 * const rows: ReduceParams = { axis: 1, keepDims: true };
 * assert.ok(rows.axis === 1);
 * ```
 */
export interface ReduceParams {
  /** The axis reduced over; `undefined` reduces over every axis. */
  readonly axis?: number;
  /** Keep the reduced axis (axes) with size 1, so the result broadcasts against the input. */
  readonly keepDims?: boolean;
}

interface ReduceLayout {
  readonly outer: number;
  readonly size: number;
  readonly inner: number;
  readonly shape: number[];
}

function reduceLayout(op: string, shape: Shape, params: ReduceParams | undefined): ReduceLayout {
  const keepDims = params?.keepDims ?? false;
  const axis = params?.axis;
  if (axis === undefined) {
    return {
      outer: 1,
      size: sizeOf(shape),
      inner: 1,
      shape: keepDims ? shape.map(() => 1) : [],
    };
  }
  const at = normalizeAxis(op, axis, shape);
  const [outer, size, inner] = splitAtAxis(shape, at);
  const out = keepDims ? shape.map((s, i) => (i === at ? 1 : s)) : shape.filter((_, i) => i !== at);
  return { outer, size, inner, shape: out };
}

function sumForward(x: FloatArray, { outer, size, inner }: ReduceLayout): Float64Array {
  const out = new Float64Array(outer * inner);
  // For each output element the terms arrive in axis order: a left fold from 0.
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < size; k++) {
      const from = (o * size + k) * inner;
      for (let i = 0; i < inner; i++) out[o * inner + i] += x[from + i];
    }
  }
  return out;
}

function spreadBackward(g: Float64Array, layout: ReduceLayout, scale: number): Float64Array {
  const { outer, size, inner } = layout;
  const gx = new Float64Array(outer * size * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < size; k++) {
      const to = (o * size + k) * inner;
      for (let i = 0; i < inner; i++) gx[to + i] = g[o * inner + i] * scale;
    }
  }
  return gx;
}

/**
 * Position (in the input) of the first largest (or, with `smallest`, smallest) element of
 * each reduced slice. Shared by `max` and `min`, whose gradient goes to that element, and by
 * `argmax`.
 *
 * @throws {RangeError} when the reduced axis is empty.
 */
export function argmaxPositions(
  op: string,
  x: TensorData,
  params: ReduceParams | undefined,
  smallest = false,
): { positions: Int32Array; layout: ReduceLayout } {
  const sign = smallest ? -1 : 1;
  const layout = reduceLayout(op, x.shape, params);
  const { outer, size, inner } = layout;
  if (size === 0) {
    throw new RangeError(`${op}: cannot reduce an empty axis (shape ${formatShape(x.shape)})`);
  }
  const positions = new Int32Array(outer * inner);
  const data = x.data;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = o * size * inner + i;
      for (let k = 1; k < size; k++) {
        const at = (o * size + k) * inner + i;
        if (sign * data[at] > sign * data[best]) best = at;
      }
      positions[o * inner + i] = best;
    }
  }
  return { positions, layout };
}

const reduceCases: readonly OpCase[] = [{
  inputs: [any],
  params: {
    axis: { kind: "axis", input: 0, optional: true },
    keepDims: { kind: "oneOf", values: [false, true] },
  },
  maxBatchRank: 3,
}];

// ---------------------------------------------------------------------------------------
// Matrix products
// ---------------------------------------------------------------------------------------

interface MatmulSaved {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly batch: number;
  readonly mapA: Int32Array | null;
  readonly mapB: Int32Array | null;
  /** A's and B's storage in the product's element type. */
  readonly x: FloatArray;
  readonly y: FloatArray;
}

/**
 * Batched gradient of one matmul operand: for each result batch t, `product(t, …)` writes
 * (or, accumulating, adds) that batch's matrix of `block` elements at the operand's batch
 * `map[t]`. When the operand is not broadcast each of its batches is written exactly once;
 * when it is, the products of the batches that reused it are summed in place, in batch order.
 */
function batchedGrad(
  batch: number,
  map: Int32Array | null,
  grad: FloatArray,
  block: number,
  product: (t: number, out: FloatArray, outOffset: number, accumulate: boolean) => void,
): Float64Array {
  for (let t = 0; t < batch; t++) {
    product(t, grad, (map === null ? t : map[t]) * block, map !== null);
  }
  return asDType(grad, "float64") as Float64Array;
}

/**
 * linear's backward: ∂x = G·W, ∂W = Gᵀ·x, ∂b = G summed over rows. In float32 the two
 * products run the float32 kernel on float32 operands (a float64 G rounded into scratch
 * first) and their gradients stay float32, written straight into pooled float32 arrays;
 * ∂b is summed in float64.
 */
function linearBackward(
  { grad, inputs, saved, needs }: BackwardContext<unknown, FloatArray>,
): (FloatArray | null)[] {
  const [x, w] = inputs;
  const dtype = resultDType([x, w]);
  const wide = dtype === "float64";
  const g = wide || grad instanceof Float32Array ? grad : scratchCopy(0, grad);
  const rowCount = saved as number;
  const [outSize, inSize] = w.shape;
  const grads: (FloatArray | null)[] = [null, null, null];
  // Products that do not accumulate write every element: the arrays need no zeroing.
  if (needs[0]) {
    const gx = wide
      ? gradientArrayToOverwrite(x.data.length)
      : float32GradientArrayToOverwrite(x.data.length);
    product( // G·W
      { data: g, offset: 0, transposed: false },
      { data: asDType(w.data, dtype), offset: 0, transposed: false },
      gx,
      0,
      rowCount,
      outSize,
      inSize,
      false,
    );
    grads[0] = gx;
  }
  if (needs[1]) {
    const gw = wide
      ? gradientArrayToOverwrite(w.data.length)
      : float32GradientArrayToOverwrite(w.data.length);
    product( // Gᵀ·x, Gᵀ read in place
      { data: g, offset: 0, transposed: true },
      { data: asDType(x.data, dtype), offset: 0, transposed: false },
      gw,
      0,
      outSize,
      rowCount,
      inSize,
      false,
    );
    grads[1] = gw;
  }
  if (inputs.length === 3 && needs[2]) {
    const gb = gradientArray(outSize);
    addColumnSums(g, rowCount, outSize, gb);
    grads[2] = gb;
  }
  return grads.slice(0, inputs.length);
}

// Float32 arrays that live within one call of an op's backward only (never returned, never
// saved, never shared between two uses at once: one slot per use), kept from call to call so
// that a training step does not allocate, zero and collect them anew. Grown as needed.
const scratch: Float32Array[] = [];

/** Slot `slot`'s scratch array, `length` long; its contents are whatever was left there. */
function scratchFloat32(slot: number, length: number): Float32Array {
  let held = scratch[slot];
  if (held === undefined || held.length < length) {
    held = new Float32Array(Math.max(length, 2 * (held?.length ?? 0)));
    scratch[slot] = held;
  }
  return held.subarray(0, length);
}

/** `values` rounded to float32 into slot `slot`'s scratch array. */
function scratchCopy(slot: number, values: Float64Array): Float32Array {
  const copy = scratchFloat32(slot, values.length);
  copy.set(values);
  return copy;
}

// ---------------------------------------------------------------------------------------
// Shape ops
// ---------------------------------------------------------------------------------------

/**
 * Parameters of `permute`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PermuteParams } from "./ops.ts";
 * const swapLastTwo: PermuteParams = { axes: [0, 2, 1] };
 * assert.ok(swapLastTwo.axes.length === 3);
 * ```
 */
export interface PermuteParams {
  /** Result axis i is input axis `axes[i]`; negative axes count from the end. */
  readonly axes: readonly number[];
}

function checkedPermutation(x: TensorData, axes: readonly number[]): number[] {
  const rank = x.shape.length;
  if (!Array.isArray(axes) || axes.length !== rank) {
    throw new RangeError(
      `permute: axes [${axes}] must list each of the ${rank} axes of ${formatShape(x.shape)} once`,
    );
  }
  const normal = axes.map((axis) => normalizeAxis("permute", axis, x.shape));
  if (new Set(normal).size !== rank) {
    throw new RangeError(
      `permute: axes [${axes}] repeat an axis of ${formatShape(x.shape)}: each must appear once`,
    );
  }
  return normal;
}

/**
 * Copies `x` with its axes reordered so that result axis i is input axis `axes[i]`. When the
 * last axis stays last (as in splitting attention heads), whole rows are copied: the index
 * map then has one entry per row, not per element.
 */
function permuteData(data: FloatArray, shape: Shape, axes: readonly number[]): FloatArray {
  const inStrides = contiguousStrides(shape);
  const rank = shape.length;
  const row = rank > 0 && axes[rank - 1] === rank - 1 ? shape[rank - 1] : 1;
  const kept = row === 1 ? axes : axes.slice(0, -1);
  const starts = stridedPositions(
    kept.map((a) => shape[a]),
    kept.map((a) => inStrides[a]),
  );
  const out = allocate(dtypeOf(data), data.length);
  for (let r = 0, i = 0; r < starts.length; r++) {
    for (let j = starts[r], end = j + row; j < end; j++, i++) out[i] = data[j];
  }
  return out;
}

/**
 * Parameters of `reshape`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReshapeParams } from "./ops.ts";
 * const flatten: ReshapeParams = { shape: [-1] };
 * assert.ok(flatten.shape[0] === -1);
 * ```
 */
export interface ReshapeParams {
  /** The new shape; at most one size may be `-1`, meaning "whatever makes the sizes agree". */
  readonly shape: readonly number[];
}

/**
 * `shape` with its `-1` resolved so that it holds `size` elements.
 *
 * @throws {RangeError} when the sizes cannot agree.
 */
export function resolveReshape(from: Shape, shape: readonly number[]): number[] {
  const size = sizeOf(from);
  const wildcard = shape.indexOf(-1);
  if (wildcard !== -1 && shape.indexOf(-1, wildcard + 1) !== -1) {
    throw new RangeError(`reshape: shape ${formatShape(shape)} has more than one -1`);
  }
  const rest = checkedShape("reshape", shape.map((s) => (s === -1 ? 1 : s)));
  const known = sizeOf(rest);
  if (wildcard !== -1 && known !== 0 && size % known === 0) rest[wildcard] = size / known;
  if (sizeOf(rest) !== size || (wildcard !== -1 && known === 0)) {
    throw new RangeError(
      `reshape: cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(shape)}`,
    );
  }
  return rest;
}

/**
 * Parameters of `slice`.
 *
 * @example The last two columns of a matrix:
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SliceParams } from "./ops.ts";
 * const lastTwo: SliceParams = { axis: 1, start: -2 };
 * assert.ok(lastTwo.end === undefined);
 * ```
 */
export interface SliceParams {
  /** The axis cut along (negative counts from the end). */
  readonly axis: number;
  /** First position kept (default 0; negative counts from the end). */
  readonly start?: number;
  /** One past the last position kept (default the axis' size; negative counts from the end). */
  readonly end?: number;
}

function sliceBounds(x: TensorData, params: SliceParams): [number, number, number] {
  const axis = normalizeAxis("slice", params.axis, x.shape);
  const size = x.shape[axis];
  const position = (p: number | undefined, fallback: number, what: string): number => {
    if (p === undefined) return fallback;
    if (!Number.isInteger(p) || p < -size || p > size) {
      throw new RangeError(
        `slice: ${what} ${p} is out of range for axis ${axis} of ${formatShape(x.shape)} ` +
          `(an integer in [${-size}, ${size}] is needed)`,
      );
    }
    return p < 0 ? p + size : p;
  };
  const start = position(params.start, 0, "start");
  const end = position(params.end, size, "end");
  if (end < start) {
    throw new RangeError(
      `slice: end ${params.end} comes before start ${params.start} on axis ${axis} of ` +
        formatShape(x.shape),
    );
  }
  return [axis, start, end];
}

/**
 * Parameters of `concat` and `stack`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AxisParams } from "./ops.ts";
 * const rows: AxisParams = { axis: 0 };
 * assert.ok(rows.axis === 0);
 * ```
 */
export interface AxisParams {
  /** The axis joined along, or inserted (negative counts from the end). */
  readonly axis: number;
}

/** Copies block `k` (of `width` elements in each of `outer` rows) between two layouts. */
function copyBlocks(
  from: FloatArray,
  fromWidth: number,
  fromStart: number,
  to: FloatArray,
  toWidth: number,
  toStart: number,
  outer: number,
  width: number,
): void {
  for (let o = 0; o < outer; o++) {
    const src = o * fromWidth + fromStart;
    const dst = o * toWidth + toStart;
    for (let i = 0; i < width; i++) to[dst + i] = from[src + i];
  }
}

function concatLayout(inputs: readonly TensorData[], params: AxisParams) {
  if (inputs.length === 0) throw new RangeError("concat: needs at least one tensor");
  const first = inputs[0].shape;
  const axis = normalizeAxis("concat", params.axis, first);
  let total = 0;
  for (let t = 0; t < inputs.length; t++) {
    const shape = inputs[t].shape;
    const agrees = shape.length === first.length &&
      shape.every((s, i) => i === axis || s === first[i]);
    if (!agrees) {
      throw new RangeError(
        `concat: ${formatShape(first)} and ${formatShape(shape)} (input ${t}) differ ` +
          `on an axis other than the joined axis ${axis}`,
      );
    }
    total += shape[axis];
  }
  const [outer, , inner] = splitAtAxis(first, axis);
  const shape = first.map((s, i) => (i === axis ? total : s));
  return { axis, outer, inner, total, shape };
}

function stackLayout(inputs: readonly TensorData[], params: AxisParams) {
  if (inputs.length === 0) throw new RangeError("stack: needs at least one tensor");
  const first = inputs[0].shape;
  // The new axis may go anywhere from before the first axis to after the last.
  const axis = normalizeAxis("stack", params.axis, [...first, 1]);
  for (let t = 1; t < inputs.length; t++) {
    if (!sameShape(inputs[t].shape, first)) {
      throw new RangeError(
        `stack: ${formatShape(first)} and ${formatShape(inputs[t].shape)} (input ${t}) ` +
          `differ: stacked tensors need one shape`,
      );
    }
  }
  const outer = sizeOf(first.slice(0, axis));
  const inner = sizeOf(first.slice(axis));
  const shape = [...first.slice(0, axis), inputs.length, ...first.slice(axis)];
  return { outer, inner, shape };
}

// ---------------------------------------------------------------------------------------
// Indexing
// ---------------------------------------------------------------------------------------

/**
 * Integer indices with a shape (`gather`'s row numbers, `crossEntropy`'s class targets),
 * stored row-major like a tensor's elements.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { IndexList } from "./ops.ts";
 * const ids: IndexList = { values: [3, 1, 4], shape: [3] };
 * assert.ok(ids.values.length === 3);
 * ```
 */
export interface IndexList {
  /** The indices, row-major. */
  readonly values: ArrayLike<number>;
  /** Their shape: its sizes multiply to `values.length`. */
  readonly shape: readonly number[];
}

function checkedIndices(op: string, what: string, indices: IndexList, below: number): void {
  const values = indices.values;
  if (sizeOf(indices.shape) !== values.length) {
    throw new RangeError(
      `${op}: ${values.length} ${what} values do not fill shape ${formatShape(indices.shape)}`,
    );
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v)) {
      throw new RangeError(`${op}: ${what} ${v} at position ${i} is not an integer`);
    }
    if (v < 0 || v >= below) {
      throw new RangeError(
        `${op}: ${what} ${v} at position ${i} is out of range [0, ${below})`,
      );
    }
  }
}

/**
 * Parameters of `gather`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GatherParams } from "./ops.ts";
 * const rows: GatherParams = { indices: { values: [0, 2], shape: [2] } };
 * assert.ok(rows.indices.shape[0] === 2);
 * ```
 */
export interface GatherParams {
  /** Row numbers into axis 0 of the table. */
  readonly indices: IndexList;
}

/**
 * Parameters of `crossEntropy`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CrossEntropyParams } from "./ops.ts";
 * const p: CrossEntropyParams = { targets: { values: [1, 0], shape: [2] } };
 * assert.ok(p.targets.values[0] === 1);
 * ```
 */
export interface CrossEntropyParams {
  /** One class number per row of the logits (shape = logits' shape without its last axis). */
  readonly targets: IndexList;
  /**
   * A target value that marks a row to leave out (padding, as PyTorch's `ignore_index`):
   * such rows add nothing to the loss or the gradient, and the mean is over the others.
   * Must lie outside `[0, classes)`; default none.
   */
  readonly ignoreIndex?: number;
}

// ---------------------------------------------------------------------------------------
// Normalisation, masking, noise
// ---------------------------------------------------------------------------------------

/**
 * Parameters of `softmax` and `logSoftmax`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SoftmaxParams } from "./ops.ts";
 * const lastAxis: SoftmaxParams = { axis: -1 };
 * assert.ok(lastAxis.axis === -1);
 * ```
 */
export interface SoftmaxParams {
  /** The axis the probabilities are normalised along (negative counts from the end). */
  readonly axis: number;
}

/**
 * Parameters of `layerNorm`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LayerNormParams } from "./ops.ts";
 * const p: LayerNormParams = { eps: 1e-5 };
 * assert.ok(p.eps > 0);
 * ```
 */
export interface LayerNormParams {
  /** Added to the variance before its square root: finite and > 0. */
  readonly eps: number;
}

/** Per row: the mean and 1/σ. Backward computes the normalized rows n = (x − μ)·(1/σ) again
 * from x, with the same operations: cheaper than keeping a float64 copy of every row. */
interface LayerNormSaved {
  readonly mean: Float64Array;
  readonly inverseStd: Float64Array;
}

/**
 * Σ (data[base + i] − shift), or of its squares, over i < width, as four interleaved partial
 * sums (i mod 4) added in order and combined as (s₀ + s₂) + (s₁ + s₃): four chains of
 * additions in place of one (a row sum is bound by the latency of its additions, not their
 * number), in the order of the SIMD kernel's two-lane vectors, which thus equals it bit for
 * bit.
 */
function rowSum(data: FloatArray, base: number, width: number, shift: number, squares: boolean) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = base;
  const end = base + width;
  if (squares) {
    for (; i + 4 <= end; i += 4) {
      const d0 = data[i] - shift, d1 = data[i + 1] - shift;
      const d2 = data[i + 2] - shift, d3 = data[i + 3] - shift;
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
    }
    if (i < end) s0 += (data[i] - shift) * (data[i] - shift);
    if (i + 1 < end) s1 += (data[i + 1] - shift) * (data[i + 1] - shift);
    if (i + 2 < end) s2 += (data[i + 2] - shift) * (data[i + 2] - shift);
  } else {
    for (; i + 4 <= end; i += 4) {
      s0 += data[i] - shift;
      s1 += data[i + 1] - shift;
      s2 += data[i + 2] - shift;
      s3 += data[i + 3] - shift;
    }
    if (i < end) s0 += data[i] - shift;
    if (i + 1 < end) s1 += data[i + 1] - shift;
    if (i + 2 < end) s2 += data[i + 2] - shift;
  }
  return (s0 + s2) + (s1 + s3);
}

/** layerNorm's backward (float64 gradient). */
function layerNormBackward(
  { grad, inputs: [x, weight], saved, needs }: BackwardContext<LayerNormParams>,
): (Float64Array | null)[] {
  // With n = (x − μ)·s and d = g·w: ∂L/∂x = s·(d − mean(d) − n·mean(d·n)).
  const { mean, inverseStd } = saved as LayerNormSaved;
  const [rowCount, width] = rows("layerNorm", x);
  const gx = needs[0] ? gradientArrayToOverwrite(x.data.length) : null; // all written
  const gw = needs[1] ? gradientArray(width) : null;
  const gb = needs[2] ? gradientArray(width) : null;
  const simd = () =>
    simdKernels.layerNormBackward(grad, weight.data, x.data, mean, inverseStd, gx, gw, gb);
  if (simdRouted("layerNormBackward", grad, simd)) return [gx, gw, gb];
  const data = x.data;
  for (let r = 0; r < rowCount; r++) {
    const base = r * width;
    const mu = mean[r];
    const s = inverseStd[r];
    if (gx !== null) {
      // mean(d) and mean(d·n), each in four interleaved partial sums (rowSum's order).
      const w = weight.data;
      let d0 = 0, d1 = 0, d2 = 0, d3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
      let i = 0;
      for (; i + 4 <= width; i += 4) {
        const a0 = grad[base + i] * w[i], a1 = grad[base + i + 1] * w[i + 1];
        const a2 = grad[base + i + 2] * w[i + 2], a3 = grad[base + i + 3] * w[i + 3];
        d0 += a0;
        d1 += a1;
        d2 += a2;
        d3 += a3;
        e0 += a0 * ((data[base + i] - mu) * s);
        e1 += a1 * ((data[base + i + 1] - mu) * s);
        e2 += a2 * ((data[base + i + 2] - mu) * s);
        e3 += a3 * ((data[base + i + 3] - mu) * s);
      }
      for (let k = 0; i < width; i++, k++) {
        const a = grad[base + i] * w[i];
        const an = a * ((data[base + i] - mu) * s);
        if (k === 0) {
          d0 += a;
          e0 += an;
        } else if (k === 1) {
          d1 += a;
          e1 += an;
        } else {
          d2 += a;
          e2 += an;
        }
      }
      const meanD = ((d0 + d2) + (d1 + d3)) / width;
      const meanDN = ((e0 + e2) + (e1 + e3)) / width;
      for (let i = 0; i < width; i++) {
        const d = grad[base + i] * weight.data[i];
        gx[base + i] = s * (d - meanD - ((data[base + i] - mu) * s) * meanDN);
      }
    }
    for (let i = 0; i < width; i++) {
      if (gw !== null) gw[i] += grad[base + i] * ((data[base + i] - mu) * s);
      if (gb !== null) gb[i] += grad[base + i];
    }
  }
  return [gx, gw, gb];
}

/**
 * Parameters of `dropout`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DropoutParams } from "./ops.ts";
 * const p: DropoutParams = { p: 0.1, seed: 42 };
 * assert.ok(p.p < 1);
 * ```
 */
export interface DropoutParams {
  /** Probability of zeroing an element: in [0, 1). */
  readonly p: number;
  /** Seed of the `Random` that draws the mask: same seed, same mask. */
  readonly seed: number;
}

/**
 * Parameters of `tril`.
 *
 * @example Causal attention scores: keep j ≤ i, push the rest far below any other score.
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrilParams } from "./ops.ts";
 * const causal: TrilParams = { diagonal: 0, fill: -1e9 };
 * assert.ok(causal.fill === -1e9);
 * ```
 */
export interface TrilParams {
  /** Elements with column ≤ row + diagonal are kept (default 0: the main diagonal). */
  readonly diagonal?: number;
  /** Value put above that diagonal (default 0); finite, as every value in the engine. */
  readonly fill?: number;
}

/**
 * Parameters of `attention`.
 *
 * @example A decoder's self-attention: causal, scaled by 1/√d (the defaults).
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AttentionParams } from "./ops.ts";
 * const params: AttentionParams = { causal: true };
 * assert.ok(params.scale === undefined);
 * ```
 */
export interface AttentionParams {
  /**
   * Whether query i sees only keys j ≤ i + Tk − Tq (default true): with as many queries as
   * keys, j ≤ i; with fewer, the queries are the last positions and see every earlier key.
   */
  readonly causal?: boolean;
  /** The factor on the scores Q·Kᵀ (default 1/√d, d the last axis' size). */
  readonly scale?: number;
}

/**
 * Parameters of `selfAttention`.
 *
 * @example nanoGPT's attention of 4 heads (causal, scaled by 1/√(head size): the defaults).
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SelfAttentionParams } from "./ops.ts";
 * const params: SelfAttentionParams = { heads: 4 };
 * assert.ok(params.causal === undefined);
 * ```
 */
export interface SelfAttentionParams extends AttentionParams {
  /** Number of heads: a whole number ≥ 1 that divides the width of q (a third of the last axis). */
  readonly heads: number;
}

interface CrossEntropySaved {
  readonly probabilities: Float64Array;
  readonly counted: number;
}

/** Checks the targets (each a class or the ignored index) and counts the rows that count. */
function countedRows(targets: IndexList, classes: number, ignoreIndex: number | undefined): number {
  if (ignoreIndex === undefined) {
    checkedIndices("crossEntropy", "target", targets, classes);
    return targets.values.length;
  }
  if (!Number.isInteger(ignoreIndex) || (ignoreIndex >= 0 && ignoreIndex < classes)) {
    throw new RangeError(
      `crossEntropy: ignoreIndex must be an integer outside [0, ${classes}), got ${ignoreIndex}`,
    );
  }
  const values = targets.values;
  let counted = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === ignoreIndex) continue;
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new RangeError(
        `crossEntropy: target ${v} at position ${i} is neither a class in [0, ${classes}) ` +
          `nor the ignored index ${ignoreIndex}`,
      );
    }
    counted++;
  }
  return counted;
}

function rows(op: string, x: TensorData): [number, number] {
  if (x.shape.length === 0) {
    throw new RangeError(`${op}: needs at least one axis, got a scalar (shape [])`);
  }
  const width = x.shape[x.shape.length - 1];
  return [width === 0 ? 0 : x.data.length / width, width];
}

// ---------------------------------------------------------------------------------------
// Division, clamping, choosing and size-1 axes
// ---------------------------------------------------------------------------------------

/**
 * Parameters of `div`: the smallest magnitude a denominator is given, as the scalar engine's
 * `Value.div` (default `DEFAULT_EPS`, 1e-12).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DivParams } from "./ops.ts";
 * const wide: DivParams = { eps: 1e-6 };
 * assert.ok(wide.eps! > 0);
 * ```
 */
export interface DivParams {
  /** Smallest magnitude of a denominator actually used: a finite number ≥ 0. */
  readonly eps?: number;
}

function checkedEps(eps: number | undefined): number {
  const e = eps ?? DEFAULT_EPS;
  if (!(typeof e === "number" && e >= 0 && e < Infinity)) {
    throw new RangeError(`div: eps must be a finite number ≥ 0, got ${e}`);
  }
  return e;
}

/** The denominator actually used: `y`, or ±eps when |y| < eps (0 counts as positive). */
function keptFrom(y: number, eps: number): number {
  return Math.abs(y) >= eps ? y : y < 0 ? -eps : eps;
}

/**
 * Parameters of `clamp`: the bounds (either may be left out; `min ≤ max`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClampParams } from "./ops.ts";
 * const unit: ClampParams = { min: 0, max: 1 };
 * assert.ok(unit.min! < unit.max!);
 * ```
 */
export interface ClampParams {
  /** Smallest value kept (default −∞: no lower bound). */
  readonly min?: number;
  /** Largest value kept (default +∞: no upper bound). */
  readonly max?: number;
}

function clampBounds(params: ClampParams | undefined): [number, number] {
  const low = params?.min ?? -Infinity;
  const high = params?.max ?? Infinity;
  for (const [what, x] of [["min", params?.min], ["max", params?.max]] as const) {
    if (x !== undefined && !(typeof x === "number" && Number.isFinite(x))) {
      throw new RangeError(`clamp: ${what} must be a finite number, got ${x}`);
    }
  }
  if (low > high) throw new RangeError(`clamp: min ${low} is greater than max ${high}`);
  return [low, high];
}

/**
 * Parameters of `where`: the condition, a constant broadcast against both inputs (non-zero
 * picks the first input).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WhereParams } from "./ops.ts";
 * const p: WhereParams = { condition: { values: [1, 0], shape: [2] } };
 * assert.ok(p.condition.values[0] === 1);
 * ```
 */
export interface WhereParams {
  /** Where to take the first input (non-zero) or the second (zero). */
  readonly condition: IndexList;
}

interface WhereSaved extends BroadcastMaps {
  readonly chosen: Uint8Array;
}

/**
 * Parameters of `squeeze`: the axis of size 1 removed (every size-1 axis when absent).
 * (`unsqueeze` takes {@linkcode AxisParams}: the new axis, counted in the result.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SqueezeParams } from "./ops.ts";
 * const first: SqueezeParams = { axis: 0 };
 * assert.ok(first.axis === 0);
 * ```
 */
export interface SqueezeParams {
  /** The axis. */
  readonly axis?: number;
}

function squeezedShape(shape: Shape, axis: number | undefined): number[] {
  if (axis === undefined) return shape.filter((s) => s !== 1);
  const at = normalizeAxis("squeeze", axis, shape);
  if (shape[at] !== 1) {
    throw new RangeError(
      `squeeze: axis ${axis} of shape ${formatShape(shape)} has size ${shape[at]}, not 1`,
    );
  }
  return shape.filter((_, i) => i !== at);
}

function unsqueezedShape(shape: Shape, axis: number): number[] {
  const rank = shape.length + 1;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new RangeError(
      `unsqueeze: axis ${axis} is out of range [${-rank}, ${rank - 1}] for shape ` +
        formatShape(shape),
    );
  }
  const at = axis < 0 ? axis + rank : axis;
  return [...shape.slice(0, at), 1, ...shape.slice(at)];
}

/**
 * The unary ops of the scalar registry, which the tensor engine applies element by element
 * under the same names: each tensor op below is generated from the scalar entry. Named by
 * what it leaves out (the scalar registry's two-input ops), so that a unary op added to the
 * scalar registry becomes a tensor op with no edit here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensorOps, type UnaryOpName } from "./ops.ts";
 * const name: UnaryOpName = "sin";
 * assert.equal(tensorOps[name].elementwise, true);
 * ```
 */
export type UnaryOpName = Exclude<
  OpName,
  "add" | "sub" | "mul" | "div" | "pow" | "powConst" | "max" | "min"
>;

// The hot ops' loops, each with its SIMD kernel where kernels/simd.ts routes it.
const ownUnaryLoops: Readonly<Record<string, UnaryLoops>> = {
  gelu: routedUnaryLoops("gelu", hotLoops.unary.gelu),
  tanh: routedUnaryLoops("tanh", hotLoops.unary.tanh),
  exp: routedUnaryLoops("exp", hotLoops.unary.exp),
};
const unaryOps = Object.fromEntries(
  (Object.keys(ops) as OpName[])
    .filter((name) => ops[name].arity === 1)
    .map((name) => [name, defineUnary(ops[name], ownUnaryLoops[name])]),
) as Record<UnaryOpName, TensorOpSpec<undefined>>;

// Pairs drawn one from each side of 0 are never tied: maximum and minimum kink at a = b.
const tiedNever: readonly OpCase[] = [
  {
    inputs: [
      { shape: ["..."], domain: { min: -3, max: -0.1 } },
      { shape: ["..."], domain: { min: 0.1, max: 3 } },
    ],
    maxBatchRank: 3,
  },
  {
    inputs: [
      { shape: ["..."], domain: { min: 0.1, max: 3 } },
      { shape: ["..."], domain: { min: -3, max: -0.1 } },
    ],
    maxBatchRank: 3,
  },
];

// ---------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------

/**
 * The type of {@linkcode tensorOps}: each op with the type of its parameters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TensorOpRegistry } from "./ops.ts";
 * const name: keyof TensorOpRegistry = "matmul";
 * assert.ok(name.length === 6);
 * ```
 */
export interface TensorOpRegistry extends Readonly<Record<UnaryOpName, TensorOpSpec<undefined>>> {
  /** The `add` op. */
  readonly add: TensorOpSpec<undefined>;
  /** The `sub` op. */
  readonly sub: TensorOpSpec<undefined>;
  /** The `mul` op. */
  readonly mul: TensorOpSpec<undefined>;
  /** The `div` op. */
  readonly div: TensorOpSpec<DivParams | undefined>;
  /** The `pow` op. */
  readonly pow: TensorOpSpec<undefined>;
  /** The `powConst` op. */
  readonly powConst: TensorOpSpec<PowConstParams>;
  /** The element-wise `max` of two tensors (the scalar registry's `max`), broadcast. */
  readonly maximum: TensorOpSpec<undefined>;
  /** The element-wise `min` of two tensors (the scalar registry's `min`), broadcast. */
  readonly minimum: TensorOpSpec<undefined>;
  /** The `clamp` op. */
  readonly clamp: TensorOpSpec<ClampParams>;
  /** The `where` op. */
  readonly where: TensorOpSpec<WhereParams>;
  /** The `sum` op. */
  readonly sum: TensorOpSpec<ReduceParams | undefined>;
  /** The `mean` op. */
  readonly mean: TensorOpSpec<ReduceParams | undefined>;
  /** The `max` op. */
  readonly max: TensorOpSpec<ReduceParams | undefined>;
  /** The `min` op. */
  readonly min: TensorOpSpec<ReduceParams | undefined>;
  /** The `matmul` op. */
  readonly matmul: TensorOpSpec<undefined>;
  /** The `linear` op. */
  readonly linear: TensorOpSpec<LinearParams>;
  /** The `permute` op. */
  readonly permute: TensorOpSpec<PermuteParams>;
  /** The `reshape` op. */
  readonly reshape: TensorOpSpec<ReshapeParams>;
  /** The `squeeze` op. */
  readonly squeeze: TensorOpSpec<SqueezeParams | undefined>;
  /** The `unsqueeze` op. */
  readonly unsqueeze: TensorOpSpec<AxisParams>;
  /** The `slice` op. */
  readonly slice: TensorOpSpec<SliceParams>;
  /** The `concat` op. */
  readonly concat: TensorOpSpec<AxisParams>;
  /** The `stack` op. */
  readonly stack: TensorOpSpec<AxisParams>;
  /** The `gather` op. */
  readonly gather: TensorOpSpec<GatherParams>;
  /** The `softmax` op. */
  readonly softmax: TensorOpSpec<SoftmaxParams>;
  /** The `logSoftmax` op. */
  readonly logSoftmax: TensorOpSpec<SoftmaxParams>;
  /** The `crossEntropy` op. */
  readonly crossEntropy: TensorOpSpec<CrossEntropyParams>;
  /** The `layerNorm` op. */
  readonly layerNorm: TensorOpSpec<LayerNormParams>;
  /** The `dropout` op. */
  readonly dropout: TensorOpSpec<DropoutParams>;
  /** The `tril` op. */
  readonly tril: TensorOpSpec<TrilParams | undefined>;
  /** The `attention` op. */
  readonly attention: TensorOpSpec<AttentionParams | undefined>;
  /**
   * The `selfAttention` op: multi-head attention from a fused q|k|v projection, with the
   * number of `heads` beside attention's parameters.
   */
  readonly selfAttention: TensorOpSpec<AttentionParams & { readonly heads: number }>;
}

/**
 * The name under which an op is registered in {@linkcode tensorOps}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type TensorOpName, tensorOps } from "./ops.ts";
 * const name: TensorOpName = "matmul";
 * assert.ok(tensorOps[name].arity === 2);
 * ```
 */
export type TensorOpName = keyof TensorOpRegistry;

/**
 * Parameters of `powConst`: the exponent, a constant that receives no gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PowConstParams } from "./ops.ts";
 * const square: PowConstParams = { exponent: 2 };
 * assert.ok(square.exponent === 2);
 * ```
 */
export interface PowConstParams {
  /** The exponent: a finite number (a negative base needs a whole one). */
  readonly exponent: number;
}

/**
 * Parameters of `linear`: none (the bias is present when a third input is).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LinearParams } from "./ops.ts";
 * const none: LinearParams = undefined;
 * assert.ok(none === undefined);
 * ```
 */
export type LinearParams = undefined;

/**
 * The registry: every differentiable tensor op, in one place.
 *
 * @example Applying an op's forward to raw storage:
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensorOps } from "./ops.ts";
 * const a = { data: new Float64Array([1, 2, 3]), shape: [3] };
 * const b = { data: new Float64Array([10]), shape: [1] };
 * const r = tensorOps.add.forward([a, b], undefined);
 * assert.ok(r.data.join() === "11,12,13");
 * ```
 */
export const tensorOps: TensorOpRegistry = {
  add: defineBinary(ops.add, broadcastPair, "add", routedBinaryLoops("add", hotLoops.binary.add)),
  sub: defineBinary(ops.sub, broadcastPair, "sub", routedBinaryLoops("sub", hotLoops.binary.sub)),
  mul: defineBinary(ops.mul, broadcastPair, "mul", routedBinaryLoops("mul", hotLoops.binary.mul)),
  div: defineTensorOp<DivParams | undefined>({
    // The scalar engine's rule: the denominator's magnitude is kept at least eps (sign
    // kept, 0 counts as positive). Where |b| < eps the result a / (±eps) does not depend
    // on b, so b gets no gradient there: the derivative of what is computed.
    name: "div",
    arity: 2,
    elementwise: true,
    forward([a, b], params) {
      const eps = checkedEps(params?.eps);
      const shape = broadcastShapes("div", a.shape, b.shape);
      const mapA = broadcastIndex(shape, a.shape);
      const mapB = broadcastIndex(shape, b.shape);
      const x = expand(a.data, mapA);
      const y = expand(b.data, mapB);
      const out = new Float64Array(sizeOf(shape));
      for (let i = 0; i < out.length; i++) out[i] = ops.div.forward(x[i], keptFrom(y[i], eps));
      const saved: BroadcastMaps = { mapA, mapB };
      return { data: out, shape, saved };
    },
    backward({ grad, inputs: [a, b], out, saved, params, needs }) {
      const eps = params?.eps ?? DEFAULT_EPS;
      const { mapA, mapB } = saved as BroadcastMaps;
      const x = expand(a.data, mapA);
      const y = expand(b.data, mapB);
      const z = out.data;
      let gx: Float64Array | null = null;
      let gy: Float64Array | null = null;
      if (needs[0]) {
        gx = new Float64Array(grad.length);
        for (let i = 0; i < gx.length; i++) {
          gx[i] = ops.div.gradA(x[i], keptFrom(y[i], eps), z[i]) * grad[i];
        }
      }
      if (needs[1]) {
        gy = new Float64Array(grad.length);
        for (let i = 0; i < gy.length; i++) {
          gy[i] = Math.abs(y[i]) >= eps ? ops.div.gradB(x[i], y[i], z[i]) * grad[i] : 0;
        }
      }
      return [
        gx === null ? null : sumToShape(gx, mapA, a.data.length),
        gy === null ? null : sumToShape(gy, mapB, b.data.length),
      ];
    },
    cases: [
      { inputs: [any, { shape: ["..."], domain: nonZero }], maxBatchRank: 3 },
      {
        // With a wide eps, denominators on both sides of ±eps (the jumps) and of 0.
        inputs: [any, {
          shape: ["..."],
          domain: { ...anywhere, avoid: [-1, 0, 1], clearance: 0.1 },
        }],
        params: { eps: { kind: "constant", value: 1 } },
        maxBatchRank: 3,
      },
    ],
  }),
  pow: defineBinary(ops.pow, [{
    inputs: [{ shape: ["..."], domain: positive }, any],
    maxBatchRank: 3,
  }]),
  powConst: defineTensorOp<PowConstParams>({
    // The exponent is a fixed number, so a negative base is fine when it is whole.
    name: "pow",
    arity: 1,
    elementwise: true,
    forward([a], { exponent }) {
      const out = new Float64Array(a.data.length);
      for (let i = 0; i < out.length; i++) out[i] = ops.powConst.forward(a.data[i], exponent);
      return { data: out, shape: a.shape, saved: null };
    },
    backward({ grad, inputs: [a], out, params: { exponent } }) {
      const gx = new Float64Array(grad.length);
      const x = a.data;
      const z = out.data;
      for (let i = 0; i < gx.length; i++) {
        gx[i] = ops.powConst.gradA(x[i], exponent, z[i]) * grad[i];
      }
      return [gx];
    },
    cases: [
      {
        inputs: [{ shape: ["..."], domain: nonZero }],
        params: { exponent: { kind: "oneOf", values: [2, 3, -1, -2, 0, 1] } },
      },
      {
        inputs: [{ shape: ["..."], domain: positive }],
        params: { exponent: { kind: "oneOf", values: [0.5, -0.5, 1.5, 2.5] } },
      },
    ],
  }),
  ...unaryOps,
  maximum: defineBinary(ops.max, tiedNever, "maximum"),
  minimum: defineBinary(ops.min, tiedNever, "minimum"),
  clamp: defineTensorOp<ClampParams>({
    // The gradient passes where low ≤ x ≤ high (bounds included, as in PyTorch), else 0.
    name: "clamp",
    arity: 1,
    elementwise: true,
    forward([a], params) {
      const [low, high] = clampBounds(params);
      const out = new Float64Array(a.data.length);
      for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(a.data[i], low), high);
      return { data: out, shape: a.shape, saved: null };
    },
    backward({ grad, inputs: [a], params }) {
      const [low, high] = clampBounds(params);
      const gx = new Float64Array(grad.length);
      for (let i = 0; i < gx.length; i++) {
        const x = a.data[i];
        if (x >= low && x <= high) gx[i] = grad[i];
      }
      return [gx];
    },
    cases: [
      {
        inputs: [{ shape: ["..."], domain: { ...anywhere, avoid: [-1, 1], clearance: 0.05 } }],
        params: { min: { kind: "constant", value: -1 }, max: { kind: "constant", value: 1 } },
        maxBatchRank: 3,
      },
      {
        inputs: [{ shape: ["..."], domain: { ...anywhere, avoid: [0.5], clearance: 0.05 } }],
        params: { min: { kind: "constant", value: 0.5 } },
      },
      {
        inputs: [{ shape: ["..."], domain: { ...anywhere, avoid: [-0.5], clearance: 0.05 } }],
        params: { max: { kind: "constant", value: -0.5 } },
      },
    ],
  }),
  where: defineTensorOp<WhereParams>({
    // Element-wise choice: a where the condition is non-zero, b elsewhere; all three
    // broadcast. The condition is a constant; each gradient goes to the input chosen.
    name: "where",
    arity: 2,
    elementwise: true,
    forward([a, b], { condition }) {
      if (sizeOf(condition.shape) !== condition.values.length) {
        throw new RangeError(
          `where: ${condition.values.length} condition values do not fill shape ` +
            formatShape(condition.shape),
        );
      }
      const shape = broadcastShapes(
        "where",
        broadcastShapes("where", a.shape, b.shape),
        condition.shape,
      );
      const mapA = broadcastIndex(shape, a.shape);
      const mapB = broadcastIndex(shape, b.shape);
      const mapC = broadcastIndex(shape, condition.shape);
      const out = new Float64Array(sizeOf(shape));
      const chosen = new Uint8Array(out.length); // 1 where a is taken
      for (let i = 0; i < out.length; i++) {
        const c = condition.values[mapC === null ? i : mapC[i]];
        chosen[i] = c !== 0 ? 1 : 0;
        out[i] = c !== 0
          ? a.data[mapA === null ? i : mapA[i]]
          : b.data[mapB === null ? i : mapB[i]];
      }
      const saved: WhereSaved = { mapA, mapB, chosen };
      return { data: out, shape, saved };
    },
    backward({ grad, inputs: [a, b], saved, needs }) {
      const { mapA, mapB, chosen } = saved as WhereSaved;
      const ga = needs[0] ? new Float64Array(grad.length) : null;
      const gb = needs[1] ? new Float64Array(grad.length) : null;
      for (let i = 0; i < grad.length; i++) {
        if (chosen[i] === 1) {
          if (ga !== null) ga[i] = grad[i];
        } else if (gb !== null) gb[i] = grad[i];
      }
      return [
        ga === null ? null : sumToShape(ga, mapA, a.data.length),
        gb === null ? null : sumToShape(gb, mapB, b.data.length),
      ];
    },
    cases: [
      {
        inputs: [{ shape: ["a", "b"], domain: anywhere }, { shape: ["b"], domain: anywhere }],
        params: { condition: { kind: "indices", shape: ["a", "b"], below: "two" } },
        sizes: { two: [2, 2] },
      },
      {
        inputs: [{ shape: ["a", "b"], domain: anywhere }, { shape: ["a", 1], domain: anywhere }],
        params: { condition: { kind: "indices", shape: ["b"], below: "two" } },
        sizes: { two: [2, 2] },
      },
      {
        inputs: [{ shape: [], domain: anywhere }, { shape: ["a"], domain: anywhere }],
        params: { condition: { kind: "indices", shape: ["a"], below: "two" } },
        sizes: { two: [2, 2], a: [1, 5] },
      },
    ],
  }),

  sum: defineTensorOp<ReduceParams | undefined>({
    name: "sum",
    arity: 1,
    elementwise: false,
    forward([a], params) {
      const layout = reduceLayout("sum", a.shape, params);
      return { data: sumForward(a.data, layout), shape: layout.shape, saved: layout };
    },
    backward({ grad, saved }) {
      return [spreadBackward(grad, saved as ReduceLayout, 1)];
    },
    cases: reduceCases,
  }),
  mean: defineTensorOp<ReduceParams | undefined>({
    name: "mean",
    arity: 1,
    elementwise: false,
    forward([a], params) {
      const layout = reduceLayout("mean", a.shape, params);
      const out = sumForward(a.data, layout);
      for (let i = 0; i < out.length; i++) out[i] /= layout.size;
      return { data: out, shape: layout.shape, saved: layout };
    },
    backward({ grad, saved }) {
      const layout = saved as ReduceLayout;
      return [spreadBackward(grad, layout, 1 / layout.size)];
    },
    cases: reduceCases,
  }),
  max: defineTensorOp<ReduceParams | undefined>({
    // The gradient goes to the first largest element of each slice (ties are kinks).
    name: "max",
    arity: 1,
    elementwise: false,
    forward([a], params) {
      const { positions, layout } = argmaxPositions("max", a, params);
      const out = new Float64Array(positions.length);
      for (let i = 0; i < out.length; i++) out[i] = a.data[positions[i]];
      return { data: out, shape: layout.shape, saved: positions };
    },
    backward({ grad, inputs: [a], saved }) {
      const positions = saved as Int32Array;
      const gx = new Float64Array(a.data.length);
      for (let i = 0; i < positions.length; i++) gx[positions[i]] += grad[i];
      return [gx];
    },
    cases: [{ ...reduceCases[0], inputs: [{ ...any, separation: 0.05 }] }],
  }),
  min: defineTensorOp<ReduceParams | undefined>({
    // The gradient goes to the first smallest element of each slice (ties are kinks).
    name: "min",
    arity: 1,
    elementwise: false,
    forward([a], params) {
      const { positions, layout } = argmaxPositions("min", a, params, true);
      const out = new Float64Array(positions.length);
      for (let i = 0; i < out.length; i++) out[i] = a.data[positions[i]];
      return { data: out, shape: layout.shape, saved: positions };
    },
    backward({ grad, inputs: [a], saved }) {
      const positions = saved as Int32Array;
      const gx = new Float64Array(a.data.length);
      for (let i = 0; i < positions.length; i++) gx[positions[i]] += grad[i];
      return [gx];
    },
    cases: [{ ...reduceCases[0], inputs: [{ ...any, separation: 0.05 }] }],
  }),

  matmul: defineTensorOp<undefined>({
    // A [..., m, k] · B [..., k, n] = C [..., m, n]; batch axes broadcast. With G = ∂L/∂C,
    // ∂L/∂A = G·Bᵀ and ∂L/∂B = Aᵀ·G, each summed over the batches its operand was reused in.
    name: "matmul",
    arity: 2,
    elementwise: false,
    forward([a, b]) {
      const where = `matmul: ${formatShape(a.shape)} × ${formatShape(b.shape)}`;
      if (a.shape.length < 2 || b.shape.length < 2) {
        throw new RangeError(`${where}: both operands need at least 2 axes (reshape a vector)`);
      }
      const [m, k] = a.shape.slice(-2);
      const [k2, n] = b.shape.slice(-2);
      if (k !== k2) throw new RangeError(`${where}: inner sizes ${k} and ${k2} differ`);
      const batchA = a.shape.slice(0, -2);
      const batchB = b.shape.slice(0, -2);
      let batchShape: number[];
      try {
        batchShape = broadcastShapes("matmul", batchA, batchB);
      } catch {
        throw new RangeError(
          `${where}: batch shapes ${formatShape(batchA)} and ${formatShape(batchB)} ` +
            `do not broadcast`,
        );
      }
      const batch = sizeOf(batchShape);
      const mapA = broadcastIndex(batchShape, batchA);
      const mapB = broadcastIndex(batchShape, batchB);
      // float32 operands (both) use the float32 kernel; anything else float64.
      const dtype = resultDType([a, b]);
      const x = asDType(a.data, dtype), y = asDType(b.data, dtype);
      const out = allocate(dtype, batch * m * n);
      for (let t = 0; t < batch; t++) {
        const ta = mapA === null ? t : mapA[t];
        const tb = mapB === null ? t : mapB[t];
        product(
          { data: x, offset: ta * m * k, transposed: false },
          { data: y, offset: tb * k * n, transposed: false },
          out,
          t * m * n,
          m,
          k,
          n,
          false,
        );
      }
      const saved: MatmulSaved = { m, k, n, batch, mapA, mapB, x, y };
      return { data: out, shape: [...batchShape, m, n], saved };
    },
    backward({ grad: g64, inputs: [a, b], saved, needs }) {
      const { m, k, n, batch, mapA, mapB, x, y } = saved as MatmulSaved;
      const dtype = dtypeOf(x);
      const grad = asDType(g64, dtype);
      let gradA: Float64Array | null = null;
      let gradB: Float64Array | null = null;
      // Bᵀ and Aᵀ are read in place from B's and A's storage (transposed operands).
      if (needs[0]) {
        gradA = batchedGrad(
          batch,
          mapA,
          allocate(dtype, a.data.length),
          m * k,
          (t, out, at, accumulate) => {
            const tb = mapB === null ? t : mapB[t];
            product( // G·Bᵀ
              { data: grad, offset: t * m * n, transposed: false },
              { data: y, offset: tb * k * n, transposed: true },
              out,
              at,
              m,
              n,
              k,
              accumulate,
            );
          },
        );
      }
      if (needs[1]) {
        gradB = batchedGrad(
          batch,
          mapB,
          allocate(dtype, b.data.length),
          k * n,
          (t, out, to, accumulate) => {
            const ta = mapA === null ? t : mapA[t];
            product( // Aᵀ·G
              { data: x, offset: ta * m * k, transposed: true },
              { data: grad, offset: t * m * n, transposed: false },
              out,
              to,
              k,
              m,
              n,
              accumulate,
            );
          },
        );
      }
      return [gradA, gradB];
    },
    cases: [
      {
        inputs: [
          { shape: ["...", "m", "k"], domain: anywhere },
          { shape: ["...", "k", "n"], domain: anywhere },
        ],
        maxBatchRank: 2,
      },
    ],
  }),
  linear: defineTensorOp<LinearParams>({
    // x [..., in] · Wᵀ + b, W [out, in] (PyTorch's layout), b [out]. Each output is the left
    // fold b + w₀x₀ + w₁x₁ + … of a micrograd neuron, so in float64 results match scalar
    // engines bit for bit. ∂x = G·W needs no transpose; ∂W = Gᵀ·x; ∂b sums G over rows.
    name: "linear",
    arity: "variadic",
    elementwise: false,
    forward(inputs) {
      if (inputs.length < 2 || inputs.length > 3) {
        throw new RangeError(`linear: takes x, weight and an optional bias, got ${inputs.length}`);
      }
      const [x, w, b] = inputs;
      const where = `linear: x ${formatShape(x.shape)} · weightᵀ ${formatShape(w.shape)}`;
      if (w.shape.length !== 2) {
        throw new RangeError(`${where}: weight must have 2 axes, [out, in]`);
      }
      const [outSize, inSize] = w.shape;
      const [rowCount, width] = rows("linear", x);
      if (width !== inSize) {
        throw new RangeError(`${where}: input sizes ${width} and ${inSize} differ`);
      }
      if (b !== undefined && !sameShape(b.shape, [outSize])) {
        throw new RangeError(`${where}: bias ${formatShape(b.shape)} should be [${outSize}]`);
      }
      // Each output's fold starts from its bias (the kernel broadcasts it to every row); the
      // product x·Wᵀ folds onto it, Wᵀ read in place. In float64 every step rounds the product
      // and then the sum: the neuron's fold bit for bit, what the tests hold float64 linear
      // to. In float32 a step may be one fused multiply-add: no float32 engine of the scalar
      // neuron exists to match, and the fused kernel is faster (and its error bound the same).
      const dtype = resultDType([x, w]);
      const out = allocate(dtype, rowCount * outSize);
      product(
        { data: asDType(x.data, dtype), offset: 0, transposed: false },
        { data: asDType(w.data, dtype), offset: 0, transposed: true },
        out,
        0,
        rowCount,
        inSize,
        outSize,
        false,
        dtype === "float64",
        b === undefined ? null : asDType(b.data, dtype),
      );
      return { data: out, shape: [...x.shape.slice(0, -1), outSize], saved: rowCount };
    },
    backward: linearBackward,
    // A float32 gradient (from another float32 op) is read as it is: no rounded copy.
    backwardFloat32: linearBackward,
    cases: [
      {
        inputs: [
          { shape: ["...", "in"], domain: anywhere },
          { shape: ["out", "in"], domain: anywhere },
          { shape: ["out"], domain: anywhere },
        ],
        maxBatchRank: 2,
      },
      {
        inputs: [
          { shape: ["rows", "in"], domain: anywhere },
          { shape: ["out", "in"], domain: anywhere },
        ],
      },
    ],
  }),

  permute: defineTensorOp<PermuteParams>({
    name: "permute",
    arity: 1,
    elementwise: false,
    forward([a], { axes }) {
      const normal = checkedPermutation(a, axes);
      return {
        data: permuteData(a.data, a.shape, normal),
        shape: normal.map((axis) => a.shape[axis]),
        saved: normal,
      };
    },
    backward({ grad, out, saved }) {
      // The inverse permutation puts every gradient back where its element came from.
      const axes = saved as number[];
      const inverse = new Array<number>(axes.length);
      for (let i = 0; i < axes.length; i++) inverse[axes[i]] = i;
      return [permuteData(grad, out.shape, inverse) as Float64Array];
    },
    cases: [{
      inputs: [{ shape: ["a", "b", "c"], domain: anywhere }],
      params: { axes: { kind: "permutation", input: 0 } },
    }, {
      inputs: [any],
      params: { axes: { kind: "permutation", input: 0 } },
      maxBatchRank: 4,
    }],
  }),
  reshape: defineTensorOp<ReshapeParams>({
    name: "reshape",
    arity: 1,
    elementwise: false,
    forward([a], { shape }) {
      return { data: a.data.slice(), shape: resolveReshape(a.shape, shape), saved: null };
    },
    backward({ grad }) {
      return [grad];
    },
    cases: [{
      inputs: [any],
      params: { shape: { kind: "reshape", input: 0 } },
      maxBatchRank: 3,
    }],
  }),
  squeeze: defineTensorOp<SqueezeParams | undefined>({
    // Drops an axis of size 1 (every one, when no axis is named); a copy.
    name: "squeeze",
    arity: 1,
    elementwise: false,
    forward([a], params) {
      return { data: a.data.slice(), shape: squeezedShape(a.shape, params?.axis), saved: null };
    },
    backward({ grad }) {
      return [grad];
    },
    cases: [
      {
        inputs: [{ shape: ["a", 1, "b"], domain: anywhere }],
        params: { axis: { kind: "oneOf", values: [1, -2, undefined] } },
      },
      { inputs: [any], maxBatchRank: 4 },
    ],
  }),
  unsqueeze: defineTensorOp<AxisParams>({
    // Inserts an axis of size 1 at `axis` (of the result: −1 appends one); a copy.
    name: "unsqueeze",
    arity: 1,
    elementwise: false,
    forward([a], { axis }) {
      return { data: a.data.slice(), shape: unsqueezedShape(a.shape, axis), saved: null };
    },
    backward({ grad }) {
      return [grad];
    },
    cases: [{
      inputs: [any],
      params: { axis: { kind: "newAxis", input: 0 } },
      maxBatchRank: 3,
    }],
  }),
  slice: defineTensorOp<SliceParams>({
    name: "slice",
    arity: 1,
    elementwise: false,
    forward([a], params) {
      const [axis, start, end] = sliceBounds(a, params);
      const [outer, size, inner] = splitAtAxis(a.shape, axis);
      const width = (end - start) * inner;
      const out = allocate(dtypeOf(a.data), outer * width);
      copyBlocks(a.data, size * inner, start * inner, out, width, 0, outer, width);
      const shape = a.shape.map((s, i) => (i === axis ? end - start : s));
      return { data: out, shape, saved: [axis, start, end] };
    },
    backward({ grad, inputs: [a], saved }) {
      const [axis, start, end] = saved as [number, number, number];
      const [outer, size, inner] = splitAtAxis(a.shape, axis);
      const width = (end - start) * inner;
      const gx = new Float64Array(a.data.length);
      copyBlocks(grad, width, 0, gx, size * inner, start * inner, outer, width);
      return [gx];
    },
    cases: [{
      inputs: [{ shape: ["...", "a"], domain: anywhere }],
      params: { range: { kind: "slice", input: 0 } },
      sizes: { a: [1, 5] },
    }],
  }),
  concat: defineTensorOp<AxisParams>({
    name: "concat",
    arity: "variadic",
    elementwise: false,
    forward(inputs, params) {
      const { axis, outer, inner, total, shape } = concatLayout(inputs, params);
      const out = allocate(resultDType(inputs), outer * total * inner);
      let at = 0;
      for (const x of inputs) {
        const width = x.shape[axis] * inner;
        copyBlocks(x.data, width, 0, out, total * inner, at, outer, width);
        at += width;
      }
      return { data: out, shape, saved: null };
    },
    backward({ grad, inputs, params }) {
      const { axis, outer, inner, total } = concatLayout(inputs, params);
      let at = 0;
      return inputs.map((x) => {
        const width = x.shape[axis] * inner;
        const gx = new Float64Array(x.data.length);
        copyBlocks(grad, total * inner, at, gx, width, 0, outer, width);
        at += width;
        return gx;
      });
    },
    cases: [
      {
        inputs: [
          { shape: ["p", "a", "q"], domain: anywhere },
          { shape: ["p", "b", "q"], domain: anywhere },
          { shape: ["p", "c", "q"], domain: anywhere },
        ],
        params: { axis: { kind: "oneOf", values: [1, -2] } },
      },
      {
        inputs: [{ shape: ["a", "q"], domain: anywhere }, { shape: ["b", "q"], domain: anywhere }],
        params: { axis: { kind: "constant", value: 0 } },
      },
      {
        inputs: [{ shape: ["q", "a"], domain: anywhere }, { shape: ["q", "b"], domain: anywhere }],
        params: { axis: { kind: "oneOf", values: [1, -1] } },
      },
    ],
  }),
  stack: defineTensorOp<AxisParams>({
    name: "stack",
    arity: "variadic",
    elementwise: false,
    forward(inputs, params) {
      const { outer, inner, shape } = stackLayout(inputs, params);
      const count = inputs.length;
      const out = allocate(resultDType(inputs), outer * count * inner);
      for (let t = 0; t < count; t++) {
        copyBlocks(inputs[t].data, inner, 0, out, count * inner, t * inner, outer, inner);
      }
      return { data: out, shape, saved: null };
    },
    backward({ grad, inputs, params }) {
      const { outer, inner } = stackLayout(inputs, params);
      const count = inputs.length;
      return inputs.map((x, t) => {
        const gx = new Float64Array(x.data.length);
        copyBlocks(grad, count * inner, t * inner, gx, inner, 0, outer, inner);
        return gx;
      });
    },
    cases: [
      {
        inputs: [
          { shape: ["a", "b"], domain: anywhere },
          { shape: ["a", "b"], domain: anywhere },
          { shape: ["a", "b"], domain: anywhere },
        ],
        params: { axis: { kind: "newAxis", input: 0 } },
      },
      {
        inputs: [{ shape: ["a"], domain: anywhere }, { shape: ["a"], domain: anywhere }],
        params: { axis: { kind: "newAxis", input: 0 } },
      },
      {
        inputs: [{ shape: [], domain: anywhere }, { shape: [], domain: anywhere }],
        params: { axis: { kind: "newAxis", input: 0 } },
      },
    ],
  }),
  gather: defineTensorOp<GatherParams>({
    // Rows of a table by number: forward copies row v to each position that names it;
    // backward adds each position's gradient into the row it came from (scatter-add).
    name: "gather",
    arity: 1,
    elementwise: false,
    forward([table], { indices }) {
      if (table.shape.length === 0) {
        throw new RangeError("gather: the table must have at least one axis, got shape []");
      }
      checkedIndices("gather", "index", indices, table.shape[0]);
      const width = sizeOf(table.shape.slice(1));
      const values = indices.values;
      const out = allocate(dtypeOf(table.data), values.length * width);
      for (let p = 0; p < values.length; p++) {
        const from = values[p] * width;
        for (let i = 0; i < width; i++) out[p * width + i] = table.data[from + i];
      }
      return { data: out, shape: [...indices.shape, ...table.shape.slice(1)], saved: width };
    },
    backward({ grad, inputs: [table], params: { indices }, saved }) {
      const width = saved as number;
      const gx = gradientArray(table.data.length);
      const values = indices.values;
      for (let p = 0; p < values.length; p++) {
        const to = values[p] * width;
        for (let i = 0; i < width; i++) gx[to + i] += grad[p * width + i];
      }
      return [gx];
    },
    cases: [
      {
        inputs: [{ shape: ["v", "d"], domain: anywhere }],
        params: { indices: { kind: "indices", shape: ["a", "b"], below: "v" } },
        sizes: { a: [1, 4], b: [1, 3] },
      },
      {
        inputs: [{ shape: ["v"], domain: anywhere }],
        params: { indices: { kind: "indices", shape: ["a"], below: "v" } },
        sizes: { a: [1, 6] },
      },
    ],
  }),

  softmax: defineTensorOp<SoftmaxParams>({
    // Subtracting the slice's maximum first keeps every exp ≤ 1: no overflow.
    name: "softmax",
    arity: 1,
    elementwise: false,
    forward([a], { axis }) {
      const at = normalizeAxis("softmax", axis, a.shape);
      const [outer, size, inner] = splitAtAxis(a.shape, at);
      const x = a.data;
      const out = new Float64Array(x.length);
      const saved = [outer, size, inner];
      if (inner === 1 && simdRouted("softmax", x, () => simdKernels.softmax(x, out, outer, size))) {
        return { data: out, shape: a.shape, saved };
      }
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * size * inner + i;
          let max = -Infinity;
          for (let k = 0; k < size; k++) max = Math.max(max, x[base + k * inner]);
          let total = 0;
          for (let k = 0; k < size; k++) {
            const e = Math.exp(x[base + k * inner] - max);
            out[base + k * inner] = e;
            total += e;
          }
          for (let k = 0; k < size; k++) out[base + k * inner] /= total;
        }
      }
      return { data: out, shape: a.shape, saved };
    },
    backward({ grad, out, saved }) {
      // ∂L/∂xₖ = yₖ (gₖ − Σⱼ gⱼ yⱼ)
      const [outer, size, inner] = saved as [number, number, number];
      const y = out.data;
      const gx = new Float64Array(y.length);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * size * inner + i;
          let dot = 0;
          for (let k = 0; k < size; k++) dot += grad[base + k * inner] * y[base + k * inner];
          for (let k = 0; k < size; k++) {
            gx[base + k * inner] = y[base + k * inner] * (grad[base + k * inner] - dot);
          }
        }
      }
      return [gx];
    },
    cases: [{
      inputs: [{ shape: ["...", "c"], domain: anywhere }],
      params: { axis: { kind: "axis", input: 0 } },
      sizes: { c: [1, 4] },
    }],
  }),
  logSoftmax: defineTensorOp<SoftmaxParams>({
    // xₖ − max − log Σ exp(xⱼ − max): the log-sum-exp trick, finite for any finite input.
    name: "logSoftmax",
    arity: 1,
    elementwise: false,
    forward([a], { axis }) {
      const at = normalizeAxis("logSoftmax", axis, a.shape);
      const [outer, size, inner] = splitAtAxis(a.shape, at);
      const x = a.data;
      const out = new Float64Array(x.length);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * size * inner + i;
          let max = -Infinity;
          for (let k = 0; k < size; k++) max = Math.max(max, x[base + k * inner]);
          let total = 0;
          for (let k = 0; k < size; k++) total += Math.exp(x[base + k * inner] - max);
          const logTotal = Math.log(total);
          for (let k = 0; k < size; k++) {
            out[base + k * inner] = x[base + k * inner] - max - logTotal;
          }
        }
      }
      return { data: out, shape: a.shape, saved: [outer, size, inner] };
    },
    backward({ grad, out, saved }) {
      // ∂L/∂xₖ = gₖ − softmaxₖ · Σⱼ gⱼ
      const [outer, size, inner] = saved as [number, number, number];
      const y = out.data;
      const gx = new Float64Array(y.length);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * size * inner + i;
          let total = 0;
          for (let k = 0; k < size; k++) total += grad[base + k * inner];
          for (let k = 0; k < size; k++) {
            const at = base + k * inner;
            gx[at] = grad[at] - Math.exp(y[at]) * total;
          }
        }
      }
      return [gx];
    },
    cases: [{
      inputs: [{ shape: ["...", "c"], domain: anywhere }],
      params: { axis: { kind: "axis", input: 0 } },
      sizes: { c: [1, 4] },
    }],
  }),
  crossEntropy: defineTensorOp<CrossEntropyParams>({
    // mean over rows of −log softmax(logits)[target], fused: the gradient of a row is
    // (softmax − onehot(target)) / rows, with no log of a probability ever taken.
    name: "crossEntropy",
    arity: 1,
    elementwise: false,
    forward([logits], { targets, ignoreIndex }) {
      const [rowCount, classes] = rows("crossEntropy", logits);
      const batchShape = logits.shape.slice(0, -1);
      if (!sameShape(targets.shape, batchShape)) {
        throw new RangeError(
          `crossEntropy: targets ${formatShape(targets.shape)} do not match logits ` +
            `${formatShape(logits.shape)}: one target per row, shape ${formatShape(batchShape)}`,
        );
      }
      const counted = countedRows(targets, classes, ignoreIndex);
      if (rowCount === 0) {
        throw new RangeError(`crossEntropy: logits ${formatShape(logits.shape)} have no rows`);
      }
      if (counted === 0) {
        throw new RangeError(
          `crossEntropy: every one of the ${rowCount} targets is the ignored index ` +
            `${ignoreIndex}: the mean over no rows is undefined`,
        );
      }
      const x = logits.data;
      const probabilities = new Float64Array(x.length);
      let total = 0;
      for (let r = 0; r < rowCount; r++) {
        if (targets.values[r] === ignoreIndex) continue;
        const base = r * classes;
        let max = -Infinity;
        for (let c = 0; c < classes; c++) max = Math.max(max, x[base + c]);
        let sum = 0;
        for (let c = 0; c < classes; c++) {
          const e = Math.exp(x[base + c] - max);
          probabilities[base + c] = e;
          sum += e;
        }
        for (let c = 0; c < classes; c++) probabilities[base + c] /= sum;
        total += max + Math.log(sum) - x[base + targets.values[r]];
      }
      const saved: CrossEntropySaved = { probabilities, counted };
      return { data: new Float64Array([total / counted]), shape: [], saved };
    },
    backward({ grad, params: { targets, ignoreIndex }, saved }) {
      // Ignored rows keep probabilities of 0 (never filled), so their gradient stays 0.
      const { probabilities, counted } = saved as CrossEntropySaved;
      const rowCount = targets.values.length;
      const classes = probabilities.length / rowCount;
      const scale = grad[0] / counted;
      const gx = gradientArray(probabilities.length);
      for (let r = 0; r < rowCount; r++) {
        if (targets.values[r] === ignoreIndex) continue;
        for (let c = 0; c < classes; c++) gx[r * classes + c] = probabilities[r * classes + c];
        gx[r * classes + targets.values[r]] -= 1;
      }
      for (let i = 0; i < gx.length; i++) gx[i] *= scale;
      return [gx];
    },
    cases: [
      {
        inputs: [{ shape: ["n", "c"], domain: anywhere }],
        params: { targets: { kind: "indices", shape: ["n"], below: "c" } },
        sizes: { n: [1, 4], c: [1, 4] },
      },
      {
        inputs: [{ shape: ["a", "b", "c"], domain: anywhere }],
        params: { targets: { kind: "indices", shape: ["a", "b"], below: "c" } },
      },
      {
        // Padding rows (target −1) ignored, as makemore's sequences of names need.
        inputs: [{ shape: [2, 3, 4], domain: anywhere }],
        params: {
          targets: {
            kind: "oneOf",
            values: [[1, 3, -1, 0, -1, -1], [-1, -1, -1, -1, -1, 2], [0, 1, 2, 3, 0, 1]].map(
              (values) => ({ values, shape: [2, 3] }),
            ),
          },
          ignoreIndex: { kind: "constant", value: -1 },
        },
      },
    ],
  }),
  layerNorm: defineTensorOp<LayerNormParams>({
    // Each row (last axis) is centred and scaled to unit variance (the biased one, as in
    // the paper), then multiplied by weight and shifted by bias, element by element.
    name: "layerNorm",
    arity: 3,
    elementwise: false,
    forward([x, weight, bias], { eps }) {
      const [rowCount, width] = rows("layerNorm", x);
      const featureShape = [width];
      if (!sameShape(weight.shape, featureShape) || !sameShape(bias.shape, featureShape)) {
        throw new RangeError(
          `layerNorm: weight ${formatShape(weight.shape)} and bias ${formatShape(bias.shape)} ` +
            `must both be [${width}] for x ${formatShape(x.shape)}`,
        );
      }
      if (!(eps > 0 && eps < Infinity)) {
        throw new RangeError(`layerNorm: eps must be a finite number > 0, got ${eps}`);
      }
      const data = x.data;
      const mean = new Float64Array(rowCount);
      const inverseStd = new Float64Array(rowCount);
      const out = allocate(resultDType([x, weight, bias]), data.length);
      const saved: LayerNormSaved = { mean, inverseStd };
      const simd = () =>
        simdKernels.layerNormForward(data, weight.data, bias.data, eps, out, mean, inverseStd);
      if (simdRouted("layerNormForward", data, simd)) return { data: out, shape: x.shape, saved };
      for (let r = 0; r < rowCount; r++) {
        const base = r * width;
        const mu = rowSum(data, base, width, 0, false) / width;
        const variance = rowSum(data, base, width, mu, true) / width;
        const inv = 1 / Math.sqrt(variance + eps);
        mean[r] = mu;
        inverseStd[r] = inv;
        for (let i = 0; i < width; i++) {
          const n = (data[base + i] - mu) * inv;
          out[base + i] = n * weight.data[i] + bias.data[i];
        }
      }
      return { data: out, shape: x.shape, saved };
    },
    backward: layerNormBackward,
    // A float32 gradient: ∂x in float32, each element computed in float64 exactly as
    // `backward` does (the SIMD kernel widens float32 grad and x as it loads them; the loop
    // reads a widened copy of grad, so that its loads stay of one type) and rounded once;
    // ∂weight and ∂bias, sums over rows, stay float64 as `backward` makes them.
    backwardFloat32(context) {
      const { grad, inputs: [x, weight], saved, needs } = context;
      const { mean, inverseStd } = saved as LayerNormSaved;
      const gx = needs[0] ? float32GradientArrayToOverwrite(x.data.length) : null;
      const gw = needs[1] ? gradientArray(weight.data.length) : null;
      const gb = needs[2] ? gradientArray(weight.data.length) : null;
      const simd = () =>
        simdKernels.layerNormBackward(grad, weight.data, x.data, mean, inverseStd, gx, gw, gb);
      if (simdRouted("layerNormBackward", grad, simd)) return [gx, gw, gb];
      releaseGradientArrays([gw, gb]);
      const wide = gradientArrayToOverwrite(grad.length);
      wide.set(grad);
      const [gx64, gw64, gb64] = layerNormBackward({ ...context, grad: wide });
      if (gx !== null) gx.set(gx64 as Float64Array);
      releaseGradientArrays([wide, gx64]);
      return [gx, gw64, gb64];
    },
    cases: [{
      inputs: [
        { shape: ["...", "d"], domain: anywhere },
        { shape: ["d"], domain: anywhere },
        { shape: ["d"], domain: anywhere },
      ],
      params: { eps: { kind: "oneOf", values: [1e-5, 0.1] } },
      sizes: { d: [1, 5] },
    }],
  }),
  dropout: defineTensorOp<DropoutParams>({
    // Inverted dropout: kept elements are scaled by 1/(1 − p) so the expectation is x.
    name: "dropout",
    arity: 1,
    elementwise: true,
    forward([a], { p, seed }) {
      if (!(p >= 0 && p < 1)) {
        throw new RangeError(`dropout: p must be a probability in [0, 1), got ${p}`);
      }
      const random = new Random(seed);
      const scale = 1 / (1 - p);
      const mask = new Float64Array(a.data.length);
      const out = new Float64Array(a.data.length);
      for (let i = 0; i < out.length; i++) {
        mask[i] = random.next() < p ? 0 : scale;
        out[i] = a.data[i] * mask[i];
      }
      return { data: out, shape: a.shape, saved: mask };
    },
    backward({ grad, saved }) {
      const mask = saved as Float64Array;
      const gx = new Float64Array(grad.length);
      for (let i = 0; i < gx.length; i++) gx[i] = grad[i] * mask[i];
      return [gx];
    },
    cases: [{
      inputs: [any],
      params: {
        p: { kind: "oneOf", values: [0, 0.25, 0.5, 0.9] },
        seed: { kind: "oneOf", values: [1, 2, 3, 12345] },
      },
      maxBatchRank: 3,
    }],
  }),
  tril: defineTensorOp<TrilParams | undefined>({
    name: "tril",
    arity: 1,
    elementwise: true,
    forward([a], params) {
      const diagonal = params?.diagonal ?? 0;
      const fill = params?.fill ?? 0;
      if (a.shape.length < 2) {
        throw new RangeError(`tril: needs at least 2 axes, got ${formatShape(a.shape)}`);
      }
      if (!Number.isInteger(diagonal)) {
        throw new RangeError(`tril: diagonal must be an integer, got ${diagonal}`);
      }
      const [height, width] = a.shape.slice(-2);
      const out = new Float64Array(a.data.length);
      for (let i = 0; i < out.length; i++) {
        const column = i % width;
        const row = Math.floor(i / width) % height;
        out[i] = column <= row + diagonal ? a.data[i] : fill;
      }
      return { data: out, shape: a.shape, saved: null };
    },
    backward({ grad, inputs: [a], params }) {
      const diagonal = params?.diagonal ?? 0;
      const [height, width] = a.shape.slice(-2);
      const gx = new Float64Array(grad.length);
      for (let i = 0; i < gx.length; i++) {
        const column = i % width;
        const row = Math.floor(i / width) % height;
        if (column <= row + diagonal) gx[i] = grad[i];
      }
      return [gx];
    },
    cases: [{
      inputs: [{ shape: ["...", "r", "c"], domain: anywhere }],
      params: {
        diagonal: { kind: "oneOf", values: [0, 1, -1, 2] },
        fill: { kind: "oneOf", values: [0, -1e9, 7] },
      },
      sizes: { r: [1, 4], c: [1, 4] },
    }],
  }),

  attention: defineTensorOp<AttentionParams | undefined>({
    // softmax(scale·Q·Kᵀ, causal mask)·V over [..., Tq, d] queries and [..., Tk, d] keys and
    // values, in one op:
    // forward and backward in kernels/_attention.ts, every product on the SIMD kernel.
    name: "attention",
    arity: 3,
    elementwise: false,
    forward([q, k, v], params) {
      const sizes = attentionSizes(q, k, v, params);
      // The kernel computes in float64: float32 inputs are widened once, kept for backward.
      const wide = [q, k, v].map((t) => asFloat64(t.data));
      const { out, probs } = attentionForward(wide[0], wide[1], wide[2], sizes);
      const saved: AttentionSaved = { sizes, probs, wide };
      return { data: out, shape: q.shape, saved };
    },
    backward({ grad, saved, needs }) {
      const { sizes, probs, wide: [x, y, z] } = saved as AttentionSaved;
      return attentionBackward(grad, x, y, z, probs, sizes, needs);
    },
    cases: [
      {
        inputs: [0, 1, 2].map(() => ({ shape: ["b", "t", "d"], domain: anywhere })),
        params: {
          causal: { kind: "oneOf", values: [true, false, undefined] },
          scale: { kind: "oneOf", values: [undefined, 0.7] },
        },
        sizes: { b: [1, 2], t: [1, 4], d: [1, 3] },
      },
      {
        inputs: [0, 1, 2].map(() => ({ shape: ["b", "h", "t", "d"], domain: anywhere })),
        sizes: { b: [1, 2], h: [1, 2], t: [1, 3], d: [1, 2] },
      },
      {
        // Fewer queries than keys: the last positions, attending to cached earlier ones too.
        inputs: [
          { shape: ["b", 2, "d"], domain: anywhere },
          { shape: ["b", "t", "d"], domain: anywhere },
          { shape: ["b", "t", "d"], domain: anywhere },
        ],
        params: { causal: { kind: "oneOf", values: [true, false] } },
        sizes: { b: [1, 2], t: [2, 4], d: [1, 3] },
      },
    ],
  }),
  selfAttention: defineTensorOp<SelfAttentionParams>({
    // Multi-head self-attention read straight from a fused projection (nanoGPT's c_attn):
    // the last axis of qkv [..., T, 3C] holds q, k and v side by side, each `heads` heads of
    // d = C/heads features. Each head is copied once into [..., heads, T, d] order for the
    // kernels of `attention`, and the heads' results are written back side by side [..., T, C]:
    // the same arithmetic as slice, reshape, permute, attention, permute and reshape, in one
    // op with no intermediate tensors. Backward is attention's, its three gradients written
    // into the thirds of ∂L/∂qkv they came from. A float32 qkv computes in float32 throughout
    // (the products on float32 heads; small heads on the batched kernel's float32 lanes, which
    // read the heads in place and keep the probabilities for backward), as PyTorch does; the
    // attention op widens to float64.
    name: "selfAttention",
    arity: 1,
    elementwise: false,
    forward([qkv], params) {
      const layout = selfAttentionLayout(qkv, params);
      const { outer, time, heads, d } = layout;
      const width = heads * d;
      const headCount = outer * heads * time * d;
      // In qkv's element type: float32 runs attention's float32 products, as PyTorch does.
      const dtype = dtypeOf(qkv.data);
      if (d > 0 && simdAttentionRouted(time, d, dtype)) {
        // Small heads: every head's attention in one call of the batched SIMD kernel, which
        // reads the heads from qkv and writes them into the result in place.
        const result = allocate(dtype, outer * time * width);
        const fused = (column: number) => headsOf(qkv.data, layout, 3 * width, column);
        const probs = simdAttention.forward(
          fused(0),
          fused(width),
          fused(2 * width),
          headsOf(result, layout, width, 0),
          layout.sizes,
        );
        // Float32 keeps the probabilities for backward; float64 computes them again from qkv.
        const saved: SelfAttentionKernelSaved = { layout, kernel: true, probs };
        return { data: result, shape: [...qkv.shape.slice(0, -1), width], saved };
      }
      const q = allocate(dtype, headCount);
      const k = allocate(dtype, headCount);
      const v = allocate(dtype, headCount);
      splitHeads(qkv.data, 3 * width, 0, q, layout);
      splitHeads(qkv.data, 3 * width, width, k, layout);
      splitHeads(qkv.data, 3 * width, 2 * width, v, layout);
      const { out, probs } = attentionForward(q, k, v, layout.sizes);
      const result = allocate(dtype, outer * time * width);
      mergeHeads(out, result, width, 0, layout);
      releaseGradientArrays([out]); // read into result: nothing else holds it
      const saved: SelfAttentionSaved = { layout, probs, q, k, v };
      return { data: result, shape: [...qkv.shape.slice(0, -1), width], saved };
    },
    backward: selfAttentionBackward,
    // A float32 gradient is read as it is, into float32 heads.
    backwardFloat32: selfAttentionBackward,
    cases: [
      {
        inputs: [{ shape: ["b", "t", 6], domain: anywhere }],
        params: {
          heads: { kind: "oneOf", values: [1, 2] },
          causal: { kind: "oneOf", values: [true, false, undefined] },
          scale: { kind: "oneOf", values: [undefined, 0.7] },
        },
        sizes: { b: [1, 2], t: [1, 4] },
      },
      {
        inputs: [{ shape: ["t", 12], domain: anywhere }],
        params: { heads: { kind: "oneOf", values: [1, 2, 4] } },
        sizes: { t: [1, 4] },
      },
      {
        inputs: [{ shape: ["a", "b", "t", 6], domain: anywhere }],
        params: { heads: { kind: "constant", value: 2 } },
        sizes: { a: [1, 2], b: [1, 2], t: [1, 3] },
      },
    ],
  }),
};

/**
 * selfAttention's backward: ∂L/∂O split into heads of qkv's element type, attention's
 * backward in that type, and its three gradients merged into the thirds of ∂L/∂qkv.
 */
function selfAttentionBackward(
  { grad, inputs: [qkv], saved }: BackwardContext<unknown, FloatArray>,
): (FloatArray | null)[] {
  if (saved !== null && typeof saved === "object" && "kernel" in saved) {
    return [selfAttentionKernelBackward(grad, qkv.data, saved as SelfAttentionKernelSaved)];
  }
  const { layout, probs, q, k, v } = saved as SelfAttentionSaved;
  const width = layout.heads * layout.d;
  // ∂L/∂O in the heads' element type (a float64 gradient is rounded for float32 heads).
  const g = gradientArrayToOverwriteLike(q);
  splitHeads(grad, width, 0, g, layout);
  const [dq, dk, dv] = attentionBackward(g, q, k, v, probs, layout.sizes, [true, true, true]);
  // The three merges write every element of gx (its thirds): no zeroing needed.
  const gx = gradientArrayToOverwriteLike(qkv.data);
  mergeHeads(dq as FloatArray, gx, 3 * width, 0, layout);
  mergeHeads(dk as FloatArray, gx, 3 * width, width, layout);
  mergeHeads(dv as FloatArray, gx, 3 * width, 2 * width, layout);
  // The head-ordered arrays were read into gx: nothing else holds them.
  releaseGradientArrays([g, dq, dk, dv]);
  return [gx];
}

/** The backward of selfAttention's batched SIMD kernel: ∂L/∂qkv from G = ∂L/∂O. */
function selfAttentionKernelBackward(
  grad: FloatArray,
  qkv: FloatArray,
  { layout, probs }: SelfAttentionKernelSaved,
): FloatArray {
  const width = layout.heads * layout.d;
  // The kernel writes every element of gx (its thirds): no zeroing needed.
  const gx = gradientArrayToOverwriteLike(qkv);
  const fused = (data: FloatArray, column: number) => headsOf(data, layout, 3 * width, column);
  // ∂L/∂O in qkv's element type (a float64 gradient is rounded for float32 heads), as the
  // float32 kernel reads it.
  let g = grad;
  if (qkv instanceof Float32Array && !(grad instanceof Float32Array)) {
    g = gradientArrayToOverwriteLike(qkv, grad.length);
    g.set(grad);
  }
  simdAttention.backward(
    headsOf(g, layout, width, 0),
    fused(qkv, 0),
    fused(qkv, width),
    fused(qkv, 2 * width),
    layout.sizes,
    fused(gx, 0),
    fused(gx, width),
    fused(gx, 2 * width),
    probs,
  );
  if (g !== grad) releaseGradientArrays([g]); // read: nothing else holds it
  return gx;
}

/** The heads of a [..., T, rowWidth] array whose head 0 starts at `column`. */
function headsOf(
  data: FloatArray,
  { heads }: SelfAttentionLayout,
  rowWidth: number,
  column: number,
): AttentionHeads {
  return { data, heads, rowWidth, column };
}

/** What selfAttention's forward keeps when it ran the batched SIMD kernel. */
interface SelfAttentionKernelSaved {
  readonly layout: SelfAttentionLayout;
  /** Marks this kind of saved value. */
  readonly kernel: true;
  /** The kernel's probabilities (float32 qkv), or null (float64: computed again). */
  readonly probs: Float32Array | null;
}

interface SelfAttentionLayout {
  /** Product of the axes before T. */
  readonly outer: number;
  readonly time: number;
  readonly heads: number;
  /** Features of one head. */
  readonly d: number;
  /** The kernels' sizes: outer·heads problems of T queries and keys. */
  readonly sizes: AttentionSizes;
}

interface SelfAttentionSaved {
  readonly layout: SelfAttentionLayout;
  /** All four of qkv's element type. */
  readonly probs: FloatArray;
  readonly q: FloatArray;
  readonly k: FloatArray;
  readonly v: FloatArray;
}

function selfAttentionLayout(qkv: TensorData, params: SelfAttentionParams): SelfAttentionLayout {
  const rank = qkv.shape.length;
  if (rank < 2) {
    throw new RangeError(
      `selfAttention: qkv must be [..., T, 3C], got ${formatShape(qkv.shape)}`,
    );
  }
  const heads = params?.heads;
  if (!(Number.isInteger(heads) && heads >= 1)) {
    throw new RangeError(`selfAttention: heads must be a whole number ≥ 1, got ${String(heads)}`);
  }
  const fused = qkv.shape[rank - 1];
  if (fused % (3 * heads) !== 0) {
    throw new RangeError(
      `selfAttention: the last axis of qkv ${formatShape(qkv.shape)} must be 3·C with C a ` +
        `multiple of heads (${heads}): ${fused} is not a multiple of ${3 * heads}`,
    );
  }
  const d = fused / (3 * heads);
  const time = qkv.shape[rank - 2];
  const outer = sizeOf(qkv.shape.slice(0, -2));
  const { scale, causal } = attentionFlags("selfAttention", params, d);
  const batch = d === 0 ? 0 : outer * heads;
  return { outer, time, heads, d, sizes: { batch, tq: time, tk: time, d, scale, causal } };
}

/**
 * Copies columns `column..column + heads·d` of the rows of `from` (`fromWidth` wide, T rows
 * for each of `outer` leading positions) into `to` in [outer, heads, T, d] order.
 */
function splitHeads(
  from: FloatArray,
  fromWidth: number,
  column: number,
  to: FloatArray,
  { outer, time, heads, d }: SelfAttentionLayout,
): void {
  for (let o = 0, i = 0; o < outer; o++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < time; t++) {
        const src = (o * time + t) * fromWidth + column + h * d;
        for (let e = 0; e < d; e++, i++) to[i] = from[src + e];
      }
    }
  }
}

/** The inverse of {@link splitHeads}: [outer, heads, T, d] into columns of `to`'s rows. */
function mergeHeads(
  from: FloatArray,
  to: FloatArray,
  toWidth: number,
  column: number,
  { outer, time, heads, d }: SelfAttentionLayout,
): void {
  for (let o = 0, i = 0; o < outer; o++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < time; t++) {
        const dst = (o * time + t) * toWidth + column + h * d;
        for (let e = 0; e < d; e++, i++) to[dst + e] = from[i];
      }
    }
  }
}

interface AttentionSaved {
  readonly sizes: AttentionSizes;
  readonly probs: Float64Array;
  /** q, k and v as float64 (the inputs themselves when they are float64). */
  readonly wide: readonly Float64Array[];
}

/** An attention op's `scale` (1/√d by default) and `causal` (true by default), checked. */
function attentionFlags(
  op: string,
  params: AttentionParams | undefined,
  d: number,
): { scale: number; causal: boolean } {
  const scale = params?.scale ?? 1 / Math.sqrt(d);
  if (!Number.isFinite(scale)) {
    throw new RangeError(`${op}: scale must be finite, got ${scale}`);
  }
  const causal = params?.causal ?? true;
  if (typeof causal !== "boolean") {
    throw new TypeError(`${op}: causal must be a boolean, got ${String(causal)}`);
  }
  return { scale, causal };
}

function attentionSizes(
  q: TensorData,
  k: TensorData,
  v: TensorData,
  params: AttentionParams | undefined,
): AttentionSizes {
  const rank = q.shape.length;
  const fits = rank >= 2 && sameShape(k.shape, v.shape) && k.shape.length === rank &&
    sameShape(q.shape.slice(0, -2), k.shape.slice(0, -2)) &&
    q.shape[rank - 1] === k.shape[rank - 1];
  if (!fits) {
    throw new RangeError(
      `attention: q [..., Tq, d], k and v [..., Tk, d] do not fit: got ${formatShape(q.shape)}, ` +
        `${formatShape(k.shape)} and ${formatShape(v.shape)}`,
    );
  }
  const [tq, d] = q.shape.slice(-2);
  const tk = k.shape[rank - 2];
  const { scale, causal } = attentionFlags("attention", params, d);
  if (causal && tq > tk) {
    throw new RangeError(
      `attention: causal attention of ${tq} queries needs at least as many keys, got ${tk}`,
    );
  }
  return { batch: tq * d === 0 ? 0 : q.data.length / (tq * d), tq, tk, d, scale, causal };
}
