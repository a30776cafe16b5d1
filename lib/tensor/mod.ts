/**
 * The tensor engine: `Tensor`, its op registry with each op's forward and backward side by side,
 * the kernels, `gradcheckTensor`, and every op as a plain function too (`matmul(a, b)`,
 * `softmax(x)`, `crossEntropy(logits, targets)`…). A plain name here is the tensor function;
 * the scalar function of the same name (`softmax`, `crossEntropy`, `mse`, `logSumExp`) is
 * in `/scalar`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensor } from "./mod.ts";
 * const a = tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * a.matmul(a).sum().backward();
 * assert.deepEqual(Array.from(a.grad!.data), [7, 11, 9, 13]);
 * ```
 *
 * @module
 */

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
} from "./tensor.ts";
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
} from "./ops.ts";
export type { DType, FloatArray } from "./_dtype.ts";
export { type GemmThreadOptions, gemmThreads, setGemmThreads } from "./kernels/gemm.ts";
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
} from "./functions.ts";
export {
  gradcheckTensor,
  type TensorGradcheckEntry,
  TensorGradcheckError,
  type TensorGradcheckOptions,
  type TensorGradcheckReport,
} from "./gradcheck.ts";
