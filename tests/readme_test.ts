import assert from "node:assert/strict";
import readme from "../README.md" with { type: "text" };
import rootSource from "../mod.ts" with { type: "text" };
import scalarSource from "../lib/scalar/mod.ts" with { type: "text" };
import tensorSource from "../lib/tensor/mod.ts" with { type: "text" };
import nnSource from "../lib/nn/mod.ts" with { type: "text" };
import utilSource from "../lib/util/mod.ts" with { type: "text" };
import textSource from "../lib/text/mod.ts" with { type: "text" };
import lmSource from "../lib/lm/mod.ts" with { type: "text" };
import config from "../deno.json" with { type: "json" };
import * as root from "../mod.ts";
import * as scalarModule from "../lib/scalar/mod.ts";
import * as tensorModule from "../lib/tensor/mod.ts";

// The README's API tables are the library's reference: each table names a layer's mod.ts in
// its heading, and its first column lists that module's exports. They must match exactly.

const sources: Record<string, string> = {
  "lib/scalar/mod.ts": scalarSource,
  "lib/tensor/mod.ts": tensorSource,
  "lib/nn/mod.ts": nnSource,
  "lib/util/mod.ts": utilSource,
  "lib/text/mod.ts": textSource,
  "lib/lm/mod.ts": lmSource,
};

/** Every name a module exports (values and types), read from its `export { … }` lists. */
function exportedNames(source: string): Set<string> {
  const names = new Set<string>();
  for (const [, list] of source.matchAll(/export\s*(?:type\s*)?\{([^}]*)\}/g)) {
    for (const part of list.split(",")) {
      const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/).pop()!.trim();
      if (name !== "") names.add(name);
    }
  }
  assert.doesNotMatch(source, /export \*/, "a wildcard re-export would hide names");
  return names;
}

/** For each module named in a `###` heading of the README, the names in its table. */
function tables(markdown: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const heading = lines[i].match(/^### .*`(lib\/\w+\/mod\.ts)`/);
    if (heading === null) continue;
    let j = i + 1;
    while (j < lines.length && !lines[j].startsWith("|") && !lines[j].startsWith("#")) j++;
    const names: string[] = [];
    // Skip the header row and the separator row.
    for (let k = j + 2; k < lines.length && lines[k].startsWith("|"); k++) {
      const cell = lines[k].split("|")[1].trim();
      const tokens = [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1]);
      assert.equal(
        cell.replace(/`[^`]*`/g, "").trim(),
        "",
        `README ${heading[1]}: the first column holds only names in backticks: ${cell}`,
      );
      for (const token of tokens) {
        assert.match(token, /^[A-Za-z_$][\w$]*$/, `README ${heading[1]}: not a name: ${token}`);
        names.push(token);
      }
    }
    found.set(heading[1], names);
  }
  return found;
}

Deno.test("README: each API table lists exactly the exports of the module it names", () => {
  const listed = tables(readme);
  assert.deepEqual([...listed.keys()].sort(), Object.keys(sources).sort());
  for (const [module, names] of listed) {
    const exported = exportedNames(sources[module]);
    const duplicates = names.filter((name, i) => names.indexOf(name) !== i);
    assert.deepEqual(duplicates, [], `${module}: listed twice`);
    const missing = [...exported].filter((name) => !names.includes(name));
    const extra = names.filter((name) => !exported.has(name));
    assert.deepEqual(missing, [], `${module}: exported but not in the README's table`);
    assert.deepEqual(extra, [], `${module}: in the README's table but not exported`);
  }
});

Deno.test("README: the root mod.ts exports every name of every table, and only those", () => {
  const rootNames = exportedNames(rootSource);
  const tableNames = new Set([...tables(readme).values()].flat());
  assert.deepEqual([...tableNames].filter((n) => !rootNames.has(n)), [], "not at the root");
  assert.deepEqual([...rootNames].filter((n) => !tableNames.has(n)), [], "in no table");
  // Where a name is in both engines' tables, the root's is the tensor one.
  // A name both engines export as one and the same function (noGrad) is shared, not clashing.
  const scalarValues = scalarModule as Record<string, unknown>;
  const tensorValues = tensorModule as Record<string, unknown>;
  const both = [...exportedNames(scalarSource)].filter((n) =>
    exportedNames(tensorSource).has(n) && scalarValues[n] !== tensorValues[n]
  );
  assert.deepEqual(both.sort(), ["crossEntropy", "logSumExp", "mse", "softmax"]);
  for (const name of both) {
    assert.equal(
      (root as Record<string, unknown>)[name],
      (tensorModule as Record<string, unknown>)[name],
      name,
    );
  }
});

Deno.test("README: what a newcomer copies works as written", () => {
  // Constructors are called with `new`, and the published-package import is not shown as live.
  assert.doesNotMatch(readme, /(?<!new )\b(Lcg32|Random)\(seed\)/);
  assert.doesNotMatch(readme, /^import .* from "jsr:/m);
  // The snippet's comment states w after step t (from 0) of w ← 0.2w + 3.2 from w = 0.
  assert.match(readme, /w after step t \(from 0\) is 4·\(1 − 0\.2\^\(t\+1\)\)/);
  let w = 0;
  for (let t = 0; t < 5; t++) {
    w = w - 0.1 * (2 * (2 * w - 8) * 2);
    assert.ok(Math.abs(w - 4 * (1 - 0.2 ** (t + 1))) < 1e-12);
  }
  // Every picture the README shows is in the published package (docs/ is not excluded).
  const excluded: string[] = config.publish.exclude;
  const pictures = [...readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
  assert.ok(pictures.length >= 2);
  for (const path of pictures) {
    assert.match(path, /^docs\/[\w.]+\.svg$/, path);
    assert.ok(!excluded.some((prefix) => path.startsWith(prefix)), `${path} is not published`);
  }
});
