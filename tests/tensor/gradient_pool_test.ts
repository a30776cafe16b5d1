import assert from "node:assert/strict";
import {
  attention,
  crossEntropy,
  gather,
  layerNorm,
  linear,
  randn,
  selfAttention,
  type Tensor,
  tensor,
} from "../../lib/tensor/tensor.ts";
import {
  float32GradientArrayToOverwrite,
  gradientArray,
  pooledGradientElements,
  releaseGradientArrays,
} from "../../lib/tensor/_gradient_pool.ts";

/** A small transformer-like step: every op whose backward draws from the pool. */
function makeModel(dtype: "float64" | "float32") {
  const p = (shape: number[], seed: number) => randn(shape, { seed, requiresGrad: true, dtype });
  return {
    table: p([5, 6], 1),
    lnW: p([6], 2),
    lnB: p([6], 3),
    wQkv: p([18, 6], 4),
    bQkv: p([18], 5),
    wOut: p([5, 6], 6),
  };
}
type Model = ReturnType<typeof makeModel>;

function loss(m: Model, ids: number[], targets: number[]): Tensor {
  const x = gather(m.table, ids).reshape([2, 3, 6]);
  const h = layerNorm(x, m.lnW, m.lnB);
  const y = x.add(selfAttention(linear(h, m.wQkv, m.bQkv), { heads: 2 })).gelu().mul(x);
  return crossEntropy(linear(y, m.wOut).reshape([6, 5]), targets);
}

const batches = [
  { ids: [0, 1, 2, 3, 4, 0], targets: [1, 2, 3, 4, 0, 1] },
  { ids: [4, 4, 1, 0, 2, 3], targets: [0, 0, 2, 2, 4, 3] },
  { ids: [2, 3, 3, 1, 0, 4], targets: [3, 1, 0, 4, 2, 2] },
];

Deno.test("backward without intermediate gradients: the leaves' gradients are the same, step after step", () => {
  for (const dtype of ["float64", "float32"] as const) {
    const kept = makeModel(dtype);
    const pooled = makeModel(dtype);
    const earlier: Float64Array[][] = [];
    for (const { ids, targets } of batches) {
      // Twice per batch without zeroing: the second pass accumulates onto the first.
      for (let pass = 0; pass < 2; pass++) {
        const a = loss(kept, ids, targets);
        a.backward();
        const b = loss(pooled, ids, targets);
        b.backward(undefined, { intermediateGrads: false });
        assert.ok(a.grad !== null && b.grad === null, "only the default pass gives the root one");
        for (const name of Object.keys(kept) as (keyof Model)[]) {
          const want = kept[name].grad!, got = pooled[name].grad!;
          assert.equal(got.dtype, dtype);
          assert.deepEqual(Array.from(got.data), Array.from(want.data), `${dtype} ${name}`);
        }
      }
      // Gradients read out earlier never change (the pool never hands out a leaf's storage).
      earlier.push(Object.values(pooled).map((t) => Float64Array.from(t.grad!.data)));
      const held = Object.values(pooled).map((t) => t.grad!);
      for (const t of [...Object.values(kept), ...Object.values(pooled)]) t.zeroGrad();
      loss(pooled, ids, targets).backward(undefined, { intermediateGrads: false });
      held.forEach((g, i) => assert.deepEqual(Array.from(g.data), Array.from(earlier.at(-1)![i])));
      for (const t of Object.values(pooled)) t.zeroGrad();
    }
    assert.ok(pooledGradientElements() > 0, "the passes gave their arrays back");
  }
});

Deno.test("backward without intermediate gradients twice over one graph: saved values are intact", () => {
  const m = makeModel("float64");
  const { ids, targets } = batches[0];
  const out = loss(m, ids, targets);
  out.backward();
  const once = Object.values(m).map((t) => Array.from(t.grad!.data));
  for (const t of Object.values(m)) t.zeroGrad();
  out.backward(undefined, { intermediateGrads: false });
  // Other graphs' passes in between reuse the first pass's arrays.
  loss(makeModel("float64"), ids, targets).backward(undefined, { intermediateGrads: false });
  out.backward(undefined, { intermediateGrads: false });
  Object.values(m).forEach((t, i) => {
    t.grad!.data.forEach((g, e) =>
      assert.ok(Math.abs(g - 2 * once[i][e]) <= 1e-12 * (1 + Math.abs(g)))
    );
  });
});

Deno.test("an intermediate gradient kept by a default pass is not changed by pooled passes after it", () => {
  const m = makeModel("float64");
  const { ids, targets } = batches[1];
  const x = gather(m.table, ids);
  const h = x.mul(2).tanh();
  crossEntropy(linear(h, m.wOut), targets).backward();
  const keptGrad = h.grad!;
  const snapshot = Array.from(keptGrad.data);
  for (let i = 0; i < 3; i++) {
    const other = makeModel("float64");
    crossEntropy(linear(gather(other.table, ids).mul(2).tanh(), other.wOut), targets)
      .backward(undefined, { intermediateGrads: false });
  }
  assert.deepEqual(Array.from(keptGrad.data), snapshot);
  assert.ok(h.grad === keptGrad, "a pooled pass over another graph leaves this graph alone");
});

Deno.test("backward refuses an intermediateGrads that is not a boolean", () => {
  const x = tensor([1, 2], { requiresGrad: true });
  assert.throws(
    () => x.sum().backward(undefined, { intermediateGrads: 0 as unknown as boolean }),
    /^TypeError: backward: intermediateGrads must be a boolean, got number 0$/,
  );
  assert.equal(x.grad, null);
});

Deno.test("the gradient pool hands out zeroed arrays, each buffer once", () => {
  const a = gradientArray(7).fill(3);
  const view = a.subarray(1, 3);
  releaseGradientArrays([a, a, view, null]);
  const first = gradientArray(7);
  const second = gradientArray(7);
  assert.ok(first !== second, "one release, one reuse: never the same array twice");
  assert.deepEqual(Array.from(first), [0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(second), [0, 0, 0, 0, 0, 0, 0]);
  // A view (not spanning its buffer) is never pooled.
  const whole = new Float64Array(4);
  releaseGradientArrays([whole.subarray(0, 2)]);
  assert.ok(gradientArray(2).buffer !== whole.buffer);
});

Deno.test("arrays left in the pool with NaN in them never reach a gradient", () => {
  const m = makeModel("float32");
  const { ids, targets } = batches[2];
  const out = loss(m, ids, targets);
  out.backward();
  const want = Object.values(m).map((t) => Array.from(t.grad!.data));
  for (const t of Object.values(m)) t.zeroGrad();
  // Every length this graph uses, three times over: whatever an op does not overwrite is NaN.
  for (let round = 0; round < 3; round++) {
    for (let length = 1; length <= 400; length++) {
      releaseGradientArrays([
        new Float64Array(length).fill(NaN),
        new Float32Array(length).fill(NaN),
      ]);
    }
  }
  for (const intermediateGrads of [false, true, false]) {
    out.backward(undefined, { intermediateGrads });
    Object.values(m).forEach((t, i) => assert.deepEqual(Array.from(t.grad!.data), want[i]));
    for (const t of Object.values(m)) t.zeroGrad();
  }
});

Deno.test("attention's and selfAttention's gradients from the SIMD products ignore NaN left in the pool", () => {
  // Large enough (20·12·20 and 20·6·20 multiply-adds a product) for the kernel's products,
  // which write the gradients' every element into arrays the pool hands out unzeroed.
  for (const dtype of ["float64", "float32"] as const) {
    const [q, k, v] = [1, 2, 3].map((seed) =>
      randn([1, 2, 20, 12], { seed, requiresGrad: true, dtype })
    );
    const qkv = randn([2, 20, 36], { seed: 4, requiresGrad: true, dtype });
    const weights = randn([1, 2, 20, 12], { seed: 5, dtype });
    const out = attention(q, k, v).mul(weights).sum()
      .add(selfAttention(qkv, { heads: 2 }).sum());
    const leaves = [q, k, v, qkv];
    out.backward();
    const want = leaves.map((t) => Array.from(t.grad!.data));
    for (const t of leaves) t.zeroGrad();
    for (let round = 0; round < 3; round++) {
      for (const length of [480, 1440]) {
        releaseGradientArrays([
          new Float64Array(length).fill(NaN),
          new Float32Array(length).fill(NaN),
        ]);
      }
    }
    out.backward(undefined, { intermediateGrads: false });
    leaves.forEach((t, i) => assert.deepEqual(Array.from(t.grad!.data), want[i], `${dtype} ${i}`));
    for (const t of leaves) t.zeroGrad();
  }
});

Deno.test("the gradient pool keeps float32 and float64 arrays apart", () => {
  const single = new Float32Array(11).fill(5);
  const double = new Float64Array(11).fill(6);
  releaseGradientArrays([single, double]);
  assert.ok(float32GradientArrayToOverwrite(11) === single);
  const wide = gradientArray(11);
  assert.ok(wide === double && wide.every((x) => x === 0));
  assert.ok(float32GradientArrayToOverwrite(11) !== single, "each buffer handed out once");
  assert.ok(gradientArray(11) instanceof Float64Array);
});
