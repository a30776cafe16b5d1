/**
 * What every character-level model of the names ladder shares: its configuration (makemore's
 * knobs), the interface the training loop, checkpoints and sampling rely on, the loss with
 * padding ignored, and PyTorch's default initialisation of the layers, so that a model and
 * its PyTorch twin start from the same distribution.
 *
 * @module
 */

import { Tensor } from "../tensor/tensor.ts";
import type { RandomSource, SeedOptions } from "../util/random.ts";

/**
 * A model's sizes, named as makemore's flags (`--n-layer` is `nLayer`, …).
 *
 * @example makemore's defaults on names (27 characters, longest name 15).
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ModelConfig } from "./model.ts";
 * const config: ModelConfig = {
 *   vocabSize: 27, blockSize: 16, nLayer: 4, nHead: 4, nEmbd: 64, nEmbd2: 64,
 * };
 * assert.equal(config.blockSize, 16);
 * ```
 */
export interface ModelConfig {
  /** Number of token ids (makemore: the characters and the boundary token 0). */
  readonly vocabSize: number;
  /** Longest input sequence (makemore: longest name + 1). */
  readonly blockSize: number;
  /** Transformer blocks. */
  readonly nLayer: number;
  /** Attention heads (must divide `nEmbd`). */
  readonly nHead: number;
  /** Embedding size. */
  readonly nEmbd: number;
  /** Hidden size of the MLP, RNN, GRU and bag-of-words models. */
  readonly nEmbd2: number;
}

/**
 * Token ids of a batch: rows of ids (`[batch][time]`), or a `[batch, time]` tensor of ids.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TokenIds } from "./model.ts";
 * const ids: TokenIds = [[0, 5, 1], [0, 3, 0]];
 * assert.equal(ids.length, 2);
 * ```
 */
export type TokenIds = readonly (readonly number[])[] | Tensor;

/**
 * A character-level language model: token ids `[batch, time]` in, next-token logits
 * `[batch, time, vocab]` out, and its parameters under stable names (the names of the
 * PyTorch twin's `state_dict`, so checkpoints line up).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LanguageModel } from "./model.ts";
 * import { Bigram } from "./bigram.ts";
 * const model: LanguageModel = new Bigram({
 *   vocabSize: 3, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 2, nEmbd2: 2,
 * });
 * assert.deepEqual(model.forward([[0, 1]]).shape, [1, 2, 3]);
 * ```
 */
export interface LanguageModel {
  /** The model's type (`"bigram"`, `"mlp"`, …), as checkpoints record it. */
  readonly type: string;
  /** Its sizes. */
  readonly config: ModelConfig;
  /** Logits `[batch, time, vocab]` of the next token after each position of `ids`. */
  forward(ids: TokenIds): Tensor;
  /** Every parameter by name, in a fixed order (the tensors themselves, not copies). */
  namedParameters(): Map<string, Tensor>;
}

/**
 * Options of the model constructors: where the initial weights come from. A `seed` (or a
 * `source` to draw from) is required, as everywhere in the library, unless `parameters` are
 * given (then nothing random is kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ModelOptions } from "./model.ts";
 * const options: ModelOptions = { seed: 3407 };
 * assert.equal(options.seed, 3407);
 * ```
 */
export interface ModelOptions extends SeedOptions {
  /**
   * Use these tensors as the parameters instead of fresh ones (same names and shapes as
   * `namedParameters()`): how a gradient check feeds its own leaves through the model.
   */
  readonly parameters?: ReadonlyMap<string, Tensor>;
}

/**
 * The number of trained scalars of a model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parameterCount } from "./model.ts";
 * import { Bigram } from "./bigram.ts";
 * const config = { vocabSize: 27, blockSize: 16, nLayer: 4, nHead: 4, nEmbd: 64, nEmbd2: 64 };
 * assert.equal(parameterCount(new Bigram(config)), 729);
 * ```
 */
export function parameterCount(model: LanguageModel): number {
  let n = 0;
  for (const p of model.namedParameters().values()) n += p.size;
  return n;
}

/**
 * The mean next-token cross-entropy of `model` on inputs `x` and targets `y` (`[batch,
 * time]`, or flat row-major), leaving out targets of −1 (padding after a name's end), as
 * makemore's `ignore_index=-1`.
 *
 * @throws {RangeError} when the targets do not give one id per position.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sequenceLoss } from "./model.ts";
 * import { Bigram } from "./bigram.ts";
 * const model = new Bigram({ vocabSize: 3, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 2, nEmbd2: 2 });
 * // Zero logits: every counted target costs ln 3, padding costs nothing.
 * const loss = sequenceLoss(model, [[0, 1, 2]], [[1, 2, -1]]);
 * assert.ok(Math.abs(loss.item() - Math.log(3)) < 1e-15);
 * ```
 */
export function sequenceLoss(
  model: LanguageModel,
  x: TokenIds,
  y: TokenIds | ArrayLike<number>,
): Tensor {
  const logits = model.forward(x);
  const targets = flatIds(y);
  if (targets.length * logits.shape[2] !== logits.size) {
    throw new RangeError(
      `sequenceLoss: ${targets.length} targets for logits [${logits.shape.join(",")}]: ` +
        `one per position`,
    );
  }
  return logits.crossEntropy(new Tensor(targets, logits.shape.slice(0, 2)), { ignoreIndex: -1 });
}

function flatIds(ids: TokenIds | ArrayLike<number>): Float64Array {
  if (ids instanceof Tensor) return Float64Array.from(ids.data);
  if (ids.length > 0 && typeof ids[0] !== "number") {
    return Float64Array.from((ids as readonly (readonly number[])[]).flat());
  }
  return Float64Array.from(ids as ArrayLike<number>);
}

/**
 * Token ids as a constant tensor of shape `[batch, time]` (a tensor is checked and returned
 * as it is).
 *
 * @throws {RangeError} for an empty batch, rows of different lengths, or a tensor that is
 * not `[batch, time]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { idsTensor } from "./model.ts";
 * assert.deepEqual(idsTensor([[1, 2], [3, 4]]).shape, [2, 2]);
 * ```
 */
export function idsTensor(ids: TokenIds): Tensor {
  if (ids instanceof Tensor) {
    if (ids.rank !== 2 || ids.size === 0) {
      throw new RangeError(
        `model: ids must have shape [batch, time], got [${ids.shape.join(",")}]`,
      );
    }
    return ids;
  }
  const batch = ids.length;
  const time = batch === 0 ? 0 : ids[0].length;
  if (batch === 0 || time === 0) throw new RangeError("model: needs at least one id");
  const data = new Float64Array(batch * time);
  for (let b = 0; b < batch; b++) {
    if (ids[b].length !== time) {
      throw new RangeError(`model: row ${b} has ${ids[b].length} ids, row 0 has ${time}`);
    }
    data.set(ids[b], b * time);
  }
  return new Tensor(data, [batch, time]);
}

/**
 * PyTorch's `nn.Linear` initialisation: weight `[out, in]` and bias `[out]` both uniform in
 * ±1/√in, drawn weight first, row by row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linearInit } from "./model.ts";
 * import { Random } from "../util/random.ts";
 * const { weight, bias } = linearInit(4, 3, new Random(1));
 * assert.deepEqual(weight.shape, [3, 4]);
 * assert.ok(bias!.data.every((b) => Math.abs(b) <= 0.5));
 * ```
 */
export function linearInit(
  inFeatures: number,
  outFeatures: number,
  random: RandomSource,
  options: { readonly bias?: boolean } = {},
): { weight: Tensor; bias: Tensor | null } {
  const bound = 1 / Math.sqrt(inFeatures);
  const uniform = (n: number) => {
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = bound * (2 * random.next() - 1);
    return data;
  };
  const weight = new Tensor(uniform(outFeatures * inFeatures), [outFeatures, inFeatures], {
    requiresGrad: true,
  });
  const bias = options.bias === false
    ? null
    : new Tensor(uniform(outFeatures), [outFeatures], { requiresGrad: true });
  return { weight, bias };
}

/**
 * PyTorch's `nn.Embedding` initialisation: a `[count, dim]` table of standard normal draws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingInit } from "./model.ts";
 * import { Random } from "../util/random.ts";
 * assert.deepEqual(embeddingInit(27, 8, new Random(1)).shape, [27, 8]);
 * ```
 */
export function embeddingInit(count: number, dim: number, random: RandomSource): Tensor {
  const data = new Float64Array(count * dim);
  for (let i = 0; i < data.length; i++) {
    const radius = Math.sqrt(-2 * Math.log(1 - random.next()));
    data[i] = radius * Math.cos(2 * Math.PI * random.next());
  }
  return new Tensor(data, [count, dim], { requiresGrad: true });
}

/**
 * Checks a config's sizes: each a whole number ≥ 1.
 *
 * @throws {RangeError} naming the model and the first bad size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkedConfig } from "./model.ts";
 * assert.throws(
 *   () => checkedConfig("mlp", { vocabSize: 0, blockSize: 1, nLayer: 1, nHead: 1, nEmbd: 1, nEmbd2: 1 }),
 *   /mlp: vocabSize must be a whole number ≥ 1, got 0/,
 * );
 * ```
 */
export function checkedConfig(type: string, config: ModelConfig): ModelConfig {
  for (const key of ["vocabSize", "blockSize", "nLayer", "nHead", "nEmbd", "nEmbd2"] as const) {
    const v = config[key];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`${type}: ${key} must be a whole number ≥ 1, got ${v}`);
    }
  }
  return { ...config };
}
