import assert from "node:assert/strict";
import fc from "fast-check";
import names from "../../data/names.txt" with { type: "text" };
import shakespeare from "../../data/shakespeare.txt" with { type: "text" };
import { Random } from "../../lib/util/random.ts";
import {
  CharTokenizer,
  linesOf,
  sampleWindows,
  sampleWordBatch,
  shuffled,
  splitProse,
  splitWords,
  wordExamples,
} from "../../lib/text/mod.ts";

const SEED = 8_002;
console.log(`splits_batches_test: fast-check seed ${SEED}`);

Deno.test("splits", async (t) => {
  await t.step("names: 1,000 test names, seeded, disjoint positions, all kept", () => {
    const words = linesOf(names);
    assert.equal(words.length, 32_257);
    const split = splitWords(words);
    assert.equal(split.test.length, 1000);
    assert.equal(split.train.length, 31_257);
    assert.deepEqual([...split.train, ...split.test].sort(), [...words].sort());
    assert.deepEqual(splitWords(words).test, split.test);
    assert.notDeepEqual(splitWords(words, { seed: 1 }).test, split.test);
  });
  await t.step("shuffled is a seeded permutation (Fisher–Yates on Random)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.nat(2 ** 32 - 1), (items, seed) => {
        const out = shuffled(items, new Random(seed));
        assert.deepEqual(out, shuffled(items, new Random(seed)));
        assert.deepEqual([...out].sort((a, b) => a - b), [...items].sort((a, b) => a - b));
      }),
      { seed: SEED, numRuns: 100 },
    );
    // Every one of the 6 orders of 3 items appears over many seeds (the shuffle is not biased
    // towards a few).
    const seen = new Set<string>();
    for (let s = 0; s < 200; s++) seen.add(shuffled([1, 2, 3], new Random(s)).join(""));
    assert.equal(seen.size, 6);
  });
  await t.step("prose: nanoGPT's 90/10 on Shakespeare is 337,987 / 37,555 characters", () => {
    const { train, val } = splitProse(shakespeare);
    assert.equal([...train].length, 337_987);
    assert.equal([...val].length, 37_555);
    assert.equal(train + val, shakespeare);
    const ids = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(splitProse(ids), { train: ids.slice(0, 9), val: ids.slice(9) });
    assert.deepEqual(splitProse("a😀b😀", 0.5), { train: "a😀", val: "b😀" });
  });
  await t.step("bad arguments", () => {
    assert.throws(
      () => splitWords(["a"], { testSize: 2 }),
      /testSize must be an integer in \[0, 1\], got 2/,
    );
    assert.throws(() => splitWords("ab" as unknown as string[]), /words must be an array/);
    assert.throws(() => splitProse("ab", 1.5), /trainFraction must be in \[0, 1\], got 1.5/);
    assert.throws(
      () => splitProse(3 as unknown as string),
      /sequence must be a string or an array/,
    );
    assert.throws(() => linesOf(3 as unknown as string), /linesOf: text must be a string/);
  });
});

Deno.test("batches", async (t) => {
  await t.step("windows: targets are inputs shifted by one, starts in range, seeded", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 60 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(1000),
        (length, blockSize0, batchSize, seed) => {
          const blockSize = Math.min(blockSize0, length - 1);
          const tokens = Array.from({ length }, (_, i) => i);
          const batch = sampleWindows(tokens, { batchSize, blockSize, random: new Random(seed) });
          assert.equal(batch.inputs.length, batchSize * blockSize);
          for (let b = 0; b < batchSize; b++) {
            const start = batch.inputs[b * blockSize];
            assert.ok(start >= 0 && start + blockSize < length);
            for (let i = 0; i < blockSize; i++) {
              assert.equal(batch.inputs[b * blockSize + i], start + i);
              assert.equal(batch.targets[b * blockSize + i], start + i + 1);
            }
          }
          const again = sampleWindows(tokens, { batchSize, blockSize, random: new Random(seed) });
          assert.deepEqual(again, batch);
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
    assert.throws(
      () => sampleWindows([1, 2], { batchSize: 1, blockSize: 2, random: new Random(0) }),
      /need more than blockSize \(2\) tokens, got 2/,
    );
    assert.throws(
      () => sampleWindows([1, 2, 3], { batchSize: 0, blockSize: 1, random: new Random(0) }),
      /batchSize must be an integer >= 1, got 0/,
    );
    assert.throws(
      () =>
        sampleWindows(null as unknown as number[], {
          batchSize: 1,
          blockSize: 1,
          random: new Random(0),
        }),
      /tokens must be an array, got null/,
    );
  });
  await t.step("word examples: makemore's rows on real names", () => {
    const words = linesOf(names).slice(0, 200);
    const tokenizer = CharTokenizer.fromText(words.join(""));
    const examples = wordExamples(words.map((w) => tokenizer.encode(w)));
    const longest = Math.max(...words.map((w) => w.length));
    assert.equal(examples.blockSize, longest + 1);
    assert.equal(examples.count, 200);
    const row = words.indexOf("emma");
    const x = [...examples.inputs.subarray(row * (longest + 1), (row + 1) * (longest + 1))];
    const y = [...examples.targets.subarray(row * (longest + 1), (row + 1) * (longest + 1))];
    const e = tokenizer.encode("emma");
    assert.deepEqual(x, [0, ...e, ...Array(longest - 4).fill(0)]);
    assert.deepEqual(y, [...e, 0, ...Array(longest - 4).fill(-1)]);
    assert.equal(wordExamples([[1]], 4).blockSize, 4);
    assert.throws(() => wordExamples([[1, 2]], 2), /blockSize must be an integer >= 3, got 2/);
    assert.throws(() => wordExamples([[1, 0]]), /words\[0\]\[1\] must be a positive id/);
    assert.throws(() => wordExamples({} as unknown as number[][]), /array of id arrays/);
  });
  await t.step("word batches: rows of the examples, with replacement, seeded", () => {
    const examples = wordExamples([[1, 2], [3], [4, 5]]);
    const batch = sampleWordBatch(examples, { batchSize: 50, random: new Random(9) });
    const rows = new Set<string>();
    for (let b = 0; b < 50; b++) {
      const x = batch.inputs.subarray(b * 3, b * 3 + 3).join(",");
      const y = batch.targets.subarray(b * 3, b * 3 + 3).join(",");
      rows.add(`${x}|${y}`);
    }
    assert.deepEqual([...rows].sort(), ["0,1,2|1,2,0", "0,3,0|3,0,-1", "0,4,5|4,5,0"]);
    assert.deepEqual(sampleWordBatch(examples, { batchSize: 50, random: new Random(9) }), batch);
    assert.throws(
      () => sampleWordBatch(wordExamples([]), { batchSize: 1, random: new Random(0) }),
      /there are no examples/,
    );
  });
});
