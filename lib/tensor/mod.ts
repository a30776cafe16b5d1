/**
 * The tensor engine: `Tensor`, its op registry with each op's forward and backward side by side,
 * the kernels, and `gradcheckTensor`.
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
  concat,
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
  stack,
  Tensor,
  tensor,
  type TensorOptions,
  tensorTopologicalOrder,
  zeros,
} from "./tensor.ts";
export {
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
} from "./ops.ts";
export {
  gradcheckTensor,
  type TensorGradcheckEntry,
  TensorGradcheckError,
  type TensorGradcheckOptions,
  type TensorGradcheckReport,
} from "./gradcheck.ts";
