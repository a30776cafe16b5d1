import assert from "node:assert/strict";
import { Tensor } from "../../lib/tensor/tensor.ts";
import { TensorAdamW } from "../../lib/lm/adamw.ts";

Deno.test("TensorAdamW refuses a step with a non-finite gradient, naming it, and changes nothing", () => {
  // Sizes on either side of where the finiteness test and the update run their SIMD kernels.
  for (const dtype of ["float32", "float64"] as const) {
    for (const [n, at] of [[5, 3], [3000, 0], [3000, 2999], [20001, 17000]]) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const w = new Tensor(Float64Array.from({ length: n }, (_, i) => Math.cos(i)), [n], {
          requiresGrad: true,
          dtype,
        });
        const b = new Tensor(new Float64Array(4).fill(1), [4], { requiresGrad: true, dtype });
        const optimizer = new TensorAdamW(new Map([["b", b], ["w", w]]), { learningRate: 0.1 });
        w.mul(w).sum().add(b.sum()).backward();
        optimizer.step();
        const moments = () =>
          [...optimizer.state().slots.values()].flatMap((slot) =>
            [...slot.values()].map((t) => [...t.data])
          );
        const before = [[...w.data], [...b.data], moments()];
        w.grad!.data[at] = bad;
        assert.throws(
          () => optimizer.step(),
          new RangeError(
            `TensorAdamW: step 2 refused, nothing changed: parameter "w" element ${at} has ` +
              `gradient ${bad}`,
          ),
        );
        assert.deepEqual([[...w.data], [...b.data], moments()], before);
        assert.equal(optimizer.stepCount, 1);
      }
    }
  }
});
