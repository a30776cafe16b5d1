import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { ops } from "../../lib/scalar/ops.ts";
import {
  binaryLoops,
  hotLoops,
  type UnaryLoops,
  unaryLoops,
} from "../../lib/tensor/kernels/_elementwise.ts";
import { repeatPeriod } from "../../lib/tensor/_broadcast.ts";
import { tensor } from "../../lib/tensor/tensor.ts";

// A result of n = period · repetitions elements, and each operand repeated with a period
// that divides n: the whole result (an equal shape), the period (a row), or 1 (a scalar).
const call = fc.record({
  period: fc.integer({ min: 1, max: 7 }),
  repetitions: fc.integer({ min: 1, max: 5 }),
  kinds: fc.tuple(
    fc.constantFrom("full", "row", "scalar"),
    fc.constantFrom("full", "row", "scalar"),
  ),
  seed: fc.integer({ min: 0, max: 1e9 }),
  dtype: fc.constantFrom("float64", "float32"),
});

function draws(length: number, seed: number, dtype: string): Float64Array | Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const values = Array.from({ length }, () => (next() - 0.5) * 10 ** Math.floor(next() * 6 - 3));
  return dtype === "float32" ? Float32Array.from(values) : Float64Array.from(values);
}

Deno.test("the hot ops' own loops equal the shared loops of their scalar registry op, bit for bit", () => {
  fc.assert(
    fc.property(call, ({ period, repetitions, kinds, seed, dtype }) => {
      const n = period * repetitions;
      const [px, py] = kinds.map((k) => (k === "full" ? n : k === "row" ? period : 1));
      const x = draws(px, seed, dtype);
      const y = draws(py, seed + 1, dtype);
      const grad = draws(n, seed + 2, "float64") as Float64Array;
      for (const [name, own] of Object.entries(hotLoops.binary)) {
        const shared = binaryLoops(ops[name as keyof typeof hotLoops.binary]);
        const [got, want] = [new Float64Array(n), new Float64Array(n)];
        own.forward(x, px, y, py, got);
        shared.forward(x, px, y, py, want);
        assert.deepEqual(got, want, `${name} forward`);
        for (const which of [0, 1] as const) {
          const size = which === 0 ? px : py;
          const [g, h] = [new Float64Array(size), new Float64Array(size)];
          own.backward(which, x, px, y, py, want, grad, g);
          shared.backward(which, x, px, y, py, want, grad, h);
          assert.deepEqual(g, h, `${name} backward of operand ${which}`);
        }
      }
      const z = draws(n, seed + 3, dtype);
      for (const [name, own] of Object.entries(hotLoops.unary)) {
        const shared = unaryLoops(ops[name as keyof typeof hotLoops.unary]);
        const [got, want] = [new Float64Array(n), new Float64Array(n)];
        own.forward(z, got);
        shared.forward(z, want);
        assert.deepEqual(got, want, `${name} forward`);
        const [g, h] = [new Float64Array(n), new Float64Array(n)];
        own.backward(z, want, grad, g);
        shared.backward(z, want, grad, h);
        assert.deepEqual(g, h, `${name} backward`);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("repeatPeriod: an operand repeated whole along leading axes, or −1", () => {
  assert.equal(repeatPeriod([2, 3, 4], [2, 3, 4]), 24); // equal shapes
  assert.equal(repeatPeriod([2, 3, 4], [3, 4]), 12); // a table repeated over the batch
  assert.equal(repeatPeriod([2, 3, 4], [1, 1, 4]), 4); // a row, leading 1s
  assert.equal(repeatPeriod([2, 3, 4], []), 1); // a scalar
  assert.equal(repeatPeriod([2, 3, 4], [1]), 1);
  assert.equal(repeatPeriod([2, 3, 4], [3, 1]), -1); // a column: not a repetition
  assert.equal(repeatPeriod([2, 3, 4], [2, 1, 4]), -1);
});

Deno.test("broadcast element-wise ops: rows, columns and scalars give NumPy's results and gradients", () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
  const row = tensor([10, 20, 30], { requiresGrad: true });
  const column = tensor([[100], [200]], { requiresGrad: true });
  const y = a.mul(row).sub(column).add(2);
  assert.deepEqual(y.toArray(), [[-88, -58, -8], [-158, -98, -18]]);
  y.sum().backward();
  assert.deepEqual(a.grad!.toArray(), [[10, 20, 30], [10, 20, 30]]);
  assert.deepEqual(row.grad!.toArray(), [5, 7, 9]);
  assert.deepEqual(column.grad!.toArray(), [[-3], [-3]]);
});

Deno.test("GELU's sigmoid form (the registry's) agrees with the tanh form within a few roundings", () => {
  // The tanh form ½x(1 + tanh u) is itself only accurate to about ε·|x| where tanh u is near
  // −1 (1 + tanh u cancels); its derivative to about ε·(1 + |x|·(1 + 3·0.044715x²)). The two
  // forms must agree within a few ε of those scales, element by element, in float64 and for
  // float32 inputs (whose results, rounded to float32, the derivative reads back).
  const epsilon = Number.EPSILON;
  const C = Math.sqrt(2 / Math.PI);
  const K = 0.044715;
  const gelu = unaryLoops(ops.gelu);
  const reference: UnaryLoops = {
    forward(x, out) {
      for (let i = 0; i < out.length; i++) {
        const a = x[i];
        out[i] = 0.5 * a * (1 + Math.tanh(C * (a + K * a * a * a)));
      }
    },
    backward(x, _z, grad, g) {
      for (let i = 0; i < g.length; i++) {
        const a = x[i];
        const t = Math.tanh(C * (a + K * a * a * a));
        g[i] = (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * C * (1 + 3 * K * a * a)) * grad[i];
      }
    },
  };
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -30, max: 30, noNaN: true }), { minLength: 1, maxLength: 40 }),
      fc.constantFrom("float64", "float32"),
      (values, dtype) => {
        const x = dtype === "float32" ? Float32Array.from(values) : Float64Array.from(values);
        const n = x.length;
        const [got, want] = [new Float64Array(n), new Float64Array(n)];
        gelu.forward(x, got);
        reference.forward(x, want);
        const grad = Float64Array.from(values, (_, i) => 1 - (i % 3));
        const [g, h] = [new Float64Array(n), new Float64Array(n)];
        gelu.backward(x, got, grad, g);
        reference.backward(x, want, grad, h);
        for (let i = 0; i < n; i++) {
          const a = Math.abs(x[i]);
          const forwardTolerance = 8 * epsilon * (a + Math.abs(want[i]));
          assert.ok(
            Math.abs(got[i] - want[i]) <= forwardTolerance,
            `gelu(${x[i]}): ${got[i]} vs ${want[i]}`,
          );
          const slopeScale = 1 + a * (1 + 3 * 0.044715 * a * a);
          const backwardTolerance = 16 * epsilon * slopeScale * Math.abs(grad[i]);
          assert.ok(
            Math.abs(g[i] - h[i]) <= backwardTolerance,
            `gelu′(${x[i]}): ${g[i]} vs ${h[i]}`,
          );
        }
      },
    ),
    { numRuns: 300 },
  );
  // Far out on either side: zero and the identity, with no overflow on the way.
  const far = new Float64Array([-800, -40, 0, 40, 800]);
  const out = new Float64Array(5);
  gelu.forward(far, out);
  assert.deepEqual(Array.from(out), [-0, -0, 0, 40, 800]);
});
