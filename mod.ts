/**
 * DCSLM: a small language model built from first principles. This module is the public API:
 * a scalar reverse-mode autodiff engine whose every op is proven against finite differences.
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
 * @module
 */

export {
  DEFAULT_EPS,
  type DivOptions,
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
  gradcheck,
  GradcheckError,
  type GradcheckOptions,
  type GradcheckReport,
} from "./lib/scalar/mod.ts";
export {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  hinge,
  l2Penalty,
  logSumExp,
  mse,
  softmax,
} from "./lib/scalar/mod.ts";
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
export { Lcg32, Random, type RandomSource } from "./lib/util/mod.ts";
export { DEFAULT_DOT_MAX_NODES, type DotOptions, toDot } from "./lib/scalar/mod.ts";
export {
  applyOp,
  arange,
  type ArangeOptions,
  attention,
  concat,
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
  type CrossEntropyParams,
  type Dim,
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
  type SliceParams,
  type SoftmaxParams,
  type TensorData,
  type TensorInputSpec,
  type TensorOpName,
  type TensorOpRegistry,
  tensorOps,
  type TensorOpSpec,
  type TrilParams,
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
} from "./lib/nn/mod.ts";
