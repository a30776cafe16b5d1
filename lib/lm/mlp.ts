/**
 * makemore's MLP, after Bengio et al. (2003), "A Neural Probabilistic Language Model": the
 * embeddings of the previous `blockSize` tokens, concatenated, through one tanh hidden layer
 * to the logits of the next token. Positions before the start of the input read a special
 * blank token (id `vocabSize`), so the embedding table has one row more than the vocabulary.
 *
 * @module
 */

import { gather, Tensor } from "../tensor/tensor.ts";
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
 * The MLP language model: `logits = W₂ tanh(W₁ [e(x_t); e(x_{t−1}); …; e(x_{t−blockSize+1})]
 * + b₁) + b₂` at every position t. Parameters (the PyTorch twin's names): `wte.weight`
 * `[vocabSize + 1, nEmbd]`, `mlp.0.*` (hidden), `mlp.2.*` (output).
 *
 * @example makemore's size on names: 69,147 parameters.
 * ```ts
 * import assert from "node:assert/strict";
 * import { Mlp } from "./mlp.ts";
 * import { parameterCount } from "./model.ts";
 * const config = { vocabSize: 27, blockSize: 16, nLayer: 4, nHead: 4, nEmbd: 64, nEmbd2: 64 };
 * assert.equal(parameterCount(new Mlp(config, { seed: 1 })), 69147);
 * ```
 */
export class Mlp implements LanguageModel {
  /** `"mlp"`. */
  readonly type = "mlp";
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
    this.config = checkedConfig("mlp", config);
    const { vocabSize, blockSize, nEmbd, nEmbd2 } = this.config;
    const random = initialWeights("mlp", options);
    const p = new Map([["wte.weight", embeddingInit(vocabSize + 1, nEmbd, random)]]);
    addLinear(p, "mlp.0", blockSize * nEmbd, nEmbd2, random);
    addLinear(p, "mlp.2", nEmbd2, vocabSize, random);
    this.#p = adoptParameters("mlp", p, options.parameters);
  }

  /** Logits `[batch, time, vocab]`. */
  forward(ids: TokenIds): Tensor {
    const { vocabSize, blockSize, nEmbd } = this.config;
    const x = idsTensor(ids);
    const [batch, time] = x.shape;
    // context[b, t, k] = the token k places before t, or the blank token before the start.
    const context = new Float64Array(batch * time * blockSize);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < time; t++) {
        for (let k = 0; k < blockSize; k++) {
          context[(b * time + t) * blockSize + k] = t - k >= 0
            ? x.data[b * time + t - k]
            : vocabSize;
        }
      }
    }
    const wte = this.#p.get("wte.weight") as Tensor;
    const embeddings = gather(wte, new Tensor(context, [batch, time, blockSize]));
    const concatenated = embeddings.reshape([batch, time, blockSize * nEmbd]);
    const hidden = applyLinear(this.#p, "mlp.0", concatenated).tanh();
    return applyLinear(this.#p, "mlp.2", hidden);
  }

  /** `wte.weight`, `mlp.0.weight`, `mlp.0.bias`, `mlp.2.weight`, `mlp.2.bias`. */
  namedParameters(): Map<string, Tensor> {
    return new Map(this.#p);
  }
}
