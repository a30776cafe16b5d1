import assert from "node:assert/strict";
import { twoMoons } from "../../lib/util/datasets.ts";
import { hinge, l2Penalty } from "../../lib/scalar/losses.ts";
import { MLP } from "../../lib/nn/mlp.ts";
import { Adam, type Optimizer, SGD } from "../../lib/nn/optim.ts";
import { Lcg32 } from "../../lib/util/random.ts";
import { linearDecay } from "../../lib/nn/schedules.ts";
import { Value } from "../../lib/scalar/value.ts";
import { sha256OfFloat64 } from "../_sha256.ts";

const { points, labels } = twoMoons({ seed: 1337 });

/** Full-batch max-margin loss with L2 1e-4, and accuracy, as W1 defines them. */
function evaluate(model: MLP): { loss: Value; accuracy: number } {
  const scores = points.map(([x, y]) => model.forwardScalar([new Value(x), new Value(y)]));
  const loss = hinge(scores, labels).add(l2Penalty(model.parameters(), 1e-4));
  const correct = scores.filter((s, j) => (s.data > 0) === (labels[j] > 0)).length;
  return { loss, accuracy: correct / scores.length };
}

/** Trains `steps` full-batch steps; returns every step's loss and accuracy. */
function train(model: MLP, optimizer: Optimizer, steps: number) {
  const history: { loss: number; accuracy: number }[] = [];
  for (let k = 0; k < steps; k++) {
    const { loss, accuracy } = evaluate(model);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    history.push({ loss: loss.data, accuracy });
  }
  return history;
}

Deno.test("W1: the library's MLP, hinge, L2 and SGD reproduce the reference run", async (t) => {
  const model = new MLP(2, [16, 16, 1], { init: "uniform", source: new Lcg32(42) });
  await t.step("initial weights: W1's first two and SHA-256 of all of them", async () => {
    const weights = model.layers.flatMap((layer) => layer.neurons.flatMap((n) => n.weights));
    // 2·16 + 16·16 + 16·1 = 304 weights (WORKLOADS.md says 320; its hash is of these 304).
    assert.equal(weights.length, 304);
    assert.equal(weights[0].data, -0.49530965043231845);
    assert.equal(weights[1].data, -0.8237499091774225);
    assert.equal(
      await sha256OfFloat64(weights.map((w) => w.data)),
      "59cf646968a1222b2a497f6466b93af2e6fa4b4c1a0226b0029b2b7f79b541fc",
    );
    assert.ok(model.parameters().every((p) => weights.includes(p) || p.data === 0));
  });
  await t.step("100 SGD steps with lr = 1 − 0.9·k/100", () => {
    const optimizer = new SGD(model.parameters(), {
      learningRate: linearDecay({ initial: 1.0, final: 0.1, steps: 100 }),
    });
    const history = train(model, optimizer, 100);
    assert.equal(history[0].loss, 1.506192971829493);
    const last = history[99];
    assert.ok(
      Math.abs(last.loss - 0.0241514567434098) <= 1e-12,
      `loss at step 99: ${last.loss}`,
    );
    assert.equal(last.accuracy, 0.99);
    assert.equal(evaluate(model).accuracy, 0.99);
    // The loss is falling overall: every tenth step is below the one ten steps earlier.
    for (let k = 10; k < 100; k += 10) assert.ok(history[k].loss < history[k - 10].loss);
  });
});

Deno.test("moons: a default-initialised MLP with Adam reaches 97% in 60 steps", () => {
  const model = new MLP(2, [16, 16, 1], { seed: 7 });
  const history = train(model, new Adam(model.parameters(), { learningRate: 0.05 }), 60);
  const { accuracy, loss } = evaluate(model);
  assert.ok(accuracy >= 0.97, `accuracy ${accuracy} after 60 steps`);
  assert.ok(loss.data < history[0].loss / 5, `loss ${history[0].loss} → ${loss.data}`);
});
