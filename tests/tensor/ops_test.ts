import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { type OpName, ops } from "../../lib/scalar/ops.ts";
import { type OpCase, tensorOps, type TensorOpSpec } from "../../lib/tensor/ops.ts";
import { applyOp, Tensor, tensor } from "../../lib/tensor/tensor.ts";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";
import { checkStep } from "../scalar/_arbitraries.ts";
import { drawnTensors, opCallArbitrary } from "./_tensor_arbitraries.ts";

const registry = Object.entries(tensorOps) as [string, TensorOpSpec][];

/**
 * The gradcheck step of a case: no difference reaches halfway to an avoided point of a
 * domain, nor moves an element halfway to a neighbour where ties are kinks (`separation`).
 */
function caseStep(c: OpCase): number {
  let step = checkStep(c.inputs.map((spec) => spec.domain));
  for (const { domain, separation } of c.inputs) {
    const reach = Math.max(1, Math.abs(domain.min), Math.abs(domain.max));
    if (separation !== undefined) step = Math.min(step, separation / (2 * reach));
  }
  return step;
}

Deno.test("tensor registry: every op declares cases whose inputs match its arity", () => {
  assert.ok(registry.length >= 30);
  for (const [key, op] of registry) {
    assert.ok(op.cases.length > 0, `${key} has no input generator data`);
    for (const c of op.cases) {
      assert.ok(c.inputs.length > 0, `${key}: a case without inputs`);
      if (op.arity !== "variadic") assert.equal(c.inputs.length, op.arity, key);
    }
  }
});

Deno.test("tensor registry: every op's backward agrees with central differences", async (t) => {
  for (const [key, op] of registry) {
    await t.step(key, () => {
      op.cases.forEach((c, caseIndex) => {
        fc.assert(
          fc.property(opCallArbitrary(c), (call) => {
            const inputs = drawnTensors(call);
            const report = gradcheckTensor(
              (...xs) => applyOp(op, xs, call.params),
              inputs,
              { raise: false, step: caseStep(c) },
            );
            assert.ok(
              report.passed,
              `${key} case ${caseIndex}: ${JSON.stringify(report.worst)} ` +
                `shapes ${JSON.stringify(call.inputs.map((x) => x.shape))} ` +
                `params ${JSON.stringify(call.params)}`,
            );
          }),
          { numRuns: 100 },
        );
      });
    });
  }
});

Deno.test("tensor registry: forward is deterministic and leaves its inputs untouched", () => {
  for (const [key, op] of registry) {
    fc.assert(
      fc.property(opCallArbitrary(op.cases[0]), (call) => {
        const inputs = drawnTensors(call);
        const before = inputs.map((x) => Array.from(x.data));
        const first = applyOp(op, inputs, call.params);
        const second = applyOp(op, inputs, call.params);
        assert.deepEqual(Array.from(first.data), Array.from(second.data), key);
        assert.deepEqual(inputs.map((x) => Array.from(x.data)), before, key);
        assert.ok(first instanceof Tensor && first.op === null, key); // constants: no graph
      }),
      { numRuns: 5 },
    );
  }
});

Deno.test("every unary op of the scalar registry is a tensor op and a Tensor method", () => {
  const unary = (Object.keys(ops) as OpName[]).filter((name) => ops[name].arity === 1);
  assert.ok(unary.length >= 12);
  for (const name of unary) {
    const op = (tensorOps as unknown as Record<string, TensorOpSpec>)[name];
    assert.ok(op !== undefined, `tensorOps has no ${name}`);
    assert.equal(op.name, ops[name].name);
    const method = (Tensor.prototype as unknown as Record<string, unknown>)[name];
    assert.equal(typeof method, "function", `Tensor has no method ${name}`);
    const x = tensor([0.5, 1.5], { requiresGrad: true });
    const y = (method as (this: Tensor) => Tensor).call(x);
    assert.equal(y.op, op, `Tensor.${name} applies ${y.op?.name}`);
    assert.deepEqual(Array.from(y.data), [0.5, 1.5].map((v) => ops[name].forward(v, 0)));
  }
});

Deno.test("max and min: element-wise with an operand, reductions without", () => {
  const a = tensor([[1, 5], [4, 2]], { requiresGrad: true });
  assert.equal(a.max(3).op, tensorOps.maximum);
  assert.deepEqual(a.max(3).toArray(), [[3, 5], [4, 3]]);
  assert.deepEqual(a.min(tensor([2, 3])).toArray(), [[1, 3], [2, 2]]);
  assert.equal(a.max().item(), 5);
  assert.deepEqual(a.min({ axis: 1 }).toArray(), [1, 2]);
  // Ties: the whole gradient goes to the tensor the method is called on, as Value.max does.
  const x = tensor([2, 2], { requiresGrad: true });
  const y = tensor([2, 1], { requiresGrad: true });
  x.max(y).sum().backward();
  assert.deepEqual([Array.from(x.grad!.data), Array.from(y.grad!.data)], [[1, 1], [0, 0]]);
});

Deno.test("clamp, where, squeeze and unsqueeze refuse bad parameters, naming them", () => {
  const x = tensor([[1, 2, 3]]);
  assert.throws(
    () => x.clamp({ min: 2, max: 1 }),
    /^RangeError: clamp: min 2 is greater than max 1$/,
  );
  assert.throws(
    () => x.clamp({ min: NaN }),
    /^RangeError: clamp: min must be a finite number, got NaN$/,
  );
  assert.deepEqual(x.clamp({ min: 1.5, max: 2.5 }).toArray(), [[1.5, 2, 2.5]]);
  assert.throws(
    () => x.squeeze(1),
    /^RangeError: squeeze: axis 1 of shape \[1,3\] has size 3, not 1$/,
  );
  assert.deepEqual(x.squeeze().shape, [3]);
  assert.deepEqual(x.unsqueeze(-1).shape, [1, 3, 1]);
  assert.throws(() => x.unsqueeze(3), /^RangeError: unsqueeze: axis 3 is out of range \[-3, 2\]/);
  assert.throws(
    () => applyOp(tensorOps.where, [x, x], { condition: { values: [1, 0], shape: [3] } }),
    /^RangeError: where: 2 condition values do not fill shape \[3\]$/,
  );
});

/** A backward made wrong for input `k` alone: its gradient is passed through `mutate`. */
function mutatedBackward(
  op: TensorOpSpec,
  k: number,
  mutate: (g: number) => number,
): TensorOpSpec {
  return {
    ...op,
    backward: (context) =>
      op.backward(context).map((g, i) => (g === null || i !== k ? g : g.map(mutate))),
  };
}

const backwardMutants: readonly [string, (g: number) => number][] = [
  ["scaled by 1.001", (g) => g * 1.001],
  ["scaled by 1 + 1e-5", (g) => g * (1 + 1e-5)],
  ["scaled by 1 + 1e-6", (g) => g * (1 + 1e-6)],
  ["biased by 1e-6", (g) => g + 1e-6],
];

Deno.test("tensor registry: the precise check catches a backward 1e-3, 1e-5 or 1e-6 relative off, or 1e-6 biased", async (t) => {
  for (const [key, op] of registry) {
    const inputCount = Math.max(...op.cases.map((c) => c.inputs.length));
    for (let k = 0; k < inputCount; k++) {
      for (const [label, mutate] of backwardMutants) {
        await t.step(`${key}, input ${k} ${label}`, () => {
          const wrong = mutatedBackward(op, k, mutate);
          const caught = op.cases.some((c) =>
            c.inputs.length > k &&
            fc.check(
              fc.property(opCallArbitrary(c), (call) => {
                const inputs = drawnTensors(call);
                const fn = (...xs: Tensor[]) => applyOp(wrong, xs, call.params);
                return gradcheckTensor(fn, inputs, { raise: false, step: caseStep(c) }).passed;
              }),
              { numRuns: 100 },
            ).failed
          );
          assert.ok(caught, `${key}: input ${k}'s gradient ${label} went unnoticed`);
        });
      }
    }
  }
});
