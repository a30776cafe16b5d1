/**
 * Recurrent language models, as makemore writes them: a hidden state carried from position
 * to position, updated by a cell from the current token's embedding and the previous state;
 * the logits read off each state. Two cells: Elman's (Mikolov's RNN language model) and the
 * gated recurrent unit of Cho et al. (2014).
 *
 * @module
 */

import { concat, gather, stack, type Tensor, zeros } from "../tensor/tensor.ts";
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
 * Which recurrent cell: `"rnn"` is `h = tanh(W [x; h_prev] + b)`; `"gru"` gates it:
 * `r = σ(W_r [x; h_prev])`, `h̄ = tanh(W_h [x; r ⊙ h_prev])`, `z = σ(W_z [x; h_prev])`,
 * `h = (1 − z) ⊙ h_prev + z ⊙ h̄`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CellType } from "./rnn.ts";
 * const cell: CellType = "gru";
 * assert.equal(cell, "gru");
 * ```
 */
export type CellType = "rnn" | "gru";

/**
 * makemore's `RNN`: token embeddings, a learned start state, a cell applied position by
 * position, and a linear head on every hidden state. Parameters: `start` `[1, nEmbd2]`
 * (starts at 0), `wte.weight`, `cell.xh_to_h.*` (rnn) or `cell.xh_to_{z,r,hbar}.*` (gru),
 * `lm_head.*`.
 *
 * @example makemore's sizes on names: 11,803 parameters (rnn), 28,315 (gru).
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rnn } from "./rnn.ts";
 * import { parameterCount } from "./model.ts";
 * const config = { vocabSize: 27, blockSize: 16, nLayer: 4, nHead: 4, nEmbd: 64, nEmbd2: 64 };
 * assert.equal(parameterCount(new Rnn(config, "rnn", { seed: 1 })), 11803);
 * assert.equal(parameterCount(new Rnn(config, "gru", { seed: 1 })), 28315);
 * ```
 */
export class Rnn implements LanguageModel {
  /** `"rnn"` or `"gru"`. */
  readonly type: CellType;
  /** The sizes. */
  readonly config: ModelConfig;
  readonly #p: Map<string, Tensor>;

  /**
   * A recurrent model with cell `cell`, initialised as PyTorch would from
   * `options.seed` (or `options.source`; one is required unless `options.parameters` are given).
   *
   * @throws {RangeError} for an unknown cell, bad sizes or given parameters that do not fit.
   */
  constructor(config: ModelConfig, cell: CellType, options: ModelOptions = {}) {
    if (cell !== "rnn" && cell !== "gru") {
      throw new RangeError(`Rnn: cell must be "rnn" or "gru", got ${String(cell)}`);
    }
    this.type = cell;
    this.config = checkedConfig(cell, config);
    const { vocabSize, nEmbd, nEmbd2 } = this.config;
    const random = initialWeights(cell, options);
    const p = new Map([
      ["start", zeros([1, nEmbd2], { requiresGrad: true })],
      ["wte.weight", embeddingInit(vocabSize, nEmbd, random)],
    ]);
    for (const name of cell === "rnn" ? ["xh_to_h"] : ["xh_to_z", "xh_to_r", "xh_to_hbar"]) {
      addLinear(p, `cell.${name}`, nEmbd + nEmbd2, nEmbd2, random);
    }
    addLinear(p, "lm_head", nEmbd2, vocabSize, random);
    this.#p = adoptParameters(cell, p, options.parameters);
  }

  /** Logits `[batch, time, vocab]`. */
  forward(ids: TokenIds): Tensor {
    const x = idsTensor(ids);
    const [batch, time] = x.shape;
    const embeddings = gather(this.#p.get("wte.weight") as Tensor, x); // [batch, time, nEmbd]
    // The start state repeated for every sequence of the batch (broadcast; its gradient sums).
    let h = zeros([batch, 1]).add(this.#p.get("start") as Tensor);
    const hiddens: Tensor[] = [];
    for (let t = 0; t < time; t++) {
      const xt = embeddings.slice({ axis: 1, start: t, end: t + 1 }).reshape([batch, -1]);
      h = this.#step(xt, h);
      hiddens.push(h);
    }
    return applyLinear(this.#p, "lm_head", stack(hiddens, 1));
  }

  #step(xt: Tensor, hPrev: Tensor): Tensor {
    const p = this.#p;
    const xh = concat([xt, hPrev], 1);
    if (this.type === "rnn") return applyLinear(p, "cell.xh_to_h", xh).tanh();
    const r = applyLinear(p, "cell.xh_to_r", xh).sigmoid();
    const hBar = applyLinear(p, "cell.xh_to_hbar", concat([xt, r.mul(hPrev)], 1)).tanh();
    const z = applyLinear(p, "cell.xh_to_z", xh).sigmoid();
    // (1 − z)·h_prev + z·h̄, as makemore writes it.
    return z.neg().add(1).mul(hPrev).add(z.mul(hBar));
  }

  /** `start`, `wte.weight`, the cell's linear layers, `lm_head.*`. */
  namedParameters(): Map<string, Tensor> {
    return new Map(this.#p);
  }
}
