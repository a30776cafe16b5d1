import assert from "node:assert/strict";
import { attention, randn, selfAttention, type Tensor, tensor } from "../../lib/tensor/tensor.ts";
import { setSimdAttention, simdAttentionRouted } from "../../lib/tensor/kernels/simd.ts";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";

// The same attention from unfused ops: scores, mask, softmax, weighted sum.
function composed(q: Tensor, k: Tensor, v: Tensor, causal: boolean, scale: number): Tensor {
  const scores = q.matmul(k.transpose()).mul(scale);
  const masked = causal ? scores.tril({ fill: -1e9 }) : scores;
  return masked.softmax().matmul(v);
}

Deno.test("attention equals scores, mask, softmax and weighted sum made of separate ops", () => {
  // The second shape is large enough for every product to run on the SIMD kernel.
  for (const shape of [[2, 3, 5, 4], [1, 2, 40, 16]]) {
    const [q, k, v] = [1, 2, 3].map((seed) => randn(shape, { seed }));
    for (const causal of [true, false]) {
      for (const scale of [1 / Math.sqrt(shape[3]), 0.3]) {
        const fused = attention(q, k, v, { causal, scale });
        const plain = composed(q, k, v, causal, scale);
        assert.deepEqual(fused.shape, plain.shape);
        for (let i = 0; i < fused.size; i++) {
          assert.ok(Math.abs(fused.data[i] - plain.data[i]) <= 1e-12, `${shape} at ${i}`);
        }
      }
    }
  }
});

Deno.test("attention's gradients match the unfused ops' and finite differences", () => {
  const shape = [1, 2, 20, 12]; // 20·12·20 multiply-adds a product: the SIMD path
  const inputs = [4, 5, 6].map((seed) => randn(shape, { seed, requiresGrad: true }));
  const weights = randn(shape, { seed: 7 });
  attention(inputs[0], inputs[1], inputs[2]).mul(weights).sum().backward();
  const fusedGrads = inputs.map((t) => t.grad!.data.slice());
  inputs.forEach((t) => t.zeroGrad());
  composed(inputs[0], inputs[1], inputs[2], true, 1 / Math.sqrt(12)).mul(weights).sum().backward();
  inputs.forEach((t, n) => {
    for (let i = 0; i < t.size; i++) {
      assert.ok(Math.abs(t.grad!.data[i] - fusedGrads[n][i]) <= 1e-11, `input ${n} at ${i}`);
    }
  });
  const small = [8, 9, 10].map((seed) => randn([2, 6, 3], { seed }));
  assert.ok(gradcheckTensor((q, k, v) => attention(q, k, v).mul(small[0]).sum(), small).passed);
});

Deno.test("attention refuses shapes that differ or lack two axes", () => {
  const x = randn([2, 3], { seed: 1 });
  assert.throws(
    () => attention(x, randn([3, 2], { seed: 2 }), x),
    /attention: q \[\.\.\., Tq, d\], k and v \[\.\.\., Tk, d\] do not fit: got \[2,3\], \[3,2\] and \[2,3\]/,
  );
  assert.throws(() => attention(tensor([1, 2]), tensor([1, 2]), tensor([1, 2])), RangeError);
  assert.throws(() => attention(x, x, x, { scale: Infinity }), /scale must be finite/);
  assert.throws(
    () => attention(x, x, x, { causal: 1 as unknown as boolean }),
    /causal must be a boolean/,
  );
});

Deno.test("attention of the last queries over every key equals the last rows of the full attention", () => {
  // Large enough (48·16·48) for the SIMD products; then a small one on the plain loop.
  for (const [t, d] of [[48, 16], [5, 3]]) {
    const [q, k, v] = [11, 12, 13].map((seed) => randn([2, 3, t, d], { seed }));
    const full = attention(q, k, v);
    for (const last of [1, 2, t]) {
      const part = attention(q.slice({ axis: 2, start: t - last }), k, v);
      const want = full.slice({ axis: 2, start: t - last });
      assert.deepEqual(part.shape, want.shape);
      for (let i = 0; i < part.size; i++) {
        assert.ok(Math.abs(part.data[i] - want.data[i]) <= 1e-12, `${t}, last ${last}, at ${i}`);
      }
    }
  }
  const [q, k] = [randn([1, 3, 2], { seed: 1 }), randn([1, 2, 2], { seed: 2 })];
  assert.throws(
    () => attention(q, k, k),
    /^RangeError: attention: causal attention of 3 queries needs at least as many keys, got 2$/,
  );
  assert.deepEqual(attention(q, k, k, { causal: false }).shape, [1, 3, 2]);
});

// selfAttention's definition: slice q, k and v out of the fused projection, split each into
// heads, attend, merge the heads back.
function splitAndAttend(qkv: Tensor, heads: number, causal: boolean): Tensor {
  const [batch, time, fused] = qkv.shape;
  const width = fused / 3;
  const part = (start: number) =>
    qkv.slice({ axis: 2, start, end: start + width })
      .reshape([batch, time, heads, width / heads])
      .permute([0, 2, 1, 3]);
  return attention(part(0), part(width), part(2 * width), { causal })
    .permute([0, 2, 1, 3])
    .reshape([batch, time, width]);
}

Deno.test("selfAttention equals slicing, splitting heads, attention and merging, with gradients", () => {
  // The reference path (the batched SIMD kernel has its own exp and order of sums; its
  // property test holds it to the reference kernels within an error bound).
  setSimdAttention(false);
  try {
    selfAttentionEqualsItsDefinition();
  } finally {
    setSimdAttention(true);
  }
  // Gradients checked on both paths.
  const small = randn([2, 3, 6], { seed: 12 });
  const weights = randn([2, 3, 2], { seed: 13 });
  for (const kernel of [true, false]) {
    setSimdAttention(kernel);
    try {
      assert.equal(simdAttentionRouted(3, 3, "float64"), kernel);
      assert.ok(
        gradcheckTensor((x) => selfAttention(x, { heads: 2 }).mul(weights).sum(), [small]).passed,
        `kernel ${kernel}`,
      );
    } finally {
      setSimdAttention(true);
    }
  }
});

function selfAttentionEqualsItsDefinition() {
  for (const [shape, heads] of [[[2, 5, 12], 2], [[3, 16, 192], 4], [[1, 4, 9], 3]] as const) {
    for (const causal of [true, false]) {
      const qkv = randn([...shape], { seed: shape[1] + heads, requiresGrad: true });
      const weights = randn([shape[0], shape[1], shape[2] / 3], { seed: 11 });
      const fused = selfAttention(qkv, { heads, causal });
      fused.mul(weights).sum().backward();
      const fusedGrad = qkv.grad!.data.slice();
      qkv.zeroGrad();
      const plain = splitAndAttend(qkv, heads, causal);
      plain.mul(weights).sum().backward();
      assert.deepEqual(fused.shape, plain.shape);
      // The same kernels on the same numbers: equal bit for bit.
      assert.deepEqual(Array.from(fused.data), Array.from(plain.data), `${shape} ${heads}`);
      assert.deepEqual(Array.from(fusedGrad), Array.from(qkv.grad!.data), `${shape} ${heads}`);
    }
  }
}

Deno.test("selfAttention keeps float32 storage and refuses bad heads and shapes", () => {
  const qkv = randn([1, 3, 12], { seed: 1, dtype: "float32" });
  assert.equal(selfAttention(qkv, { heads: 2 }).dtype, "float32");
  assert.throws(
    () => selfAttention(qkv, { heads: 3 }),
    /^RangeError: selfAttention: the last axis of qkv \[1,3,12\] must be 3·C with C a multiple of heads \(3\): 12 is not a multiple of 9$/,
  );
  assert.throws(() => selfAttention(qkv, { heads: 0 }), /heads must be a whole number ≥ 1, got 0/);
  assert.throws(() => selfAttention(qkv, { heads: 1.5 }), /got 1\.5/);
  assert.throws(
    () => selfAttention(tensor([1, 2, 3]), { heads: 1 }),
    /must be \[\.\.\., T, 3C\], got \[3\]/,
  );
  assert.throws(() => selfAttention(qkv, { heads: 1, scale: NaN }), /scale must be finite/);
  assert.throws(
    () => selfAttention(qkv, { heads: 1, causal: "yes" as unknown as boolean }),
    /^TypeError: selfAttention: causal must be a boolean/,
  );
  assert.throws(() => selfAttention(3 as unknown as Tensor, { heads: 1 }), TypeError);
});
