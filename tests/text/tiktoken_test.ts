// Our encoder with OpenAI's published ranks against an independent implementation, js-tiktoken
// (a test-only dependency): identical ids for any string, and decode gives the string back.
import assert from "node:assert/strict";
import fc from "fast-check";
import { Tiktoken } from "js-tiktoken/lite";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import gpt2 from "js-tiktoken/ranks/gpt2";
import shakespeare from "../../data/shakespeare.txt" with { type: "text" };
import { BpeTokenizer, CL100K_PATTERN, GPT2_PATTERN } from "../../lib/text/mod.ts";
import { textArbitrary } from "./_text_arbitraries.ts";

const SEED = 8_004;
console.log(`tiktoken_test: fast-check seed ${SEED}`);

for (
  const [name, ranks, pattern, size] of [
    ["gpt2", gpt2, GPT2_PATTERN, 50_257],
    ["cl100k_base", cl100k, CL100K_PATTERN, 100_277],
  ] as const
) {
  Deno.test(`${name}: our encoder reproduces js-tiktoken's ids`, async (t) => {
    const ours = BpeTokenizer.fromTiktoken(ranks);
    const theirs = new Tiktoken(ranks);
    await t.step("the ranks: pattern, vocabulary size, special tokens", () => {
      assert.equal(ours.pattern, pattern);
      assert.equal(ours.vocabSize, size);
      assert.deepEqual(ours.specialTokens, ranks.special_tokens);
    });
    await t.step("any string (full Unicode, emoji, whitespace runs, contractions, digits)", () => {
      fc.assert(
        fc.property(textArbitrary, (s) => {
          const ids = ours.encode(s);
          assert.deepEqual(ids, theirs.encode(s));
          assert.equal(ours.decode(ids), s);
          // js-tiktoken's decoder drops a leading U+FEFF (TextDecoder's default); ours keeps it.
          if (!s.startsWith("\uFEFF")) assert.equal(theirs.decode(ids), s);
        }),
        { seed: SEED, numRuns: 400 },
      );
    });
    await t.step("long runs and a page of Shakespeare", () => {
      for (
        const s of [
          " ".repeat(300) + "x",
          "\n".repeat(50) + "  \t ",
          "9".repeat(301),
          "a".repeat(400),
          "😀".repeat(200),
          shakespeare.slice(1000, 6000),
        ]
      ) {
        assert.deepEqual(ours.encode(s), theirs.encode(s));
      }
    });
    await t.step("special tokens, allowed and refused, as js-tiktoken treats them", () => {
      const s = "a<|endoftext|>b";
      assert.deepEqual(
        ours.encode(s, { allowedSpecial: "all" }),
        theirs.encode(s, "all"),
      );
      assert.deepEqual(
        ours.encode(s, { disallowedSpecial: [] }),
        theirs.encode(s, [], []),
      );
      assert.throws(() => ours.encode(s), /special token "<\|endoftext\|>" at index 1/);
      assert.throws(() => theirs.encode(s));
    });
  });
}

Deno.test("the .tiktoken text format and our saved format carry the same ranks", () => {
  const ours = BpeTokenizer.fromTiktoken(gpt2);
  const lines: string[] = [];
  for (let id = 0; id < 50_257 - 1; id++) {
    lines.push(`${btoa(String.fromCharCode(...ours.tokenBytes(id)))} ${id}`);
  }
  const fromText = BpeTokenizer.fromTiktoken(lines.join("\n") + "\n", {
    pattern: GPT2_PATTERN,
    specialTokens: { "<|endoftext|>": 50_256 },
  });
  const saved = BpeTokenizer.parse(JSON.stringify(ours));
  const sample = shakespeare.slice(0, 3000);
  assert.deepEqual(fromText.encode(sample), ours.encode(sample));
  assert.deepEqual(saved.encode(sample), ours.encode(sample));
  assert.equal(saved.toJSON().tokens!.length, 50_256);
  assert.throws(() => BpeTokenizer.fromTiktoken("YQ== 1 2"), /line 1 must be "<base64> <rank>"/);
  assert.throws(() => BpeTokenizer.fromTiktoken("YQ== x"), /line 1 must be/);
  assert.throws(() => BpeTokenizer.fromTiktoken("!!! 0"), /"!!!" on line 1 is not base64/);
  assert.throws(
    () => BpeTokenizer.fromTiktoken("YQ== 0\nYg== 0"),
    /rank 0 on line 2 is given twice/,
  );
  assert.throws(() => BpeTokenizer.fromTiktoken("YQ== 0"), /byte 0 has no token/);
  assert.throws(
    () => BpeTokenizer.fromTiktoken(null as unknown as string),
    /js-tiktoken rank object/,
  );
});
