import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { attentionBackward, attentionForward } from "../../lib/tensor/kernels/_attention.ts";
import { SMALL_PRODUCT } from "../../lib/tensor/kernels/_product.ts";
import { EPSILON } from "../../lib/tensor/_dtype.ts";
import { assertWithin, maxAbs } from "./_within.ts";

// Attention's kernels on float32 arrays (float32 products, on the SIMD kernel from
// SMALL_PRODUCT multiply-adds) against the same kernels in float64 on the same numbers.
const problem = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  tq: fc.integer({ min: 1, max: 24 }),
  extraKeys: fc.integer({ min: 0, max: 6 }),
  d: fc.integer({ min: 1, max: 20 }),
  causal: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1e9 }),
});

function draws(length: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 4 * (s / 2 ** 32) - 2;
  });
}

Deno.test("attention's kernels in float32 agree with float64 within float32's error bound", () => {
  let large = 0;
  fc.assert(
    fc.property(problem, ({ batch, tq, extraKeys, d, causal, seed }) => {
      const tk = tq + extraKeys;
      const sizes = { batch, tq, tk, d, scale: 1 / Math.sqrt(d), causal };
      if (tq * d * tk >= SMALL_PRODUCT) large++;
      const [q, k, v] = [0, 1, 2].map((i) => draws(batch * (i === 0 ? tq : tk) * d, seed + i));
      const g = draws(batch * tq * d, seed + 3);
      const wide = [q, k, v, g].map((x) => Float64Array.from(x));
      const single = attentionForward(q, k, v, sizes);
      const double = attentionForward(wide[0], wide[1], wide[2], sizes);
      assert.ok(single.out instanceof Float32Array && single.probs instanceof Float32Array);
      // Worst-case magnitudes: |S| ≤ a, |G·Vᵀ| ≤ gv; a score error δ moves P by ≤ 2δ in sum.
      // Each result is a chain of folds of at most tk + d terms, each term rounded with u.
      const u = EPSILON.float32, n = tk + d + 4;
      const [mq, mk, mv, mg] = [q, k, v, g].map(maxAbs);
      const a = sizes.scale * d * mq * mk, gv = d * mg * mv, spread = 1 + 2 * a;
      assertWithin("out", single.out, double.out, n * u * mv * spread);
      const [dq, dk, dv] = attentionBackward(g, q, k, v, single.probs, sizes, [true, true, true]);
      const want = attentionBackward(wide[3], wide[0], wide[1], wide[2], double.probs, sizes, [
        true,
        true,
        true,
      ]);
      assert.ok(dq instanceof Float32Array && dk instanceof Float32Array);
      assertWithin("∂v", dv!, want[2]!, n * u * tq * mg * spread);
      assertWithin("∂q", dq!, want[0]!, n * u * sizes.scale * tk * 2 * gv * mk * spread);
      assertWithin("∂k", dk!, want[1]!, n * u * sizes.scale * tq * 2 * gv * mq * spread);
    }),
    { numRuns: 60 },
  );
  assert.ok(large > 5, `only ${large} problems reached the SIMD products`);
});
