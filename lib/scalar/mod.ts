/**
 * The scalar engine: `Value`, its op registry, `gradcheck`, `toDot`, scalar losses and the
 * seed's gradient-descent step. Everything here works on one number at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Value } from "./mod.ts";
 * const x = new Value(3);
 * const y = x.mul(x);
 * y.backward();
 * assert.equal(x.grad, 6);
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
} from "./value.ts";
export { DEFAULT_CLEARANCE, type InputDomain, type OpName, ops, type OpSpec } from "./ops.ts";
export {
  DEFAULT_GRADCHECK_TOLERANCES,
  gradcheck,
  GradcheckError,
  type GradcheckOptions,
  type GradcheckReport,
  PYTORCH_GRADCHECK_TOLERANCES,
} from "./gradcheck.ts";
export {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  hinge,
  l2Penalty,
  logSumExp,
  mse,
  softmax,
} from "./losses.ts";
export { type GradientDescentOptions, gradientDescentStep } from "./gradient_descent.ts";
export { DEFAULT_DOT_MAX_NODES, type DotOptions, toDot } from "./dot.ts";
