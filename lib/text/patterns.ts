/**
 * Pre-tokenization patterns: a byte-level BPE first cuts text into pieces with a regular
 * expression (words with their leading space, runs of digits, punctuation, whitespace), and
 * merges never cross a piece boundary.
 *
 * @module
 */

/**
 * GPT-2's split pattern (OpenAI's `encoder.py`), compiled with the `gu` flags: contractions,
 * an optional space with letters, with digits or with other symbols, trailing whitespace.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPT2_PATTERN } from "./patterns.ts";
 * const pieces = "Hello world's 2024!!".match(new RegExp(GPT2_PATTERN, "gu"));
 * assert.deepEqual(pieces, ["Hello", " world", "'s", " 2024", "!!"]);
 * ```
 */
export const GPT2_PATTERN: string = String
  .raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/**
 * cl100k_base's (GPT-4's) split pattern, as js-tiktoken writes it for JavaScript: the original
 * `(?i:'s|'t|…)` spelled out case by case (so U+017F ſ does not count as an s, as in tiktoken),
 * digits in groups of at most three, punctuation taking trailing newlines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CL100K_PATTERN } from "./patterns.ts";
 * const pieces = "I'LL pay 12345!\n\n".match(new RegExp(CL100K_PATTERN, "gu"));
 * assert.deepEqual(pieces, ["I", "'LL", " pay", " ", "123", "45", "!\n\n"]);
 * ```
 */
export const CL100K_PATTERN: string = String
  .raw`('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** A named split pattern, `"none"` (the whole text is one piece), or a regex source. */
export type SplitPattern = "gpt2" | "cl100k" | "none" | (string & { readonly regexSource?: never });

/**
 * The regex source a {@linkcode SplitPattern} stands for, or `null` for `"none"`; a custom
 * source must compile with the `gu` flags and must not match the empty string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPT2_PATTERN, patternSource } from "./patterns.ts";
 * assert.equal(patternSource("gpt2"), GPT2_PATTERN);
 * assert.equal(patternSource("none"), null);
 * assert.throws(() => patternSource("a*"), /matches the empty string/);
 * ```
 */
export function patternSource(pattern: SplitPattern): string | null {
  if (pattern === "gpt2") return GPT2_PATTERN;
  if (pattern === "cl100k") return CL100K_PATTERN;
  if (pattern === "none") return null;
  if (typeof pattern !== "string") {
    throw new TypeError(
      `pattern must be "gpt2", "cl100k", "none" or a regex source, got ${pattern}`,
    );
  }
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, "gu");
  } catch (error) {
    throw new RangeError(
      `pattern ${JSON.stringify(pattern)} is not a valid regex: ${(error as Error).message}`,
    );
  }
  if (regex.test("")) {
    throw new RangeError(`pattern ${JSON.stringify(pattern)} matches the empty string`);
  }
  return pattern;
}
