/**
 * DCSLM: a small language model built from first principles. This module is the public API,
 * every layer of the stack re-exported, bottom-up:
 *
 * - helpers (`lib/util`, also `./util`): seeded generators `Lcg32` and `Random` and the
 *   seeding policy `randomSourceOf`, the `twoMoons` data set, SVG plots;
 * - the scalar engine (`lib/scalar`, also `./scalar`): `Value` and `backward`, the op
 *   registry `ops`, `gradcheck`, `toDot`, scalar losses and the seed's `gradientDescentStep`;
 * - the tensor engine (`lib/tensor`, also `./tensor`): `Tensor`, the op registry `tensorOps`,
 *   every op as a function too (`matmul`, `softmax`, `crossEntropy`…), `gradcheckTensor`;
 * - networks (`lib/nn`, also `./nn`): the scalar `MLP`, the tensor modules `Linear`,
 *   `Embedding`, `LayerNorm`, `Dropout`, `Sequential`, the optimizers and schedules;
 * - text (`lib/text`, also `./text`): `CharTokenizer`, the byte-level `BpeTokenizer`, seeded
 *   splits and batch samplers;
 * - language models (`lib/lm`, also `./lm`): makemore's ladder and nanoGPT's GPT, the training
 *   loop, safetensors checkpoints and sampling.
 *
 * Naming rule: a plain name here is the tensor function; the scalar function of the same
 * name (`softmax`, `logSumExp`, `crossEntropy`, `mse`) is imported from `./scalar`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Value } from "./mod.ts";
 * const x = new Value(2);
 * const y = x.mul(x).add(x.tanh());
 * y.backward();
 * assert.ok(Math.abs(x.grad - (4 + 1 - Math.tanh(2) ** 2)) < 1e-12);
 * ```
 *
 * @example The same derivative on the tensor engine, element by element:
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "./mod.ts";
 * const x = tensor([2, -1], { requiresGrad: true });
 * x.mul(x).add(x.tanh()).sum().backward();
 * assert.ok(Math.abs(x.grad!.data[0] - (4 + 1 - Math.tanh(2) ** 2)) < 1e-12);
 * ```
 *
 * @module
 */

export {
  DEFAULT_EPS,
  type DivOptions,
  isGradEnabled,
  topologicalOrder,
  Value,
  type ValueOptions,
} from "./lib/scalar/mod.ts";
export {
  DEFAULT_CLEARANCE,
  type InputDomain,
  type OpName,
  ops,
  type OpSpec,
} from "./lib/scalar/mod.ts";
export {
  DEFAULT_GRADCHECK_TOLERANCES,
  gradcheck,
  GradcheckError,
  type GradcheckOptions,
  type GradcheckReport,
  PYTORCH_GRADCHECK_TOLERANCES,
} from "./lib/scalar/mod.ts";
// The scalar crossEntropy, logSumExp, mse and softmax are reached through "/scalar": at the
// root a plain name is the tensor function.
export { binaryCrossEntropyWithLogits, hinge, l2Penalty } from "./lib/scalar/mod.ts";
export { type GradientDescentOptions, gradientDescentStep } from "./lib/scalar/mod.ts";
export {
  Adam,
  type AdamOptions,
  AdamW,
  type FlatParameter,
  type LearningRate,
  Optimizer,
  SGD,
  type SGDOptions,
} from "./lib/nn/mod.ts";
export {
  cosineWithWarmup,
  type CosineWithWarmupOptions,
  linearDecay,
  type LinearDecayOptions,
} from "./lib/nn/mod.ts";
export {
  type Activation,
  type InitKind,
  type InitOptions,
  Layer,
  type LayerOptions,
  MLP,
  type MLPOptions,
  type Module,
  Neuron,
  type NeuronOptions,
} from "./lib/nn/mod.ts";
export { type PlanarDataset, twoMoons, type TwoMoonsOptions } from "./lib/util/mod.ts";
export { type DecisionBoundaryOptions, decisionBoundarySvg } from "./lib/util/mod.ts";
export {
  Lcg32,
  Random,
  type RandomSource,
  randomSourceOf,
  type SeedOptions,
} from "./lib/util/mod.ts";
export { DEFAULT_DOT_MAX_NODES, type DotOptions, toDot } from "./lib/scalar/mod.ts";
export {
  applyOp,
  arange,
  type ArangeOptions,
  attention,
  concat,
  crossEntropy,
  type CrossEntropyOptions,
  dropout,
  type DropoutOptions,
  fromScalar,
  full,
  gather,
  layerNorm,
  type LayerNormOptions,
  linear,
  type NestedNumbers,
  noGrad,
  ones,
  rand,
  randn,
  type RandomTensorOptions,
  selfAttention,
  stack,
  Tensor,
  tensor,
  type TensorOptions,
  tensorTopologicalOrder,
  zeros,
} from "./lib/tensor/mod.ts";
export {
  type AttentionParams,
  type AxisParams,
  type BackwardContext,
  type ClampParams,
  type CrossEntropyParams,
  type Dim,
  type DivParams,
  type DropoutParams,
  type GatherParams,
  type IndexList,
  type LayerNormParams,
  type LinearParams,
  type OpCase,
  type OpResult,
  type ParamSpec,
  type PermuteParams,
  type PowConstParams,
  type ReduceParams,
  type ReshapeParams,
  type SelfAttentionParams,
  type SliceParams,
  type SoftmaxParams,
  type SqueezeParams,
  type TensorData,
  type TensorInputSpec,
  type TensorOpName,
  type TensorOpRegistry,
  tensorOps,
  type TensorOpSpec,
  type TrilParams,
  type UnaryOpName,
  type WhereParams,
} from "./lib/tensor/mod.ts";
export {
  abs,
  add,
  argmax,
  clamp,
  cos,
  div,
  exp,
  gelu,
  log,
  logSoftmax,
  logSumExp,
  matmul,
  max,
  maximum,
  mean,
  min,
  minimum,
  mse,
  mul,
  neg,
  permute,
  pow,
  relu,
  reshape,
  sigmoid,
  sin,
  slice,
  softmax,
  softplus,
  sqrt,
  squeeze,
  sub,
  sum,
  tanh,
  transpose,
  tril,
  unsqueeze,
  where,
} from "./lib/tensor/mod.ts";
export type { DType, FloatArray } from "./lib/tensor/mod.ts";
export { type GemmThreadOptions, gemmThreads, setGemmThreads } from "./lib/tensor/mod.ts";
export {
  gradcheckTensor,
  type TensorGradcheckEntry,
  TensorGradcheckError,
  type TensorGradcheckOptions,
  type TensorGradcheckReport,
} from "./lib/tensor/mod.ts";
export {
  Dropout,
  Embedding,
  LayerNorm,
  type LayerNormModuleOptions,
  Linear,
  type LinearOptions,
  Sequential,
  type SequentialLayer,
  type TensorInitOptions,
  type TensorModule,
  TensorModuleBase,
} from "./lib/nn/mod.ts";
export {
  type BpeEncodeOptions,
  type BpeFile,
  BpeTokenizer,
  type BpeTrainOptions,
  CharTokenizer,
  type CharTokenizerOptions,
  CL100K_PATTERN,
  decodeUtf8,
  firstInvalidUtf8,
  GPT2_PATTERN,
  linesOf,
  patternSource,
  type ProseSplit,
  sampleWindows,
  type SampleWindowsOptions,
  sampleWordBatch,
  shuffled,
  type SplitPattern,
  splitProse,
  splitWords,
  type SplitWordsOptions,
  type TiktokenRanks,
  type TokenBatch,
  type WordExamples,
  wordExamples,
  type WordSplit,
} from "./lib/text/mod.ts";
export {
  BagOfWords,
  Bigram,
  Block,
  type BlockOptions,
  CausalSelfAttention,
  type CellType,
  checkedConfig,
  type Checkpoint,
  CheckpointError,
  checkpointFromBytes,
  checkpointToBytes,
  CountingBigram,
  type CountingBigramOptions,
  createModel,
  decodeSafetensors,
  embeddingInit,
  encodeSafetensors,
  type Evaluation,
  generate,
  type GenerateOptions,
  GPT,
  type GPTConfig,
  type GPTForwardOptions,
  type GPTOutput,
  idsTensor,
  KVCache,
  type LanguageModel,
  linearInit,
  loadCheckpoint,
  loadParametersInto,
  meanLoss,
  Mlp,
  MODEL_TYPES,
  type ModelConfig,
  type ModelOptions,
  type OptimizerCheckpoint,
  parameterCount,
  registerModelType,
  Rnn,
  type SafetensorsContents,
  type SampleOptions,
  sampleSequences,
  type SampleSequencesOptions,
  sampleToken,
  samplingDistribution,
  saveCheckpoint,
  sequenceLoss,
  TensorAdamW,
  type TensorAdamWOptions,
  type TokenIds,
  trainLoop,
  type TrainLoopOptions,
  type TrainResult,
  Transformer,
  writeFileAtomic,
} from "./lib/lm/mod.ts";
export {
  formatDuration,
  type LossCurveOptions,
  lossCurveSvg,
  type LossSeries,
  Progress,
  type ProgressOptions,
} from "./lib/util/mod.ts";
export { clipGradNorm } from "./lib/nn/mod.ts";
