import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { concat, layerNorm, ones, Tensor, zeros } from "../../lib/tensor/tensor.ts";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";

// Random chains of tensor ops, every step chosen to fit the shape it receives, are
// gradient-checked as a whole: each op's backward must compose with the others' (shared
// inputs, broadcasting into reductions, shapes changing along the way).

type Step = (x: Tensor, w: Tensor, arg: number) => Tensor | null;

/** Each step keeps rank 2, so any step can follow any other; null means "does not fit". */
const steps: Record<string, Step> = {
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
  gelu: (x) => x.gelu(),
  neg: (x) => x.neg(),
  scale: (x, _w, arg) => x.mul(0.5 + arg / 4),
  square: (x) => x.mul(x),
  expTanh: (x) => x.tanh().exp(),
  logSoftplus: (x) => x.exp().add(1).log(),
  matmulW: (x, w) => (x.shape[1] === w.shape[0] ? x.matmul(w) : null),
  addRowOfW: (x, w) => (x.shape[1] === w.shape[1] ? x.add(w.slice({ axis: 0, end: 1 })) : null),
  divByColumn: (x) => x.div(x.mul(x).sum({ axis: 1, keepDims: true }).add(1)),
  transpose: (x) => x.transpose(),
  softmax: (x, _w, arg) => x.softmax(arg % 2 === 0 ? -1 : 0),
  logSoftmax: (x) => x.logSoftmax(),
  sumKeep: (x, _w, arg) => x.sum({ axis: arg % 2, keepDims: true }),
  meanKeep: (x, _w, arg) => x.mean({ axis: arg % 2, keepDims: true }),
  layerNorm: (x) => layerNorm(x, ones([x.shape[1]]).mul(1.5), zeros([x.shape[1]]).add(0.1)),
  concatTanh: (x, _w, arg) => concat([x, x.tanh()], arg % 2),
  sliceFirst: (x) => (x.shape[0] > 1 ? x.slice({ axis: 0, start: 1 }) : null),
  reshapeSwap: (x) => x.reshape([-1]).reshape([x.shape[1], x.shape[0]]),
  tril: (x) => x.tril({ fill: 0.5 }),
  matmulSelfT: (x) => x.matmul(x.transpose()).mul(0.25),
};

const stepNames = Object.keys(steps);

function runChain(x: Tensor, w: Tensor, chain: readonly [string, number][]): Tensor {
  let y = x;
  for (const [name, arg] of chain) {
    // Large values make finite differences unreliable; tanh keeps the chain tame.
    const next = steps[name](y, w, arg);
    if (next !== null) y = next.size <= 64 ? next : y;
    if (Math.max(...Array.from(y.data, Math.abs)) > 50) y = y.tanh();
  }
  return y;
}

const chainArbitrary = fc.record({
  rows: fc.integer({ min: 1, max: 3 }),
  cols: fc.integer({ min: 1, max: 3 }),
  chain: fc.array(fc.tuple(fc.constantFrom(...stepNames), fc.nat(3)), {
    minLength: 1,
    maxLength: 8,
  }),
  seed: fc.nat(1000),
});

function values(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(seed + 1.7 * i) * 1.5;
  return out;
}

Deno.test("random compositions of tensor ops are gradient-checked as a whole", () => {
  fc.assert(
    fc.property(chainArbitrary, ({ rows, cols, chain, seed }) => {
      const x = new Tensor(values(rows * cols, seed), [rows, cols]);
      const w = new Tensor(values(cols * cols, seed + 100), [cols, cols]);
      const report = gradcheckTensor((xx, ww) => runChain(xx, ww, chain), [x, w], {
        raise: false,
      });
      assert.ok(report.passed, `${JSON.stringify(chain)}: ${JSON.stringify(report.worst)}`);
    }),
    { numRuns: 300 },
  );
});

Deno.test("a composition's gradient is the sum over every path (x used by many ops)", () => {
  const x = new Tensor(new Float64Array([0.3, -0.7, 1.1, 0.2]), [2, 2], { requiresGrad: true });
  const y = x.matmul(x).add(x.transpose().mul(x)).softmax().sum({ axis: 0 }).mul(x.sum());
  y.backward(new Tensor(new Float64Array([1, -2]), [2]));
  const report = gradcheckTensor(
    (t) => t.matmul(t).add(t.transpose().mul(t)).softmax().sum({ axis: 0 }).mul(t.sum()),
    [x],
  );
  // gradcheck projects with its own weights; compare the direct backward on weights [1, −2]
  // with a hand-made projection instead.
  const projected = gradcheckTensor(
    (t) =>
      t.matmul(t).add(t.transpose().mul(t)).softmax().sum({ axis: 0 }).mul(t.sum()).mul(
        new Tensor(new Float64Array([1, -2]), [2]),
      ).sum(),
    [x],
  );
  assert.ok(report.passed && projected.passed);
  projected.numeric[0].forEach((g, i) =>
    assert.ok(Math.abs(x.grad!.data[i] - g) < 1e-9 * (1 + Math.abs(g)))
  );
});
