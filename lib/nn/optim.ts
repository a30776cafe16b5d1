/**
 * Optimizers: rules that move parameters against their gradients.
 *
 * @module
 */

import { Value } from "../scalar/value.ts";
import { firstNonFinite, simdKernels, simdRouted } from "../tensor/kernels/simd.ts";
import { checkedLearningRate, checkedNonEmpty, checkedOptions } from "../util/_checks.ts";

/**
 * A parameter holding many scalars in its own storage (such as a tensor), as optimizers see
 * it: a run of `size` numbers they can read and overwrite, with gradients beside them.
 *
 * @example A parameter backed by two Float64Arrays.
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FlatParameter, SGD } from "./optim.ts";
 * const data = new Float64Array([1, 2]);
 * const grad = new Float64Array([0.5, -0.5]);
 * const p: FlatParameter = {
 *   size: 2,
 *   readValues: (into, offset) => into.set(data, offset),
 *   readGrads: (into, offset) => into.set(grad, offset),
 *   writeValues: (from, offset) => data.set(from.subarray(offset, offset + 2)),
 *   zeroGrad: () => grad.fill(0),
 * };
 * new SGD([p], { learningRate: 0.1 }).step();
 * assert.ok(data[0] === 0.95 && data[1] === 2.05);
 * ```
 */
export interface FlatParameter {
  /** How many scalars it holds. */
  readonly size: number;
  /** Copies its values into `into` starting at `offset`. */
  readValues(into: Float64Array, offset: number): void;
  /** Copies its gradients into `into` starting at `offset`. */
  readGrads(into: Float64Array, offset: number): void;
  /** Overwrites its values from `from` starting at `offset`. */
  writeValues(from: Float64Array, offset: number): void;
  /** Sets every gradient to 0. */
  zeroGrad(): void;
}

/**
 * A learning rate: a fixed number, or a schedule giving the rate of each step from the
 * number of steps already taken (0 for the first step), such as those of `schedules.ts`.
 * Every rate used must be a finite number > 0.
 *
 * @example micrograd's demo decays the rate linearly.
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LearningRate } from "./optim.ts";
 * const fixed: LearningRate = 0.1;
 * const decaying: LearningRate = (k) => 1.0 - 0.9 * k / 100;
 * assert.ok(fixed === 0.1 && decaying(0) === 1 && decaying(50) < decaying(49));
 * ```
 */
export type LearningRate = number | ((step: number) => number);

/**
 * What every optimizer shares: it sees its parameters as one flat vector `θ` with gradient
 * `g` (a `Value` is one scalar; a {@linkcode FlatParameter} is `size` of them, in list order),
 * keeps its state as Float64Arrays of the same length, and on `step()` computes the new `θ`
 * by its update rule and writes it back.
 *
 * A step is all or nothing: if a gradient or an updated value is not finite, or the
 * learning rate is not a finite number > 0, `step` throws a RangeError and neither the
 * parameters nor the optimizer's state change. `step` does not clear gradients; call
 * `zeroGrad()` before each `backward()`.
 *
 * @example Any optimizer drives the same loop.
 * ```ts
 * import assert from "node:assert/strict";
 * import { Adam, type Optimizer, SGD } from "./optim.ts";
 * import { Value } from "../scalar/value.ts";
 * for (const make of [(p: Value[]) => new SGD(p, { learningRate: 0.1 }), (p: Value[]) => new Adam(p, { learningRate: 0.1 })]) {
 *   const w = new Value(0);
 *   const optimizer: Optimizer = make([w]);
 *   for (let k = 0; k < 200; k++) {
 *     optimizer.zeroGrad();
 *     w.sub(3).pow(2).backward();
 *     optimizer.step();
 *   }
 *   assert.ok(Math.abs(w.data - 3) < 1e-3 && optimizer.stepCount === 200);
 * }
 * ```
 */
export abstract class Optimizer {
  /** The optimizer's name, as error messages give it. */
  readonly name: string;
  /** The parameters it updates, in the order of the flat vector. */
  readonly parameters: readonly (Value | FlatParameter)[];
  /** How many scalars the parameters hold in all: the length of `θ`. */
  readonly size: number;
  #learningRate: LearningRate;
  #stepCount = 0;
  readonly #theta: Float64Array;
  readonly #grad: Float64Array;
  readonly #next: Float64Array;

  /**
   * An optimizer of `parameters` (each listed once).
   *
   * @throws {TypeError} when a parameter is neither a Value nor a FlatParameter, or the
   * learning rate is neither a number nor a function.
   * @throws {RangeError} when the list is empty, a parameter is listed twice, a size is not
   * a whole number ≥ 0, or a fixed learning rate is not a finite number > 0.
   */
  constructor(
    name: string,
    parameters: readonly (Value | FlatParameter)[],
    learningRate: LearningRate,
  ) {
    this.name = name;
    this.parameters = checkedParameters(name, checkedNonEmpty(name, parameters));
    let size = 0;
    for (const p of this.parameters) size += p instanceof Value ? 1 : p.size;
    this.size = size;
    if (typeof learningRate === "number") {
      checkedLearningRate(name, learningRate);
    } else if (typeof learningRate !== "function") {
      throw new TypeError(
        `${name}: learning rate must be a number or a schedule function, got ${typeof learningRate}`,
      );
    }
    this.#learningRate = learningRate;
    this.#theta = new Float64Array(size);
    this.#grad = new Float64Array(size);
    this.#next = new Float64Array(size);
  }

  /** How many steps have been taken. */
  get stepCount(): number {
    return this.#stepCount;
  }

  /**
   * The learning rate of the step taken after `step` earlier ones.
   *
   * @throws {RangeError} when the schedule gives something other than a finite number > 0.
   */
  learningRateAt(step: number): number {
    const lr = this.#learningRate;
    if (typeof lr === "number") return lr;
    return checkedLearningRate(`${this.name} (step ${step})`, lr(step));
  }

  /**
   * Moves every parameter by the update rule, using the gradients they hold now.
   *
   * @throws {RangeError} when the learning rate, a gradient or an updated value is not
   * finite (or the rate is not > 0); nothing is changed then.
   */
  step(): void {
    const lr = this.learningRateAt(this.#stepCount);
    const theta = this.#theta;
    const grad = this.#grad;
    const next = this.#next;
    this.#gather(theta, grad);
    const badGrad = firstNonFinite(grad);
    if (badGrad >= 0) throw this.#refusal(badGrad, `has gradient ${grad[badGrad]}`);
    this.update(theta, grad, lr, this.#stepCount + 1, next);
    const badValue = firstNonFinite(next);
    if (badValue >= 0) throw this.#refusal(badValue, `would become ${next[badValue]}`);
    this.#scatter(next);
    this.commit();
    this.#stepCount++;
  }

  /** Sets the gradient of every parameter to 0. */
  zeroGrad(): void {
    for (const p of this.parameters) {
      if (p instanceof Value) p.grad = 0;
      else p.zeroGrad();
    }
  }

  /**
   * The update rule: from values `theta`, gradients `grad` and learning rate `lr` at step
   * `t` (1 for the first), writes the new values into `next` and the new state into
   * buffers that {@linkcode commit} installs. Must not change the current state.
   */
  protected abstract update(
    theta: Float64Array,
    grad: Float64Array,
    lr: number,
    t: number,
    next: Float64Array,
  ): void;

  /** Installs the state that the last {@linkcode update} computed. */
  protected abstract commit(): void;

  #gather(theta: Float64Array, grad: Float64Array): void {
    let offset = 0;
    for (const p of this.parameters) {
      if (p instanceof Value) {
        theta[offset] = p.data;
        grad[offset] = p.grad;
        offset++;
      } else {
        p.readValues(theta, offset);
        p.readGrads(grad, offset);
        offset += p.size;
      }
    }
  }

  #scatter(next: Float64Array): void {
    let offset = 0;
    for (const p of this.parameters) {
      if (p instanceof Value) {
        p.data = next[offset];
        offset++;
      } else {
        p.writeValues(next, offset);
        offset += p.size;
      }
    }
  }

  #refusal(entry: number, what: string): RangeError {
    let offset = 0;
    let index = 0;
    for (const p of this.parameters) {
      const size = p instanceof Value ? 1 : p.size;
      if (entry < offset + size) break;
      offset += size;
      index++;
    }
    const where = this.parameters[index] instanceof Value ? "" : `, entry ${entry - offset}`;
    return new RangeError(
      `${this.name}: step ${this.#stepCount + 1} refused, nothing changed: ` +
        `parameter ${index}${where} ${what}`,
    );
  }
}

/**
 * Options of {@linkcode SGD}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SGDOptions } from "./optim.ts";
 * const options: SGDOptions = { learningRate: 0.1, momentum: 0.9, nesterov: true };
 * assert.ok(options.nesterov);
 * ```
 */
export interface SGDOptions {
  /** A finite number > 0, or a schedule. */
  readonly learningRate: LearningRate;
  /** Momentum coefficient μ in [0, 1) (default 0: plain gradient descent). */
  readonly momentum?: number;
  /** Use Nesterov's momentum (needs μ > 0; default false). */
  readonly nesterov?: boolean;
  /** L2 weight decay λ ≥ 0, added to the gradient as `λθ` (default 0). */
  readonly weightDecay?: number;
}

/**
 * Stochastic gradient descent with optional momentum (Polyak's, or Nesterov's in the form
 * of Sutskever et al., 2013) and weight decay, as PyTorch's `SGD` defines them:
 *
 * ```text
 * g ← g + λθ                 (weight decay, when λ > 0)
 * b ← μb + g                 (momentum buffer, b₀ = 0, when μ > 0)
 * g ← g + μb  (Nesterov)   or   g ← b
 * θ ← θ − η·g
 * ```
 *
 * Without momentum and weight decay, a step is exactly `θ ← θ − η·g` for each scalar.
 *
 * @throws {RangeError} (constructor) when a hyperparameter is out of range (see
 * {@linkcode SGDOptions}) or there are no parameters.
 * @throws {TypeError} (constructor) when the options are missing or name an unknown option
 * (`{ lr }` for `{ learningRate }`).
 *
 * @example One step of momentum from rest is a plain step; the second adds μ times it.
 * ```ts
 * import assert from "node:assert/strict";
 * import { SGD } from "./optim.ts";
 * import { Value } from "../scalar/value.ts";
 * const w = new Value(1);
 * const sgd = new SGD([w], { learningRate: 0.5, momentum: 0.5 });
 * w.grad = 1;
 * sgd.step(); // b = 1, θ = 1 − 0.5·1
 * sgd.step(); // b = 0.5·1 + 1 = 1.5, θ = 0.5 − 0.5·1.5
 * assert.ok(w.data === -0.25);
 * ```
 */
export class SGD extends Optimizer {
  /** The momentum coefficient μ. */
  readonly momentum: number;
  /** Whether the momentum is Nesterov's. */
  readonly nesterov: boolean;
  /** The L2 weight decay λ. */
  readonly weightDecay: number;
  #buffer: Float64Array;
  #nextBuffer: Float64Array;

  /** An SGD optimizer of `parameters` with the given options. */
  constructor(parameters: readonly (Value | FlatParameter)[], options: SGDOptions) {
    const known = ["learningRate", "momentum", "nesterov", "weightDecay"];
    super("SGD", parameters, checkedOptions("SGD", options, known).learningRate);
    this.momentum = checkedFraction("SGD", "momentum", options.momentum ?? 0);
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && this.momentum === 0) {
      throw new RangeError("SGD: Nesterov momentum needs momentum > 0, got 0");
    }
    this.weightDecay = checkedNonNegative("SGD", "weight decay", options.weightDecay ?? 0);
    this.#buffer = new Float64Array(this.momentum > 0 ? this.size : 0);
    this.#nextBuffer = new Float64Array(this.#buffer.length);
  }

  /** θ ← θ − η·g, with momentum and weight decay as configured. */
  protected update(
    theta: Float64Array,
    grad: Float64Array,
    lr: number,
    _t: number,
    next: Float64Array,
  ): void {
    const mu = this.momentum;
    const lambda = this.weightDecay;
    const b = this.#buffer;
    const bNext = this.#nextBuffer;
    for (let i = 0; i < theta.length; i++) {
      let g = grad[i];
      if (lambda > 0) g = g + lambda * theta[i];
      if (mu > 0) {
        bNext[i] = mu * b[i] + g;
        g = this.nesterov ? g + mu * bNext[i] : bNext[i];
      }
      next[i] = theta[i] - lr * g;
    }
  }

  /** Installs the new momentum buffer. */
  protected commit(): void {
    [this.#buffer, this.#nextBuffer] = [this.#nextBuffer, this.#buffer];
  }
}

/**
 * Options of {@linkcode Adam} and {@linkcode AdamW}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdamOptions } from "./optim.ts";
 * const options: AdamOptions = { learningRate: 1e-3, beta1: 0.9, beta2: 0.95 };
 * assert.ok(options.beta2 === 0.95);
 * ```
 */
export interface AdamOptions {
  /** A finite number > 0, or a schedule. */
  readonly learningRate: LearningRate;
  /** Decay β₁ of the first-moment average, in [0, 1) (default 0.9). */
  readonly beta1?: number;
  /** Decay β₂ of the second-moment average, in [0, 1) (default 0.999). */
  readonly beta2?: number;
  /** ε > 0 added to √v̂ in the denominator (default 1e-8). */
  readonly eps?: number;
  /**
   * Weight decay λ ≥ 0: for `Adam` an L2 term `λθ` added to the gradient (default 0); for
   * `AdamW` decoupled, `θ ← θ − ηλθ` (default 0.01).
   */
  readonly weightDecay?: number;
  /**
   * Which parameters weight decay applies to (default: every one). GPT training decays only
   * the matrices: `(p) => p instanceof Tensor && p.rank >= 2`, leaving biases, LayerNorm
   * scales and shifts alone.
   */
  readonly decays?: (parameter: Value | FlatParameter) => boolean;
}

/**
 * Adam (Kingma & Ba, 2015, Algorithm 1), with optional L2 weight decay as PyTorch's `Adam`:
 *
 * ```text
 * g ← g + λθ                      (when λ > 0)
 * m ← β₁m + (1 − β₁)g             v ← β₂v + (1 − β₂)g²       (m₀ = v₀ = 0)
 * m̂ ← m / (1 − β₁ᵗ)               v̂ ← v / (1 − β₂ᵗ)         (bias correction, t = 1, 2, …)
 * θ ← θ − η·m̂ / (√v̂ + ε)
 * ```
 *
 * @throws {RangeError} (constructor) when a hyperparameter is out of range (see
 * {@linkcode AdamOptions}) or there are no parameters.
 * @throws {TypeError} (constructor) when the options are missing or name an unknown option.
 *
 * @example The first step moves every parameter by about η, whatever its gradient's size.
 * ```ts
 * import assert from "node:assert/strict";
 * import { Adam } from "./optim.ts";
 * import { Value } from "../scalar/value.ts";
 * const w = new Value(1);
 * w.grad = 1000;
 * new Adam([w], { learningRate: 0.01 }).step();
 * assert.ok(Math.abs(w.data - 0.99) < 1e-9);
 * ```
 */
export class Adam extends Optimizer {
  /** Decay of the first-moment average. */
  readonly beta1: number;
  /** Decay of the second-moment average. */
  readonly beta2: number;
  /** Added to √v̂ in the denominator. */
  readonly eps: number;
  /** The weight decay λ. */
  readonly weightDecay: number;
  /** Whether weight decay is decoupled from the gradient (AdamW) rather than an L2 term. */
  readonly decoupled: boolean;
  /** Per scalar of θ, 1 where weight decay applies (see {@linkcode AdamOptions.decays}). */
  readonly decayMask: Uint8Array;
  #m: Float64Array;
  #v: Float64Array;
  #mNext: Float64Array;
  #vNext: Float64Array;

  /** An Adam optimizer of `parameters` with the given options. */
  constructor(parameters: readonly (Value | FlatParameter)[], options: AdamOptions) {
    const name = new.target === AdamW ? "AdamW" : "Adam";
    const known = ["learningRate", "beta1", "beta2", "eps", "weightDecay", "decays"];
    super(name, parameters, checkedOptions(name, options, known).learningRate);
    this.decoupled = name === "AdamW";
    this.beta1 = checkedFraction(name, "beta1", options.beta1 ?? 0.9);
    this.beta2 = checkedFraction(name, "beta2", options.beta2 ?? 0.999);
    this.eps = checkedPositive(name, "eps", options.eps ?? 1e-8);
    this.weightDecay = checkedNonNegative(
      name,
      "weight decay",
      options.weightDecay ?? (this.decoupled ? 0.01 : 0),
    );
    this.decayMask = new Uint8Array(this.size).fill(1);
    if (options.decays !== undefined) {
      let offset = 0;
      for (const p of this.parameters) {
        const size = p instanceof Value ? 1 : p.size;
        if (!options.decays(p)) this.decayMask.fill(0, offset, offset + size);
        offset += size;
      }
    }
    this.#m = new Float64Array(this.size);
    this.#v = new Float64Array(this.size);
    this.#mNext = new Float64Array(this.size);
    this.#vNext = new Float64Array(this.size);
  }

  /** Adam's update, with weight decay coupled (Adam) or decoupled (AdamW). */
  protected update(
    theta: Float64Array,
    grad: Float64Array,
    lr: number,
    t: number,
    next: Float64Array,
  ): void {
    const { beta1, beta2, eps, weightDecay: lambda, decoupled } = this;
    const m = this.#m;
    const v = this.#v;
    const mNext = this.#mNext;
    const vNext = this.#vNext;
    const mask = this.decayMask;
    const correction1 = 1 - Math.pow(beta1, t);
    const correction2 = 1 - Math.pow(beta2, t);
    if (
      simdRouted("adamFlat", theta, () => {
        // One kernel call per run of parameters that decay alike.
        for (let from = 0, to = 0; from < theta.length; from = to) {
          const decays = lambda > 0 && mask[from] === 1;
          while (to < theta.length && (lambda > 0 && mask[to] === 1) === decays) to++;
          const mode = decays ? (decoupled ? 1 : 2) : 0;
          const settings = {
            beta1,
            beta2,
            correction1,
            correction2,
            lr,
            lambda,
            eps,
            mode,
          } as const;
          simdKernels.adam(theta, grad, m, v, settings, from, to, next, mNext, vNext);
        }
      })
    ) return;
    for (let i = 0; i < theta.length; i++) {
      let g = grad[i];
      const decays = lambda > 0 && mask[i] === 1;
      if (decays && !decoupled) g = g + lambda * theta[i];
      mNext[i] = beta1 * m[i] + (1 - beta1) * g;
      vNext[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const mHat = mNext[i] / correction1;
      const vHat = vNext[i] / correction2;
      const decayed = decoupled && decays ? theta[i] - lr * lambda * theta[i] : theta[i];
      next[i] = decayed - lr * mHat / (Math.sqrt(vHat) + eps);
    }
  }

  /** Installs the new moment estimates. */
  protected commit(): void {
    [this.#m, this.#mNext] = [this.#mNext, this.#m];
    [this.#v, this.#vNext] = [this.#vNext, this.#v];
  }
}

/**
 * AdamW (Loshchilov & Hutter, 2019): Adam whose weight decay shrinks the parameters directly,
 * `θ ← θ − ηλθ`, instead of passing through the moment estimates; default λ = 0.01. The rest
 * of the step is {@linkcode Adam}'s, computed from the parameters before the decay.
 *
 * @example With a zero gradient only the decay acts: θ ← θ − ηλθ.
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdamW } from "./optim.ts";
 * import { Value } from "../scalar/value.ts";
 * const w = new Value(2);
 * new AdamW([w], { learningRate: 0.1, weightDecay: 0.5 }).step();
 * assert.ok(w.data === 2 - 0.1 * 0.5 * 2);
 * ```
 */
export class AdamW extends Adam {}

function checkedParameters(
  name: string,
  parameters: readonly (Value | FlatParameter)[],
): readonly (Value | FlatParameter)[] {
  if (!Array.isArray(parameters)) {
    throw new TypeError(`${name}: parameters must be an array, got ${typeof parameters}`);
  }
  const seen = new Set<Value | FlatParameter>();
  parameters.forEach((p, i) => {
    if (!(p instanceof Value) && !isFlatParameter(p)) {
      throw new TypeError(`${name}: parameter ${i} is neither a Value nor a FlatParameter`);
    }
    if (!(p instanceof Value) && !(Number.isInteger(p.size) && p.size >= 0)) {
      throw new RangeError(`${name}: parameter ${i} has size ${p.size}, not a whole number`);
    }
    if (seen.has(p)) throw new RangeError(`${name}: parameter ${i} is listed twice`);
    seen.add(p);
  });
  return parameters.slice();
}

function isFlatParameter(p: unknown): p is FlatParameter {
  if (typeof p !== "object" || p === null) return false;
  const q = p as Record<string, unknown>;
  return typeof q.readValues === "function" && typeof q.readGrads === "function" &&
    typeof q.writeValues === "function" && typeof q.zeroGrad === "function";
}

function checkedFraction(where: string, what: string, x: number): number {
  if (!(typeof x === "number" && x >= 0 && x < 1)) {
    throw new RangeError(`${where}: ${what} must be a number in [0, 1), got ${x}`);
  }
  return x;
}

function checkedPositive(where: string, what: string, x: number): number {
  if (!(typeof x === "number" && x > 0 && x < Infinity)) {
    throw new RangeError(`${where}: ${what} must be a finite number > 0, got ${x}`);
  }
  return x;
}

function checkedNonNegative(where: string, what: string, x: number): number {
  if (!(typeof x === "number" && x >= 0 && x < Infinity)) {
    throw new RangeError(`${where}: ${what} must be a finite number ≥ 0, got ${x}`);
  }
  return x;
}
