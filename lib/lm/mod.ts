/**
 * Language models on the tensor engine: the GPT (a decoder-only transformer) and its
 * token-by-token generation with a key/value cache.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPT } from "./mod.ts";
 * const gpt = new GPT({ vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 4 });
 * assert.deepEqual(gpt.forward([[1, 2]]).logits.shape, [1, 2, 5]);
 * ```
 *
 * @module
 */

export {
  Block,
  CausalSelfAttention,
  generate,
  type GenerateOptions,
  GPT,
  type GPTConfig,
  type GPTForwardOptions,
  type GPTOutput,
  KVCache,
  type TokenIds,
} from "./gpt.ts";
