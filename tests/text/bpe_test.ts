import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import shakespeare from "../../data/shakespeare.txt" with { type: "text" };
import { BpeTokenizer, type SplitPattern } from "../../lib/text/mod.ts";
import { trainByScan, trainIncremental } from "../../lib/text/_bpe_train.ts";
import { binaryOf, encodePiece } from "../../lib/text/_bpe_encode.ts";
import { textArbitrary } from "./_text_arbitraries.ts";

const SEED = 8_003;
console.log(`bpe_test: fast-check seed ${SEED}`);

const SAMPLE = shakespeare.slice(0, 20_000);
const PATTERNS: SplitPattern[] = ["gpt2", "cl100k", "none"];
const trained = new Map(
  PATTERNS.map((p) => [p, BpeTokenizer.train(SAMPLE, 400, { pattern: p })] as const),
);

Deno.test("BpeTokenizer properties", async (t) => {
  await t.step("decode(encode(s)) === s; ids in range; deterministic (every pattern)", () => {
    fc.assert(
      fc.property(textArbitrary, fc.constantFrom(...PATTERNS), (s, pattern) => {
        const bpe = trained.get(pattern)!;
        const ids = bpe.encode(s);
        assert.equal(bpe.decode(ids), s);
        assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < bpe.vocabSize));
        assert.deepEqual(bpe.encode(s), ids);
        assert.ok(ids.length <= new TextEncoder().encode(s).length);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
  await t.step("a leading byte-order mark is text, kept by decode", () => {
    const bpe = trained.get("gpt2")!;
    assert.equal(bpe.decode(bpe.encode("\uFEFFTo be")), "\uFEFFTo be");
  });
  await t.step("a vocabulary of 256 is the identity on bytes", () => {
    const bytes = BpeTokenizer.train("whatever", 256);
    fc.assert(
      fc.property(textArbitrary, (s) => {
        assert.deepEqual(bytes.encode(s), [...new TextEncoder().encode(s)]);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });
  await t.step(
    "training is deterministic; incremental and scan-per-merge learn the same merges",
    () => {
      fc.assert(
        fc.property(
          textArbitrary,
          textArbitrary,
          fc.constantFrom(...PATTERNS),
          fc.integer({ min: 0, max: 40 }),
          (a, b, pattern, extra) => {
            const text = a + b + a; // repeats make ties and overlaps common
            const chunks = [...new Set([text, a, b])].map((s, i) => ({
              bytes: new TextEncoder().encode(s),
              count: i + 1,
            }));
            const incremental = trainIncremental(chunks, extra);
            assert.deepEqual(incremental, trainByScan(chunks, extra));
            assert.deepEqual(trainIncremental(chunks, extra), incremental);
            let bpe: BpeTokenizer;
            try {
              bpe = BpeTokenizer.train(text, 256 + extra, { pattern });
            } catch (error) {
              assert.match((error as Error).message, /is more than this text allows/);
              return;
            }
            const scan = BpeTokenizer.train(text, 256 + extra, { pattern, algorithm: "scan" });
            assert.deepEqual(bpe.merges, scan.merges);
            assert.equal(bpe.decode(bpe.encode(text)), text);
          },
        ),
        { seed: SEED, numRuns: 200 },
      );
    },
  );
  await t.step("overlaps and ties follow the documented rule", () => {
    // "aaaa": (a,a) occurs 3 times; merged left to right it gives "aa aa".
    assert.deepEqual(trainIncremental([{ bytes: new Uint8Array([97, 97, 97, 97]), count: 1 }], 2), [
      [97, 97],
      [256, 256],
    ]);
    // Every pair of "abcd" occurs once: the smallest left id goes first.
    assert.deepEqual(
      trainIncremental([{ bytes: new Uint8Array([100, 99, 98, 97]), count: 1 }], 1),
      [
        [98, 97],
      ],
    );
  });
  await t.step("a merge never increases the token count", () => {
    const sizes = [256, 270, 300, 350, 400];
    const tokenizers = sizes.map((n) => BpeTokenizer.train(SAMPLE, n, { pattern: "gpt2" }));
    for (let i = 1; i < tokenizers.length; i++) {
      // The smaller vocabulary's merges are a prefix of the larger one's.
      assert.deepEqual(tokenizers[i].merges.slice(0, sizes[i - 1] - 256), tokenizers[i - 1].merges);
    }
    fc.assert(
      fc.property(
        fc.oneof(
          textArbitrary,
          fc.integer({ min: 0, max: 19_900 }).map((k) => SAMPLE.slice(k, k + 100)),
        ),
        (s) => {
          const counts = tokenizers.map((bpe) => bpe.encode(s).length);
          for (let i = 1; i < counts.length; i++) {
            assert.ok(counts[i] <= counts[i - 1], `${counts}`);
          }
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
    const onText = tokenizers.map((bpe) => bpe.encode(SAMPLE).length);
    for (let i = 1; i < onText.length; i++) assert.ok(onText[i] < onText[i - 1]);
  });
  await t.step("long pieces (heap) merge exactly as short pieces (scan)", () => {
    const none = trained.get("none")!;
    const ranks = new Map<string, number>();
    for (let id = 0; id < none.vocabSize; id++) {
      const binary = String.fromCharCode(...none.tokenBytes(id));
      if (!ranks.has(binary)) ranks.set(binary, id);
    }
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(
        fc.oneof(
          textArbitrary,
          fc.integer({ min: 0, max: 19_000 }).map((k) => SAMPLE.slice(k, k + 900)),
        ),
        (s) => {
          if (s.length === 0) return;
          const piece = binaryOf(s, encoder);
          const short: number[] = [], long: number[] = [];
          encodePiece(piece, ranks, short, Infinity);
          encodePiece(piece, ranks, long, 0);
          assert.deepEqual(long, short);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});

Deno.test("BpeTokenizer: special tokens, rendering and merges", async (t) => {
  const bpe = BpeTokenizer.train(SAMPLE, 300, {
    pattern: "gpt2",
    specialTokens: ["<|endoftext|>", "<|pad|>"],
  });
  await t.step("special tokens take the ids after the vocabulary and are never learned", () => {
    assert.deepEqual(bpe.specialTokens, { "<|endoftext|>": 300, "<|pad|>": 301 });
    assert.equal(bpe.vocabSize, 302);
    const ids = bpe.encode("To be<|endoftext|>or not<|pad|>", { allowedSpecial: "all" });
    assert.equal(ids.filter((id) => id >= 300).length, 2);
    assert.equal(bpe.decode(ids), "To be<|endoftext|>or not<|pad|>");
    const withText = BpeTokenizer.train(`hello<|endoftext|>world `.repeat(30), 264, {
      specialTokens: ["<|endoftext|>"],
    });
    assert.ok(
      withText.mergeStrings().every((m) => !m.includes("|")),
      "special text is not learned from",
    );
  });
  await t.step("allowed, disallowed, and as plain text", () => {
    assert.throws(() => bpe.encode("x<|pad|>"), {
      name: "RangeError",
      message: /the special token "<\|pad\|>" at index 1/,
    });
    const only = bpe.encode("<|pad|><|endoftext|>", {
      allowedSpecial: ["<|pad|>"],
      disallowedSpecial: [],
    });
    assert.equal(only[0], 301);
    assert.ok(only.length > 2 && !only.includes(300));
    assert.equal(bpe.decode(only), "<|pad|><|endoftext|>");
    const plain = bpe.encode("<|pad|>", { disallowedSpecial: [] });
    assert.ok(!plain.includes(301));
  });
  await t.step("readable merges and token rendering", () => {
    const lines = bpe.mergeStrings();
    assert.equal(lines.length, 44);
    assert.match(lines[0], /^".*" \+ ".*" → ".*"$/);
    const bytes = BpeTokenizer.train("x", 256);
    assert.equal(bytes.renderTokens("é"), "\\xc3|\\xa9");
    assert.equal(bytes.tokenText(0xff), "\\xff");
    const rendered = bpe.renderTokens("To be, or not to be", { color: true });
    assert.ok(rendered.includes("\x1b[30;44m") && rendered.endsWith("\x1b[0m"));
    assert.equal(
      rendered.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), ""),
      "To be, or not to be",
    );
    assert.equal(bpe.renderTokens("To be").split("|").join(""), "To be");
    assert.deepEqual(bpe.tokenBytes(300), new TextEncoder().encode("<|endoftext|>"));
  });
  await t.step("save format round trip (JSON text)", () => {
    const again = BpeTokenizer.parse(JSON.stringify(bpe));
    assert.deepEqual(again.merges, bpe.merges);
    assert.deepEqual(again.specialTokens, bpe.specialTokens);
    assert.equal(again.pattern, bpe.pattern);
    assert.deepEqual(again.encode(SAMPLE.slice(0, 2000)), bpe.encode(SAMPLE.slice(0, 2000)));
    const none = BpeTokenizer.parse(JSON.stringify(trained.get("none")));
    assert.equal(none.pattern, null);
    assert.deepEqual(none.encode("To be"), trained.get("none")!.encode("To be"));
  });
  await t.step("custom patterns: text between matches is kept", () => {
    const words = BpeTokenizer.train(SAMPLE, 280, { pattern: String.raw`\p{L}+` });
    const s = "Hello, world! 123 — ok";
    assert.equal(words.decode(words.encode(s)), s);
    const lookahead = BpeTokenizer.train(SAMPLE, 260, { pattern: String.raw`(?=a)|b+` });
    assert.equal(lookahead.decode(lookahead.encode("abba cab")), "abba cab");
  });
});

Deno.test("BpeTokenizer refuses bad input, naming it", async (t) => {
  const bpe = BpeTokenizer.train("hello world", 260, { specialTokens: ["<s>"] });
  await t.step("vocabulary sizes", () => {
    assert.throws(() => BpeTokenizer.train("abc", 255), {
      name: "RangeError",
      message: /BpeTokenizer.train: vocabSize must be an integer in \[256, 1048576\], got 255/,
    });
    assert.throws(() => BpeTokenizer.train("abc", 256.5), /got 256.5/);
    assert.throws(() => BpeTokenizer.train("abab", 300), {
      name: "RangeError",
      message: /vocabSize 300 is more than this text allows: after 258 tokens/,
    });
  });
  await t.step("non-strings and lone surrogates", () => {
    assert.throws(() => BpeTokenizer.train(42 as unknown as string, 256), {
      name: "TypeError",
      message: /BpeTokenizer.train: text must be a string, got 42 \(number\)/,
    });
    assert.throws(() => bpe.encode(undefined as unknown as string), /got undefined/);
    assert.throws(() => bpe.encode("ok\uDE00"), {
      name: "RangeError",
      message: /BpeTokenizer.encode: text has a lone surrogate U\+DE00 at index 2/,
    });
  });
  await t.step("ids out of range", () => {
    assert.throws(() => bpe.decode([104, 261]), {
      name: "RangeError",
      message:
        /BpeTokenizer.decode: ids\[1\] must be a token id \(0–259 or a special token's\), got 261/,
    });
    assert.throws(() => bpe.decode([-1]), /got -1/);
    assert.throws(() => bpe.decode(["a" as unknown as number]), /got "a"/);
    assert.throws(() => bpe.decode(7 as unknown as number[]), /ids must be an array/);
    assert.throws(() => bpe.tokenText(1e9), /BpeTokenizer.tokenText: id must be a token id/);
    assert.equal(bpe.decode([260]), "<s>");
  });
  await t.step("options", () => {
    assert.throws(() => BpeTokenizer.train("ab", 256, { pattern: "(" }), /is not a valid regex/);
    assert.throws(
      () => BpeTokenizer.train("ab", 256, { pattern: "x*" }),
      /matches the empty string/,
    );
    assert.throws(
      () => BpeTokenizer.train("ab", 256, { pattern: 3 as unknown as "none" }),
      TypeError,
    );
    assert.throws(
      () => BpeTokenizer.train("ab", 256, { specialTokens: "<s>" as unknown as string[] }),
      /must be an array of strings/,
    );
    assert.throws(
      () => BpeTokenizer.train("ab", 256, { specialTokens: [""] }),
      /specialTokens\[0\] must be a non-empty string/,
    );
    assert.throws(
      () => BpeTokenizer.train("ab", 256, { specialTokens: ["<s>", "<s>"] }),
      /listed twice/,
    );
    assert.throws(
      () => BpeTokenizer.train("ab", 256, { algorithm: "fast" as "scan" }),
      /algorithm must be/,
    );
  });
  await t.step("corrupt saved files", () => {
    const good = bpe.toJSON();
    const bad = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
    assert.throws(() => BpeTokenizer.parse('{"format":', "x.json"), /x.json is not valid JSON/);
    assert.throws(
      () => BpeTokenizer.parse(bad({ format: "other" })),
      /not a dcslm-bpe version 1 file/,
    );
    assert.throws(
      () => BpeTokenizer.parse(bad({ merges: [[97, 300]] })),
      /merges\[0\] must be a pair of ids in \[0, 255\], got \[97,300\]/,
    );
    assert.throws(() => BpeTokenizer.parse(bad({ merges: "x" })), /merges must be an array/);
    assert.throws(
      () => BpeTokenizer.parse(bad({ tokens: [] })),
      /exactly one of merges and tokens/,
    );
    assert.throws(
      () => BpeTokenizer.parse(bad({ merges: undefined, tokens: ["%%"] })),
      /tokens\[0\] is not base64/,
    );
    assert.throws(
      () => BpeTokenizer.parse(bad({ merges: undefined, tokens: 5 })),
      /tokens must be an array/,
    );
    assert.throws(
      () => BpeTokenizer.parse(bad({ merges: undefined, tokens: ["YQ=="] })),
      /byte 0 has no token/,
    );
    assert.throws(
      () => BpeTokenizer.parse(bad({ specialTokens: { "<s>": 97 } })),
      /has id 97, which is taken/,
    );
    assert.throws(
      () => BpeTokenizer.parse(bad({ specialTokens: { "<s>": 1.5 } })),
      /must be an integer/,
    );
    assert.throws(
      () => BpeTokenizer.parse(bad({ specialTokens: null })),
      /specialTokens must be an object/,
    );
    assert.throws(() => BpeTokenizer.parse(bad({ pattern: "[" })), /is not a valid regex/);
  });
});

Deno.test({
  name: "BpeTokenizer: without file permissions, save and load reject and write nothing",
  // Dropped here, whatever the test run was granted (under `deno test -A` the file would be
  // written).
  permissions: { read: false, write: false },
  async fn() {
    const bpe = BpeTokenizer.train("hello world", 260, { specialTokens: ["<s>"] });
    await assert.rejects(bpe.save("never.json"), Deno.errors.NotCapable);
    await assert.rejects(BpeTokenizer.load("never.json"), Deno.errors.NotCapable);
  },
});
