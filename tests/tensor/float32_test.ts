import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { tensorOps, type TensorOpSpec } from "../../lib/tensor/ops.ts";
import { applyOp, randn, Tensor, tensor, zeros } from "../../lib/tensor/tensor.ts";
import { EPSILON } from "../../lib/tensor/_dtype.ts";
import { Random } from "../../lib/util/random.ts";
import { opCallArbitrary } from "./_tensor_arbitraries.ts";
import { maxAbs } from "./_within.ts";

const SEED = 32;
console.log(`float32_test: fast-check seed ${SEED}`);
const registry = Object.entries(tensorOps) as [string, TensorOpSpec][];

// Every op computes in float64 and rounds its float32 result once; backward reads float32
// values saved by forward. So a float32 result or gradient is within a few float32 epsilons
// of the float64 one at the same (float32) inputs, measured against the scale of the terms
// it is made of: the array's largest element, and for a gradient the largest upstream
// gradient (a derivative computed from a rounded output, as tanh's 1 − y², loses its
// relative accuracy but not its accuracy relative to that). ULPS of them is the tolerance,
// plus as many of the smallest subnormal for values that underflow.
const ULPS = 16;
const SMALLEST_FLOAT32 = 2 ** -149;
function assertClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, terms = 0) {
  const scale = Math.max(maxAbs(want), terms);
  for (let i = 0; i < want.length; i++) {
    const tolerance = ULPS * (EPSILON.float32 * (Math.abs(want[i]) + scale) + SMALLEST_FLOAT32);
    assert.ok(
      Math.abs(got[i] - want[i]) <= tolerance,
      `${what}[${i}]: float32 ${got[i]}, float64 ${want[i]}, tolerance ${tolerance}`,
    );
  }
}

Deno.test("every registry op in float32: float32 results and gradients, as float64's within float32 accuracy", async (t) => {
  // The float64 gradients themselves are checked against finite differences in ops_test.ts.
  for (const [key, op] of registry) {
    await t.step(key, () => {
      op.cases.forEach((c, caseIndex) => {
        fc.assert(
          fc.property(opCallArbitrary(c), fc.integer({ min: 1, max: 1e6 }), (call, seed) => {
            const rounded = call.inputs.map((x) => Float32Array.from(x.data));
            const make = (dtype: "float32" | "float64") =>
              call.inputs.map((x, i) =>
                new Tensor(rounded[i], x.shape, { dtype, requiresGrad: true })
              );
            const [xs32, xs64] = [make("float32"), make("float64")];
            const y32 = applyOp(op, xs32, call.params);
            const y64 = applyOp(op, xs64, call.params);
            const where = `${key} case ${caseIndex} ${JSON.stringify(call.params)}`;
            assert.equal(y32.dtype, "float32", where);
            assertClose(`${where} forward`, y32.data, y64.data);
            const random = new Random(seed);
            const weights = Float32Array.from({ length: y64.size }, () => random.uniform(-1, 1));
            y32.backward(new Tensor(weights, y32.shape));
            y64.backward(new Tensor(weights, y64.shape, { dtype: "float64" }));
            xs32.forEach((x, i) => {
              assert.equal(x.grad!.dtype, "float32", where);
              assertClose(
                `${where} ∂input ${i}`,
                x.grad!.data,
                xs64[i].grad!.data,
                maxAbs(weights),
              );
            });
          }),
          { seed: SEED, numRuns: 40 },
        );
      });
    });
  }
});

Deno.test("float32 tensors: creation, the result type rule, and refused values", () => {
  const x = tensor([[1, 2], [3, 4.1]], { dtype: "float32" });
  assert.ok(x.data instanceof Float32Array && x.dtype === "float32");
  assert.equal(x.data[3], Math.fround(4.1));
  assert.equal(randn([3], { seed: 1, dtype: "float32" }).dtype, "float32");
  assert.equal(zeros([2]).dtype, "float64"); // the default
  assert.equal(x.mul(0.1).dtype, "float32"); // a number operand takes the tensor's type
  assert.equal(x.mul(0.1).data[0], Math.fround(Math.fround(0.1) * 1));
  assert.equal(x.add(zeros([2, 2])).dtype, "float64"); // mixed types: float64
  assert.equal(x.matmul(x).dtype, "float32");
  const f = Math.fround(4.1); // small products sum in float64, then round once
  assert.deepEqual(
    Array.from(x.matmul(x).data),
    [1 + 2 * 3, 2 + 2 * f, 3 + f * 3, 2 * 3 + f * f].map(Math.fround),
  );
  assert.throws(() => tensor([1e39], { dtype: "float32" }), /Tensor: data at \[0\] is Infinity/);
  assert.throws(() => x.mul(1e38), /mul: result element \[1,1\] is Infinity/); // 4.1e38 > float32 max
  assert.throws(
    () => tensor([1], { dtype: "float16" as "float32" }),
    /Tensor: dtype must be "float64" or "float32", got float16/,
  );
});

Deno.test("float32 matmul and linear run the float32 SIMD kernel and pass their gradient checks", () => {
  // 30·20·25 multiply-adds: above the small-product threshold.
  const a32 = randn([30, 20], { seed: 1, dtype: "float32", requiresGrad: true });
  const b32 = randn([20, 25], { seed: 2, dtype: "float32", requiresGrad: true });
  const a64 = new Tensor(a32.data, a32.shape, { dtype: "float64", requiresGrad: true });
  const b64 = new Tensor(b32.data, b32.shape, { dtype: "float64", requiresGrad: true });
  const w = randn([30, 25], { seed: 3 });
  const y32 = a32.matmul(b32);
  const y64 = a64.matmul(b64);
  assertClose("matmul", y32.data, y64.data);
  y32.mul(w).sum().backward();
  y64.mul(w).sum().backward();
  assertClose("∂a", a32.grad!.data, a64.grad!.data);
  assertClose("∂b", b32.grad!.data, b64.grad!.data);
});
