import assert from "node:assert/strict";
import {
  DEFAULT_LINE,
  fitLine,
  type FitProgress,
  makeLineData,
  seedLossGraph,
  trainSeed,
  writeGraph,
} from "../../examples/linreg.ts";
import { toDot } from "../../mod.ts";

/** Ordinary least squares in closed form, the answer gradient descent must converge to. */
function leastSquares(xs: number[], ys: number[]): { a: number; b: number; mse: number } {
  const n = xs.length;
  const meanX = xs.reduce((s, x) => s + x, 0) / n;
  const meanY = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - meanX) * (ys[i] - meanY);
    sxx += (xs[i] - meanX) ** 2;
  }
  const a = sxy / sxx;
  const b = meanY - a * meanX;
  const mse = xs.reduce((s, x, i) => s + (a * x + b - ys[i]) ** 2, 0) / n;
  return { a, b, mse };
}

Deno.test({
  name: "examples/linreg.ts: without --allow-write it names the flag instead of crashing",
  // Without write permission, as a newcomer's first `deno run` has, whatever the test run
  // was granted (under `deno test -A` the graph would be written).
  permissions: { write: false },
  fn() {
    const said: string[] = [];
    assert.equal(writeGraph("graph.dot", "digraph {}", (line) => said.push(line)), false);
    assert.equal(said.length, 1);
    assert.match(said[0], /^could not write the graph to graph\.dot: run with --allow-write/);
  },
});

Deno.test("examples/linreg.ts", async (t) => {
  await t.step("part 1: the seed's loop reaches w = 4, the error shrinking by 0.2 a step", () => {
    const log = trainSeed();
    assert.equal(log.length, 50);
    assert.deepEqual(log[0], { step: 0, loss: 64, w: 3.2 });
    // w' = w − 0.1·2(2w − 8)·2 = 0.2w + 3.2, so w − 4 is multiplied by 0.2 and the loss,
    // 4(w − 4)², by 0.04.
    for (let k = 1; k < 10; k++) {
      assert.ok(Math.abs(log[k].loss / log[k - 1].loss - 0.04) < 1e-9, `step ${k}`);
    }
    assert.ok(Math.abs(log[49].w - 4) < 1e-12);
  });

  await t.step("part 2: the data are reproducible and as specified", () => {
    const data = makeLineData(DEFAULT_LINE);
    assert.deepEqual(makeLineData(DEFAULT_LINE), data);
    assert.equal(data.xs.length, DEFAULT_LINE.count);
    assert.ok(data.xs.every((x) => x >= -2 && x < 2));
    const other = makeLineData({ ...DEFAULT_LINE, seed: DEFAULT_LINE.seed + 1 });
    assert.notDeepEqual(other.xs, data.xs);
  });

  await t.step("part 2: gradient descent recovers the least-squares line and the truth", () => {
    const data = makeLineData(DEFAULT_LINE);
    const progress: FitProgress[] = [];
    const fit = fitLine(data, { onProgress: (p) => progress.push(p) });
    const best = leastSquares(data.xs, data.ys);
    // The optimum itself, to optimisation accuracy.
    assert.ok(Math.abs(fit.a - best.a) < 1e-6, `a ${fit.a} vs least squares ${best.a}`);
    assert.ok(Math.abs(fit.b - best.b) < 1e-6, `b ${fit.b} vs least squares ${best.b}`);
    assert.ok(Math.abs(fit.loss - best.mse) < 1e-9);
    // The truth, to within what 40 points with noise σ = 0.3 allow: the standard errors are
    // about 0.04 for both, so 0.15 is over 3.5 of them.
    assert.ok(Math.abs(fit.a - DEFAULT_LINE.a) < 0.15, `a = ${fit.a}`);
    assert.ok(Math.abs(fit.b - DEFAULT_LINE.b) < 0.15, `b = ${fit.b}`);
    assert.deepEqual(progress.map((p) => p.step), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99]);
    assert.ok(progress.every((p, i) => i === 0 || p.loss <= progress[i - 1].loss));
  });

  await t.step("part 3: the drawn graph is the seed's loss with its gradients", () => {
    const dot = toDot(seedLossGraph());
    assert.ok(dot.includes('label="{ w | data 0 | grad -32 }"'));
    assert.ok(dot.includes('label="{ loss | data 64 | grad 1 }"'));
    // w, x, w·x, y, w·x − y, the square: the exponent 2 is a constant, not a node.
    assert.equal(dot.match(/shape=record/g)?.length, 6);
  });
});
