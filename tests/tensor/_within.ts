/** Element-wise comparisons with an absolute bound, shared by the kernel tests. */

import assert from "node:assert/strict";

/** The largest magnitude among `xs` (0 for none). */
export function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, Math.abs(xs[i]));
  return m;
}

/** Asserts equal lengths and |got[i] − want[i]| ≤ bound for every i, naming the first miss. */
export function assertWithin(
  what: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  bound: number,
): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Math.abs(got[i] - want[i]) <= bound,
      `${what}[${i}]: got ${got[i]}, want ${want[i]}, bound ${bound}`,
    );
  }
}
