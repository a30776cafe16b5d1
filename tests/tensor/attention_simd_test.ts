// The batched SIMD attention kernels (lib/tensor/kernels/_attention_module.ts, called through
// kernels/simd.ts) against the reference kernels of _attention.ts, on random shapes: several
// leading positions and heads read in place from wider rows, Tq ≤ Tk, head sizes and key
// counts odd and even (the vectors hold two), causal or not, float64 and float32 storage.

import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { attentionBackward, attentionForward } from "../../lib/tensor/kernels/_attention.ts";
import {
  type AttentionHeads,
  setSimdAttention,
  simdAttention,
  simdAttentionRouted,
} from "../../lib/tensor/kernels/simd.ts";
import { EPSILON, type FloatArray } from "../../lib/tensor/_dtype.ts";
import { assertWithin, maxAbs } from "./_within.ts";

type DType = "float64" | "float32";

const problem = fc.record({
  outer: fc.integer({ min: 1, max: 3 }),
  heads: fc.integer({ min: 1, max: 3 }),
  tq: fc.integer({ min: 1, max: 20 }),
  extraKeys: fc.integer({ min: 0, max: 5 }),
  d: fc.integer({ min: 1, max: 19 }),
  // Columns before the heads in a row, as k and v sit after q in a fused projection.
  column: fc.integer({ min: 0, max: 3 }),
  causal: fc.boolean(),
  scale: fc.constantFrom(undefined, 0.7),
  dtype: fc.constantFrom<DType>("float64", "float32"),
  seed: fc.integer({ min: 0, max: 1e9 }),
});

function draws(length: number, seed: number, dtype: DType): FloatArray {
  let s = seed >>> 0;
  const values = Array.from({ length }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 4 * (s / 2 ** 32) - 2;
  });
  return dtype === "float32" ? Float32Array.from(values) : Float64Array.from(values);
}

/** The [batch, rows, d] array of the heads of `from` (the reference kernels' layout). */
function split(from: AttentionHeads, outer: number, rows: number, d: number): FloatArray {
  const { data, heads, rowWidth, column } = from;
  const out = data instanceof Float32Array
    ? new Float32Array(outer * heads * rows * d)
    : new Float64Array(outer * heads * rows * d);
  for (let o = 0, i = 0; o < outer; o++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < rows; t++) {
        for (let e = 0; e < d; e++, i++) {
          out[i] = data[(o * rows + t) * rowWidth + column + h * d + e];
        }
      }
    }
  }
  return out;
}

Deno.test("the batched SIMD attention kernels agree with the reference kernels", () => {
  fc.assert(
    fc.property(problem, (p) => {
      const { outer, heads, tq, d, column, causal, dtype, seed } = p;
      const tk = tq + p.extraKeys;
      const batch = outer * heads, width = heads * d;
      const scale = p.scale ?? 1 / Math.sqrt(d);
      const sizes = { batch, tq, tk, d, scale, causal };
      // Queries and gradients in rows of [column pad | heads], keys and values side by side.
      const qRows = draws(outer * tq * (column + width), seed, dtype);
      const kvRows = draws(outer * tk * (column + 2 * width), seed + 1, dtype);
      const gRows = draws(outer * tq * width, seed + 2, dtype);
      const q = { data: qRows, heads, rowWidth: column + width, column };
      const k = { data: kvRows, heads, rowWidth: column + 2 * width, column };
      const v = { data: kvRows, heads, rowWidth: column + 2 * width, column: column + width };
      const g = { data: gRows, heads, rowWidth: width, column: 0 };
      const like = (n: number) => dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
      const out = { data: like(outer * tq * width), heads, rowWidth: width, column: 0 };
      simdAttention.forward(q, k, v, out, sizes);

      const [rq, rk, rv, rg] = [split(q, outer, tq, d), split(k, outer, tk, d)].concat([
        split(v, outer, tk, d),
        split(g, outer, tq, d),
      ]);
      const want = attentionForward(rq, rk, rv, sizes);
      // Bounds: each path is within a worst-case error bound of the exact result (the
      // reference computing in the storage's precision, the kernel in float64 and rounding
      // each stored result once), so they are within the sum. Per path, as in
      // attention_kernel_test.ts: |S| ≤ a, |G·Vᵀ| ≤ gv; a score error δ moves P by ≤ 2δ in
      // sum; each result is a chain of folds of at most tk + d terms, each rounded with u.
      const u = EPSILON[dtype] + EPSILON.float64, n = tk + d + 4;
      const [mq, mk, mv, mg] = [rq, rk, rv, rg].map(maxAbs);
      const a = scale * d * mq * mk, gv = d * mg * mv, spread = 1 + 2 * a;
      assertWithin("out", split(out, outer, tq, d), want.out, n * u * mv * spread);
      const gx = { data: like(outer * tk * (column + 2 * width)), heads, column };
      const dq = { data: like(outer * tq * (column + width)), heads, rowWidth: column + width };
      const dqHeads = { ...dq, column };
      const dkHeads = { ...gx, rowWidth: column + 2 * width };
      const dvHeads = { ...dkHeads, column: column + width };
      simdAttention.backward(g, q, k, v, sizes, dqHeads, dkHeads, dvHeads);
      const [wq, wk, wv] = attentionBackward(rg, rq, rk, rv, want.probs, sizes, [
        true,
        true,
        true,
      ]);
      assertWithin("∂v", split(dvHeads, outer, tk, d), wv!, n * u * tq * mg * spread);
      assertWithin(
        "∂q",
        split(dqHeads, outer, tq, d),
        wq!,
        n * u * scale * tk * 2 * gv * mk * spread,
      );
      assertWithin(
        "∂k",
        split(dkHeads, outer, tk, d),
        wk!,
        n * u * scale * tq * 2 * gv * mq * spread,
      );
      // The kernel writes only the heads: the columns before them stay as they were (0).
      for (let r = 0; r < outer * tk; r++) {
        for (let c = 0; c < column; c++) assert.equal(gx.data[r * (column + 2 * width) + c], 0);
      }
    }),
    { numRuns: 80 },
  );
});

Deno.test("setSimdAttention turns the kernel's routing off and on, and refuses a non-boolean", () => {
  assert.ok(simdAttentionRouted(16, 16));
  setSimdAttention(false);
  try {
    assert.ok(!simdAttentionRouted(16, 16));
  } finally {
    setSimdAttention(true);
  }
  assert.ok(!simdAttentionRouted(100_000, 16));
  assert.throws(
    () => setSimdAttention("no" as unknown as boolean),
    /TypeError: setSimdAttention.*no/,
  );
});
