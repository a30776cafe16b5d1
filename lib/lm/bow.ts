/**
 * makemore's causal bag of words: each position's vector is its token and position
 * embedding plus the plain average of the vectors at and before it (attention with equal
 * weights, so no position sees the future), then a tanh MLP with a residual connection.
 *
 * @module
 */

import { arange, gather, Tensor } from "../tensor/tensor.ts";
import { addLinear, adoptParameters, applyLinear, initialWeights } from "./_layers.ts";
import {
  checkedConfig,
  embeddingInit,
  idsTensor,
  type LanguageModel,
  type ModelConfig,
  type ModelOptions,
  type TokenIds,
} from "./model.ts";

/**
 * The bag-of-words model: `x = wte(ids) + wpe(t)`, `x += average of x over positions ≤ t`,
 * `x += W₂ tanh(W₁x + b₁) + b₂`, logits `= W x + b`. Parameters: `wte.weight`,
 * `wpe.weight`, `context_block.mlp.c_fc.*`, `context_block.mlp.c_proj.*`, `lm_head.*`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BagOfWords } from "./bow.ts";
 * const config = { vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 3, nEmbd2: 6 };
 * assert.deepEqual(new BagOfWords(config, { seed: 1 }).forward([[0, 1, 2]]).shape, [1, 3, 5]);
 * ```
 */
export class BagOfWords implements LanguageModel {
  /** `"bow"`. */
  readonly type = "bow";
  /** The sizes. */
  readonly config: ModelConfig;
  readonly #p: Map<string, Tensor>;

  /**
   * A model of `config`'s sizes, initialised as PyTorch would from
   * `options.seed` (or `options.source`; one is required unless `options.parameters` are given).
   *
   * @throws {RangeError} for bad sizes or given parameters that do not fit.
   */
  constructor(config: ModelConfig, options: ModelOptions = {}) {
    this.config = checkedConfig("bow", config);
    const { vocabSize, blockSize, nEmbd, nEmbd2 } = this.config;
    const random = initialWeights("bow", options);
    const p = new Map([
      ["wte.weight", embeddingInit(vocabSize, nEmbd, random)],
      ["wpe.weight", embeddingInit(blockSize, nEmbd, random)],
    ]);
    addLinear(p, "context_block.mlp.c_fc", nEmbd, nEmbd2, random);
    addLinear(p, "context_block.mlp.c_proj", nEmbd2, nEmbd, random);
    addLinear(p, "lm_head", nEmbd, vocabSize, random);
    this.#p = adoptParameters("bow", p, options.parameters);
  }

  /**
   * Logits `[batch, time, vocab]`.
   *
   * @throws {RangeError} when the input is longer than `blockSize`.
   */
  forward(ids: TokenIds): Tensor {
    const idx = idsTensor(ids);
    const time = idx.shape[1];
    if (time > this.config.blockSize) {
      throw new RangeError(`bow: ${time} positions, more than blockSize ${this.config.blockSize}`);
    }
    const p = this.#p;
    let x = gather(p.get("wte.weight") as Tensor, idx)
      .add(gather(p.get("wpe.weight") as Tensor, arange(time)));
    x = x.add(causalAverage(time).matmul(x));
    const mlp = applyLinear(p, "context_block.mlp.c_fc", x).tanh();
    x = x.add(applyLinear(p, "context_block.mlp.c_proj", mlp));
    return applyLinear(p, "lm_head", x);
  }

  /** The parameters by name. */
  namedParameters(): Map<string, Tensor> {
    return new Map(this.#p);
  }
}

/** `[time, time]`: row t averages positions 0..t (a softmax of zeros under a causal mask). */
function causalAverage(time: number): Tensor {
  const data = new Float64Array(time * time);
  for (let t = 0; t < time; t++) for (let s = 0; s <= t; s++) data[t * time + s] = 1 / (t + 1);
  return new Tensor(data, [time, time]);
}
