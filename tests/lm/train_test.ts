import assert from "node:assert/strict";
import { tensor } from "../../lib/tensor/tensor.ts";
import { AdamW } from "../../lib/nn/optim.ts";
import { Random } from "../../lib/util/random.ts";
import { TensorAdamW } from "../../lib/lm/adamw.ts";
import {
  checkpointFromBytes,
  checkpointToBytes,
  loadParametersInto,
} from "../../lib/lm/checkpoint.ts";
import { Rnn } from "../../lib/lm/rnn.ts";
import { sequenceLoss } from "../../lib/lm/model.ts";
import { type Evaluation, meanLoss, trainLoop } from "../../lib/lm/train.ts";

const config = { vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 3, nEmbd2: 4 };
const names = [[1, 2], [3], [4, 1, 2], [2, 2], [1, 4, 3]];
const rows = names.map((w) => ({
  x: [0, ...w, 0, 0, 0].slice(0, 4),
  y: [...w, 0, -1, -1, -1].slice(0, 4),
}));

/** The batch of step s: a pure function of (seed, s), so a resumed run sees the same ones. */
function batchAt(seed: number, step: number) {
  const random = new Random((seed * 1_000_003 + step) >>> 0);
  const picked = Array.from({ length: 3 }, () => rows[random.integer(rows.length)]);
  return { x: picked.map((r) => r.x), y: picked.map((r) => r.y) };
}

function setup() {
  const model = new Rnn(config, "gru", { seed: 4 });
  const optimizer = new TensorAdamW(model.namedParameters(), {
    learningRate: 0.01,
    beta2: 0.99,
    weightDecay: 0.01,
  });
  const lossAt = (step: number) => {
    const { x, y } = batchAt(9, step);
    return sequenceLoss(model, x, y);
  };
  const evaluate = () => ({
    test: meanLoss(rows, (r) => ({
      loss: sequenceLoss(model, [r.x], [r.y]).item(),
      count: r.y.filter((t) => t !== -1).length,
    })),
  });
  return { model, optimizer, lossAt, evaluate };
}

Deno.test("resume is exact: 200 steps, save, 200 more == 400 uninterrupted, bit for bit", async () => {
  const straight = setup();
  const all = await trainLoop({ ...straight, maxSteps: 400, evalInterval: 100 });
  assert.equal(all.steps, 400);

  const first = setup();
  const half = await trainLoop({ ...first, maxSteps: 200, evalInterval: 100 });
  const bytes = checkpointToBytes({
    type: first.model.type,
    config: { ...first.model.config },
    parameters: first.model.namedParameters(),
    optimizer: first.optimizer.state(),
    training: { best: half.best },
  });
  const saved = checkpointFromBytes(bytes);
  const second = setup(); // fresh weights and moments, all overwritten from the file
  loadParametersInto(second.model.namedParameters(), saved, "gru");
  second.optimizer.loadState(saved.optimizer!);
  const rest = await trainLoop({
    ...second,
    maxSteps: 400,
    evalInterval: 100,
    best: (saved.training as { best: Evaluation }).best,
  });
  assert.equal(rest.steps, 400);
  for (const [name, p] of straight.model.namedParameters()) {
    const q = second.model.namedParameters().get(name)!;
    assert.deepEqual(Array.from(q.data), Array.from(p.data), name);
  }
  assert.deepEqual(
    [...half.evaluations, ...rest.evaluations].map((e) => e.losses.test),
    all.evaluations.map((e) => e.losses.test),
  );
  assert.deepEqual(rest.best, all.best);
  assert.ok(all.evaluations[3].losses.test < all.evaluations[0].losses.test);
});

Deno.test("TensorAdamW takes nn's AdamW steps to the last bit", () => {
  const a = tensor([[0.5, -1.25], [2, 0.1]], { requiresGrad: true });
  const b = tensor([[0.5, -1.25], [2, 0.1]], { requiresGrad: true });
  const ours = new TensorAdamW(new Map([["a", a]]), { learningRate: 0.05, beta2: 0.99 });
  const theirs = new AdamW([b], { learningRate: 0.05, beta2: 0.99 });
  for (let i = 0; i < 25; i++) {
    ours.zeroGrad();
    theirs.zeroGrad();
    a.pow(3).sum().backward();
    b.pow(3).sum().backward();
    ours.step();
    theirs.step();
  }
  assert.deepEqual(Array.from(a.data), Array.from(b.data));
});

Deno.test("TensorAdamW: decay per parameter, schedules, refusals", () => {
  const w = tensor([[1, 1]], { requiresGrad: true });
  const bias = tensor([1], { requiresGrad: true });
  const optimizer = new TensorAdamW(new Map([["w", w], ["b", bias]]), {
    learningRate: (step) => 0.1 / (step + 1),
    weightDecay: 0.5,
    decays: (_, t) => t.rank >= 2,
  });
  assert.ok(optimizer.decays("w") && !optimizer.decays("b") && !optimizer.decays("none"));
  optimizer.step(); // no gradients: only the decay acts, and only on w
  assert.deepEqual(Array.from(w.data), [1 - 0.1 * 0.5, 1 - 0.1 * 0.5]);
  assert.deepEqual(Array.from(bias.data), [1]);
  assert.equal(optimizer.learningRate, 0.05);
  assert.throws(
    () => new TensorAdamW(new Map([["a", w], ["b", w]]), { learningRate: 1 }),
    /two names/,
  );
  assert.throws(() => new TensorAdamW(new Map(), { learningRate: 0 }), /learningRate must be/);
  assert.throws(() => new TensorAdamW(new Map(), { learningRate: 1, beta1: 1 }), /beta1/);
  assert.throws(() => new TensorAdamW(new Map(), { learningRate: 1, eps: 0 }), /eps/);
  assert.throws(
    () => new TensorAdamW(new Map(), { learningRate: 1, weightDecay: -1 }),
    /weightDecay/,
  );
  const bad = new TensorAdamW(new Map([["w", w]]), { learningRate: () => NaN });
  assert.throws(() => bad.step(), /learningRate\(0\) must be a finite number > 0, got NaN/);
});

Deno.test("trainLoop and meanLoss refuse bad settings", async () => {
  const { optimizer, lossAt } = setup();
  await assert.rejects(() => trainLoop({ optimizer, lossAt, maxSteps: 1.5 }), /maxSteps/);
  await assert.rejects(
    () => trainLoop({ optimizer, lossAt, maxSteps: 1, evalInterval: 0 }),
    /evalInterval/,
  );
  await assert.rejects(
    () => trainLoop({ optimizer, lossAt, maxSteps: 1, evaluate: () => ({ train: 1 }) }),
    /no "test" loss/,
  );
  // With clipping, a step moves no further than the clipped gradient takes it.
  const clipped = await trainLoop({ optimizer, lossAt, maxSteps: 2, clipNorm: 0.1 });
  assert.equal(clipped.steps, 2);
  let norm = 0;
  for (const p of optimizer.parameters.values()) for (const g of p.grad!.data) norm += g * g;
  assert.ok(Math.abs(Math.sqrt(norm) - 0.1) < 1e-12, `clipped norm ${Math.sqrt(norm)}`);
  assert.throws(() => meanLoss([], () => ({ loss: 1, count: 1 })), /no batches/);
  assert.throws(() => meanLoss([1], () => ({ loss: 1, count: 0 })), /count no targets/);
  assert.throws(() => meanLoss([1], () => ({ loss: NaN, count: 1 })), /loss is NaN/);
});
