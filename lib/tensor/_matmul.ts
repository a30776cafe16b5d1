/**
 * The matrix-product kernel under the tensor engine's `matmul`: plain loops over
 * `Float64Array` storage, no allocation.
 *
 * @module
 */

/**
 * Overwrites `out[outOffset .. outOffset + m·n)` with the product A·B, where A is the m×k
 * row-major matrix starting at `a[aOffset]` and B the k×n row-major matrix starting at
 * `b[bOffset]`. `out` must not overlap A or B.
 *
 * Each output element is the left fold `Σ_p A[i,p]·B[p,j]` over p = 0..k-1 (starting from 0),
 * so results do not depend on how the loops are blocked.
 *
 * @example A 2×3 by 3×2 product.
 * ```ts
 * import { matmulKernel } from "./_matmul.ts";
 * const a = new Float64Array([1, 2, 3, 4, 5, 6]);
 * const b = new Float64Array([7, 8, 9, 10, 11, 12]);
 * const out = new Float64Array(4);
 * matmulKernel(a, b, out, 2, 3, 2);
 * console.assert(out.join() === "58,64,139,154");
 * ```
 */
export function matmulKernel(
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  m: number,
  k: number,
  n: number,
  aOffset = 0,
  bOffset = 0,
  outOffset = 0,
): void {
  checkExtent("m", m, "k", k, a, aOffset, "a");
  checkExtent("k", k, "n", n, b, bOffset, "b");
  checkExtent("m", m, "n", n, out, outOffset, "out");
  for (let i = 0; i < m; i++) {
    const outRow = outOffset + i * n;
    out.fill(0, outRow, outRow + n);
    for (let p = 0; p < k; p++) {
      const aip = a[aOffset + i * k + p];
      const bRow = bOffset + p * n;
      for (let j = 0; j < n; j++) out[outRow + j] += aip * b[bRow + j];
    }
  }
}

function checkExtent(
  rowsName: string,
  rows: number,
  colsName: string,
  cols: number,
  data: Float64Array,
  offset: number,
  dataName: string,
): void {
  checkCount(rowsName, rows);
  checkCount(colsName, cols);
  checkCount(`${dataName}Offset`, offset);
  if (offset + rows * cols > data.length) {
    throw new RangeError(
      `matmulKernel: ${dataName} needs ${offset + rows * cols} elements ` +
        `(${rowsName}=${rows}, ${colsName}=${cols}, offset ${offset}), has ${data.length}`,
    );
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`matmulKernel: ${name} must be a non-negative integer, got ${value}`);
  }
}
