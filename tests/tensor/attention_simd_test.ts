// The batched SIMD attention kernels (lib/tensor/kernels/_attention_module.ts, called through
// kernels/simd.ts) against the reference kernels of _attention.ts, on random shapes: several
// leading positions and heads read in place from wider rows, Tq ≤ Tk, head sizes and key
// counts of every remainder by 2 and by 4 (the float64 vectors hold two, the float32 four),
// causal or not, float64 and float32 storage (the float32 kernels computing in float32).

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

/** Problems with at most `outer` leading positions, queries in `tq` and head sizes in `d`. */
const problemOf = (
  { outer, tq, d }: { outer: number; tq: [number, number]; d: [number, number] },
) =>
  fc.record({
    outer: fc.integer({ min: 1, max: outer }),
    heads: fc.integer({ min: 1, max: 3 }),
    tq: fc.integer({ min: tq[0], max: tq[1] }),
    extraKeys: fc.integer({ min: 0, max: 5 }),
    d: fc.integer({ min: d[0], max: d[1] }),
    // Columns before the heads in a row, as k and v sit after q in a fused projection.
    column: fc.integer({ min: 0, max: 3 }),
    causal: fc.boolean(),
    scale: fc.constantFrom(undefined, 0.7),
    dtype: fc.constantFrom<DType>("float64", "float32"),
    seed: fc.integer({ min: 0, max: 1e9 }),
  });
/** Every remainder of T and d by the vector widths, on small problems. */
const problem = problemOf({ outer: 3, tq: [1, 20], d: [1, 19] });
/** The sizes float32 is routed up to (SIMD_ATTENTION_UP_TO): T to 64 keys, d to 64. */
const largeProblem = problemOf({ outer: 1, tq: [30, 59], d: [20, 64] });

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
  fc.assert(fc.property(problem, agreesWithReference), { numRuns: 80 });
});

Deno.test("the batched SIMD attention kernels agree with the reference kernels on large heads", () => {
  fc.assert(fc.property(largeProblem, agreesWithReference), { numRuns: 20 });
});

/** Runs one problem on the kernels and on the reference kernels and compares them. */
function agreesWithReference(p: {
  outer: number;
  heads: number;
  tq: number;
  extraKeys: number;
  d: number;
  column: number;
  causal: boolean;
  scale: number | undefined;
  dtype: DType;
  seed: number;
}): void {
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
  const probs = simdAttention.forward(q, k, v, out, sizes);
  assert.equal(probs instanceof Float32Array, dtype === "float32");

  const [rq, rk, rv, rg] = [split(q, outer, tq, d), split(k, outer, tk, d)].concat([
    split(v, outer, tk, d),
    split(g, outer, tq, d),
  ]);
  const want = attentionForward(rq, rk, rv, sizes);
  // Bounds: each path is within a worst-case error bound of the exact result, both
  // computing in the storage's precision (the float32 kernels in float32 lanes), so they
  // are within the sum: u = 2·EPSILON[dtype]. Per path, as in attention_kernel_test.ts:
  // |S| ≤ a, |G·Vᵀ| ≤ gv; a score error δ moves P by ≤ 2δ in sum; each result is a chain
  // of folds of at most tk + d terms, each rounded with EPSILON, and ≤ 4 roundings more:
  // the scale's product, P's division by its sum (the sum in float64, rounded once),
  // and the float32 kernels' exp, within 3·2⁻²⁴ = 1.5·EPSILON (see emitExp32).
  const u = 2 * EPSILON[dtype], n = tk + d + 4;
  const [mq, mk, mv, mg] = [rq, rk, rv, rg].map(maxAbs);
  const a = scale * d * mq * mk, gv = d * mg * mv, spread = 1 + 2 * a;
  assertWithin("out", split(out, outer, tq, d), want.out, n * u * mv * spread);
  const gx = { data: like(outer * tk * (column + 2 * width)), heads, column };
  const dq = { data: like(outer * tq * (column + width)), heads, rowWidth: column + width };
  const dqHeads = { ...dq, column };
  const dkHeads = { ...gx, rowWidth: column + 2 * width };
  const dvHeads = { ...dkHeads, column: column + width };
  simdAttention.backward(g, q, k, v, sizes, dqHeads, dkHeads, dvHeads, probs);
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
  if (probs !== null) {
    // Without forward's probabilities, backward has them computed again: the same bits.
    const dqAgain = { ...dqHeads, data: like(dqHeads.data.length) };
    const gxAgain = like(gx.data.length);
    const [dkAgain, dvAgain] = [dkHeads, dvHeads].map((h) => ({ ...h, data: gxAgain }));
    simdAttention.backward(g, q, k, v, sizes, dqAgain, dkAgain, dvAgain);
    assert.deepEqual(dqAgain.data, dqHeads.data);
    assert.deepEqual(gxAgain, gx.data);
  }
}

Deno.test("setSimdAttention turns the kernel's routing off and on, and refuses a non-boolean", () => {
  assert.ok(simdAttentionRouted(16, 16, "float64"));
  assert.ok(simdAttentionRouted(64, 32, "float32"));
  assert.ok(!simdAttentionRouted(64, 32, "float64"));
  setSimdAttention(false);
  try {
    assert.ok(!simdAttentionRouted(16, 16, "float64"));
    assert.ok(!simdAttentionRouted(16, 16, "float32"));
  } finally {
    setSimdAttention(true);
  }
  assert.ok(!simdAttentionRouted(100_000, 16, "float32"));
  assert.throws(
    () => setSimdAttention("no" as unknown as boolean),
    /TypeError: setSimdAttention.*no/,
  );
});

Deno.test("the float32 kernels agree with the float64 reference within float32's error bound", () => {
  fc.assert(
    fc.property(problem, (p) => {
      const { outer, heads, tq, d, causal, seed } = p;
      const tk = tq + p.extraKeys;
      const batch = outer * heads, width = heads * d;
      const scale = p.scale ?? 1 / Math.sqrt(d);
      const sizes = { batch, tq, tk, d, scale, causal };
      // q | k | v side by side, as in a fused projection, and ∂L/∂O.
      const qkv = draws(outer * tk * 3 * width, seed, "float32");
      const grad = draws(outer * tq * width, seed + 1, "float32");
      const heads32 = (data: FloatArray, rowWidth: number, column: number) => ({
        data,
        heads,
        rowWidth,
        column,
      });
      // Queries: the last tq of the tk positions' q (an array of their own).
      const qRows = new Float32Array(outer * tq * width);
      for (let o = 0; o < outer; o++) {
        for (let t = 0; t < tq; t++) {
          const from = (o * tk + tk - tq + t) * 3 * width;
          qRows.set(qkv.subarray(from, from + width), (o * tq + t) * width);
        }
      }
      const q = heads32(qRows, width, 0);
      const k = heads32(qkv, 3 * width, width), v = heads32(qkv, 3 * width, 2 * width);
      const g = heads32(grad, width, 0);
      const out = heads32(new Float32Array(outer * tq * width), width, 0);
      const probs = simdAttention.forward(q, k, v, out, sizes);
      const dq = heads32(new Float32Array(qRows.length), width, 0);
      const dkv = new Float32Array(qkv.length);
      const [dk, dv] = [heads32(dkv, 3 * width, width), heads32(dkv, 3 * width, 2 * width)];
      simdAttention.backward(g, q, k, v, sizes, dq, dk, dv, probs);
      // The reference in float64 on the same numbers.
      const [rq, rk, rv, rg] = [split(q, outer, tq, d), split(k, outer, tk, d)].concat([
        split(v, outer, tk, d),
        split(g, outer, tq, d),
      ]).map((x) => Float64Array.from(x));
      const want = attentionForward(rq, rk, rv, sizes);
      const [wq, wk, wv] = attentionBackward(rg, rq, rk, rv, want.probs, sizes, [
        true,
        true,
        true,
      ]);
      // One path in float32 (the kernels: as above, n·EPSILON.float32 per unit of the
      // magnitudes), the other in float64.
      const u = EPSILON.float32 + EPSILON.float64, n = tk + d + 4;
      const [mq, mk, mv, mg] = [rq, rk, rv, rg].map(maxAbs);
      const a = scale * d * mq * mk, gv = d * mg * mv, spread = 1 + 2 * a;
      assertWithin("out", split(out, outer, tq, d), want.out, n * u * mv * spread);
      assertWithin("∂v", split(dv, outer, tk, d), wv!, n * u * tq * mg * spread);
      assertWithin("∂q", split(dq, outer, tq, d), wq!, n * u * scale * tk * 2 * gv * mk * spread);
      assertWithin("∂k", split(dk, outer, tk, d), wk!, n * u * scale * tq * 2 * gv * mq * spread);
      // The kernels wrote k's and v's gradients alone: q's third of each row stays 0.
      for (let r = 0; r < outer * tk; r++) {
        for (let c = 0; c < width; c++) assert.equal(dkv[r * 3 * width + c], 0);
      }
    }),
    { numRuns: 60 },
  );
});

Deno.test("the float32 kernels make a query's row NaN where a score overflows, as the reference does", () => {
  // T = 2, d = 4, one head: q·k of the second query and the first key overflows float32.
  const sizes = { batch: 1, tq: 2, tk: 2, d: 4, scale: 0.5, causal: true };
  const q = new Float32Array([1, 0, 0, 0, 3e38, 0, 0, 0]);
  const k = new Float32Array([3e38, 0, 0, 0, 1, 1, 1, 1]);
  const v = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const at = (data: Float32Array) => ({ data, heads: 1, rowWidth: 4, column: 0 });
  const out = new Float32Array(8);
  simdAttention.forward(at(q), at(k), at(v), at(out), sizes);
  const want = attentionForward(q, k, v, sizes).out;
  assert.ok(want.slice(4).every(Number.isNaN) && !want.slice(0, 4).some(Number.isNaN));
  assert.deepEqual(Array.from(out, Number.isNaN), Array.from(want, Number.isNaN));
  assert.deepEqual(Array.from(out.slice(0, 4)), [1, 2, 3, 4]); // the first sees only key 0
});

Deno.test("simdAttention.backward refuses float32 probabilities of the wrong length", () => {
  const sizes = { batch: 1, tq: 2, tk: 2, d: 1, scale: 1, causal: true };
  const at = () => ({ data: new Float32Array(2), heads: 1, rowWidth: 1, column: 0 });
  assert.throws(
    () =>
      simdAttention.backward(at(), at(), at(), at(), sizes, at(), at(), at(), new Float32Array(3)),
    /RangeError: simdAttention.backward: probs must hold 8 values, got 3/,
  );
});

Deno.test("the float32 kernels' probabilities are within 8 float32 roundoffs of softmax's where the scores are exact", () => {
  // Whole-number q and k, d ≤ 19, and a power-of-2 scale: every score is exact in float32,
  // as is S − max, so P's error is the kernels' alone. With u = 2⁻²⁴: e = eˣ·(1 + η), |η| ≤
  // 3u (emitExp32); their sum in float64 (error below 0.01u for these few terms), rounded
  // to float32 (u); the division (u): P = P*·(1 + η)(1 + ρ)/((1 + η̄)(1 + τ)), within
  // 8.1u·P*; and where x < −87, e is e⁻⁸⁷ in place of 0 … e⁻⁸⁷: 2·10⁻³⁸ more.
  const whole = fc.record({
    outer: fc.integer({ min: 1, max: 2 }),
    heads: fc.integer({ min: 1, max: 3 }),
    tq: fc.integer({ min: 1, max: 20 }),
    extraKeys: fc.integer({ min: 0, max: 5 }),
    d: fc.integer({ min: 1, max: 19 }),
    causal: fc.boolean(),
    scale: fc.constantFrom(1, 0.5, 0.125),
    range: fc.constantFrom(1, 3, 8),
    seed: fc.integer({ min: 0, max: 1e9 }),
  });
  fc.assert(
    fc.property(whole, ({ outer, heads, tq, extraKeys, d, causal, scale, range, seed }) => {
      const tk = tq + extraKeys, batch = outer * heads, width = heads * d;
      const sizes = { batch, tq, tk, d, scale, causal };
      const wholeDraws = (length: number, s: number) =>
        Float32Array.from(draws(length, s, "float64"), (x) => Math.round(x * range / 2));
      const q = { data: wholeDraws(outer * tq * width, seed), heads, rowWidth: width, column: 0 };
      const kv = wholeDraws(outer * tk * 2 * width, seed + 1);
      const k = { data: kv, heads, rowWidth: 2 * width, column: 0 };
      const v = { data: kv, heads, rowWidth: 2 * width, column: width };
      const out = { data: new Float32Array(outer * tq * width), heads, rowWidth: width, column: 0 };
      const probs = simdAttention.forward(q, k, v, out, sizes)!;
      let rows = 0;
      for (let i = 0; i < tq; i++) rows += ((causal ? i + 1 + tk - tq : tk) + 3) & ~3;
      assert.equal(probs.length, batch * rows);
      const [rq, rk] = [split(q, outer, tq, d), split(k, outer, tk, d)];
      // P's rows one after another, each the keys seen rounded up to a multiple of 4.
      const u = EPSILON.float32 / 2;
      let row = 0;
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < tq; i++) {
          const seen = causal ? i + 1 + tk - tq : tk;
          const scores = Array.from({ length: seen }, (_, j) => {
            let dot = 0;
            for (let p = 0; p < d; p++) dot += rq[(b * tq + i) * d + p] * rk[(b * tk + j) * d + p];
            return scale * dot;
          });
          const max = Math.max(...scores);
          const e = scores.map((x) => Math.exp(x - max));
          const total = e.reduce((sum, x) => sum + x, 0);
          for (let j = 0; j < seen; j++) {
            const want = e[j] / total, got = probs[row + j];
            assert.ok(
              Math.abs(got - want) <= 8.1 * u * want + 2e-38,
              `P[${b}, ${i}, ${j}]: got ${got}, want ${want}`,
            );
          }
          row += (seen + 3) & ~3;
        }
      }
    }),
    { numRuns: 60 },
  );
});
