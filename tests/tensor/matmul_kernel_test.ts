import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import {
  addColumnSums,
  K_TILE,
  matmulAccumulateKernel,
  matmulKernel,
  N_TILE,
} from "../../lib/tensor/_matmul.ts";

// The definition, written as plainly as possible: out[i,j] = Σ_p a[i,p]·b[p,j], a left fold
// from 0 over p in increasing order (the kernel promises that order, so results match bit
// for bit).
function naiveMatmul(
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
  aOffset: number,
  bOffset: number,
  initial?: Float64Array,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = initial === undefined ? 0 : initial[i * n + j];
      for (let p = 0; p < k; p++) sum += a[aOffset + i * k + p] * b[bOffset + p * n + j];
      out[i * n + j] = sum;
    }
  }
  return out;
}

function filled(length: number, seed: number): Float64Array {
  // Values with many significant bits, so that a change in summation order would show.
  const data = new Float64Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(1664525, s) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32) * 4 - 2;
  }
  return data;
}

const SENTINEL = 12345.5;

const case_ = fc.record({
  m: fc.integer({ min: 1, max: 24 }),
  k: fc.integer({ min: 1, max: K_TILE + 40 }),
  n: fc.integer({ min: 1, max: N_TILE + 40 }),
  aOffset: fc.integer({ min: 0, max: 5 }),
  bOffset: fc.integer({ min: 0, max: 5 }),
  outOffset: fc.integer({ min: 0, max: 5 }),
  slack: fc.integer({ min: 0, max: 3 }),
  seed: fc.integer({ min: 0, max: 0xffffffff }),
});

Deno.test("matmulKernel", async (t) => {
  await t.step("equals the naive triple loop bit for bit on drawn sizes and offsets", () => {
    fc.assert(
      fc.property(case_, ({ m, k, n, aOffset, bOffset, outOffset, slack, seed }) => {
        const a = filled(aOffset + m * k + slack, seed);
        const b = filled(bOffset + k * n + slack, seed ^ 0x5bd1e995);
        const out = new Float64Array(outOffset + m * n + slack).fill(SENTINEL);
        matmulKernel(a, b, out, m, k, n, aOffset, bOffset, outOffset);
        const expected = naiveMatmul(a, b, m, k, n, aOffset, bOffset);
        for (let i = 0; i < outOffset; i++) assert.equal(out[i], SENTINEL);
        for (let i = 0; i < m * n; i++) assert.equal(out[outOffset + i], expected[i]);
        for (let i = outOffset + m * n; i < out.length; i++) assert.equal(out[i], SENTINEL);
      }),
      { numRuns: 200 },
    );
  });

  await t.step("matmulAccumulateKernel folds A·B onto the previous contents of out", () => {
    fc.assert(
      fc.property(case_, ({ m, k, n, aOffset, bOffset, outOffset, slack, seed }) => {
        const a = filled(aOffset + m * k + slack, seed);
        const b = filled(bOffset + k * n + slack, seed ^ 0x5bd1e995);
        const out = filled(outOffset + m * n + slack, seed ^ 0x2545f491);
        const before = out.slice();
        const initial = before.slice(outOffset, outOffset + m * n);
        matmulAccumulateKernel(a, b, out, m, k, n, aOffset, bOffset, outOffset);
        const expected = naiveMatmul(a, b, m, k, n, aOffset, bOffset, initial);
        for (let i = 0; i < outOffset; i++) assert.equal(out[i], before[i]);
        for (let i = 0; i < m * n; i++) assert.equal(out[outOffset + i], expected[i]);
        for (let i = outOffset + m * n; i < out.length; i++) assert.equal(out[i], before[i]);
      }),
      { numRuns: 100 },
    );
  });

  await t.step("a bias-initialised accumulate gives the layer fold b + w0·x0 + w1·x1 + …", () => {
    // 3 samples × 5 inputs times 5 inputs × 2 neurons, with out starting from the bias.
    const x = filled(15, 3);
    const w = filled(10, 4);
    const bias = [0.1, -0.7];
    const out = new Float64Array(6);
    for (let i = 0; i < 3; i++) out.set(bias, 2 * i);
    matmulAccumulateKernel(x, w, out, 3, 5, 2);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        let act = bias[j];
        for (let p = 0; p < 5; p++) act = act + w[p * 2 + j] * x[i * 5 + p];
        assert.equal(out[i * 2 + j], act);
      }
    }
  });

  await t.step("handles the degenerate shapes 1×1, m = 1, k = 1, n = 1", () => {
    for (const [m, k, n] of [[1, 1, 1], [1, 7, 5], [6, 1, 9], [8, 3, 1], [1, 1, 70], [70, 1, 1]]) {
      const a = filled(m * k, m + 10 * k);
      const b = filled(k * n, n);
      const out = new Float64Array(m * n).fill(SENTINEL);
      matmulKernel(a, b, out, m, k, n);
      assert.deepEqual(out, naiveMatmul(a, b, m, k, n, 0, 0), `${m}×${k}·${k}×${n}`);
    }
  });

  await t.step("overwrites the previous contents of out", () => {
    const a = new Float64Array([1, 2]);
    const b = new Float64Array([3, 4]);
    const out = new Float64Array([99]);
    matmulKernel(a, b, out, 1, 2, 1);
    assert.equal(out[0], 11);
  });

  await t.step("writes zeros when k = 0 and nothing when m or n = 0", () => {
    const out = new Float64Array(6).fill(SENTINEL);
    matmulKernel(new Float64Array(0), new Float64Array(0), out, 2, 0, 3);
    assert.deepEqual(out, new Float64Array(6));
    const untouched = new Float64Array(2).fill(SENTINEL);
    matmulKernel(new Float64Array(0), new Float64Array(6), untouched, 0, 2, 3);
    matmulKernel(new Float64Array(6), new Float64Array(0), untouched, 3, 2, 0);
    assert.deepEqual(untouched, new Float64Array(2).fill(SENTINEL));
  });

  await t.step("matches the naive loop on sizes larger than any cache tile", () => {
    const sizes = [[67, 3 * K_TILE + 5, N_TILE + 6], [2 * 4 + 1, 2 * K_TILE, 2 * N_TILE + 3]];
    for (const [m, k, n] of sizes) {
      const a = filled(m * k, 1);
      const b = filled(k * n, 2);
      const out = new Float64Array(m * n);
      matmulKernel(a, b, out, m, k, n);
      assert.deepEqual(out, naiveMatmul(a, b, m, k, n, 0, 0), `${m}×${k}·${k}×${n}`);
    }
  });

  await t.step("refuses bad sizes, offsets and short arrays with a RangeError", () => {
    const a = new Float64Array(6);
    const b = new Float64Array(6);
    const out = new Float64Array(4);
    const cases: [() => void, RegExp][] = [
      [() => matmulKernel(a, b, out, -1, 3, 2), /matmulKernel: m must be .* got -1/],
      [() => matmulKernel(a, b, out, 2, 1.5, 2), /matmulKernel: k must be .* got 1.5/],
      [() => matmulKernel(a, b, out, 2, 3, NaN), /matmulKernel: n must be .* got NaN/],
      [() => matmulKernel(a, b, out, 2, 3, 2, -1), /aOffset must be .* got -1/],
      [() => matmulKernel(a, b, out, 2, 3, 2, 0, 0.5), /bOffset must be .* got 0.5/],
      [() => matmulKernel(a, b, out, 2, 3, 2, 0, 0, Infinity), /outOffset must be .*Infinity/],
      [() => matmulKernel(a, b, out, 2, 3, 2, 1), /a needs 7 elements .* has 6/],
      [() => matmulKernel(a, b, out, 2, 3, 2, 0, 2), /b needs 8 elements .* has 6/],
      [() => matmulKernel(a, b, out, 2, 3, 2, 0, 0, 1), /out needs 5 elements .* has 4/],
    ];
    const shared = new Float64Array(20);
    const view = new Float64Array(shared.buffer, 8 * 10, 6);
    cases.push(
      [() => matmulKernel(shared, b, shared, 2, 3, 2, 0, 0, 5), /out overlaps a/],
      [() => matmulKernel(a, shared, shared, 2, 3, 2, 0, 3, 8), /out overlaps b/],
      [() => matmulKernel(view, b, shared, 2, 3, 2, 0, 0, 13), /out overlaps a/],
      [() => matmulAccumulateKernel(a, b, out, 2, 3, 2, 0, 0, 3), /^matmulAccumulateKernel: out/],
    );
    for (const [call, message] of cases) {
      const before = out.slice();
      assert.throws(call, (error: unknown) => {
        assert.ok(error instanceof RangeError);
        assert.match(error.message, message);
        return true;
      });
      assert.deepEqual(out, before, "out is untouched when the call is refused");
    }
  });

  await t.step("accepts disjoint ranges of one buffer", () => {
    const shared = new Float64Array([1, 2, 3, 4, 0, 0]);
    matmulKernel(shared, shared, shared, 1, 2, 1, 0, 2, 4); // [1,2]·[3,4]ᵀ into shared[4]
    assert.equal(shared[4], 11);
    assert.equal(shared[5], 0);
    shared[5] = 7;
    matmulKernel(shared, shared, shared, 1, 0, 1, 5, 5, 5); // empty A and B at out's position
    assert.equal(shared[5], 0);
  });
});

Deno.test("addColumnSums equals the plain double loop bit for bit, from float32 or float64", () => {
  // Row counts on both sides of the eight-row passes (and none). Values with all 53 bits
  // (thirds) and scaled by 2^-40 … 2^40, so that float64 sums of them (float32 ones too)
  // round, and a change in the order of the additions shows.
  const spread = (values: Float64Array) =>
    values.map((v, i) => (v / 3) * 2 ** ((Math.imul(i + 1, 2654435761) >>> 0) % 81 - 40));
  const sizes = fc.record({
    rows: fc.integer({ min: 0, max: 40 }),
    n: fc.integer({ min: 1, max: 37 }),
    float32: fc.boolean(),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
  });
  fc.assert(
    fc.property(sizes, ({ rows, n, float32, seed }) => {
      const wide = spread(filled(rows * n, seed));
      const g = float32 ? Float32Array.from(wide) : wide;
      const start = spread(filled(n, seed ^ 0x9e3779b9));
      const expected = start.slice();
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < n; j++) expected[j] += g[r * n + j];
      }
      const out = start.slice();
      addColumnSums(g, rows, n, out);
      assert.deepEqual(out, expected, `${rows}×${n} float32=${float32}`);
    }),
    { numRuns: 200 },
  );
});
