import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { PYTORCH_GRADCHECK_TOLERANCES } from "../../lib/scalar/gradcheck.ts";
import { tensorOps, type TensorOpSpec } from "../../lib/tensor/ops.ts";
import { applyOp, Tensor, tensor } from "../../lib/tensor/tensor.ts";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";

/** tanh through the registry, with its backward passed through `mutate`. */
function tanhWith(mutate: (g: number) => number): (x: Tensor) => Tensor {
  const op: TensorOpSpec = {
    ...(tensorOps.tanh as TensorOpSpec),
    backward: (context) =>
      (tensorOps.tanh as TensorOpSpec).backward(context).map((g) => g && g.map(mutate)),
  };
  return (x) => applyOp(op, [x.mul(x)], undefined).sum({ axis: 0 });
}

const point = tensor([[0.3, -1.2], [0.8, 2.1]]);

Deno.test("gradcheckTensor: the correct backward passes, with a numeric gradient good to 1e-10", () => {
  const report = gradcheckTensor(tanhWith((g) => g), [point]);
  assert.ok(report.passed);
  // f = Σ w·tanh(x²) by column: ∂/∂x = w·2x·(1 − tanh²(x²)), written from Math.
  const x = Array.from(point.data);
  const exact = x.map((v) => 2 * v * (1 - Math.tanh(v * v) ** 2));
  // The projection weights multiply columns; read them off as analytic / exact.
  report.numeric[0].forEach((g, i) => {
    const expected = report.analytic[0][i];
    assert.ok(Math.abs(g - expected) <= 1e-10 * Math.abs(expected), `${i}`);
    assert.ok(Math.abs(expected / exact[i]) >= 0.5 && Math.abs(expected / exact[i]) <= 1.5);
    assert.ok(report.allowances[0][i] < 1e-10);
  });
});

Deno.test("gradcheckTensor: catches a backward scaled by 1.001, by 1 + 1e-5, or biased by 1e-6", async (t) => {
  const mutants: [string, (g: number) => number][] = [
    ["× 1.001", (g) => g * 1.001],
    ["× (1 + 1e-5)", (g) => g * (1 + 1e-5)],
    ["+ 1e-6", (g) => g + 1e-6],
  ];
  for (const [label, mutate] of mutants) {
    await t.step(label, () => {
      const report = gradcheckTensor(tanhWith(mutate), [point], { raise: false });
      assert.equal(report.passed, false);
      assert.equal(report.failures, 4);
      // PyTorch's tolerances let every one of them through.
      assert.ok(gradcheckTensor(tanhWith(mutate), [point], PYTORCH_GRADCHECK_TOLERANCES).passed);
    });
  }
});

Deno.test("gradcheckTensor: a backward 1e-6 relative off fails on any drawn point", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 4, maxLength: 4 }),
      (data) => {
        const x = new Tensor(Float64Array.from(data), [2, 2]);
        const scaled = tanhWith((g) => g * (1 + 1e-6));
        const report = gradcheckTensor(scaled, [x], { raise: false });
        const correct = gradcheckTensor(tanhWith((g) => g), [x], { raise: false });
        assert.ok(correct.passed);
        // Where the true gradient is not tiny, the 1e-6 error stands out.
        const big = correct.analytic[0].some((g) => Math.abs(g) > 1e-2);
        if (big) assert.ok(!report.passed);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("gradcheckTensor: step is relative to each element's magnitude", () => {
  // For x⁷ the extrapolated difference is 7x⁶ + h⁶/64 (see the scalar gradcheck's test).
  const seventh = (x: Tensor) => x.pow(7).sum();
  const report = gradcheckTensor(seventh, [tensor([1, 2])], { step: 0.25, raise: false });
  assert.ok(Math.abs(report.numeric[0][0] - (7 + 0.25 ** 6 / 64)) < 1e-12);
  assert.ok(Math.abs(report.numeric[0][1] - (7 * 64 + 0.5 ** 6 / 64)) < 1e-10);
});

Deno.test("gradcheckTensor: the allowance grows where a difference straddles a kink", () => {
  const relu = (x: Tensor) => x.relu();
  const report = gradcheckTensor(relu, [tensor([2e-4, 0.5])], { raise: false });
  assert.ok(report.passed);
  assert.ok(report.allowances[0][0] > 1e-2 && report.allowances[0][1] < 1e-10);
  assert.ok(report.worst !== null && report.worst.allowance >= 0);
});
