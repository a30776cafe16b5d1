import assert from "node:assert/strict";
import names from "../../data/names.txt" with { type: "bytes" };
import shakespeare from "../../data/shakespeare.txt" with { type: "bytes" };
import { corpusNames, loadCorpus } from "../../data/corpora.ts";

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("data/names.txt is the SSA 2018 file: size, lines, letters and SHA-256", async () => {
  assert.equal(names.length, 229_804);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(names);
  assert.equal(text.split("\n").length - 1, 32_257);
  assert.ok(text.endsWith("\n"));
  assert.deepEqual(new Set(text.replaceAll("\n", "")).size, 26);
  assert.equal(
    await sha256Hex(names),
    "bd02dfd33179e23ec2dd093cbd4de619834f75d660ef1ae04d3127e7a0110053",
  );
});

Deno.test("data/shakespeare.txt: size, 74 characters and SHA-256", async () => {
  assert.equal(shakespeare.length, 375_544);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(shakespeare);
  assert.equal(new Set(text).size, 74);
  assert.equal(
    await sha256Hex(shakespeare),
    "bb9118d8cdbe407cfdc59d8b05099fbf8f4e4e8d7740a87265935260bfffc19b",
  );
});

Deno.test("loadCorpus reads the Gutenberg package: shakespeare equals the shipped file", async (t) => {
  await t.step("shakespeare", async () => {
    assert.equal(await loadCorpus("shakespeare"), new TextDecoder().decode(shakespeare));
  });
  await t.step("moby-dick and the whole selection", async () => {
    const moby = await loadCorpus("moby-dick");
    assert.equal(moby.length, 1_242_990);
    assert.ok(moby.startsWith("[Moby Dick by Herman Melville 1851]"));
    const all = await loadCorpus("gutenberg");
    assert.ok(all.includes(moby));
    assert.equal(corpusNames().filter((n) => n.includes("-") && !n.startsWith("moby")).length, 18);
  });
  await t.step("an unknown name is refused, listing the known ones", async () => {
    await assert.rejects(loadCorpus("moby"), /unknown corpus "moby"; known: moby-dick/);
  });
});
