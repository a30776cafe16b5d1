import assert from "node:assert/strict";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";
import { Tensor } from "../../lib/tensor/tensor.ts";
import { Random } from "../../lib/util/random.ts";
import { BagOfWords } from "../../lib/lm/bow.ts";
import { Bigram, CountingBigram } from "../../lib/lm/bigram.ts";
import { Mlp } from "../../lib/lm/mlp.ts";
import { Rnn } from "../../lib/lm/rnn.ts";
import {
  type LanguageModel,
  type ModelConfig,
  type ModelOptions,
  sequenceLoss,
} from "../../lib/lm/model.ts";
import { TensorAdamW } from "../../lib/lm/adamw.ts";
import { createModel, MODEL_TYPES, registerModelType } from "../../lib/lm/ladder.ts";

const tiny: ModelConfig = { vocabSize: 4, blockSize: 3, nLayer: 1, nHead: 1, nEmbd: 2, nEmbd2: 3 };

const builders: Record<string, (config: ModelConfig, options?: ModelOptions) => LanguageModel> = {
  bigram: (c, o) => new Bigram(c, o),
  mlp: (c, o) => new Mlp(c, o),
  rnn: (c, o) => new Rnn(c, "rnn", o),
  gru: (c, o) => new Rnn(c, "gru", o),
  bow: (c, o) => new BagOfWords(c, o),
};

// Two names of a tiny alphabet, padded as makemore pads: the −1 targets are ignored.
const x = [[0, 1, 2], [0, 3, 0]];
const y = [[1, 2, 0], [3, 0, -1]];

/** Moves parameters that start at 0 (bigram logits, the RNN's start) to random values. */
function scramble(model: LanguageModel): void {
  const random = new Random(99);
  for (const p of model.namedParameters().values()) {
    if (p.data.every((v) => v === 0)) {
      for (let i = 0; i < p.size; i++) p.data[i] = random.uniform(-1, 1);
    }
  }
}

Deno.test("every model is gradient-checked on every parameter at a tiny size", async (t) => {
  for (const [type, build] of Object.entries(builders)) {
    await t.step(type, () => {
      const seed = 7;
      const model = build(tiny, { seed });
      scramble(model); // so that parameters starting at 0 do not hide a path
      const names = [...model.namedParameters().keys()];
      const values = [...model.namedParameters().values()].map((p) =>
        new Tensor(p.data.slice(), p.shape)
      );
      const report = gradcheckTensor(
        (...xs) => {
          const parameters = new Map(names.map((name, i) => [name, xs[i]]));
          return sequenceLoss(build(tiny, { parameters }), x, y);
        },
        values,
        { raise: false },
      );
      assert.ok(report.passed, `${type} (seed ${seed}): worst ${JSON.stringify(report.worst)}`);
      // Every parameter takes part: none has an all-zero gradient.
      report.analytic.forEach((g, i) => {
        assert.ok(g.some((v) => v !== 0), `${type}: ${names[i]} gets no gradient`);
      });
    });
  }
});

Deno.test("a model built from given parameters uses them, and refuses ones that do not fit", () => {
  const model = new Mlp(tiny, { seed: 1 });
  const copy = new Mlp(tiny, { parameters: model.namedParameters() });
  assert.deepEqual(Array.from(copy.forward(x).data), Array.from(model.forward(x).data));
  const parameters = model.namedParameters();
  parameters.delete("mlp.2.bias");
  assert.throws(() => new Mlp(tiny, { parameters }), /mlp: parameter "mlp.2.bias" is not given/);
  parameters.set("mlp.2.bias", new Tensor(new Float64Array(5), [5]));
  assert.throws(
    () => new Mlp(tiny, { parameters }),
    /"mlp.2.bias" has shape \[5\], expected \[4\]/,
  );
  parameters.set("mlp.2.bias", new Tensor(new Float64Array(4), [4]));
  parameters.set("extra", new Tensor(new Float64Array(1), [1]));
  assert.throws(() => new Mlp(tiny, { parameters }), /unknown parameter "extra"/);
  assert.throws(() => new Rnn(tiny, "lstm" as "rnn"), /cell must be "rnn" or "gru", got lstm/);
  assert.throws(() => new Bigram({ ...tiny, vocabSize: 1.5 }), /bigram: vocabSize must be a whole/);
});

Deno.test("models are causal: a later token never changes an earlier position's logits", () => {
  for (const [type, build] of Object.entries(builders)) {
    const model = build(tiny, { seed: 3 });
    scramble(model);
    const a = model.forward([[0, 1, 2]]).data;
    const b = model.forward([[0, 1, 3]]).data;
    const v = tiny.vocabSize;
    assert.deepEqual(Array.from(a.subarray(0, 2 * v)), Array.from(b.subarray(0, 2 * v)), type);
    assert.notDeepEqual(Array.from(a.subarray(2 * v)), Array.from(b.subarray(2 * v)), type);
  }
});

Deno.test("padding targets (−1) add nothing to the loss or its gradient", () => {
  for (const [type, build] of Object.entries(builders)) {
    const model = build(tiny, { seed: 5 });
    // Changing what an ignored position would have predicted changes nothing.
    const one = sequenceLoss(model, [[0, 3, 0]], [[3, 0, -1]]);
    const other = sequenceLoss(model, [[0, 3, 1]], [[3, 0, -1]]);
    assert.equal(one.item(), other.item(), type);
    // The loss is the mean over the counted targets only: compare with the two rows alone.
    const logits = model.forward([[0, 3, 0]]);
    const manual = logits.slice({ axis: 1, start: 0, end: 2 }).crossEntropy(
      new Tensor(new Float64Array([3, 0]), [1, 2]),
    );
    assert.ok(Math.abs(manual.item() - one.item()) < 1e-15, type);
  }
});

Deno.test("the learned bigram reaches the counting bigram's loss (1e-3 nats)", () => {
  // A few hundred pairs from a small fixed alphabet, as names are.
  const random = new Random(11);
  const words = Array.from({ length: 60 }, () => {
    const length = 1 + random.integer(5);
    return Array.from({ length }, () => 1 + random.integer(3 + random.integer(2)));
  });
  const block = 7;
  const xs = words.map((w) => [0, ...w, ...Array(block).fill(0)].slice(0, block));
  const ys = words.map((w) => [...w, 0, ...Array(block).fill(-1)].slice(0, block));
  const vocab = 5;
  const counting = new CountingBigram(vocab, { smoothing: 0 });
  counting.count(xs, ys);
  const countLoss = counting.loss(xs, ys);
  const model = new Bigram({ ...tiny, vocabSize: vocab });
  const optimizer = new TensorAdamW(model.namedParameters(), { learningRate: 0.1, weightDecay: 0 });
  let loss = Infinity;
  for (let step = 0; step < 1500; step++) {
    optimizer.zeroGrad();
    const l = sequenceLoss(model, xs, ys);
    l.backward();
    optimizer.step();
    loss = l.item();
  }
  assert.ok(loss >= countLoss - 1e-12, `learned ${loss} below the optimum ${countLoss}`);
  assert.ok(loss - countLoss < 1e-3, `learned ${loss}, counted ${countLoss}`);
  // The learned conditional probabilities are the counted ones, where there are counts.
  const logits = model.logits;
  for (let i = 0; i < vocab; i++) {
    let row = 0;
    for (let j = 0; j < vocab; j++) row += counting.counts[i * vocab + j];
    if (row === 0) continue;
    const z = Array.from(logits.data.subarray(i * vocab, (i + 1) * vocab));
    const max = Math.max(...z);
    const total = z.reduce((a, b) => a + Math.exp(b - max), 0);
    for (let j = 0; j < vocab; j++) {
      const p = Math.exp(z[j] - max) / total;
      assert.ok(Math.abs(p - counting.probability(i, j)) < 0.01, `P(${j}|${i})`);
    }
  }
});

Deno.test("counting bigram: smoothing, log-probabilities and bad input", () => {
  const counting = new CountingBigram(3);
  counting.count([[0, 1]], [[1, -1]]);
  assert.equal(counting.probability(0, 1), 2 / 4);
  assert.equal(counting.probability(2, 0), 1 / 3);
  const table = counting.logProbabilities();
  assert.ok(Math.abs(table.data[1] - Math.log(0.5)) < 1e-15);
  assert.throws(() => new CountingBigram(0), /vocabSize must be a whole number ≥ 1, got 0/);
  assert.throws(() => new CountingBigram(3, { smoothing: -1 }), /smoothing must be/);
  assert.throws(() => counting.count([[0, 5]], [[1, 1]]), /id 5 at row 0, position 1/);
  assert.throws(() => counting.count([[0]], [[1], [2]]), /1 input rows but 2 target rows/);
  assert.throws(() => counting.count([[0, 1]], [[1]]), /row 0 has 2 inputs, 1 targets/);
  const bare = new CountingBigram(2, { smoothing: 0 });
  assert.throws(() => bare.probability(0, 0), /token 0 was never seen and smoothing is 0/);
  bare.count([[0]], [[1]]);
  assert.throws(() => bare.loss([[0]], [[0]]), /the pair 0→0 has probability 0/);
  assert.throws(() => bare.loss([[0]], [[-1]]), /no pairs/);
});

Deno.test("ids and targets: tensors or rows, checked", () => {
  const model = new Bigram(tiny);
  const ids = new Tensor(new Float64Array([0, 1, 2, 3]), [2, 2]);
  assert.deepEqual(model.forward(ids).shape, [2, 2, 4]);
  assert.equal(
    sequenceLoss(model, ids, new Float64Array([1, 2, 3, -1])).item(),
    sequenceLoss(model, [[0, 1], [2, 3]], [[1, 2], [3, -1]]).item(),
  );
  assert.throws(() => model.forward(new Tensor(new Float64Array(2), [2])), /ids must have shape/);
  assert.throws(() => model.forward([]), /needs at least one id/);
  assert.throws(() => model.forward([[0, 1], [2]]), /row 1 has 1 ids, row 0 has 2/);
  assert.throws(() => sequenceLoss(model, [[0, 1]], [[1]]), /1 targets for logits \[1,2,4\]/);
  assert.throws(
    () => new BagOfWords(tiny, { seed: 1 }).forward([[0, 1, 2, 3]]),
    /4 positions, more than/,
  );
});

Deno.test("the ladder builds every type by name and refuses unknown ones", () => {
  for (const type of MODEL_TYPES) {
    assert.equal(createModel(type, { ...tiny, nHead: 2, nEmbd: 4 }, { seed: 1 }).type, type);
  }
  // Nothing random is drawn without a seed or a source (the library's seeding policy).
  for (const type of ["mlp", "rnn", "gru", "bow", "transformer"]) {
    assert.throws(() => createModel(type, tiny), new RegExp(`${type}: give a seed or a source`));
  }
  assert.throws(() => createModel("lstm", tiny), /unknown model type "lstm" \(known: bigram,/);
  assert.throws(() => createModel("toString", tiny), /unknown model type/);
  assert.throws(() => registerModelType("mlp", (c) => new Mlp(c)), /"mlp" is already registered/);
});
