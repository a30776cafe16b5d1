/**
 * Language models on the tensor engine: makemore's ladder of character-level models
 * (counting and learned bigram, MLP, RNN, GRU, bag of words, transformer), the GPT (a
 * decoder-only transformer) with token-by-token generation from a key/value cache, the
 * shared training loop, AdamW with checkpointable state, safetensors checkpoints, and
 * sampling.
 *
 * @example Train a bigram on two names for a few steps.
 * ```ts
 * import assert from "node:assert/strict";
 * import { Bigram, sequenceLoss, TensorAdamW } from "./mod.ts";
 * const model = new Bigram({ vocabSize: 4, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 1, nEmbd2: 1 });
 * const optimizer = new TensorAdamW(model.namedParameters(), { learningRate: 0.1 });
 * const x = [[0, 1, 2], [0, 3, 0]];
 * const y = [[1, 2, 0], [3, 0, -1]];
 * const before = sequenceLoss(model, x, y).item();
 * for (let i = 0; i < 20; i++) {
 *   optimizer.zeroGrad();
 *   sequenceLoss(model, x, y).backward();
 *   optimizer.step();
 * }
 * assert.ok(sequenceLoss(model, x, y).item() < before);
 * ```
 *
 * @module
 */

export { TensorAdamW, type TensorAdamWOptions } from "./adamw.ts";
export { Bigram, CountingBigram, type CountingBigramOptions } from "./bigram.ts";
export { BagOfWords } from "./bow.ts";
export {
  type Checkpoint,
  CheckpointError,
  checkpointFromBytes,
  checkpointToBytes,
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpoint,
  loadParametersInto,
  type OptimizerCheckpoint,
  type SafetensorsContents,
  saveCheckpoint,
  writeFileAtomic,
} from "./checkpoint.ts";
export { createModel, MODEL_TYPES, registerModelType } from "./ladder.ts";
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
} from "./gpt.ts";
export { Mlp } from "./mlp.ts";
export {
  checkedConfig,
  embeddingInit,
  idsTensor,
  type LanguageModel,
  linearInit,
  type ModelConfig,
  type ModelOptions,
  parameterCount,
  sequenceLoss,
  type TokenIds,
} from "./model.ts";
export { type CellType, Rnn } from "./rnn.ts";
export {
  type SampleOptions,
  sampleSequences,
  type SampleSequencesOptions,
  sampleToken,
  samplingDistribution,
} from "./sample.ts";
export { Transformer } from "./transformer.ts";
export {
  type Evaluation,
  meanLoss,
  trainLoop,
  type TrainLoopOptions,
  type TrainResult,
} from "./train.ts";
