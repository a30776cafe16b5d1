/**
 * A byte-level byte-pair-encoding tokenizer, trained here or loaded from tiktoken rank files.
 *
 * Text is cut into pieces by a split pattern (GPT-2's, cl100k's, none, or your own); each
 * piece's UTF-8 bytes start as 256 single-byte tokens, and merges join adjacent tokens into
 * longer ones. Encoding applies the merges tiktoken's way (lowest rank first), so a trained
 * vocabulary and OpenAI's published ones go through one code path.
 *
 * @module
 */

import { checkedInteger, checkedText, describe } from "./_checks.ts";
import { binaryOf, bytesOfBinary, encodePiece, LONG_PIECE } from "./_bpe_encode.ts";
import {
  MAX_TRAINED_VOCAB,
  type Merge,
  trainByScan,
  trainIncremental,
  type WeightedChunk,
} from "./_bpe_train.ts";
import { patternSource, type SplitPattern } from "./patterns.ts";

/** Options of {@linkcode BpeTokenizer.train}. */
export interface BpeTrainOptions {
  /** The split pattern. Default `"cl100k"` (GPT-4's). */
  pattern?: SplitPattern;
  /**
   * Special tokens (e.g. `"<|endoftext|>"`): never learned from, cut out of the training text,
   * given the ids after the learned vocabulary in the order listed.
   */
  specialTokens?: readonly string[];
  /**
   * `"incremental"` (default) updates pair counts where a merge changes them; `"scan"` recounts
   * every pair per merge (the textbook baseline; same result, much slower).
   */
  algorithm?: "incremental" | "scan";
}

/** Which special tokens `encode` turns into their ids, and which it refuses. */
export interface BpeEncodeOptions {
  /** Special tokens encoded as their ids. Default none. */
  allowedSpecial?: "all" | readonly string[];
  /**
   * Special tokens whose text is refused (a RangeError) unless allowed. Default `"all"` (every
   * special token not allowed), as tiktoken: text that merely spells a special token must not
   * silently become one. Pass `[]` to encode such text as ordinary text.
   */
  disallowedSpecial?: "all" | readonly string[];
}

/**
 * A tiktoken rank file in js-tiktoken's form (`js-tiktoken/ranks/*`): the split pattern, the
 * special tokens, and `bpe_ranks`, lines of `<tag> <first rank> <base64 token> <base64 token> …`.
 */
export interface TiktokenRanks {
  /** The split pattern (a JavaScript regex source, used with the `gu` flags). */
  pat_str: string;
  /** Special tokens and their ids. */
  special_tokens: Record<string, number>;
  /** The ranks, compressed as js-tiktoken ships them. */
  bpe_ranks: string;
}

/**
 * The saved form of a tokenizer (`BpeTokenizer.save` writes it as JSON):
 *
 * ```text
 * { "format": "dcslm-bpe", "version": 1,
 *   "pattern": "<regex source>" | null,             // null: no split
 *   "merges": [[left, right], …],                   // trained: merge i makes id 256 + i
 *   "tokens": ["<base64 bytes>" | null, …],         // or loaded ranks: the bytes of each id
 *   "specialTokens": { "<|endoftext|>": 50256, … } }
 * ```
 *
 * Exactly one of `merges` and `tokens` is present.
 */
export interface BpeFile {
  /** Always `"dcslm-bpe"`. */
  format: "dcslm-bpe";
  /** Always 1. */
  version: 1;
  /** The split pattern's regex source, or `null` for none. */
  pattern: string | null;
  /** The merges of a trained tokenizer. */
  merges?: [number, number][];
  /** The bytes (base64) of each id of a tokenizer loaded from ranks; `null` for an unused id. */
  tokens?: (string | null)[];
  /** Special tokens and their ids. */
  specialTokens: Record<string, number>;
}

/**
 * A byte-level BPE tokenizer.
 *
 * Training (`train`) learns merges from text: the most frequent adjacent pair becomes a new
 * token, again and again; ties go to the smallest left id, then the smallest right id, so a text
 * and a size always give the same merges. Encoding cuts the text with the split pattern, then
 * within each piece repeatedly joins the adjacent pair forming the lowest-ranked token (the
 * leftmost on a tie), as tiktoken does. Decoding concatenates the tokens' bytes.
 *
 * @example Train on a little text, encode, decode, and look at what was learned.
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpeTokenizer } from "./bpe_tokenizer.ts";
 * const text = "the cat sat on the mat; the cat ate the rat";
 * const bpe = BpeTokenizer.train(text, 262, { pattern: "gpt2" });
 * assert.equal(bpe.vocabSize, 262);
 * assert.deepEqual(bpe.mergeStrings()[0], '"a" + "t" → "at"');
 * const ids = bpe.encode("the rat");
 * assert.ok(ids.length < "the rat".length);
 * assert.equal(bpe.decode(ids), "the rat");
 * assert.equal(bpe.renderTokens("the cat"), "the| cat");
 * assert.equal(bpe.mergeStrings()[5], '" c" + "at" → " cat"');
 * ```
 */
export class BpeTokenizer {
  /** The split pattern's regex source (`gu` flags), or `null` when text is not split. */
  readonly pattern: string | null;
  /** The learned merges, `[left, right]` making id 256 + i; empty when loaded from ranks. */
  readonly merges: readonly (readonly [number, number])[];
  /** Special tokens and their ids. */
  readonly specialTokens: Readonly<Record<string, number>>;
  /** Bytes of each ordinary id, as binary strings (`undefined` for an unused id). */
  #tokens: (string | undefined)[];
  /** Ordinary tokens: bytes (binary string) → id; the lowest id when two share bytes. */
  #ranks: Map<string, number>;
  #specialById: Map<number, string>;
  #trained: boolean;
  #regex: RegExp | null;
  #specialRegex: RegExp | null;
  #encoder = new TextEncoder();
  #cache = new Map<string, number | number[]>();
  #pairRanks = new Map<number, number>();

  private constructor(
    pattern: string | null,
    tokens: (string | undefined)[],
    merges: readonly Merge[],
    specialTokens: Record<string, number>,
    trained: boolean,
  ) {
    this.pattern = pattern;
    this.merges = Object.freeze(merges.map((m) => Object.freeze([m[0], m[1]] as const)));
    this.#tokens = tokens;
    this.#trained = trained;
    this.#ranks = new Map();
    tokens.forEach((bytes, id) => {
      if (bytes !== undefined && !this.#ranks.has(bytes)) this.#ranks.set(bytes, id);
    });
    for (let b = 0; b < 256; b++) {
      if (!this.#ranks.has(String.fromCharCode(b))) {
        throw new RangeError(
          `BpeTokenizer: byte ${b} has no token; a byte-level BPE needs all 256`,
        );
      }
    }
    this.#specialById = new Map();
    for (const [text, id] of Object.entries(specialTokens)) {
      if (typeof text !== "string" || text.length === 0 || !text.isWellFormed()) {
        throw new RangeError(
          `BpeTokenizer: special token ${describe(text)} must be a non-empty string`,
        );
      }
      checkedInteger("BpeTokenizer", `the id of special token ${JSON.stringify(text)}`, id, 0);
      if (tokens[id] !== undefined || this.#specialById.has(id)) {
        throw new RangeError(
          `BpeTokenizer: special token ${JSON.stringify(text)} has id ${id}, which is taken`,
        );
      }
      this.#specialById.set(id, text);
    }
    this.specialTokens = Object.freeze({ ...specialTokens });
    this.#regex = pattern === null ? null : new RegExp(pattern, "gu");
    this.#specialRegex = this.#specialById.size === 0 ? null : new RegExp(
      [...Object.keys(specialTokens)].sort((a, b) => b.length - a.length).map(escapeRegex)
        .join("|"),
      "gu",
    );
  }

  /**
   * Learns a vocabulary of `vocabSize` ordinary tokens (256 bytes + `vocabSize − 256` merges)
   * from `text`; special tokens get the ids after them.
   *
   * @example A vocabulary of 256 is the identity on bytes.
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpeTokenizer } from "./bpe_tokenizer.ts";
   * const bytes = BpeTokenizer.train("anything", 256);
   * assert.deepEqual(bytes.encode("hé"), [0x68, 0xc3, 0xa9]);
   * ```
   */
  static train(text: string, vocabSize: number, options: BpeTrainOptions = {}): BpeTokenizer {
    checkedText("BpeTokenizer.train", text);
    checkedInteger("BpeTokenizer.train", "vocabSize", vocabSize, 256, MAX_TRAINED_VOCAB);
    const pattern = patternSource(options.pattern ?? "cl100k");
    const specials = options.specialTokens ?? [];
    if (!Array.isArray(specials)) {
      throw new TypeError(
        `BpeTokenizer.train: specialTokens must be an array of strings, got ${describe(specials)}`,
      );
    }
    const algorithm = options.algorithm ?? "incremental";
    if (algorithm !== "incremental" && algorithm !== "scan") {
      throw new RangeError(
        `BpeTokenizer.train: algorithm must be "incremental" or "scan", got ${describe(algorithm)}`,
      );
    }
    const specialTokens: Record<string, number> = {};
    specials.forEach((special, i) => {
      if (typeof special !== "string" || special.length === 0 || !special.isWellFormed()) {
        throw new RangeError(
          `BpeTokenizer.train: specialTokens[${i}] must be a non-empty string, got ${
            describe(special)
          }`,
        );
      }
      if (Object.hasOwn(specialTokens, special)) {
        throw new RangeError(
          `BpeTokenizer.train: special token ${JSON.stringify(special)} is listed twice`,
        );
      }
      specialTokens[special] = vocabSize + i;
    });

    // Count each distinct piece once, with its number of occurrences.
    const counts = new Map<string, number>();
    const regex = pattern === null ? null : new RegExp(pattern, "gu");
    const specialRegex = specials.length === 0 ? null : new RegExp(
      [...specials].sort((a, b) => b.length - a.length).map(escapeRegex).join("|"),
      "gu",
    );
    for (const segment of specialRegex === null ? [text] : text.split(specialRegex)) {
      forEachPiece(segment, regex, (piece) => counts.set(piece, (counts.get(piece) ?? 0) + 1));
    }
    const encoder = new TextEncoder();
    const chunks: WeightedChunk[] = [];
    for (const [piece, count] of counts) chunks.push({ bytes: encoder.encode(piece), count });

    const wanted = vocabSize - 256;
    const merges = algorithm === "incremental"
      ? trainIncremental(chunks, wanted)
      : trainByScan(chunks, wanted);
    if (merges.length < wanted) {
      throw new RangeError(
        `BpeTokenizer.train: vocabSize ${vocabSize} is more than this text allows: after ${
          256 + merges.length
        } tokens no two adjacent tokens are left to merge`,
      );
    }
    const tokens: string[] = [];
    for (let b = 0; b < 256; b++) tokens.push(String.fromCharCode(b));
    for (const [left, right] of merges) tokens.push(tokens[left] + tokens[right]);
    return new BpeTokenizer(pattern, tokens, merges, specialTokens, true);
  }

  /**
   * A tokenizer with OpenAI's ranks: a js-tiktoken rank object (`js-tiktoken/ranks/gpt2`,
   * `…/cl100k_base`), or the text of a `.tiktoken` file (`<base64 token> <rank>` per line) with
   * its pattern and special tokens given.
   *
   * @example A two-line rank file plus the 256 bytes is enough to see the mechanics.
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpeTokenizer } from "./bpe_tokenizer.ts";
   * const lines = Array.from({ length: 256 }, (_, b) => `${btoa(String.fromCharCode(b))} ${b}`);
   * lines.push(`${btoa("ab")} 256`, `${btoa("abc")} 257`);
   * const bpe = BpeTokenizer.fromTiktoken(lines.join("\n"), { pattern: "none" });
   * assert.deepEqual(bpe.encode("abcab"), [257, 256]);
   * ```
   */
  static fromTiktoken(
    ranks: TiktokenRanks | string,
    options: { pattern?: SplitPattern; specialTokens?: Record<string, number> } = {},
  ): BpeTokenizer {
    const tokens: (string | undefined)[] = [];
    const put = (base64: string, rank: number, where: string) => {
      checkedInteger("BpeTokenizer.fromTiktoken", `the rank ${where}`, rank, 0, 2 ** 31 - 1);
      let binary: string;
      try {
        binary = atob(base64);
      } catch {
        throw new RangeError(
          `BpeTokenizer.fromTiktoken: ${describe(base64)} ${where} is not base64`,
        );
      }
      if (tokens[rank] !== undefined) {
        throw new RangeError(`BpeTokenizer.fromTiktoken: rank ${rank} ${where} is given twice`);
      }
      tokens[rank] = binary;
    };
    let pattern: string | null;
    let specialTokens: Record<string, number>;
    if (typeof ranks === "string") {
      ranks.split("\n").forEach((line, i) => {
        if (line.trim() === "") return;
        const [token, rank, extra] = line.trim().split(/\s+/);
        if (extra !== undefined || rank === undefined || !/^\d+$/.test(rank)) {
          throw new RangeError(
            `BpeTokenizer.fromTiktoken: line ${i + 1} must be "<base64> <rank>", got ${
              describe(line)
            }`,
          );
        }
        put(token, Number(rank), `on line ${i + 1}`);
      });
      pattern = patternSource(options.pattern ?? "cl100k");
      specialTokens = options.specialTokens ?? {};
    } else {
      if (
        ranks === null || typeof ranks !== "object" || typeof ranks.bpe_ranks !== "string" ||
        typeof ranks.pat_str !== "string"
      ) {
        throw new TypeError(
          `BpeTokenizer.fromTiktoken: ranks must be a rank file's text or a js-tiktoken rank ` +
            `object, got ${describe(ranks)}`,
        );
      }
      ranks.bpe_ranks.split("\n").forEach((line, i) => {
        if (line === "") return;
        const [, first, ...list] = line.split(" ");
        const offset = Number(first);
        list.forEach((token, j) => put(token, offset + j, `in bpe_ranks line ${i + 1}`));
      });
      pattern = options.pattern === undefined
        ? patternSource(ranks.pat_str)
        : patternSource(options.pattern);
      specialTokens = { ...ranks.special_tokens, ...options.specialTokens };
    }
    return new BpeTokenizer(pattern, tokens, [], specialTokens, false);
  }

  /** The tokenizer a {@linkcode BpeFile} describes; a malformed one is refused, saying why. */
  static fromJSON(file: unknown): BpeTokenizer {
    const where = "BpeTokenizer.fromJSON";
    const f = file as Partial<BpeFile>;
    if (f === null || typeof f !== "object" || f.format !== "dcslm-bpe" || f.version !== 1) {
      throw new RangeError(`${where}: not a dcslm-bpe version 1 file (format/version missing)`);
    }
    const pattern = f.pattern === null ? null : patternSource(f.pattern as string);
    if (f.specialTokens === null || typeof f.specialTokens !== "object") {
      throw new RangeError(
        `${where}: specialTokens must be an object, got ${describe(f.specialTokens)}`,
      );
    }
    if ((f.merges === undefined) === (f.tokens === undefined)) {
      throw new RangeError(`${where}: exactly one of merges and tokens must be present`);
    }
    const tokens: (string | undefined)[] = [];
    for (let b = 0; b < 256; b++) tokens.push(String.fromCharCode(b));
    if (f.merges !== undefined) {
      if (!Array.isArray(f.merges)) {
        throw new RangeError(`${where}: merges must be an array, got ${describe(f.merges)}`);
      }
      f.merges.forEach((merge, i) => {
        const limit = 255 + i;
        if (
          !Array.isArray(merge) || merge.length !== 2 ||
          !merge.every((id) => Number.isInteger(id) && id >= 0 && id <= limit)
        ) {
          throw new RangeError(
            `${where}: merges[${i}] must be a pair of ids in [0, ${limit}], got ${
              JSON.stringify(merge)
            }`,
          );
        }
        tokens.push(tokens[merge[0]]! + tokens[merge[1]]!);
      });
      return new BpeTokenizer(pattern, tokens, f.merges, f.specialTokens, true);
    }
    if (!Array.isArray(f.tokens)) {
      throw new RangeError(`${where}: tokens must be an array, got ${describe(f.tokens)}`);
    }
    tokens.length = 0;
    f.tokens.forEach((token, id) => {
      if (token === null) return;
      try {
        tokens[id] = atob(token);
      } catch {
        throw new RangeError(`${where}: tokens[${id}] is not base64: ${describe(token)}`);
      }
    });
    return new BpeTokenizer(pattern, tokens, [], f.specialTokens, false);
  }

  /**
   * The saved form ({@linkcode BpeFile}); `JSON.stringify` calls this.
   *
   * @example Round trip through JSON.
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpeTokenizer } from "./bpe_tokenizer.ts";
   * const bpe = BpeTokenizer.train("aaabdaaabac", 259, { pattern: "none" });
   * // "aa" occurs 4 times (overlaps count); then "ab" and "aa"+"a" tie at 2: smaller left id wins.
   * assert.deepEqual(bpe.toJSON().merges, [[97, 97], [97, 98], [256, 257]]);
   * const again = BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(bpe)));
   * assert.deepEqual(again.encode("aaab"), bpe.encode("aaab"));
   * ```
   */
  toJSON(): BpeFile {
    const file: BpeFile = {
      format: "dcslm-bpe",
      version: 1,
      pattern: this.pattern,
      specialTokens: { ...this.specialTokens },
    };
    if (this.#trained) {
      file.merges = this.merges.map(([a, b]) => [a, b]);
    } else {
      file.tokens = Array.from(this.#tokens, (t) => (t === undefined ? null : btoa(t)));
    }
    return file;
  }

  /**
   * Writes the tokenizer as JSON to `path`, through a temporary file renamed into place, so a
   * failed write never leaves a half-written file. Needs read and write permission.
   *
   * @example
   * ```ts ignore
   * await bpe.save("shakespeare.bpe.json");
   * const again = await BpeTokenizer.load("shakespeare.bpe.json");
   * ```
   */
  async save(path: string | URL): Promise<void> {
    const target = path instanceof URL ? decodeURIComponent(path.pathname) : path;
    const temp = `${target}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeTextFile(temp, JSON.stringify(this) + "\n");
      await Deno.rename(temp, target);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
  }

  /** Reads a tokenizer written by {@linkcode BpeTokenizer.save}; a corrupt file is refused. */
  static async load(path: string | URL): Promise<BpeTokenizer> {
    return BpeTokenizer.parse(await Deno.readTextFile(path), String(path));
  }

  /**
   * The tokenizer saved as the JSON text `json`; `source` names it in errors.
   *
   * @example A truncated file is refused, naming it.
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpeTokenizer } from "./bpe_tokenizer.ts";
   * const json = JSON.stringify(BpeTokenizer.train("abab", 257));
   * assert.equal(BpeTokenizer.parse(json).vocabSize, 257);
   * assert.throws(() => BpeTokenizer.parse(json.slice(0, 30), "t.json"), /t.json is not valid JSON/);
   * ```
   */
  static parse(json: string, source = "the text"): BpeTokenizer {
    let file: unknown;
    try {
      file = JSON.parse(json);
    } catch (error) {
      throw new RangeError(
        `BpeTokenizer.parse: ${source} is not valid JSON (${(error as Error).message})`,
      );
    }
    return BpeTokenizer.fromJSON(file);
  }

  /** The number of ids: ordinary tokens (the highest id + 1) and special tokens. */
  get vocabSize(): number {
    let top = this.#tokens.length;
    for (const id of this.#specialById.keys()) top = Math.max(top, id + 1);
    return top;
  }

  /** The bytes of token `id` (a special token's UTF-8). */
  tokenBytes(id: number): Uint8Array {
    return bytesOfBinary(this.#binaryOf(id, "BpeTokenizer.tokenBytes", "id"));
  }

  /**
   * Token `id` as readable text: its bytes as UTF-8, a byte that is not part of a whole
   * character shown as `\xNN`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpeTokenizer } from "./bpe_tokenizer.ts";
   * const bytes = BpeTokenizer.train("x", 256);
   * assert.equal(bytes.tokenText(0x41), "A");
   * assert.equal(bytes.tokenText(0xc3), "\\xc3");
   * ```
   */
  tokenText(id: number): string {
    return readable(this.#binaryOf(id, "BpeTokenizer.tokenText", "id"));
  }

  /** The merges as readable lines: `"t" + "h" → "th"`. */
  mergeStrings(): string[] {
    return this.merges.map(([a, b], i) =>
      `${JSON.stringify(this.tokenText(a))} + ${JSON.stringify(this.tokenText(b))} → ${
        JSON.stringify(this.tokenText(256 + i))
      }`
    );
  }

  /**
   * The token ids of `text`. Special tokens become their ids only when allowed; by default a
   * special token's text is refused (see {@linkcode BpeEncodeOptions}).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpeTokenizer } from "./bpe_tokenizer.ts";
   * const bpe = BpeTokenizer.train("hello hello", 258, { specialTokens: ["<|end|>"] });
   * assert.deepEqual(bpe.encode("hello<|end|>", { allowedSpecial: "all" }).at(-1), 258);
   * assert.throws(() => bpe.encode("hi<|end|>"), /special token "<\|end\|>" at index 2/);
   * ```
   */
  encode(text: string, options: BpeEncodeOptions = {}): number[] {
    checkedText("BpeTokenizer.encode", text);
    const out: number[] = [];
    if (this.#specialRegex === null) {
      this.#encodeOrdinary(text, out);
      return out;
    }
    const names = Object.keys(this.specialTokens);
    const allowed = new Set(
      options.allowedSpecial === "all" ? names : (options.allowedSpecial ?? []),
    );
    const disallowed = new Set(
      (options.disallowedSpecial ?? "all") === "all"
        ? names.filter((name) => !allowed.has(name))
        : options.disallowedSpecial as readonly string[],
    );
    let start = 0;
    const regex = this.#specialRegex;
    regex.lastIndex = 0;
    for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
      if (disallowed.has(match[0])) {
        throw new RangeError(
          `BpeTokenizer.encode: the text contains the special token ${
            JSON.stringify(match[0])
          } at index ${match.index}; pass it in allowedSpecial to encode it as its id, or ` +
            `disallowedSpecial: [] to encode it as text`,
        );
      }
      if (!allowed.has(match[0])) continue;
      this.#encodeOrdinary(text.substring(start, match.index), out);
      out.push(this.specialTokens[match[0]]);
      start = match.index + match[0].length;
    }
    this.#encodeOrdinary(text.substring(start), out);
    return out;
  }

  /** The text of `ids` (invalid UTF-8, possible only for ids not made by `encode`, becomes U+FFFD). */
  decode(ids: ArrayLike<number>): string {
    // ignoreBOM keeps a leading U+FEFF: it is part of the text, not a marker to drop.
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  /** The bytes of `ids`. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
      throw new TypeError(`BpeTokenizer.decode: ids must be an array, got ${describe(ids)}`);
    }
    const parts: string[] = [];
    let length = 0;
    for (let i = 0; i < ids.length; i++) {
      const binary = this.#binaryOf(ids[i], "BpeTokenizer.decode", `ids[${i}]`);
      parts.push(binary);
      length += binary.length;
    }
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      for (let k = 0; k < part.length; k++) bytes[at++] = part.charCodeAt(k);
    }
    return bytes;
  }

  /**
   * `text` with its token boundaries shown: tokens separated by `|`, or, with `color`, on
   * alternating ANSI background colours. A token that ends inside a character shows its bytes
   * as `\xNN`.
   */
  renderTokens(text: string, options: { color?: boolean } = {}): string {
    const ids = this.encode(text, { allowedSpecial: "all" });
    const shown = ids.map((id) => this.tokenText(id));
    if (!options.color) return shown.join("|");
    const backgrounds = [44, 42, 45, 46, 43, 41];
    return shown.map((token, i) => `\x1b[30;${backgrounds[i % backgrounds.length]}m${token}`)
      .join("") + "\x1b[0m";
  }

  #binaryOf(id: number, where: string, name: string): string {
    const binary = typeof id === "number" ? this.#tokens[id] : undefined;
    if (binary !== undefined) return binary;
    const special = this.#specialById.get(id);
    if (special !== undefined) return binaryOf(special, this.#encoder);
    throw new RangeError(
      `${where}: ${name} must be a token id (0–${this.#tokens.length - 1}${
        this.#specialById.size > 0 ? ` or a special token's` : ""
      }), got ${describe(id)}`,
    );
  }

  #encodeOrdinary(text: string, out: number[]): void {
    if (text.length === 0) return;
    const cache = this.#cache;
    const ranks = this.#ranks;
    forEachPiece(text, this.#regex, (piece) => {
      const cached = cache.get(piece);
      if (cached !== undefined) {
        if (typeof cached === "number") out.push(cached);
        else for (let i = 0; i < cached.length; i++) out.push(cached[i]);
        return;
      }
      const start = out.length;
      encodePiece(binaryOf(piece, this.#encoder), ranks, out, LONG_PIECE, this.#pairRanks);
      if (piece.length <= 256) {
        if (cache.size >= 65536) cache.clear();
        cache.set(piece, out.length - start === 1 ? out[start] : out.slice(start));
      }
    });
  }
}

/** Calls `visit` with each piece of `text`: the matches of `regex` and any text between them. */
function forEachPiece(text: string, regex: RegExp | null, visit: (piece: string) => void): void {
  if (regex === null) {
    if (text.length > 0) visit(text);
    return;
  }
  regex.lastIndex = 0;
  let end = 0;
  for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
    const piece = match[0];
    if (piece.length === 0) {
      regex.lastIndex++;
      continue;
    }
    if (match.index > end) visit(text.substring(end, match.index));
    visit(piece);
    end = match.index + piece.length;
  }
  if (end < text.length) visit(text.substring(end));
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$*+?.()|[\]{}]/g, "\\$&");
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A binary string as UTF-8 text, bytes outside a whole character escaped as `\xNN`. */
function readable(binary: string): string {
  const bytes = bytesOfBinary(binary);
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const length = b < 0x80
      ? 1
      : b >= 0xc2 && b < 0xe0
      ? 2
      : b >= 0xe0 && b < 0xf0
      ? 3
      : b >= 0xf0 && b < 0xf5
      ? 4
      : 0;
    if (length > 0 && i + length <= bytes.length) {
      try {
        out += STRICT_UTF8.decode(bytes.subarray(i, i + length));
        i += length;
        continue;
      } catch {
        // not a whole character: escape its first byte
      }
    }
    out += `\\x${b.toString(16).padStart(2, "0")}`;
    i++;
  }
  return out;
}
