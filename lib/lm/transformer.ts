/**
 * makemore's transformer on the names ladder: the GPT of `gpt.ts` in makemore's shape —
 * token and position embeddings, `nLayer` pre-LayerNorm blocks of causal multi-head
 * self-attention and a 4× GELU MLP, a final LayerNorm, and an output head of its own (not
 * tied to the embedding, no bias), with biases elsewhere, no dropout, and PyTorch's default
 * initialisation, as makemore's `Transformer` is.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { randomSourceOf } from "../util/random.ts";
import type { DType } from "../tensor/mod.ts";
import { GPT } from "./gpt.ts";
import {
  checkedConfig,
  idsTensor,
  type LanguageModel,
  type ModelConfig,
  type ModelOptions,
  type TokenIds,
} from "./model.ts";

/**
 * The transformer of the names ladder: a {@linkcode GPT} with `tieWeights: false`,
 * `bias: true`, `dropout: 0`, `init: "pytorch"`. Parameters carry nanoGPT's names
 * (`transformer.wte.weight`, `transformer.h.0.attn.c_attn.weight`, …, `lm_head.weight`).
 *
 * @example makemore's size on names: 204,544 parameters.
 * ```ts
 * import assert from "node:assert/strict";
 * import { Transformer } from "./transformer.ts";
 * import { parameterCount } from "./model.ts";
 * const config = { vocabSize: 27, blockSize: 16, nLayer: 4, nHead: 4, nEmbd: 64, nEmbd2: 64 };
 * const model = new Transformer(config, { seed: 3407 });
 * assert.equal(parameterCount(model), 204544);
 * assert.deepEqual(model.forward([[0, 1, 2]]).shape, [1, 3, 27]);
 * ```
 */
export class Transformer implements LanguageModel {
  /** `"transformer"`. */
  readonly type = "transformer";
  /** The sizes (`nEmbd2` is not used). */
  readonly config: ModelConfig;
  /** The GPT that computes. */
  readonly gpt: GPT;

  /**
   * A transformer of `config`'s sizes, initialised from `options.seed` (or a seed drawn
   * from `options.source`; one is required).
   *
   * @throws {RangeError} for bad sizes, `nHead` not dividing `nEmbd`, or `options.parameters`
   * (not supported: the GPT owns its tensors).
   */
  constructor(
    config: ModelConfig,
    options: ModelOptions & {
      /** Element type of the parameters and activations (default `"float64"`). */
      readonly dtype?: DType;
    } = {},
  ) {
    this.config = checkedConfig("transformer", config);
    if (options.parameters !== undefined) {
      throw new RangeError(
        "transformer: given parameters are not supported; load a checkpoint into " +
          "namedParameters() instead",
      );
    }
    const { vocabSize, blockSize, nLayer, nHead, nEmbd } = this.config;
    this.gpt = new GPT({
      vocabSize,
      blockSize,
      nLayer,
      nHead,
      nEmbd,
      dropout: 0,
      bias: true,
      tieWeights: false,
      init: "pytorch",
      seed: gptSeed(options),
      dtype: options.dtype ?? "float64",
    });
  }

  /** Logits `[batch, time, vocab]`. */
  forward(ids: TokenIds): Tensor {
    return this.gpt.forward(idsTensor(ids)).logits;
  }

  /** The GPT's parameters by name. */
  namedParameters(): Map<string, Tensor> {
    return new Map(this.gpt.namedParameters());
  }
}

// The GPT takes a seed; a given source (the seeding policy's other form) supplies one.
function gptSeed(options: ModelOptions): number {
  const random = randomSourceOf("transformer", options);
  return options.seed ?? Math.floor(random.next() * 2 ** 32);
}
