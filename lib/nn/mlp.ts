/**
 * Neural-network modules on the scalar engine: `Neuron`, `Layer` and `MLP`, as micrograd's
 * `nn.py` has them, with seeded initialisation so every run is reproducible bit for bit.
 *
 * A neuron computes `act = b + w₀·x₀ + w₁·x₁ + …` as a left fold starting from the bias
 * (the order micrograd uses, so results match it to the last bit), then its activation.
 *
 * @module
 */

import { Random, type RandomSource, randomSourceOf, type SeedOptions } from "../util/random.ts";
import { Value } from "../scalar/value.ts";

/**
 * What every trainable part of a network offers: its parameters, a way to clear their
 * gradients, and a readable description.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Module, Neuron } from "./mlp.ts";
 * const module: Module = new Neuron(3, { seed: 1 });
 * assert.ok(module.parameters().length === 4); // 3 weights and a bias
 * ```
 */
export interface Module {
  /** Every parameter, in a fixed order (for a neuron: weights, then bias). */
  parameters(): Value[];
  /** Sets the gradient of every parameter to 0. */
  zeroGrad(): void;
  /** A one-line description of the module's shape. */
  toString(): string;
}

/**
 * The non-linearity a neuron applies to its weighted sum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Activation, Layer } from "./mlp.ts";
 * const head: Activation = "linear"; // no non-linearity: a raw score
 * assert.ok(new Layer(4, 1, { seed: 1, activation: head }).activation === "linear");
 * ```
 */
export type Activation = "relu" | "tanh" | "sigmoid" | "linear";

const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "sigmoid", "linear"];

/**
 * How weights are drawn (biases always start at 0):
 *
 * - `"kaiming"` (He et al., 2015): normal with standard deviation `gain / √fanIn`, where the
 *   gain is √2 for relu, 5/3 for tanh and 1 otherwise; keeps activations' variance steady
 *   through relu layers.
 * - `"xavier"` (Glorot & Bengio, 2010): uniform in `±gain·√(6 / (fanIn + fanOut))`.
 * - `"uniform"`: `2u − 1` for a uniform draw `u`, that is uniform in [−1, 1), as micrograd
 *   does (and benchmark workload W1, with `Lcg32(42)` as the source).
 * - `"auto"` (the default): `"kaiming"` for relu neurons, `"xavier"` for the others.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InitKind } from "./mlp.ts";
 * const micrograd: InitKind = "uniform";
 * assert.ok(micrograd === "uniform");
 * ```
 */
export type InitKind = "auto" | "kaiming" | "xavier" | "uniform";

const INIT_KINDS: readonly InitKind[] = ["auto", "kaiming", "xavier", "uniform"];

/**
 * Where a module's initial weights come from. Give a `seed` (the weights are then drawn from
 * `new Random(seed)`) or a `source` of your own, such as `new Lcg32(42)`: one of the two is
 * required, as everywhere in the library ({@linkcode SeedOptions}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InitOptions } from "./mlp.ts";
 * import { Lcg32 } from "../util/random.ts";
 * const seeded: InitOptions = { seed: 7 };
 * const w1: InitOptions = { init: "uniform", source: new Lcg32(42) };
 * assert.ok(seeded.seed === 7 && w1.init === "uniform");
 * ```
 */
export interface InitOptions extends SeedOptions {
  /** Seed of the `Random` the weights are drawn from: an integer in [0, 2³²). */
  readonly seed?: number;
  /** A generator to draw the weights from instead of a seed (it advances). */
  readonly source?: RandomSource;
  /** The initialisation scheme (default `"auto"`). */
  readonly init?: InitKind;
}

/**
 * Options of the {@linkcode Neuron} constructor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Neuron, type NeuronOptions } from "./mlp.ts";
 * const options: NeuronOptions = { seed: 3, activation: "tanh" };
 * assert.ok(new Neuron(2, options).activation === "tanh");
 * ```
 */
export interface NeuronOptions extends InitOptions {
  /** The non-linearity (default `"relu"`). */
  readonly activation?: Activation;
  /** How many neurons share this neuron's inputs, for Xavier's fan-out (default 1). */
  readonly fanOut?: number;
}

/**
 * Options of the {@linkcode Layer} constructor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Layer, type LayerOptions } from "./mlp.ts";
 * const options: LayerOptions = { seed: 3, activation: "linear", name: "head" };
 * assert.ok(new Layer(4, 2, options).name === "head");
 * ```
 */
export interface LayerOptions extends InitOptions {
  /** The non-linearity of every neuron (default `"relu"`). */
  readonly activation?: Activation;
  /** How error messages and `toString` call the layer (default `"Layer"`). */
  readonly name?: string;
}

/**
 * Options of the {@linkcode MLP} constructor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MLP, type MLPOptions } from "./mlp.ts";
 * const options: MLPOptions = { seed: 1, activations: ["tanh", "sigmoid"] };
 * assert.ok(new MLP(2, [4, 1], options).layers[1].activation === "sigmoid");
 * ```
 */
export interface MLPOptions extends InitOptions {
  /**
   * One activation a layer. Default: relu for every hidden layer and linear for the last,
   * as micrograd does.
   */
  readonly activations?: readonly Activation[];
}

/**
 * One neuron: `activation(b + Σᵢ wᵢ·xᵢ)`, the sum a left fold starting from the bias.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Neuron } from "./mlp.ts";
 * const n = new Neuron(2, { seed: 1, activation: "linear" });
 * n.weights[0].data = 2;
 * n.weights[1].data = -1;
 * n.bias.data = 0.5;
 * const out = n.forward([3, 4]); // 0.5 + 2·3 + (−1)·4
 * out.backward();
 * assert.ok(out.data === 2.5 && n.weights[0].grad === 3);
 * ```
 */
export class Neuron implements Module {
  /** One weight an input, labelled `w0`, `w1`, …. */
  readonly weights: readonly Value[];
  /** The bias, labelled `b`; starts at 0. */
  readonly bias: Value;
  /** The non-linearity applied to the weighted sum. */
  readonly activation: Activation;

  /**
   * A neuron of `nin` inputs with freshly drawn weights.
   *
   * @throws {RangeError} when `nin` or `fanOut` is not a positive integer, or no seed or
   * source is given.
   * @throws {TypeError} when the activation or init kind is unknown.
   */
  constructor(nin: number, options: NeuronOptions = {}) {
    checkedSize("Neuron", "number of inputs", nin);
    const fanOut = options.fanOut ?? 1;
    checkedSize("Neuron", "fanOut", fanOut);
    const activation = checkedActivation("Neuron", options.activation ?? "relu");
    const draw = weightSampler("Neuron", options, activation, nin, fanOut);
    const source = randomSource("Neuron", options);
    const weights: Value[] = [];
    for (let i = 0; i < nin; i++) weights.push(new Value(draw(source), { label: `w${i}` }));
    this.weights = weights;
    this.bias = new Value(0, { label: "b" });
    this.activation = activation;
  }

  /** How many inputs the neuron takes. */
  get nin(): number {
    return this.weights.length;
  }

  /**
   * The neuron's output for inputs `x` (Values or numbers).
   *
   * @throws {RangeError} when `x` does not hold exactly `nin` inputs, or a number in it is
   * not finite.
   * @throws {TypeError} when an input is neither a Value nor a number.
   */
  forward(x: readonly (Value | number)[]): Value {
    return neuronOutput(this, checkedInputs(this.toString(), x, this.weights.length));
  }

  /** The weights, then the bias. */
  parameters(): Value[] {
    return [...this.weights, this.bias];
  }

  /** Sets the gradient of every parameter to 0. */
  zeroGrad(): void {
    zeroGrads(this.parameters());
  }

  /** E.g. `Neuron(2 inputs, relu)`. */
  toString(): string {
    return `Neuron(${this.weights.length} inputs, ${this.activation})`;
  }
}

/**
 * A layer of `nout` neurons that all read the same `nin` inputs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Layer } from "./mlp.ts";
 * const layer = new Layer(3, 2, { seed: 1, activation: "tanh" });
 * const out = layer.forward([1, 2, 3]);
 * assert.ok(out.length === 2 && Math.abs(out[0].data) < 1);
 * ```
 */
export class Layer implements Module {
  /** The neurons, in order. */
  readonly neurons: readonly Neuron[];
  /** How error messages and `toString` call the layer. */
  readonly name: string;
  /** How many inputs the layer takes. */
  readonly nin: number;
  /** The non-linearity of every neuron. */
  readonly activation: Activation;

  /**
   * A layer of `nout` fresh neurons of `nin` inputs each, drawn in order neuron, input.
   *
   * @throws {RangeError} when `nin` or `nout` is not a positive integer, or no seed or
   * source is given.
   * @throws {TypeError} when the activation or init kind is unknown.
   */
  constructor(nin: number, nout: number, options: LayerOptions = {}) {
    const name = options.name ?? "Layer";
    checkedSize(name, "number of inputs", nin);
    checkedSize(name, "number of outputs", nout);
    const activation = checkedActivation(name, options.activation ?? "relu");
    // One generator for the whole layer, so the draws run neuron by neuron, input by input.
    const source = randomSource(name, options);
    const neurons: Neuron[] = [];
    for (let j = 0; j < nout; j++) {
      neurons.push(
        new Neuron(nin, { ...options, seed: undefined, source, activation, fanOut: nout }),
      );
    }
    this.neurons = neurons;
    this.name = name;
    this.nin = nin;
    this.activation = activation;
  }

  /** How many outputs (neurons) the layer has. */
  get nout(): number {
    return this.neurons.length;
  }

  /**
   * Every neuron's output for inputs `x` (Values or numbers; numbers become leaf Values once,
   * shared by all neurons).
   *
   * @throws {RangeError} when `x` does not hold exactly `nin` inputs, or a number in it is
   * not finite; the message names the layer and both sizes.
   * @throws {TypeError} when an input is neither a Value nor a number.
   */
  forward(x: readonly (Value | number)[]): Value[] {
    return layerOutput(this, checkedInputs(this.toString(), x, this.nin));
  }

  /** Each neuron's parameters in turn. */
  parameters(): Value[] {
    return this.neurons.flatMap((neuron) => neuron.parameters());
  }

  /** Sets the gradient of every parameter to 0. */
  zeroGrad(): void {
    zeroGrads(this.parameters());
  }

  /** E.g. `Layer(2 → 16, relu)`, or with a name: `layer 1 (2 → 16, relu)`. */
  toString(): string {
    const shape = `(${this.nin} → ${this.nout}, ${this.activation})`;
    return this.name === "Layer" ? `Layer${shape}` : `${this.name} ${shape}`;
  }
}

/**
 * A multi-layer perceptron: layers applied one after another. Layer `i` is named
 * `layer i+1` in error messages.
 *
 * @example micrograd's classifier shape, with a seeded default initialisation.
 * ```ts
 * import assert from "node:assert/strict";
 * import { MLP } from "./mlp.ts";
 * const model = new MLP(2, [16, 16, 1], { seed: 42 });
 * assert.ok(model.parameters().length === 337);
 * assert.ok(String(model) === "MLP(2 → 16 relu → 16 relu → 1 linear; 337 parameters)");
 * const score = model.forwardScalar([0.5, -1]);
 * score.backward();
 * assert.ok(Number.isFinite(model.layers[0].neurons[0].weights[0].grad));
 * ```
 */
export class MLP implements Module {
  /** The layers, input side first. */
  readonly layers: readonly Layer[];
  readonly #parameters: readonly Value[];

  /**
   * An MLP of `nin` inputs whose layers have `sizes[0]`, `sizes[1]`, … neurons. Weights are
   * drawn from one generator in the order layer, neuron, input.
   *
   * @throws {RangeError} when a size is not a positive integer, there are no layers,
   * `activations` has the wrong length, or no seed or source is given.
   * @throws {TypeError} when an activation or the init kind is unknown.
   */
  constructor(nin: number, sizes: readonly number[], options: MLPOptions = {}) {
    checkedSize("MLP", "number of inputs", nin);
    if (!Array.isArray(sizes) || sizes.length === 0) {
      throw new RangeError(`MLP: sizes must be a non-empty list of layer sizes, got ${sizes}`);
    }
    const activations = options.activations ??
      sizes.map((_, i): Activation => (i < sizes.length - 1 ? "relu" : "linear"));
    if (activations.length !== sizes.length) {
      throw new RangeError(
        `MLP: ${activations.length} activations given for ${sizes.length} layers`,
      );
    }
    const source = randomSource("MLP", options);
    const layers: Layer[] = [];
    let width = nin;
    for (let i = 0; i < sizes.length; i++) {
      layers.push(
        new Layer(width, sizes[i], {
          ...options,
          seed: undefined,
          source,
          activation: activations[i],
          name: `layer ${i + 1}`,
        }),
      );
      width = sizes[i];
    }
    this.layers = layers;
    this.#parameters = layers.flatMap((layer) => layer.parameters());
  }

  /** How many inputs the network takes. */
  get nin(): number {
    return this.layers[0].nin;
  }

  /** How many outputs the network gives. */
  get nout(): number {
    return this.layers[this.layers.length - 1].nout;
  }

  /**
   * The outputs of the last layer for inputs `x` (Values or numbers).
   *
   * @throws {RangeError} when `x` does not hold exactly `nin` inputs (the message names
   * `layer 1` and both sizes), or a number in it is not finite.
   * @throws {TypeError} when an input is neither a Value nor a number.
   */
  forward(x: readonly (Value | number)[]): Value[] {
    let h = checkedInputs(this.layers[0].toString(), x, this.nin);
    for (const layer of this.layers) h = layerOutput(layer, h);
    return h;
  }

  /**
   * The single output of a network whose last layer has one neuron (a score or a
   * regression value).
   *
   * @throws {RangeError} when the network has more than one output, or as {@linkcode forward}.
   */
  forwardScalar(x: readonly (Value | number)[]): Value {
    if (this.nout !== 1) {
      throw new RangeError(`${this}: forwardScalar needs 1 output, this network has ${this.nout}`);
    }
    return this.forward(x)[0];
  }

  /** Parameters in the order layer, neuron, weights then bias. */
  parameters(): Value[] {
    return this.#parameters.slice();
  }

  /**
   * Every parameter with its name, in {@linkcode parameters}' order: `"1.0.w2"` is layer 1's
   * neuron 0's weight 2 and `"1.0.b"` its bias (layers and neurons counted from 0).
   */
  namedParameters(): [string, Value][] {
    return this.layers.flatMap((layer, l) =>
      layer.neurons.flatMap((neuron, n) => [
        ...neuron.weights.map((w, k): [string, Value] => [`${l}.${n}.w${k}`, w]),
        [`${l}.${n}.b`, neuron.bias] as [string, Value],
      ])
    );
  }

  /** Every parameter's value, by name (see {@linkcode namedParameters}). */
  stateDict(): Record<string, number> {
    return Object.fromEntries(this.namedParameters().map(([name, p]) => [name, p.data]));
  }

  /**
   * Sets each parameter to the value of the same name in `state`. Every name and value is
   * checked before anything is written, so a refused state changes nothing.
   *
   * @throws {RangeError} naming the parameter when a name is missing from `state`, a name in
   * `state` is not a parameter, or a value is not a finite number.
   */
  loadStateDict(state: Readonly<Record<string, number>>): void {
    const where = `loadStateDict (${this})`;
    if (typeof state !== "object" || state === null) {
      throw new TypeError(`${where}: state must be an object of numbers, got ${state}`);
    }
    const named = this.namedParameters();
    const names = new Set(named.map(([name]) => name));
    const unexpected = Object.keys(state).filter((name) => !names.has(name));
    if (unexpected.length > 0) {
      throw new RangeError(
        `${where}: unexpected ${unexpected.map((n) => JSON.stringify(n)).join(", ")} in the ` +
          `state; the parameters are named "layer.neuron.wK" and "layer.neuron.b", ` +
          `from "0.0.w0" to ${JSON.stringify(named[named.length - 1][0])}`,
      );
    }
    for (const [name] of named) {
      const value = state[name];
      if (value === undefined) {
        throw new RangeError(
          `${where}: parameter ${JSON.stringify(name)} is missing from the state`,
        );
      }
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new RangeError(
          `${where}: parameter ${JSON.stringify(name)} must be a finite number, got ${value}`,
        );
      }
    }
    for (const [name, p] of named) p.data = state[name];
  }

  /** Sets the gradient of every parameter to 0. */
  zeroGrad(): void {
    zeroGrads(this.#parameters);
  }

  /** E.g. `MLP(2 → 16 relu → 16 relu → 1 linear; 337 parameters)`. */
  toString(): string {
    const shape = this.layers.map((layer) => ` → ${layer.nout} ${layer.activation}`).join("");
    return `MLP(${this.nin}${shape}; ${this.#parameters.length} parameters)`;
  }
}

function neuronOutput(neuron: Neuron, x: readonly Value[]): Value {
  const w = neuron.weights;
  let act = neuron.bias;
  for (let i = 0; i < w.length; i++) act = act.add(w[i].mul(x[i]));
  switch (neuron.activation) {
    case "relu":
      return act.relu();
    case "tanh":
      return act.tanh();
    case "sigmoid":
      return act.sigmoid();
    case "linear":
      return act;
  }
}

function layerOutput(layer: Layer, x: readonly Value[]): Value[] {
  const neurons = layer.neurons;
  const out: Value[] = new Array(neurons.length);
  for (let j = 0; j < neurons.length; j++) out[j] = neuronOutput(neurons[j], x);
  return out;
}

/** `x` as Values, after checking its length and every element; errors name `where`. */
function checkedInputs(where: string, x: readonly (Value | number)[], nin: number): Value[] {
  if (!Array.isArray(x)) {
    throw new TypeError(`${where}: inputs must be an array, got ${typeof x} ${String(x)}`);
  }
  if (x.length !== nin) {
    throw new RangeError(`${where}: expected ${nin} inputs, got ${x.length}`);
  }
  const values: Value[] = new Array(nin);
  for (let i = 0; i < nin; i++) {
    const xi: unknown = x[i];
    if (xi instanceof Value) {
      values[i] = xi;
    } else if (typeof xi === "number") {
      if (!Number.isFinite(xi)) {
        throw new RangeError(`${where}: input ${i} must be finite, got ${xi}`);
      }
      values[i] = new Value(xi);
    } else {
      const shown = typeof xi === "string" ? JSON.stringify(xi) : String(xi);
      throw new TypeError(
        `${where}: input ${i} must be a number or a Value, got ${typeof xi} ${shown}`,
      );
    }
  }
  return values;
}

function zeroGrads(parameters: readonly Value[]): void {
  for (let i = 0; i < parameters.length; i++) parameters[i].grad = 0;
}

function checkedSize(where: string, what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${where}: ${what} must be a positive integer, got ${n}`);
  }
}

function checkedActivation(where: string, activation: Activation): Activation {
  if (!ACTIVATIONS.includes(activation)) {
    throw new TypeError(
      `${where}: unknown activation ${JSON.stringify(activation)}; ` +
        `expected one of ${ACTIVATIONS.join(", ")}`,
    );
  }
  return activation;
}

function randomSource(where: string, options: InitOptions): RandomSource {
  return randomSourceOf(where, options);
}

/** A function drawing one initial weight from a source, by the scheme in `options`. */
function weightSampler(
  where: string,
  options: InitOptions,
  activation: Activation,
  fanIn: number,
  fanOut: number,
): (source: RandomSource) => number {
  const kind = options.init ?? "auto";
  if (!INIT_KINDS.includes(kind)) {
    throw new TypeError(
      `${where}: unknown init ${JSON.stringify(kind)}; expected one of ${INIT_KINDS.join(", ")}`,
    );
  }
  const gain = activation === "relu" ? Math.SQRT2 : activation === "tanh" ? 5 / 3 : 1;
  if (kind === "uniform") return (source) => 2.0 * source.next() - 1.0;
  if (kind === "xavier" || (kind === "auto" && activation !== "relu")) {
    const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
    return (source) => bound * (2.0 * source.next() - 1.0);
  }
  const std = gain / Math.sqrt(fanIn);
  return (source) => std * standardNormal(source);
}

/** A standard normal draw by Box–Muller from any uniform source. */
function standardNormal(source: RandomSource): number {
  if (source instanceof Random) return source.normal();
  const u = 1 - source.next(); // in (0, 1], so the logarithm is finite
  const v = source.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
