// Helpers shared by the models: parameters kept in a name → tensor map (the names of the
// PyTorch twin's state_dict), PyTorch's initialisation of linear layers, and their use.

import { linear, type Tensor } from "../tensor/tensor.ts";
import { Random, type RandomSource, randomSourceOf } from "../util/random.ts";
import { linearInit, type ModelOptions } from "./model.ts";

/**
 * The generator a model of `type` draws its initial weights from, by the library's seeding
 * policy (`options.seed` or `options.source`, refused when neither is given). Given
 * `parameters` replace every drawn tensor, so then no seed is needed: the draws of a fixed
 * generator are made and thrown away.
 */
export function initialWeights(type: string, options: ModelOptions): RandomSource {
  const unseeded = options.seed === undefined && options.source === undefined;
  if (options.parameters !== undefined && unseeded) return new Random(0);
  return randomSourceOf(type, options);
}

/** Adds `prefix.weight` `[out, in]` and `prefix.bias` `[out]`, initialised as PyTorch does. */
export function addLinear(
  named: Map<string, Tensor>,
  prefix: string,
  inFeatures: number,
  outFeatures: number,
  random: RandomSource,
  bias = true,
): void {
  const init = linearInit(inFeatures, outFeatures, random, { bias });
  named.set(`${prefix}.weight`, init.weight);
  if (init.bias !== null) named.set(`${prefix}.bias`, init.bias);
}

/** `x · Wᵀ + b` with the linear layer `prefix` of `named`. */
export function applyLinear(named: ReadonlyMap<string, Tensor>, prefix: string, x: Tensor): Tensor {
  const weight = named.get(`${prefix}.weight`) as Tensor;
  const bias = named.get(`${prefix}.bias`);
  return bias === undefined ? linear(x, weight) : linear(x, weight, bias);
}

/**
 * `given` when supplied (after checking it has exactly the names and shapes of `fresh`),
 * else `fresh`: how a model is built around parameters of its own or given ones.
 */
export function adoptParameters(
  type: string,
  fresh: Map<string, Tensor>,
  given: ReadonlyMap<string, Tensor> | undefined,
): Map<string, Tensor> {
  if (given === undefined) return fresh;
  for (const [name, t] of fresh) {
    const g = given.get(name);
    if (g === undefined) throw new RangeError(`${type}: parameter "${name}" is not given`);
    if (g.shape.join() !== t.shape.join()) {
      throw new RangeError(
        `${type}: parameter "${name}" has shape [${g.shape.join(",")}], expected ` +
          `[${t.shape.join(",")}]`,
      );
    }
  }
  for (const name of given.keys()) {
    if (!fresh.has(name)) throw new RangeError(`${type}: unknown parameter "${name}"`);
  }
  return new Map([...fresh.keys()].map((name) => [name, given.get(name) as Tensor]));
}
