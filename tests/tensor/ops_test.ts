import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { type OpCase, tensorOps, type TensorOpSpec } from "../../lib/tensor/ops.ts";
import { applyOp, Tensor } from "../../lib/tensor/tensor.ts";
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
