/**
 * A character-level tokenizer: one id per Unicode code point of a vocabulary read off the data.
 *
 * @module
 */

import { checkedInteger, checkedText, describe } from "./_checks.ts";

/** Options of {@linkcode CharTokenizer.fromText}. */
export interface CharTokenizerOptions {
  /**
   * The boundary/pad token, given id 0 and placed before and after each word (makemore's `.`
   * convention), or `null` for none (nanoGPT's character vocabulary). Default `"."`. It must be
   * one code point that does not occur in the text.
   */
  boundary?: string | null;
}

/**
 * A character-level tokenizer. The vocabulary is the set of code points of the data, sorted by
 * code point (as Python's `sorted(set(text))`); with a boundary token it has id 0 and the
 * characters take ids 1, 2, … (makemore); without one the characters take 0, 1, … (nanoGPT).
 *
 * @example makemore's vocabulary of names: `.` is 0, `a` is 1.
 * ```ts
 * import assert from "node:assert/strict";
 * import { CharTokenizer } from "./char_tokenizer.ts";
 * const tokenizer = CharTokenizer.fromText("emma\nava\n".split("\n").join(""));
 * assert.deepEqual(tokenizer.vocab, [".", "a", "e", "m", "v"]);
 * assert.deepEqual(tokenizer.encode("ava"), [1, 4, 1]);
 * assert.equal(tokenizer.decode([2, 3, 3, 1]), "emma");
 * assert.throws(() => tokenizer.encode("eve!"), /"!" \(U\+0021\) at position 3/);
 * ```
 */
export class CharTokenizer {
  /** The token of each id: `vocab[id]`. With a boundary token it is `vocab[0]`. */
  readonly vocab: readonly string[];
  /** The boundary/pad token (id 0), or `null` when the vocabulary has none. */
  readonly boundary: string | null;
  #ids: Map<number, number>;

  /**
   * A tokenizer over `vocab` (distinct single code points, in id order). When `boundary` is a
   * string it must be `vocab[0]`.
   */
  constructor(vocab: readonly string[], boundary: string | null = null) {
    if (!Array.isArray(vocab) || vocab.length === 0) {
      throw new TypeError(`CharTokenizer: vocab must be a non-empty array, got ${describe(vocab)}`);
    }
    const ids = new Map<number, number>();
    vocab.forEach((token, id) => {
      if (typeof token !== "string" || [...token].length !== 1 || !token.isWellFormed()) {
        throw new RangeError(
          `CharTokenizer: vocab[${id}] must be one code point, got ${describe(token)}`,
        );
      }
      const code = token.codePointAt(0)!;
      if (ids.has(code)) {
        throw new RangeError(`CharTokenizer: vocab[${id}] ${describe(token)} is a duplicate`);
      }
      ids.set(code, id);
    });
    if (boundary !== null && vocab[0] !== boundary) {
      throw new RangeError(
        `CharTokenizer: the boundary ${describe(boundary)} must be vocab[0], got ${
          describe(vocab[0])
        }`,
      );
    }
    this.vocab = Object.freeze([...vocab]);
    this.boundary = boundary;
    this.#ids = ids;
  }

  /**
   * The tokenizer whose vocabulary is the characters of `text`, sorted by code point, after the
   * boundary token (id 0) unless `boundary` is `null`.
   *
   * @example nanoGPT's character vocabulary: no boundary token.
   * ```ts
   * import assert from "node:assert/strict";
   * import { CharTokenizer } from "./char_tokenizer.ts";
   * const tokenizer = CharTokenizer.fromText("To be.", { boundary: null });
   * assert.deepEqual(tokenizer.vocab, [" ", ".", "T", "b", "e", "o"]);
   * assert.equal(tokenizer.boundaryId, -1);
   * ```
   */
  static fromText(text: string, options: CharTokenizerOptions = {}): CharTokenizer {
    checkedText("CharTokenizer.fromText", text);
    const boundary = options.boundary === undefined ? "." : options.boundary;
    const codes = new Set<number>();
    for (const char of text) codes.add(char.codePointAt(0)!);
    if (boundary !== null) {
      if (typeof boundary !== "string" || [...boundary].length !== 1) {
        throw new RangeError(
          `CharTokenizer.fromText: boundary must be one character or null, got ${
            describe(boundary)
          }`,
        );
      }
      const code = boundary.codePointAt(0)!;
      if (codes.has(code)) {
        const at = [...text].indexOf(boundary);
        throw new RangeError(
          `CharTokenizer.fromText: the boundary ${describe(boundary)} occurs in the text ` +
            `at position ${at}; choose another boundary or none`,
        );
      }
    }
    const sorted = [...codes].sort((a, b) => a - b).map((code) => String.fromCodePoint(code));
    return boundary === null
      ? new CharTokenizer(sorted, null)
      : new CharTokenizer([boundary, ...sorted], boundary);
  }

  /** The number of ids. */
  get vocabSize(): number {
    return this.vocab.length;
  }

  /** The boundary token's id (0), or -1 when there is none. */
  get boundaryId(): number {
    return this.boundary === null ? -1 : 0;
  }

  /**
   * The ids of the code points of `text`; a character outside the vocabulary is refused with
   * its position (in code points).
   */
  encode(text: string): number[] {
    checkedText("CharTokenizer.encode", text);
    const ids: number[] = [];
    for (const char of text) {
      const id = this.#ids.get(char.codePointAt(0)!);
      if (id === undefined) {
        const code = char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
        throw new RangeError(
          `CharTokenizer.encode: character ${
            JSON.stringify(char)
          } (U+${code}) at position ${ids.length} is not in the vocabulary`,
        );
      }
      ids.push(id);
    }
    return ids;
  }

  /** The text of `ids`; every id must be an integer in [0, vocabSize). */
  decode(ids: ArrayLike<number>): string {
    if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
      throw new TypeError(`CharTokenizer.decode: ids must be an array, got ${describe(ids)}`);
    }
    let text = "";
    for (let i = 0; i < ids.length; i++) {
      checkedInteger("CharTokenizer.decode", `ids[${i}]`, ids[i], 0, this.vocab.length - 1);
      text += this.vocab[ids[i]];
    }
    return text;
  }
}
