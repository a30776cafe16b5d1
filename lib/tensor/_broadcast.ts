/**
 * NumPy broadcasting, as index maps.
 *
 * Two shapes are aligned at their last axes; each pair of sizes must be equal or one of them
 * 1, and a missing leading axis counts as 1. The result takes the larger size of each pair.
 *
 * An input is read through an index map: for every element of the result, the position of
 * the input element it uses. Built once per op from strides that are 0 on broadcast axes,
 * the map makes forward a plain loop (`out[i] = f(a[mapA[i]], b[mapB[i]])`) and backward
 * its mirror image (`gradA[mapA[i]] += …`): summing over the broadcast axes is exactly what
 * scatter-adding through the map does.
 *
 * @module
 */

import { gradientArray } from "./_gradient_pool.ts";
import { contiguousStrides, formatShape, sameShape, type Shape, sizeOf } from "./_shape.ts";

/**
 * The broadcast shape of `a` and `b`.
 *
 * @throws {RangeError} naming `op`, both shapes and the first incompatible axis.
 */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 1; i <= rank; i++) {
    const sa = i <= a.length ? a[a.length - i] : 1;
    const sb = i <= b.length ? b[b.length - i] : 1;
    if (sa !== sb && sa !== 1 && sb !== 1) {
      throw new RangeError(
        `${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast: ` +
          `sizes ${sa} and ${sb} differ at axis ${rank - i} of the result (and neither is 1)`,
      );
    }
    out[rank - i] = sa === 1 ? sb : sa;
  }
  return out;
}

/**
 * When broadcasting `inShape` to `outShape` repeats the whole input along leading axes (its
 * shape, less leading 1s, is the end of `outShape`: a scalar, a row, an equal shape), the
 * input's size p: result element i reads input element i mod p. Otherwise −1 (read through
 * {@link broadcastIndex} instead). `inShape` must broadcast to `outShape`.
 */
export function repeatPeriod(outShape: Shape, inShape: Shape): number {
  let first = 0;
  while (first < inShape.length && inShape[first] === 1) first++;
  const kept = inShape.length - first;
  const offset = outShape.length - kept;
  for (let axis = 0; axis < kept; axis++) {
    if (inShape[first + axis] !== outShape[offset + axis]) return -1;
  }
  return sizeOf(inShape);
}

/**
 * For each element of a tensor of shape `outShape` (row-major), the flat position of the
 * element of a contiguous tensor of shape `inShape` that broadcasting reads there; `null`
 * when the shapes are equal (the identity map, which callers skip for speed).
 * `inShape` must broadcast to `outShape`.
 */
export function broadcastIndex(outShape: Shape, inShape: Shape): Int32Array | null {
  if (sameShape(outShape, inShape)) return null;
  const rank = outShape.length;
  const offset = rank - inShape.length;
  // Strides of the input seen from the output's axes: 0 where the input is broadcast.
  const inStrides = contiguousStrides(inShape);
  const strides = new Array<number>(rank).fill(0);
  for (let axis = offset; axis < rank; axis++) {
    if (inShape[axis - offset] !== 1) strides[axis] = inStrides[axis - offset];
  }
  return stridedPositions(outShape, strides);
}

/**
 * For each element of a tensor of shape `outShape` (row-major), the flat position
 * `Σ index[axis]·strides[axis]` it reads from: a broadcast (stride 0 on repeated axes) or a
 * permutation (the input's strides reordered) expressed as one index map.
 */
export function stridedPositions(outShape: Shape, strides: readonly number[]): Int32Array {
  const rank = outShape.length;
  const size = sizeOf(outShape);
  const map = new Int32Array(size);
  if (size === 0) return map;
  // An odometer over the output's index, carrying the input position along with it.
  const counter = new Array<number>(rank).fill(0);
  let position = 0;
  for (let i = 0; i < size; i++) {
    map[i] = position;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]++;
      position += strides[axis];
      if (counter[axis] < outShape[axis]) break;
      position -= strides[axis] * counter[axis];
      counter[axis] = 0;
    }
  }
  return map;
}

/**
 * The gradient of a broadcast input: `grad` (of the result's shape) summed into the input's
 * shape through the input's index map. Returns `grad` itself when the map is the identity.
 */
export function sumToShape(grad: Float64Array, map: Int32Array | null, size: number): Float64Array {
  if (map === null) return grad;
  const out = gradientArray(size);
  for (let i = 0; i < grad.length; i++) out[map[i]] += grad[i];
  return out;
}
