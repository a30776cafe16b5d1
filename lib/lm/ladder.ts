/**
 * makemore's ladder by name: `createModel("gru", config)` builds the model that `--type gru`
 * names, so the training script, checkpoints and benchmarks choose models by a string.
 *
 * @module
 */

import { Bigram } from "./bigram.ts";
import { BagOfWords } from "./bow.ts";
import { Mlp } from "./mlp.ts";
import type { LanguageModel, ModelConfig, ModelOptions } from "./model.ts";
import { Rnn } from "./rnn.ts";
import { Transformer } from "./transformer.ts";

/**
 * The model types of the ladder, simplest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MODEL_TYPES } from "./ladder.ts";
 * assert.equal(MODEL_TYPES[0], "bigram");
 * ```
 */
export const MODEL_TYPES: readonly string[] = ["bigram", "mlp", "rnn", "gru", "bow", "transformer"];

const builders: Record<string, (config: ModelConfig, options: ModelOptions) => LanguageModel> = {
  bigram: (config, options) => new Bigram(config, options),
  mlp: (config, options) => new Mlp(config, options),
  rnn: (config, options) => new Rnn(config, "rnn", options),
  gru: (config, options) => new Rnn(config, "gru", options),
  bow: (config, options) => new BagOfWords(config, options),
  transformer: (config, options) => new Transformer(config, options),
};

/**
 * Adds a model type to the ladder (e.g. the transformer, from its own module).
 *
 * @throws {RangeError} when the type is already registered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createModel, registerModelType } from "./ladder.ts";
 * import { Bigram } from "./bigram.ts";
 * registerModelType("bigram-copy", (config, options) => new Bigram(config, options));
 * const config = { vocabSize: 3, blockSize: 2, nLayer: 1, nHead: 1, nEmbd: 1, nEmbd2: 1 };
 * assert.equal(createModel("bigram-copy", config).type, "bigram");
 * ```
 */
export function registerModelType(
  type: string,
  build: (config: ModelConfig, options: ModelOptions) => LanguageModel,
): void {
  if (type in builders) throw new RangeError(`registerModelType: "${type}" is already registered`);
  builders[type] = build;
  (MODEL_TYPES as string[]).push(type);
}

/**
 * The model of type `type` with sizes `config`.
 *
 * @throws {RangeError} for an unknown type, naming the known ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createModel } from "./ladder.ts";
 * import { parameterCount } from "./model.ts";
 * const config = { vocabSize: 27, blockSize: 16, nLayer: 4, nHead: 4, nEmbd: 64, nEmbd2: 64 };
 * assert.equal(parameterCount(createModel("gru", config, { seed: 3407 })), 28315);
 * assert.throws(() => createModel("lstm", config), /unknown model type "lstm"/);
 * ```
 */
export function createModel(
  type: string,
  config: ModelConfig,
  options: ModelOptions = {},
): LanguageModel {
  const build = builders[type];
  if (build === undefined || !Object.hasOwn(builders, type)) {
    throw new RangeError(
      `createModel: unknown model type "${type}" (known: ${MODEL_TYPES.join(", ")})`,
    );
  }
  return build(config, options);
}
