/**
 * Neural-network parts on both engines: scalar `Neuron`/`Layer`/`MLP`, tensor `Linear`,
 * `Embedding`, `LayerNorm`, `Dropout`, `Sequential`, the optimizers and learning-rate schedules.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SGD } from "./mod.ts";
 * import { Value } from "../scalar/mod.ts";
 * const w = new Value(0);
 * const opt = new SGD([w], { learningRate: 0.1 });
 * w.mul(2).sub(8).pow(2).backward();
 * opt.step();
 * assert.ok(Math.abs(w.data - 3.2) < 1e-12);
 * ```
 *
 * @module
 */

export {
  Adam,
  type AdamOptions,
  AdamW,
  type FlatParameter,
  type LearningRate,
  Optimizer,
  SGD,
  type SGDOptions,
} from "./optim.ts";
export { clipGradNorm } from "./clip.ts";
export {
  cosineWithWarmup,
  type CosineWithWarmupOptions,
  linearDecay,
  type LinearDecayOptions,
} from "./schedules.ts";
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
} from "./mlp.ts";
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
} from "./modules.ts";
