/**
 * Gradient arrays reused from one backward pass to the next. A pass that keeps only the
 * leaves' gradients (`backward(…, { intermediateGrads: false })`, as a training step does)
 * gives every array it computed back here when it ends: nothing can reach them then, since
 * the leaves' totals are copies and no other tensor was given one. The ops' backward draws
 * its new gradient arrays from here, so a training loop stops allocating, zeroing (by page
 * faults) and collecting tens of megabytes a step. Float64 and float32 arrays (the gradients
 * of float32 tensors that an op computes in float32) are kept apart.
 *
 * @module
 */

import type { FloatArray } from "./_dtype.ts";

// Free arrays by length, one map per element type. Bounded, so that a model trained once
// does not keep its pass's arrays for ever: beyond the bound an array is left to the
// garbage collector.
const free64 = new Map<number, Float64Array[]>();
const free32 = new Map<number, Float32Array[]>();
const MAX_POOLED_BYTES = 64 * 2 ** 20;
let pooledBytes = 0;
let pooledElements = 0;

/** A zeroed Float64Array of `length` elements: a freed one when there is one, else new. */
export function gradientArray(length: number): Float64Array {
  const reused = takeFree(free64, length);
  return reused === undefined ? new Float64Array(length) : reused.fill(0);
}

/**
 * A Float64Array of `length` elements whose contents are left over from an earlier use: for
 * a caller that writes every element before anything reads one.
 */
export function gradientArrayToOverwrite(length: number): Float64Array {
  return takeFree(free64, length) ?? new Float64Array(length);
}

/**
 * A Float32Array of `length` elements left over from an earlier use, as
 * {@link gradientArrayToOverwrite}: for the gradients of float32 tensors that an op's
 * backward computes in float32.
 */
export function float32GradientArrayToOverwrite(length: number): Float32Array {
  return takeFree(free32, length) ?? new Float32Array(length);
}

/**
 * An array of `like`'s element type and `length` elements (by default `like`'s), left over
 * from an earlier use as {@link gradientArrayToOverwrite}: for a gradient computed in the
 * element type of the tensor it belongs to.
 */
export function gradientArrayToOverwriteLike(
  like: FloatArray,
  length: number = like.length,
): FloatArray {
  return like instanceof Float32Array
    ? float32GradientArrayToOverwrite(length)
    : gradientArrayToOverwrite(length);
}

function takeFree<T extends FloatArray>(free: Map<number, T[]>, length: number): T | undefined {
  const reused = free.get(length)?.pop();
  if (reused !== undefined) {
    pooledElements -= length;
    pooledBytes -= reused.byteLength;
  }
  return reused;
}

/**
 * Gives arrays back for reuse. The caller guarantees that nothing will read or write any
 * of them again; each buffer is taken once (views of a buffer already given, and arrays
 * that do not span their whole buffer, are skipped).
 */
export function releaseGradientArrays(arrays: Iterable<FloatArray | null>): void {
  const seen = new Set<ArrayBufferLike>();
  for (const array of arrays) {
    if (array === null || seen.has(array.buffer)) continue;
    seen.add(array.buffer);
    if (array.byteOffset !== 0 || array.byteLength !== array.buffer.byteLength) continue;
    if (pooledBytes + array.byteLength > MAX_POOLED_BYTES) continue;
    if (array instanceof Float64Array) keep(free64, array);
    else keep(free32, array);
    pooledElements += array.length;
    pooledBytes += array.byteLength;
  }
}

function keep<T extends FloatArray>(free: Map<number, T[]>, array: T): void {
  let list = free.get(array.length);
  if (list === undefined) {
    list = [];
    free.set(array.length, list);
  }
  list.push(array);
}

/** How many elements wait in the pool (for tests). */
export function pooledGradientElements(): number {
  return pooledElements;
}
