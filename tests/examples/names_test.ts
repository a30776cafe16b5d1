import assert from "node:assert/strict";
import names from "../../data/names.txt" with { type: "text" };
import {
  batchAt,
  evaluateExamples,
  groupSamples,
  namesData,
  parseNamesArgs,
  sampleNames,
} from "../../examples/names.ts";
import { Bigram } from "../../lib/lm/bigram.ts";
import { createModel } from "../../lib/lm/ladder.ts";

const data = namesData(names);
const config = {
  vocabSize: data.tokenizer.vocabSize,
  blockSize: data.blockSize,
  nLayer: 1,
  nHead: 1,
  nEmbd: 4,
  nEmbd2: 4,
};

Deno.test("names data: makemore's split, vocabulary and block size", () => {
  assert.equal(data.train.length + data.test.length, 32257);
  assert.equal(data.test.length, 1000);
  assert.equal(config.vocabSize, 27); // the boundary "." and 26 letters
  assert.equal(config.blockSize, 16); // the longest name has 15 letters
  assert.equal(data.trainExamples.count, data.train.length);
  // Every line lands in exactly one set.
  assert.deepEqual([...data.train, ...data.test].sort(), names.trim().split("\n").sort());
  // Seeded: the same seed splits the same way, another seed differently.
  assert.deepEqual(namesData(names).test, data.test);
  assert.notDeepEqual(namesData(names, 1).test, data.test);
});

Deno.test("the batch of a step is a function of (seed, step) alone", () => {
  const a = batchAt(data.trainExamples, 4, 3407, 12);
  const b = batchAt(data.trainExamples, 4, 3407, 12);
  assert.deepEqual(Array.from(a.x.data), Array.from(b.x.data));
  assert.deepEqual(a.x.shape, [4, 16]);
  assert.notDeepEqual(
    Array.from(batchAt(data.trainExamples, 4, 3407, 13).x.data),
    Array.from(a.x.data),
  );
  assert.notDeepEqual(
    Array.from(batchAt(data.trainExamples, 4, 1, 12).x.data),
    Array.from(a.x.data),
  );
  // Rows are makemore's: input starts with the boundary, target ends with it, then −1.
  for (let r = 0; r < 4; r++) {
    const y = Array.from(a.y.data.subarray(r * 16, r * 16 + 16));
    assert.equal(a.x.data[r * 16], 0);
    const end = y.indexOf(0);
    assert.ok(end > 0 && y.slice(end + 1).every((t) => t === -1));
  }
});

Deno.test("evaluation: a uniform model scores ln 27 on every counted target", () => {
  const uniform = new Bigram(config);
  assert.ok(Math.abs(evaluateExamples(uniform, data.testExamples) - Math.log(27)) < 1e-12);
  assert.ok(Math.abs(evaluateExamples(uniform, data.trainExamples, 250) - Math.log(27)) < 1e-12);
});

Deno.test("samples: reproducible from the seed, cut at the boundary, grouped as makemore", () => {
  const model = createModel("rnn", config, { seed: 1 });
  const options = { count: 8, seed: 5, temperature: 1 };
  const first = sampleNames(model, data, options);
  assert.deepEqual(sampleNames(model, data, options), first);
  assert.ok(first.every((name) => !name.includes(".") && name.length <= 15));
  const groups = groupSamples([data.train[0], data.test[0], "zzzzqx", data.train[1]], data);
  assert.deepEqual(groups, {
    train: [data.train[0], data.train[1]],
    test: [data.test[0]],
    fresh: ["zzzzqx"],
  });
});

Deno.test("flags: makemore's defaults, and clear errors", () => {
  const options = parseNamesArgs(["--type", "gru"]);
  assert.equal(options.type, "gru");
  assert.equal(options.batchSize, 32);
  assert.equal(options.learningRate, 5e-4);
  assert.equal(options.weightDecay, 0.01);
  assert.equal(options.maxSteps, 5000);
  assert.equal(options.seed, 3407);
  assert.equal(options.outDir, "out/names-gru");
  assert.equal(options.topK, undefined);
  assert.equal(parseNamesArgs(["--top-k", "5", "--top-p", "0.9"]).topP, 0.9);
  assert.throws(
    () => parseNamesArgs(["--max-steps", "1.5"]),
    /--max-steps: expected a whole number ≥ 0, got "1.5"/,
  );
  assert.throws(
    () => parseNamesArgs(["--learning-rate", "x"]),
    /--learning-rate: expected a number/,
  );
  assert.throws(() => parseNamesArgs(["--bogus"]), /bogus/);
});
