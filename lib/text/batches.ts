/**
 * Batch samplers whose outputs are reproducible from a seed: random windows of a token stream
 * (nanoGPT's `get_batch`) and boundary-marked word examples (makemore's `CharDataset`).
 *
 * Batches are flat `Int32Array`s in row-major `[batchSize, blockSize]` order, ready for
 * `Embedding.forward` and `crossEntropy` targets.
 *
 * @module
 */

import type { RandomSource } from "../util/random.ts";
import { checkedInteger, describe } from "./_checks.ts";

/** A batch of token sequences and their next-token targets, `[batchSize, blockSize]` each. */
export interface TokenBatch {
  /** Input ids, row-major `[batchSize, blockSize]`. */
  inputs: Int32Array;
  /** Target ids (the next token of each input position), or −1 where the loss ignores it. */
  targets: Int32Array;
  /** Rows. */
  batchSize: number;
  /** Columns. */
  blockSize: number;
}

/** Options of {@linkcode sampleWindows}. */
export interface SampleWindowsOptions {
  /** Windows per batch. */
  batchSize: number;
  /** Tokens per window. */
  blockSize: number;
  /** The generator that picks window starts. */
  random: RandomSource;
}

/**
 * `batchSize` windows of `blockSize` tokens at uniformly random starts in
 * `[0, tokens.length − blockSize)`; each target row is its input row shifted by one token
 * (nanoGPT: `x = data[i:i+block]`, `y = data[i+1:i+1+block]`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../util/random.ts";
 * import { sampleWindows } from "./batches.ts";
 * const tokens = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
 * const batch = sampleWindows(tokens, { batchSize: 2, blockSize: 3, random: new Random(5) });
 * const start = batch.inputs[0];
 * assert.deepEqual([...batch.inputs.slice(0, 3)], [start, start + 1, start + 2]);
 * assert.deepEqual([...batch.targets.slice(0, 3)], [start + 1, start + 2, start + 3]);
 * ```
 */
export function sampleWindows(
  tokens: ArrayLike<number>,
  options: SampleWindowsOptions,
): TokenBatch {
  if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
    throw new TypeError(`sampleWindows: tokens must be an array, got ${describe(tokens)}`);
  }
  const batchSize = checkedInteger("sampleWindows", "batchSize", options.batchSize, 1);
  const blockSize = checkedInteger("sampleWindows", "blockSize", options.blockSize, 1);
  if (tokens.length <= blockSize) {
    throw new RangeError(
      `sampleWindows: need more than blockSize (${blockSize}) tokens, got ${tokens.length}`,
    );
  }
  const inputs = new Int32Array(batchSize * blockSize);
  const targets = new Int32Array(batchSize * blockSize);
  const starts = tokens.length - blockSize;
  for (let b = 0; b < batchSize; b++) {
    const start = Math.floor(options.random.next() * starts);
    for (let t = 0; t < blockSize; t++) {
      inputs[b * blockSize + t] = tokens[start + t];
      targets[b * blockSize + t] = tokens[start + t + 1];
    }
  }
  return { inputs, targets, batchSize, blockSize };
}

/** Boundary-marked word examples, one row per word, `[count, blockSize]` each. */
export interface WordExamples {
  /** Inputs: the boundary id 0, the word's ids, then 0 padding. */
  inputs: Int32Array;
  /** Targets: the word's ids, the boundary id 0, then −1 (ignored) padding. */
  targets: Int32Array;
  /** Rows (words). */
  count: number;
  /** Columns: the longest word's length + 1, unless given. */
  blockSize: number;
}

/**
 * makemore's examples: for a word with ids `w₁…wₖ` and block size `B`, the input row is
 * `[0, w₁, …, wₖ, 0, …, 0]` and the target row `[w₁, …, wₖ, 0, −1, …, −1]` (each of length `B`):
 * the model learns to start from the boundary and to end with it, and the padding after the
 * end is ignored by the loss. The default `B` is the longest word's length + 1; give the train
 * and test sets the same `B` (makemore uses the longest word of the whole file + 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wordExamples } from "./batches.ts";
 * const examples = wordExamples([[5, 1], [3]]);
 * assert.equal(examples.blockSize, 3);
 * assert.deepEqual([...examples.inputs], [0, 5, 1, 0, 3, 0]);
 * assert.deepEqual([...examples.targets], [5, 1, 0, 3, 0, -1]);
 * ```
 */
export function wordExamples(
  words: readonly (readonly number[])[],
  blockSize?: number,
): WordExamples {
  if (!Array.isArray(words)) {
    throw new TypeError(
      `wordExamples: words must be an array of id arrays, got ${describe(words)}`,
    );
  }
  const longest = words.reduce((max, word) => Math.max(max, word.length), 0);
  const columns = blockSize === undefined
    ? longest + 1
    : checkedInteger("wordExamples", "blockSize", blockSize, longest + 1);
  const inputs = new Int32Array(words.length * columns);
  const targets = new Int32Array(words.length * columns).fill(-1);
  words.forEach((word, row) => {
    const base = row * columns;
    for (let t = 0; t < word.length; t++) {
      const id = word[t];
      if (!Number.isInteger(id) || id <= 0) {
        throw new RangeError(
          `wordExamples: words[${row}][${t}] must be a positive id (0 is the boundary), got ${id}`,
        );
      }
      inputs[base + t + 1] = id;
      targets[base + t] = id;
    }
    targets[base + word.length] = 0;
  });
  return { inputs, targets, count: words.length, blockSize: columns };
}

/**
 * `batchSize` rows drawn uniformly with replacement from `examples` (makemore's infinite
 * random sampler), as one batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../util/random.ts";
 * import { sampleWordBatch, wordExamples } from "./batches.ts";
 * const examples = wordExamples([[1, 2], [3]]);
 * const batch = sampleWordBatch(examples, { batchSize: 4, random: new Random(0) });
 * assert.equal(batch.inputs.length, 4 * 3);
 * assert.ok(batch.inputs.every((id, i) => i % 3 !== 0 || id === 0)); // each row starts at 0
 * ```
 */
export function sampleWordBatch(
  examples: WordExamples,
  options: { batchSize: number; random: RandomSource },
): TokenBatch {
  const batchSize = checkedInteger("sampleWordBatch", "batchSize", options.batchSize, 1);
  if (examples.count === 0) throw new RangeError("sampleWordBatch: there are no examples");
  const { blockSize } = examples;
  const inputs = new Int32Array(batchSize * blockSize);
  const targets = new Int32Array(batchSize * blockSize);
  for (let b = 0; b < batchSize; b++) {
    const row = Math.floor(options.random.next() * examples.count);
    inputs.set(examples.inputs.subarray(row * blockSize, (row + 1) * blockSize), b * blockSize);
    targets.set(examples.targets.subarray(row * blockSize, (row + 1) * blockSize), b * blockSize);
  }
  return { inputs, targets, batchSize, blockSize };
}
