/**
 * Neural-network modules on tensors: `Linear`, `Embedding`, `LayerNorm`, `Dropout` and
 * `Sequential`. Parameters are plain leaf tensors with `requiresGrad`, so the optimizers of
 * optim.ts train them as flat parameters, exactly as they train scalar `Value`s.
 *
 * @module
 */

import { type RandomSource, randomSourceOf, type SeedOptions } from "../util/random.ts";
import { dropout, gather, layerNorm, linear, Tensor } from "../tensor/tensor.ts";

/**
 * A part of a network: a forward function and the parameters it trains.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Linear, type TensorModule } from "./modules.ts";
 * const module: TensorModule = new Linear(3, 2, { seed: 1 });
 * assert.equal(module.parameters().length, 2); // weight and bias
 * ```
 */
export interface TensorModule {
  /** The module applied to `x`. */
  forward(x: Tensor): Tensor;
  /** Every parameter, in a fixed order. */
  parameters(): Tensor[];
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
export class Linear implements TensorModule {
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
    this.weight = new Tensor(data, [outFeatures, inFeatures], { requiresGrad: true });
    this.bias = options?.bias === false
      ? null
      : new Tensor(new Float64Array(outFeatures), [outFeatures], { requiresGrad: true });
  }

  /** `x · Wᵀ + b` over the last axis of `x`. */
  forward(x: Tensor): Tensor {
    return this.bias === null ? linear(x, this.weight) : linear(x, this.weight, this.bias);
  }

  /** The weight, then the bias (if any). */
  parameters(): Tensor[] {
    return this.bias === null ? [this.weight] : [this.weight, this.bias];
  }

  /** E.g. `Linear(2 → 16)`. */
  toString(): string {
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
export class Embedding implements TensorModule {
  /** The table, `[count, dim]`, drawn from a standard normal distribution. */
  readonly weight: Tensor;

  /**
   * A table of `count` rows of `dim` elements.
   *
   * @throws {RangeError} when a size is not a positive integer.
   */
  constructor(count: number, dim: number, options?: TensorInitOptions) {
    checkedCount("Embedding", "count", count);
    checkedCount("Embedding", "dim", dim);
    const source = sourceOf("Embedding", options);
    const data = new Float64Array(count * dim);
    for (let i = 0; i < data.length; i++) {
      // Box–Muller from any uniform source: 1 − u is in (0, 1], so the logarithm is finite.
      const radius = Math.sqrt(-2 * Math.log(1 - source.next()));
      data[i] = radius * Math.cos(2 * Math.PI * source.next());
    }
    this.weight = new Tensor(data, [count, dim], { requiresGrad: true });
  }

  /** The rows of `indices` (any shape): the result has shape `[...indices.shape, dim]`. */
  forward(indices: Tensor | ArrayLike<number>): Tensor {
    return gather(this.weight, indices);
  }

  /** The table. */
  parameters(): Tensor[] {
    return [this.weight];
  }

  /** E.g. `Embedding(65 × 32)`. */
  toString(): string {
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
export class LayerNorm implements TensorModule {
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
    checkedCount("LayerNorm", "dim", dim);
    this.eps = options?.eps ?? 1e-5;
    if (!(this.eps > 0 && this.eps < Infinity)) {
      throw new RangeError(`LayerNorm: eps must be a finite number > 0, got ${this.eps}`);
    }
    this.weight = new Tensor(new Float64Array(dim).fill(1), [dim], { requiresGrad: true });
    this.bias = new Tensor(new Float64Array(dim), [dim], { requiresGrad: true });
  }

  /** `x` normalised over its last axis, scaled and shifted. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, { eps: this.eps });
  }

  /** The scale, then the shift. */
  parameters(): Tensor[] {
    return [this.weight, this.bias];
  }

  /** E.g. `LayerNorm(32)`. */
  toString(): string {
    return `LayerNorm(${this.weight.size})`;
  }
}

/**
 * Inverted dropout as a module: active while `training` is true (the default), the identity
 * once it is set to false for evaluation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Dropout } from "./modules.ts";
 * import { ones } from "../tensor/tensor.ts";
 * const drop = new Dropout(0.5, { seed: 1 });
 * const x = ones([4]);
 * drop.training = false;
 * assert.equal(drop.forward(x), x);
 * ```
 */
export class Dropout implements TensorModule {
  /** Probability of zeroing each element. */
  readonly p: number;
  /** Whether masks are applied (true) or the module is the identity (false). */
  training: boolean;
  readonly #source: RandomSource;

  /**
   * Dropout with probability `p`, masks drawn from the options' generator.
   *
   * @throws {RangeError} when `p` is not in [0, 1).
   */
  constructor(p: number, options?: TensorInitOptions) {
    if (!(p >= 0 && p < 1)) {
      throw new RangeError(`Dropout: p must be a probability in [0, 1), got ${p}`);
    }
    this.p = p;
    this.training = true;
    this.#source = sourceOf("Dropout", options);
  }

  /** `x` with a fresh mask (training), or `x` itself (evaluation). */
  forward(x: Tensor): Tensor {
    return dropout(x, { p: this.p, source: this.#source, training: this.training });
  }

  /** None: dropout has nothing to train. */
  parameters(): Tensor[] {
    return [];
  }

  /** E.g. `Dropout(0.1)`. */
  toString(): string {
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
 * Layers applied one after the other; its parameters are theirs, in order.
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
export class Sequential implements TensorModule {
  /** The layers, in order. */
  readonly layers: readonly SequentialLayer[];

  /**
   * A network of `layers`.
   *
   * @throws {TypeError} when a layer is neither a module nor a function.
   */
  constructor(...layers: SequentialLayer[]) {
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

  /** The parameters of every module layer, in layer order. */
  parameters(): Tensor[] {
    return this.layers.flatMap((layer) => (typeof layer === "function" ? [] : layer.parameters()));
  }

  /** E.g. `Sequential(Linear(2 → 16), fn, Linear(16 → 1))`. */
  toString(): string {
    const parts = this.layers.map((layer) => (typeof layer === "function" ? "fn" : String(layer)));
    return `Sequential(${parts.join(", ")})`;
  }
}

function checkedCount(where: string, name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new RangeError(`${where}: ${name} must be a positive integer, got ${n}`);
  }
}
