/**
 * Element types of tensor storage: float64 (the default, for gradient checking) and float32
 * (half the memory, and the SIMD matrix kernels do four lanes a vector instead of two).
 *
 * Every op computes in float64 JavaScript numbers and, when all its tensor inputs are float32,
 * stores its result rounded to float32; matrix products and attention of float32 inputs run
 * the float32 kernels. Gradients flow in float64; a leaf's is stored in the leaf's type, the
 * others' stay float64.
 *
 * @module
 */

/**
 * The element type of a tensor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "./tensor.ts";
 * import type { DType } from "./_dtype.ts";
 * const dtype: DType = "float32";
 * assert.ok(tensor([0.1], { dtype }).data[0] === Math.fround(0.1));
 * ```
 */
export type DType = "float64" | "float32";

/**
 * Storage of either element type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FloatArray } from "./_dtype.ts";
 * const storage: FloatArray = new Float32Array(4);
 * assert.ok(storage.length === 4);
 * ```
 */
export type FloatArray = Float64Array | Float32Array;

/** The element type of `data`. */
export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float32Array ? "float32" : "float64";
}

/**
 * The element type of an op's result over `inputs` (tensors, or anything holding `data`):
 * float32 when every input's storage is float32 (and there is an input), else float64. The
 * engine's one rule; a product of two float32 operands runs the float32 kernel by it too.
 */
export function resultDType(inputs: readonly { readonly data: FloatArray }[]): DType {
  return inputs.length > 0 && inputs.every((x) => x.data instanceof Float32Array)
    ? "float32"
    : "float64";
}

/** A zeroed array of `length` elements of `dtype`. */
export function allocate(dtype: DType, length: number): FloatArray {
  return dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
}

/** `data` as an array of `dtype`: itself when it already is one, else a rounded copy. */
export function asDType(data: FloatArray, dtype: DType): FloatArray {
  if (dtypeOf(data) === dtype) return data;
  // The typed-array constructors convert in one native loop (`from` iterates element by element).
  return dtype === "float32" ? new Float32Array(data) : new Float64Array(data);
}

/** `data` as a Float64Array: itself, or an exact copy of float32 values. */
export function asFloat64(data: FloatArray): Float64Array {
  return data instanceof Float64Array ? data : new Float64Array(data);
}

/** The distance from 1 to the next representable number of each type. */
export const EPSILON: Readonly<Record<DType, number>> = {
  float64: Number.EPSILON,
  float32: 2 ** -23,
};

/** Checks a `dtype` option: a TypeError naming `op` for anything else. */
export function checkedDType(op: string, dtype: unknown): DType {
  if (dtype === undefined) return "float64";
  if (dtype !== "float64" && dtype !== "float32") {
    throw new TypeError(`${op}: dtype must be "float64" or "float32", got ${String(dtype)}`);
  }
  return dtype;
}
