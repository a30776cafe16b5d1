import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import * as root from "../../mod.ts";
import * as scalar from "../../lib/scalar/mod.ts";
import * as tensorModule from "../../lib/tensor/mod.ts";
import * as functions from "../../lib/tensor/functions.ts";
import { type OpName, ops } from "../../lib/scalar/ops.ts";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";
import { Tensor, tensor } from "../../lib/tensor/tensor.ts";

const unary = (Object.keys(ops) as OpName[]).filter((name) => ops[name].arity === 1);

Deno.test("functions: each unary function is its method, for every scalar unary op", () => {
  const table = functions as unknown as Record<string, (x: Tensor) => Tensor>;
  for (const name of unary) {
    assert.equal(typeof table[name], "function", `no function ${name}`);
    const x = tensor([[0.25, 1.5]], { requiresGrad: true });
    const viaFunction = table[name](x);
    const viaMethod = (x as unknown as Record<string, () => Tensor>)[name]();
    assert.equal(viaFunction.op, viaMethod.op, name);
    assert.deepEqual(viaFunction.toArray(), viaMethod.toArray(), name);
    assert.throws(
      () => table[name]([1, 2] as unknown as Tensor),
      /expected a Tensor, got an array/,
    );
  }
});

Deno.test("functions: the README's tensor names are exported at the root and from /tensor", () => {
  for (const module of [root, tensorModule] as Record<string, unknown>[]) {
    for (const name of Object.keys(functions)) {
      assert.equal(module[name], (functions as Record<string, unknown>)[name], name);
    }
  }
});

Deno.test("naming rule: a plain name at the root is the tensor function; /scalar has the scalar one", () => {
  for (const name of ["softmax", "crossEntropy", "mse", "logSumExp"] as const) {
    assert.equal(root[name], tensorModule[name], name);
    assert.notEqual(root[name], scalar[name] as unknown, name);
  }
  assert.equal(root.crossEntropy(tensor([[0, 0]]), [1]).item(), Math.log(2));
  const values = [new scalar.Value(0), new scalar.Value(0)];
  assert.equal(scalar.crossEntropy(values, 1).data, Math.log(2));
});

const matrices = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 })).chain((
  [rows, cols],
) =>
  fc.array(fc.double({ min: -3, max: 3, noNaN: true }), {
    minLength: rows * cols,
    maxLength: rows * cols,
  }).map((data) => new Tensor(Float64Array.from(data), [rows, cols]))
);

Deno.test("logSumExp and mse agree with their definitions and with central differences", () => {
  fc.assert(
    fc.property(
      matrices,
      fc.constantFrom(undefined, 0, 1, -1),
      fc.boolean(),
      (x, axis, keepDims) => {
        const y = functions.logSumExp(x, { axis, keepDims });
        const direct = x.exp().sum({ axis, keepDims }).log();
        assert.deepEqual(y.shape, direct.shape);
        y.data.forEach((v, i) => assert.ok(Math.abs(v - direct.data[i]) < 1e-12));
        const report = gradcheckTensor(
          (t) => functions.logSumExp(t, { axis, keepDims }).sum(),
          [x],
          { raise: false },
        );
        assert.ok(report.passed, JSON.stringify(report.worst));
        const target = x.mul(0.5).add(1);
        const expected = Array.from(x.data).reduce((s, v, i) => s + (v - target.data[i]) ** 2, 0) /
          x.size;
        assert.ok(Math.abs(functions.mse(x, target).item() - expected) < 1e-12);
        assert.ok(gradcheckTensor((p) => functions.mse(p, target), [x], { raise: false }).passed);
      },
    ),
    { numRuns: 100, seed: 11 },
  );
  // No overflow where exp alone would overflow.
  assert.ok(Math.abs(functions.logSumExp(tensor([800, 800])).item() - (800 + Math.log(2))) < 1e-9);
});

Deno.test("where: condition arrays, broadcasting and gradients to the chosen input only", () => {
  const a = tensor([[1, 2], [3, 4]], { requiresGrad: true });
  const b = tensor([10, 20], { requiresGrad: true });
  const y = functions.where([1, 0], a, b);
  assert.deepEqual(y.toArray(), [[1, 20], [3, 20]]);
  y.sum().backward();
  assert.deepEqual(a.grad!.toArray(), [[1, 0], [1, 0]]);
  assert.deepEqual(b.grad!.toArray(), [0, 2]);
  assert.throws(
    () => functions.where(3 as unknown as number[], a, b),
    /^TypeError: where: the condition must be a Tensor or an array, got 3$/,
  );
  assert.throws(() => functions.where([1, 0, 1], a, b), /where/);
});
