/**
 * Seeded, documented train/validation/test splits.
 *
 * - Words (makemore): the words are shuffled by a seeded Fisher–Yates shuffle and the last
 *   `testSize` of the shuffled order form the test set; makemore draws the same kind of random
 *   permutation with `torch.randperm` and keeps `min(1000, ⌊10% of the words⌋)` for test.
 * - Prose (nanoGPT): the first 90% of the sequence trains, the last 10% validates, cut at
 *   `⌊0.9·n⌋`, no shuffling (so validation text is unseen and contiguous).
 *
 * @module
 */

import { Random, type RandomSource } from "../util/random.ts";
import { checkedInteger, describe } from "./_checks.ts";

/**
 * A uniformly random permutation of `items` (a copy), by Fisher–Yates from the last position
 * down: for i = n−1 … 1, swap item i with item ⌊u·(i+1)⌋, u the next draw of `random`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../util/random.ts";
 * import { shuffled } from "./splits.ts";
 * const a = shuffled([1, 2, 3, 4, 5], new Random(1));
 * assert.deepEqual(a, shuffled([1, 2, 3, 4, 5], new Random(1))); // same seed, same order
 * assert.deepEqual([...a].sort(), [1, 2, 3, 4, 5]);
 * ```
 */
export function shuffled<T>(items: readonly T[], random: RandomSource): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    const swap = out[i];
    out[i] = out[j];
    out[j] = swap;
  }
  return out;
}

/** Options of {@linkcode splitWords}. */
export interface SplitWordsOptions {
  /** The test-set size. Default makemore's `min(1000, ⌊n/10⌋)`. */
  testSize?: number;
  /** Seed of the {@linkcode Random} that shuffles. Default 3407 (makemore's default seed). */
  seed?: number;
}

/** A train/test split of words. */
export interface WordSplit {
  /** The training words, in shuffled order. */
  train: string[];
  /** The test words, in shuffled order. */
  test: string[];
}

/**
 * makemore's split: shuffle the words with `new Random(seed)` ({@linkcode shuffled}) and keep the
 * last `testSize` for test, the rest for training.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitWords } from "./splits.ts";
 * const words = Array.from({ length: 50 }, (_, i) => `w${i}`);
 * const { train, test } = splitWords(words);
 * assert.equal(test.length, 5); // min(1000, ⌊50/10⌋)
 * assert.equal(train.length + test.length, 50);
 * assert.deepEqual(splitWords(words).test, test); // seeded: the same every time
 * ```
 */
export function splitWords(words: readonly string[], options: SplitWordsOptions = {}): WordSplit {
  if (!Array.isArray(words)) {
    throw new TypeError(`splitWords: words must be an array, got ${describe(words)}`);
  }
  const testSize = options.testSize === undefined
    ? Math.min(1000, Math.floor(words.length / 10))
    : checkedInteger("splitWords", "testSize", options.testSize, 0, words.length);
  const seed = options.seed ?? 3407;
  const order = shuffled(words, new Random(seed));
  return {
    train: order.slice(0, order.length - testSize),
    test: order.slice(order.length - testSize),
  };
}

/**
 * The non-empty lines of `text`, each stripped of surrounding whitespace (makemore's
 * `open(...).read().splitlines()`, stripped, empties dropped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linesOf } from "./splits.ts";
 * assert.deepEqual(linesOf("emma\n olivia \n\nava\n"), ["emma", "olivia", "ava"]);
 * ```
 */
export function linesOf(text: string): string[] {
  if (typeof text !== "string") {
    throw new TypeError(`linesOf: text must be a string, got ${describe(text)}`);
  }
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0);
}

/** A train/validation split of a sequence. */
export interface ProseSplit<T> {
  /** The first part. */
  train: T;
  /** The last part. */
  val: T;
}

/**
 * nanoGPT's split: the first `⌊trainFraction·n⌋` elements train, the rest validate. A string is
 * cut between code points (never inside a surrogate pair); an array or typed array between
 * elements.
 *
 * @example The Shakespeare characters: 375,542 code points → 337,987 / 37,555.
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitProse } from "./splits.ts";
 * const { train, val } = splitProse("abcdefghij");
 * assert.equal(train, "abcdefghi");
 * assert.equal(val, "j");
 * assert.deepEqual(splitProse([1, 2, 3, 4], 0.5), { train: [1, 2], val: [3, 4] });
 * ```
 */
export function splitProse<T extends string | readonly number[] | Int32Array | Uint16Array>(
  sequence: T,
  trainFraction = 0.9,
): ProseSplit<T> {
  if (!(trainFraction >= 0 && trainFraction <= 1)) {
    throw new RangeError(`splitProse: trainFraction must be in [0, 1], got ${trainFraction}`);
  }
  if (typeof sequence === "string") {
    const chars = [...sequence];
    const cut = Math.floor(trainFraction * chars.length);
    return {
      train: chars.slice(0, cut).join("") as T,
      val: chars.slice(cut).join("") as T,
    };
  }
  if (sequence === null || typeof sequence !== "object" || typeof sequence.length !== "number") {
    throw new TypeError(
      `splitProse: sequence must be a string or an array, got ${describe(sequence)}`,
    );
  }
  const cut = Math.floor(trainFraction * sequence.length);
  return { train: sequence.slice(0, cut) as T, val: sequence.slice(cut) as T };
}
