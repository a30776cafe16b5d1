import assert from "node:assert/strict";
import shakespeare from "../../data/shakespeare.txt" with { type: "text" };
import { BpeTokenizer } from "../../lib/text/mod.ts";
import { pickSentence, readInputFile, tokenizeReport } from "../../examples/tokenize.ts";

Deno.test("examples/tokenize.ts", async (t) => {
  const text = shakespeare.slice(0, 30_000);
  const bytes = new TextEncoder().encode(text).length.toLocaleString("en");
  await t.step("the report: merges, the token split, compression against references", () => {
    const reference = BpeTokenizer.train(text, 256);
    const { lines, tokenizer } = tokenizeReport(text, {
      vocabSize: 300,
      pattern: "gpt2",
      merges: 5,
      sentence: "To be, or not to be",
      color: false,
      references: { bytes: reference },
    });
    assert.equal(tokenizer.vocabSize, 300);
    assert.match(
      lines[0],
      new RegExp(`^trained a 300-token BPE \\(gpt2 split\\) on ${bytes} bytes`),
    );
    assert.equal(lines[2], "first 5 merges:");
    assert.equal(lines[3], `    256  ${tokenizer.mergeStrings()[0]}`);
    assert.equal(lines[10].trim().split("|").join(""), "To be, or not to be");
    const bytesRow = lines.find((l) => l.trimStart().startsWith("bytes"))!;
    assert.ok(bytesRow.endsWith(`${bytes} tokens  1.000 bytes/token`), bytesRow);
    const ours = lines.find((l) => l.includes("ours (300)"))!;
    const ratio = Number(/([0-9.]+) bytes\/token$/.exec(ours)![1]);
    assert.ok(ratio > 1.3, `ours: ${ratio}`);
  });
  await t.step("the sentence shown", () => {
    assert.equal(pickSentence(shakespeare), "To be, or not to be, that is the Question:");
    assert.equal(pickSentence("\nshort\n" + "x".repeat(40) + "\n"), "x".repeat(40));
    assert.equal(pickSentence("\nshort\n"), "short");
  });
  await t.step(
    "--input-file: missing, a directory, unreadable, empty, not UTF-8, fine",
    async () => {
      const fail = (error: Error) => () => Promise.reject(error);
      await assert.rejects(
        readInputFile("a.txt", fail(new Deno.errors.NotFound("x"))),
        /--input-file: a.txt does not exist/,
      );
      await assert.rejects(
        readInputFile("d", fail(new Deno.errors.IsADirectory("x"))),
        /d is a directory/,
      );
      await assert.rejects(
        readInputFile("p", fail(new Deno.errors.PermissionDenied("no"))),
        /cannot read p: no/,
      );
      const file = (b: number[]) => () => Promise.resolve(new Uint8Array(b));
      await assert.rejects(readInputFile("e.txt", file([])), /e.txt is empty/);
      await assert.rejects(
        readInputFile("b.txt", file([0x61, 0x62, 0xe2, 0x28, 0xa1])),
        /b.txt is not valid UTF-8: byte 0xe2 at offset 2/,
      );
      assert.equal(await readInputFile("ok.txt", file([0xef, 0xbb, 0xbf, 0x68, 0x69])), "hi");
    },
  );
});
