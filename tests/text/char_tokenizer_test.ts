import assert from "node:assert/strict";
import fc from "fast-check";
import names from "../../data/names.txt" with { type: "text" };
import shakespeare from "../../data/shakespeare.txt" with { type: "text" };
import { CharTokenizer } from "../../lib/text/mod.ts";

const SEED = 8_001;
console.log(`char_tokenizer_test: fast-check seed ${SEED}`);

Deno.test("CharTokenizer on the shipped corpora", async (t) => {
  await t.step("names: makemore's 27 ids, '.' is 0, letters 1..26 in order", () => {
    const tokenizer = CharTokenizer.fromText(names.replaceAll("\n", ""));
    assert.equal(tokenizer.vocabSize, 27);
    assert.equal(tokenizer.vocab.join(""), ".abcdefghijklmnopqrstuvwxyz");
    assert.equal(tokenizer.boundaryId, 0);
    assert.deepEqual(tokenizer.encode("emma"), [5, 13, 13, 1]);
  });
  await t.step("shakespeare: nanoGPT's 74 ids without a boundary", () => {
    const tokenizer = CharTokenizer.fromText(shakespeare, { boundary: null });
    assert.equal(tokenizer.vocabSize, 74);
    assert.equal(tokenizer.vocab[0], "\n");
    assert.equal(tokenizer.encode("\n ")[1], 1);
    assert.equal(tokenizer.decode(tokenizer.encode(shakespeare)), shakespeare);
  });
});

Deno.test("CharTokenizer properties", async (t) => {
  const text = fc.string({ unit: "grapheme", maxLength: 40 });
  await t.step(
    "decode(encode(s)) === s, ids in range, deterministic, one id per code point",
    () => {
      fc.assert(
        fc.property(text, fc.string({ unit: "grapheme", maxLength: 20 }), (corpus, extra) => {
          const source = (corpus + extra).replaceAll("\u0001", "");
          const tokenizer = CharTokenizer.fromText(source, { boundary: "\u0001" });
          const ids = tokenizer.encode(source);
          assert.equal(tokenizer.decode(ids), source);
          assert.equal(ids.length, [...source].length);
          assert.ok(ids.every((id) => Number.isInteger(id) && id >= 1 && id < tokenizer.vocabSize));
          assert.deepEqual(tokenizer.encode(source), ids);
          const sorted = tokenizer.vocab.slice(1).map((c) => c.codePointAt(0)!);
          assert.deepEqual(sorted, [...sorted].sort((a, b) => a - b));
        }),
        { seed: SEED, numRuns: 200 },
      );
    },
  );
});

Deno.test("CharTokenizer refuses bad input, naming it", async (t) => {
  const tokenizer = CharTokenizer.fromText("abc😀");
  await t.step("an unknown character, with its position in code points", () => {
    assert.throws(
      () => tokenizer.encode("a😀bz"),
      { name: "RangeError", message: /character "z" \(U\+007A\) at position 3/ },
    );
    assert.throws(() => tokenizer.encode("a🙂"), /"🙂" \(U\+1F642\) at position 1/);
  });
  await t.step("non-strings and lone surrogates", () => {
    assert.throws(() => tokenizer.encode(42 as unknown as string), {
      name: "TypeError",
      message: /CharTokenizer.encode: text must be a string, got 42 \(number\)/,
    });
    assert.throws(() => tokenizer.encode("ab\uD800c"), {
      name: "RangeError",
      message: /lone surrogate U\+D800 at index 2/,
    });
    assert.throws(() => CharTokenizer.fromText("\uDC00"), /lone surrogate U\+DC00 at index 0/);
    assert.throws(() => CharTokenizer.fromText(null as unknown as string), /got null/);
  });
  await t.step("ids out of range in decode", () => {
    assert.throws(() => tokenizer.decode([0, 5]), {
      name: "RangeError",
      message: /CharTokenizer.decode: ids\[1\] must be an integer in \[0, 4\], got 5 \(number\)/,
    });
    assert.throws(() => tokenizer.decode([1.5]), /ids\[0\] .* got 1.5/);
    assert.throws(() => tokenizer.decode("ab" as unknown as number[]), /must be an array/);
  });
  await t.step("a boundary that occurs in the text, or is not one character", () => {
    assert.throws(
      () => CharTokenizer.fromText("a.b"),
      /boundary "." occurs in the text at position 1/,
    );
    assert.throws(() => CharTokenizer.fromText("ab", { boundary: "<>" }), /one character or null/);
  });
  await t.step("a bad explicit vocabulary", () => {
    assert.throws(() => new CharTokenizer([]), /non-empty array/);
    assert.throws(() => new CharTokenizer(["a", "a"]), /vocab\[1\] "a" is a duplicate/);
    assert.throws(() => new CharTokenizer(["ab"]), /vocab\[0\] must be one code point/);
    assert.throws(() => new CharTokenizer(["a", "."], "."), /boundary "." must be vocab\[0\]/);
    assert.deepEqual(new CharTokenizer(["😀", "a"]).encode("a😀"), [1, 0]);
  });
});
