/**
 * The one entry point the tensor ops use for a matrix product: small products run a plain
 * strided loop (copying into the kernels' memory would cost more than the arithmetic), the
 * others the WebAssembly kernel of `gemm.ts`. Both compute each output as the left fold over
 * p in increasing order, from 0 or (accumulating) from the output's previous value.
 *
 * @module
 */

import type { FloatArray } from "../_dtype.ts";
import { gemm, type MatrixOperand } from "./gemm.ts";

/** Products of fewer multiply-adds (m·k·n) than this use the plain loop (measured: 8³ is
 * faster in the loop, 12³ on the kernel). */
export const SMALL_PRODUCT = 1024;

/**
 * out[outOffset..] (m×n) = A·B, or += A·B with `accumulate`, or = bias + A·B (the same n
 * values added to every row) with `bias`; A is m×k and B k×n, each read from its storage as
 * {@link MatrixOperand} says (possibly transposed, in place). With `exact`, no multiply-add
 * is fused: the result is the textbook fold (from the bias, if any) bit for bit.
 */
export function product(
  a: MatrixOperand,
  b: MatrixOperand,
  out: FloatArray,
  outOffset: number,
  m: number,
  k: number,
  n: number,
  accumulate: boolean,
  exact = false,
  bias: FloatArray | null = null,
): void {
  if (m * k * n >= SMALL_PRODUCT) {
    gemm(a, b, out, outOffset, m, k, n, accumulate, exact, bias);
    return;
  }
  if (bias !== null && accumulate) {
    throw new RangeError("product: takes accumulate or a bias, not both");
  }
  // A[i,p] at aBase + i·aRow + p·aCol, and B[p,j] alike.
  const [aRow, aCol] = a.transposed ? [1, m] : [k, 1];
  const [bRow, bCol] = b.transposed ? [1, k] : [n, 1];
  const x = a.data, y = b.data;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const o = outOffset + i * n + j;
      let c = bias !== null ? bias[j] : accumulate ? out[o] : 0;
      for (let p = 0, s = a.offset + i * aRow, t = b.offset + j * bCol; p < k; p++) {
        c += x[s] * y[t];
        s += aCol;
        t += bRow;
      }
      out[o] = c;
    }
  }
}
