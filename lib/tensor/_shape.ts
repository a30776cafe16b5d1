/**
 * Shapes and strides: the arithmetic that turns an N-d index into a position in flat storage.
 *
 * Every tensor of the engine is stored row-major and contiguous, so its strides follow from
 * its shape: the last axis has stride 1, and each axis before it steps over one whole
 * sub-tensor of the axes after it.
 *
 * @module
 */

/** A tensor's shape: one non-negative integer size per axis; `[]` is a scalar. */
export type Shape = readonly number[];

/** Number of elements of a tensor of this shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let size = 1;
  for (let i = 0; i < shape.length; i++) size *= shape[i];
  return size;
}

/** Row-major strides of a contiguous tensor: `strides[i]` = product of `shape[i+1..]`. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

/** `[2,3]`: how error messages show a shape. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

/** True when both shapes have the same rank and sizes. */
export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A shape given by a caller, checked: an array of non-negative safe integers.
 *
 * @throws {TypeError} when `shape` is not an array.
 * @throws {RangeError} when a size is not a non-negative integer.
 */
export function checkedShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) {
    throw new TypeError(`${op}: shape must be an array of sizes, got ${String(shape)}`);
  }
  for (const size of shape) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(
        `${op}: shape ${formatShape(shape)} has size ${String(size)}, not an integer ≥ 0`,
      );
    }
  }
  return [...shape];
}

/**
 * An axis given by a caller, as a position in `[0, rank)`; negative axes count from the end
 * (`-1` is the last), as in NumPy.
 *
 * @throws {RangeError} when the axis is not an integer in `[-rank, rank)`.
 */
export function normalizeAxis(op: string, axis: number, shape: Shape): number {
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new RangeError(
      `${op}: axis ${axis} is out of range for shape ${formatShape(shape)} ` +
        `(rank ${rank}: an integer in [${-rank}, ${rank}) is needed)`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

/**
 * The three sizes that describe a tensor around one axis: `outer` (product of the sizes
 * before it), `size` (its own) and `inner` (product of the sizes after it). Element
 * `(o, k, i)` sits at `(o·size + k)·inner + i`, which lets reductions and softmax treat
 * any axis of any rank with the same three nested loops.
 */
export function splitAtAxis(shape: Shape, axis: number): [number, number, number] {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}
