import assert from "node:assert/strict";
import { Random } from "../../lib/util/random.ts";
import { sampleSequences, sampleToken, samplingDistribution } from "../../lib/lm/sample.ts";
import { Mlp } from "../../lib/lm/mlp.ts";

Deno.test("sampling distribution: temperature, top-k, top-p", () => {
  const logits = [2, 1, 0, -1];
  const plain = samplingDistribution(logits);
  assert.ok(Math.abs(plain.reduce((a, b) => a + b, 0) - 1) < 1e-15);
  const cold = samplingDistribution(logits, { temperature: 0.1 });
  assert.ok(cold[0] > 0.9999);
  const hot = samplingDistribution(logits, { temperature: 100 });
  assert.ok(Math.abs(hot[0] - 0.25) < 0.01);
  const top2 = samplingDistribution(logits, { topK: 2 });
  assert.equal(top2[2] + top2[3], 0);
  assert.ok(Math.abs(top2[0] / top2[1] - Math.E) < 1e-12);
  // p = [0.64, 0.24, 0.09, 0.03]: top-p 0.8 keeps two tokens, 0.5 keeps one.
  assert.equal(samplingDistribution(logits, { topP: 0.8 }).filter((p) => p > 0).length, 2);
  assert.deepEqual(Array.from(samplingDistribution(logits, { topP: 0.5 })), [1, 0, 0, 0]);
  // Ties at the cut go to the lower id.
  assert.deepEqual(Array.from(samplingDistribution([0, 0, 0], { topK: 1 })), [1, 0, 0]);
  for (
    const [options, message] of [
      [{ temperature: 0 }, /temperature/],
      [{ topK: 0 }, /topK/],
      [{ topP: 0 }, /topP/],
    ] as const
  ) {
    assert.throws(() => samplingDistribution(logits, options), message);
  }
  assert.throws(() => samplingDistribution([]), /no logits/);
  assert.throws(() => samplingDistribution([1, NaN]), /logit 1 is NaN/);
});

Deno.test("sampleToken draws with the right frequencies, reproducibly", () => {
  const random = new Random(5);
  const counts = [0, 0, 0];
  const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
  for (let i = 0; i < 20000; i++) counts[sampleToken(logits, { random })]++;
  assert.ok(Math.abs(counts[0] / 20000 - 0.5) < 0.02 && Math.abs(counts[2] / 20000 - 0.2) < 0.02);
});

Deno.test("sampleSequences: same seed, same names; only the last blockSize tokens are fed", () => {
  const model = new Mlp({ vocabSize: 5, blockSize: 3, nLayer: 1, nHead: 1, nEmbd: 2, nEmbd2: 4 }, {
    seed: 2,
  });
  const run = (seed: number) =>
    sampleSequences((ids) => model.forward(ids), [[0], [0], [0]], {
      maxNewTokens: 6,
      blockSize: 3,
      random: new Random(seed),
      topK: 3,
    });
  assert.deepEqual(run(1), run(1));
  assert.notDeepEqual(run(1), run(2));
  assert.ok(run(1).every((s) => s.length === 7 && s[0] === 0));
  assert.throws(
    () =>
      sampleSequences((ids) => model.forward(ids), [[0], []], {
        maxNewTokens: 1,
        blockSize: 3,
        random: new Random(1),
      }),
    /same length/,
  );
  assert.throws(
    () =>
      sampleSequences((ids) => model.forward(ids), [[0]], {
        maxNewTokens: -1,
        blockSize: 3,
        random: new Random(1),
      }),
    /maxNewTokens/,
  );
  assert.throws(
    () =>
      sampleSequences((ids) => model.forward(ids), [[0]], {
        maxNewTokens: 1,
        blockSize: 0,
        random: new Random(1),
      }),
    /blockSize/,
  );
  assert.deepEqual(
    sampleSequences((ids) => model.forward(ids), [], {
      maxNewTokens: 1,
      blockSize: 3,
      random: new Random(1),
    }),
    [],
  );
  assert.throws(
    () =>
      sampleSequences(() => model.forward([[0, 1]]), [[0]], {
        maxNewTokens: 1,
        blockSize: 3,
        random: new Random(1),
      }),
    /forward returned shape \[1,2,5\] for ids \[1,1\]/,
  );
});
