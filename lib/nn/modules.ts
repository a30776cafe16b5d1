/**
 * Neural-network modules on tensors: `Linear`, `Embedding`, `LayerNorm`, `Dropout` and
 * `Sequential`. Parameters are plain leaf tensors with `requiresGrad`, so the optimizers of
 * optim.ts train them as flat parameters, exactly as they train scalar `Value`s.
 *
 * @module
 */

import { type RandomSource, randomSourceOf, type SeedOptions } from "../util/random.ts";
import { dropout, gather, layerNorm, linear, Tensor } from "../tensor/tensor.ts";
import type { DType } from "../tensor/mod.ts";

/**
 * A part of a network: a forward function, the parameters it trains (by name), a training
 * or evaluation mode, and its state as named tensors. Every module here extends
 * {@linkcode TensorModuleBase}, which implements all but `forward` from `namedParameters`
 * and `children`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Linear, type TensorModule } from "./modules.ts";
 * const module: TensorModule = new Linear(3, 2, { seed: 1 });
 * assert.equal(module.parameters().length, 2); // weight and bias
 * assert.deepEqual(module.namedParameters().map(([name]) => name), ["weight", "bias"]);
 * ```
 */
export interface TensorModule {
  /** The module applied to `x`. */
  forward(x: Tensor): Tensor;
  /** Every parameter, in a fixed order. */
  parameters(): Tensor[];
  /** Every parameter with its dotted name (`"0.weight"` in a `Sequential`), in that order. */
  namedParameters(): [string, Tensor][];
  /** True in training mode (the default), false in evaluation mode. */
  readonly training: boolean;
  /** Sets training mode (`true`, the default) or evaluation mode, here and in every child. */
  train(mode?: boolean): this;
  /** Sets evaluation mode here and in every child: `train(false)`. */
  eval(): this;
  /** A copy of every parameter, by name. */
  stateDict(): Record<string, Tensor>;
  /** Copies `state` into the parameters of the same names (all checked before any is written). */
  loadStateDict(state: Readonly<Record<string, Tensor>>): void;
}

/**
 * What every tensor module shares. A subclass gives `forward` and either its own
 * `namedParameters` (a leaf such as `Linear`) or its `children` (a container such as
 * `Sequential`, whose parameters are its children's under dotted names); `parameters`,
 * `train`/`eval` (which reach every child), `stateDict` and `loadStateDict` follow.
 *
 * @example A module of your own: a learned scale.
 * ```ts
 * import assert from "node:assert/strict";
 * import { TensorModuleBase } from "./modules.ts";
 * import { ones, type Tensor, tensor } from "../tensor/tensor.ts";
 * class Scale extends TensorModuleBase {
 *   readonly gain: Tensor = ones([1], { requiresGrad: true });
 *   forward(x: Tensor): Tensor {
 *     return x.mul(this.gain);
 *   }
 *   override namedParameters(): [string, Tensor][] {
 *     return [["gain", this.gain]];
 *   }
 * }
 * const scale = new Scale();
 * scale.loadStateDict({ gain: tensor([3]) });
 * assert.deepEqual(scale.forward(tensor([1, 2])).toArray(), [3, 6]);
 * assert.equal(scale.eval().training, false);
 * ```
 */
export abstract class TensorModuleBase implements TensorModule {
  #training = true;

  /** The module applied to `x`. */
  abstract forward(x: Tensor): Tensor;

  /** The sub-modules, by name (none by default). */
  children(): [string, TensorModule][] {
    return [];
  }

  /** The children's parameters under `child.parameter` names, in child order. */
  namedParameters(): [string, Tensor][] {
    return this.children().flatMap(([prefix, child]) =>
      child.namedParameters().map(([name, p]): [string, Tensor] => [`${prefix}.${name}`, p])
    );
  }

  /** Every parameter, in the order of {@linkcode namedParameters}. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /**
   * True in training mode (the default), false in evaluation mode. Assigning it is
   * `train(mode)`: it reaches every child too.
   */
  get training(): boolean {
    return this.#training;
  }
  set training(mode: boolean) {
    this.train(mode);
  }

  /**
   * Sets training mode (`true`, the default) or evaluation mode, here and in every child.
   *
   * @throws {TypeError} when `mode` is not a boolean.
   */
  train(mode = true): this {
    if (typeof mode !== "boolean") {
      throw new TypeError(`train: mode must be a boolean, got ${typeof mode} ${String(mode)}`);
    }
    this.#training = mode;
    for (const [, child] of this.children()) child.train(mode);
    return this;
  }

  /** Sets evaluation mode here and in every child. */
  eval(): this {
    return this.train(false);
  }

  /** A copy of every parameter (constant tensors), by name. */
  stateDict(): Record<string, Tensor> {
    const state: Record<string, Tensor> = {};
    for (const [name, p] of this.namedParameters()) {
      state[name] = new Tensor(p.data.slice(), p.shape);
    }
    return state;
  }

  /**
   * Copies each tensor of `state` into the parameter of the same name. Every name and shape
   * is checked before anything is written, so a refused state changes nothing.
   *
   * @throws {RangeError} naming the parameter when a name is missing from `state`, a name in
   * `state` is not a parameter, or a shape differs (both shapes given).
   * @throws {TypeError} when `state` is not an object of Tensors.
   */
  loadStateDict(state: Readonly<Record<string, Tensor>>): void {
    const where = `loadStateDict (${String(this)})`;
    if (typeof state !== "object" || state === null) {
      throw new TypeError(`${where}: state must be an object of Tensors, got ${state}`);
    }
    const named = this.namedParameters();
    const names = new Set(named.map(([name]) => name));
    const unexpected = Object.keys(state).filter((name) => !names.has(name));
    if (unexpected.length > 0) {
      throw new RangeError(
        `${where}: unexpected ${unexpected.map((n) => JSON.stringify(n)).join(", ")} in the ` +
          `state; the parameters are ${[...names].map((n) => JSON.stringify(n)).join(", ")}`,
      );
    }
    for (const [name, p] of named) {
      const given = state[name];
      if (given === undefined) {
        throw new RangeError(
          `${where}: parameter ${JSON.stringify(name)} (shape ${formatShape(p.shape)}) is ` +
            "missing from the state",
        );
      }
      if (!(given instanceof Tensor)) {
        throw new TypeError(`${where}: ${JSON.stringify(name)} must be a Tensor`);
      }
      if (!sameShape(given.shape, p.shape)) {
        throw new RangeError(
          `${where}: parameter ${JSON.stringify(name)} has shape ${formatShape(p.shape)}, ` +
            `the state gives shape ${formatShape(given.shape)}`,
        );
      }
    }
    for (const [name, p] of named) p.data.set(state[name].data);
  }
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/**
 * Where a module's initial weights (or dropout's masks) come from: a `seed` (drawn from
 * `new Random(seed)`) or a `source` of your own, such as `new Lcg32(42)`. One of the two is
 * required, as everywhere in the library ({@linkcode SeedOptions}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TensorInitOptions } from "./modules.ts";
 * const seeded: TensorInitOptions = { seed: 7 };
 * assert.equal(seeded.seed, 7);
 * ```
 */
export interface TensorInitOptions extends SeedOptions {
  /** Seed of a fresh `Random`. */
  readonly seed?: number;
  /** A generator to draw from (it advances), e.g. shared by the layers of a network. */
  readonly source?: RandomSource;
  /**
   * Element type of the parameters: `"float64"` (the default, for gradient checks) or
   * `"float32"` (as PyTorch trains; the same draws, rounded).
   */
  readonly dtype?: DType;
}

function sourceOf(where: string, options: TensorInitOptions | undefined): RandomSource {
  return randomSourceOf(where, options);
}

/**
 * Options of {@linkcode Linear}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LinearOptions } from "./modules.ts";
 * import { Lcg32 } from "../util/random.ts";
 * const micrograd: LinearOptions = { init: "uniform", source: new Lcg32(42) };
 * assert.equal(micrograd.init, "uniform");
 * ```
 */
export interface LinearOptions extends TensorInitOptions {
  /** Whether the layer adds a bias (default `true`); biases start at 0. */
  readonly bias?: boolean;
  /**
   * How weights are drawn: `"default"` is uniform in ±1/√in (PyTorch's default);
   * `"uniform"` is `2u − 1` for each draw `u`, as micrograd and benchmark workload W1 do.
   * Either way the draws fill the weight `[out, in]` row by row: neuron by neuron, each
   * neuron's inputs in order.
   */
  readonly init?: "default" | "uniform";
}

/**
 * A fully connected layer, `y = x · Wᵀ + b`, with `W` of shape `[out, in]` and `b` `[out]`.
 * Each output is the left fold `((b + w₀x₀) + w₁x₁) + …`, a micrograd neuron's order, so a
 * network of these reproduces the scalar engine's numbers bit for bit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Linear } from "./modules.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const layer = new Linear(2, 3, { seed: 1 });
 * const y = layer.forward(tensor([[1, 2], [3, 4]]));
 * assert.deepEqual(y.shape, [2, 3]);
 * ```
 */
export class Linear extends TensorModuleBase {
  /** The weights, `[out, in]`. */
  readonly weight: Tensor;
  /** The biases, `[out]`, or `null` without bias. */
  readonly bias: Tensor | null;

  /**
   * A layer from `inFeatures` inputs to `outFeatures` outputs.
   *
   * @throws {RangeError} when a size is not a positive integer or `init` is unknown.
   */
  constructor(inFeatures: number, outFeatures: number, options?: LinearOptions) {
    super();
    checkedCount("Linear", "inFeatures", inFeatures);
    checkedCount("Linear", "outFeatures", outFeatures);
    const init = options?.init ?? "default";
    if (init !== "default" && init !== "uniform") {
      throw new RangeError(`Linear: init must be "default" or "uniform", got ${String(init)}`);
    }
    const source = sourceOf("Linear", options);
    const bound = init === "uniform" ? 1 : 1 / Math.sqrt(inFeatures);
    const data = new Float64Array(outFeatures * inFeatures);
    for (let i = 0; i < data.length; i++) data[i] = bound * (2 * source.next() - 1);
    const dtype = options?.dtype;
    this.weight = new Tensor(data, [outFeatures, inFeatures], { requiresGrad: true, dtype });
    this.bias = options?.bias === false
      ? null
      : new Tensor(new Float64Array(outFeatures), [outFeatures], { requiresGrad: true, dtype });
  }

  /** `x · Wᵀ + b` over the last axis of `x`. */
  forward(x: Tensor): Tensor {
    return this.bias === null ? linear(x, this.weight) : linear(x, this.weight, this.bias);
  }

  /** `weight`, then `bias` (if any). */
  override namedParameters(): [string, Tensor][] {
    return this.bias === null ? [["weight", this.weight]] : [["weight", this.weight], [
      "bias",
      this.bias,
    ]];
  }

  /** E.g. `Linear(2 → 16)`. */
  override toString(): string {
    const [outFeatures, inFeatures] = this.weight.shape;
    return `Linear(${inFeatures} → ${outFeatures}${this.bias === null ? ", no bias" : ""})`;
  }
}

/**
 * A lookup table of `count` vectors of size `dim` (token embeddings): row `i` is the vector
 * of index `i`. Its gradient is scattered back into the rows that were read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Embedding } from "./modules.ts";
 * const embed = new Embedding(10, 4, { seed: 1 });
 * const vectors = embed.forward([3, 3, 7]);
 * assert.deepEqual(vectors.shape, [3, 4]);
 * ```
 */
export class Embedding extends TensorModuleBase {
  /** The table, `[count, dim]`, drawn from a standard normal distribution. */
  readonly weight: Tensor;

  /**
   * A table of `count` rows of `dim` elements.
   *
   * @throws {RangeError} when a size is not a positive integer.
   */
  constructor(count: number, dim: number, options?: TensorInitOptions) {
    super();
    checkedCount("Embedding", "count", count);
    checkedCount("Embedding", "dim", dim);
    const source = sourceOf("Embedding", options);
    const data = new Float64Array(count * dim);
    for (let i = 0; i < data.length; i++) {
      // Box–Muller from any uniform source: 1 − u is in (0, 1], so the logarithm is finite.
      const radius = Math.sqrt(-2 * Math.log(1 - source.next()));
      data[i] = radius * Math.cos(2 * Math.PI * source.next());
    }
    this.weight = new Tensor(data, [count, dim], { requiresGrad: true, dtype: options?.dtype });
  }

  /** The rows of `indices` (any shape): the result has shape `[...indices.shape, dim]`. */
  forward(indices: Tensor | ArrayLike<number>): Tensor {
    return gather(this.weight, indices);
  }

  /** The table, `weight`. */
  override namedParameters(): [string, Tensor][] {
    return [["weight", this.weight]];
  }

  /** E.g. `Embedding(65 × 32)`. */
  override toString(): string {
    return `Embedding(${this.weight.shape[0]} × ${this.weight.shape[1]})`;
  }
}

/**
 * Options of {@linkcode LayerNorm}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LayerNormModuleOptions } from "./modules.ts";
 * const options: LayerNormModuleOptions = { eps: 1e-6 };
 * assert.equal(options.eps, 1e-6);
 * ```
 */
export interface LayerNormModuleOptions {
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number;
  /** Element type of `weight` and `bias` (default `"float64"`). */
  readonly dtype?: DType;
}

/**
 * Layer normalisation over the last axis, with a learned scale (`weight`, starting at 1)
 * and shift (`bias`, starting at 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LayerNorm } from "./modules.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const norm = new LayerNorm(3);
 * const y = norm.forward(tensor([[1, 2, 3]]));
 * assert.ok(Math.abs(y.mean().item()) < 1e-12);
 * ```
 */
export class LayerNorm extends TensorModuleBase {
  /** The scale, `[dim]`. */
  readonly weight: Tensor;
  /** The shift, `[dim]`. */
  readonly bias: Tensor;
  /** Added to the variance before the square root. */
  readonly eps: number;

  /**
   * Normalisation of vectors of size `dim`.
   *
   * @throws {RangeError} when `dim` is not a positive integer or `eps` not a finite number > 0.
   */
  constructor(dim: number, options?: LayerNormModuleOptions) {
    super();
    checkedCount("LayerNorm", "dim", dim);
    this.eps = options?.eps ?? 1e-5;
    if (!(this.eps > 0 && this.eps < Infinity)) {
      throw new RangeError(`LayerNorm: eps must be a finite number > 0, got ${this.eps}`);
    }
    const dtype = options?.dtype;
    this.weight = new Tensor(new Float64Array(dim).fill(1), [dim], { requiresGrad: true, dtype });
    this.bias = new Tensor(new Float64Array(dim), [dim], { requiresGrad: true, dtype });
  }

  /** `x` normalised over its last axis, scaled and shifted. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, { eps: this.eps });
  }

  /** The scale `weight`, then the shift `bias`. */
  override namedParameters(): [string, Tensor][] {
    return [["weight", this.weight], ["bias", this.bias]];
  }

  /** E.g. `LayerNorm(32)`. */
  override toString(): string {
    return `LayerNorm(${this.weight.size})`;
  }
}

/**
 * Inverted dropout as a module: active in training mode (the default), the identity after
 * `eval()` (or `train(false)`), on its own or inside a container.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Dropout } from "./modules.ts";
 * import { ones } from "../tensor/tensor.ts";
 * const drop = new Dropout(0.5, { seed: 1 });
 * const x = ones([4]);
 * drop.eval();
 * assert.equal(drop.forward(x), x);
 * ```
 */
export class Dropout extends TensorModuleBase {
  /** Probability of zeroing each element. */
  readonly p: number;
  readonly #source: RandomSource;

  /**
   * Dropout with probability `p`, masks drawn from the options' generator.
   *
   * @throws {RangeError} when `p` is not in [0, 1).
   */
  constructor(p: number, options?: TensorInitOptions) {
    super();
    if (!(p >= 0 && p < 1)) {
      throw new RangeError(`Dropout: p must be a probability in [0, 1), got ${p}`);
    }
    this.p = p;
    this.#source = sourceOf("Dropout", options);
  }

  /** `x` with a fresh mask (training), or `x` itself (evaluation). */
  forward(x: Tensor): Tensor {
    return dropout(x, { p: this.p, source: this.#source, training: this.training });
  }

  /** E.g. `Dropout(0.1)`. */
  override toString(): string {
    return `Dropout(${this.p})`;
  }
}

/**
 * A layer of a {@linkcode Sequential}: a module, or a plain function such as
 * `(x) => x.relu()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SequentialLayer } from "./modules.ts";
 * const relu: SequentialLayer = (x) => x.relu();
 * assert.equal(typeof relu, "function");
 * ```
 */
export type SequentialLayer = TensorModule | ((x: Tensor) => Tensor);

/**
 * Layers applied one after the other; its parameters are theirs, in order, named by layer
 * position (`"0.weight"`, `"2.bias"`…); `train`/`eval` reach every layer.
 *
 * @example The moons classifier of micrograd's demo, 2 → 16 → 16 → 1:
 * ```ts
 * import assert from "node:assert/strict";
 * import { Linear, Sequential } from "./modules.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const model = new Sequential(
 *   new Linear(2, 16, { seed: 1 }),
 *   (x) => x.relu(),
 *   new Linear(16, 16, { seed: 2 }),
 *   (x) => x.relu(),
 *   new Linear(16, 1, { seed: 3 }),
 * );
 * assert.equal(model.forward(tensor([[0.5, -1]])).size, 1);
 * assert.equal(model.parameters().reduce((n, p) => n + p.size, 0), 337);
 * ```
 */
export class Sequential extends TensorModuleBase {
  /** The layers, in order. */
  readonly layers: readonly SequentialLayer[];

  /**
   * A network of `layers`.
   *
   * @throws {TypeError} when a layer is neither a module nor a function.
   */
  constructor(...layers: SequentialLayer[]) {
    super();
    layers.forEach((layer, i) => {
      if (typeof layer !== "function" && typeof layer?.forward !== "function") {
        throw new TypeError(`Sequential: layer ${i} is neither a module nor a function`);
      }
    });
    this.layers = layers;
  }

  /** `x` through every layer in turn. */
  forward(x: Tensor): Tensor {
    let y = x;
    for (const layer of this.layers) y = typeof layer === "function" ? layer(y) : layer.forward(y);
    return y;
  }

  /** Every module layer, named by its position (function layers have no name). */
  override children(): [string, TensorModule][] {
    return this.layers.flatMap((layer, i): [string, TensorModule][] =>
      typeof layer === "function" ? [] : [[String(i), layer]]
    );
  }

  /** E.g. `Sequential(Linear(2 → 16), fn, Linear(16 → 1))`. */
  override toString(): string {
    const parts = this.layers.map((layer) => (typeof layer === "function" ? "fn" : String(layer)));
    return `Sequential(${parts.join(", ")})`;
  }
}

function checkedCount(where: string, name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new RangeError(`${where}: ${name} must be a positive integer, got ${n}`);
  }
}
