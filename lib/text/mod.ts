/**
 * Text and tokens: corpora, seeded splits and batches, a character tokenizer and a byte-level
 * BPE tokenizer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CharTokenizer, splitWords } from "./mod.ts";
 * const words = ["emma", "olivia", "ava"];
 * const tokenizer = CharTokenizer.fromText(words.join(""));
 * assert.equal(tokenizer.decode(tokenizer.encode("olivia")), "olivia");
 * assert.equal(splitWords(words, { testSize: 1 }).test.length, 1);
 * ```
 *
 * @module
 */

export {
  sampleWindows,
  type SampleWindowsOptions,
  sampleWordBatch,
  type TokenBatch,
  type WordExamples,
  wordExamples,
} from "./batches.ts";
export {
  type BpeEncodeOptions,
  type BpeFile,
  BpeTokenizer,
  type BpeTrainOptions,
  type TiktokenRanks,
} from "./bpe_tokenizer.ts";
export { CharTokenizer, type CharTokenizerOptions } from "./char_tokenizer.ts";
export { CL100K_PATTERN, GPT2_PATTERN, patternSource, type SplitPattern } from "./patterns.ts";
export {
  linesOf,
  type ProseSplit,
  shuffled,
  splitProse,
  splitWords,
  type SplitWordsOptions,
  type WordSplit,
} from "./splits.ts";
export { decodeUtf8, firstInvalidUtf8 } from "./utf8.ts";
