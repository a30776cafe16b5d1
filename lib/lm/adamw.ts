/**
 * AdamW over named tensors, updated in place, with weight decay chosen per parameter and a
 * state that a checkpoint can hold: the optimizer language-model training needs.
 *
 * The update is the rule of `nn`'s `AdamW` written out for tensors (a test holds the two to
 * the same bits): decoupled decay
 * `θ ← θ − ηλθ`, then `θ ← θ − η·m̂ / (√v̂ + ε)` with bias-corrected moments.
 *
 * @module
 */

import {
  firstNonFinite,
  SimdAdamMoments,
  simdKernels,
  simdRouted,
} from "../tensor/kernels/simd.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { OptimizerCheckpoint } from "./checkpoint.ts";
import { CheckpointError } from "./checkpoint.ts";

/**
 * Options of {@linkcode TensorAdamW}. Defaults are PyTorch's `torch.optim.AdamW`.
 *
 * @example makemore's settings.
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TensorAdamWOptions } from "./adamw.ts";
 * const makemore: TensorAdamWOptions = {
 *   learningRate: 5e-4, weightDecay: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8,
 * };
 * assert.equal(makemore.beta2, 0.99);
 * ```
 */
export interface TensorAdamWOptions {
  /** A finite number > 0, or a schedule: the rate of the step taken after `step` steps. */
  readonly learningRate: number | ((step: number) => number);
  /** Decay of the first-moment average, in [0, 1) (default 0.9). */
  readonly beta1?: number;
  /** Decay of the second-moment average, in [0, 1) (default 0.999). */
  readonly beta2?: number;
  /** Added to √v̂ (default 1e-8). */
  readonly eps?: number;
  /** Decoupled weight decay λ ≥ 0 (default 0.01). */
  readonly weightDecay?: number;
  /**
   * Which parameters decay (default: all, as makemore). nanoGPT decays only 2-D weights:
   * `(_, t) => t.rank >= 2`.
   */
  readonly decays?: (name: string, parameter: Tensor) => boolean;
}

/**
 * AdamW over a model's named parameters. `step()` reads each parameter's `grad` (a missing
 * gradient counts as zeros) and updates `data` in place; `state()` and `loadState()` carry
 * the moments and step count through a checkpoint, so a resumed run continues bit for bit.
 *
 * @example Minimise (w − 3)².
 * ```ts
 * import assert from "node:assert/strict";
 * import { TensorAdamW } from "./adamw.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const w = tensor([0], { requiresGrad: true });
 * const optimizer = new TensorAdamW(new Map([["w", w]]), { learningRate: 0.1, weightDecay: 0 });
 * for (let i = 0; i < 200; i++) {
 *   optimizer.zeroGrad();
 *   w.sub(3).pow(2).sum().backward();
 *   optimizer.step();
 * }
 * assert.ok(Math.abs(w.data[0] - 3) < 0.05);
 * assert.equal(optimizer.stepCount, 200);
 * ```
 */
export class TensorAdamW {
  /** The parameters, by name, in update order. */
  readonly parameters: ReadonlyMap<string, Tensor>;
  /** Decay of the first moment. */
  readonly beta1: number;
  /** Decay of the second moment. */
  readonly beta2: number;
  /** Added to √v̂. */
  readonly eps: number;
  /** Decoupled weight decay λ. */
  readonly weightDecay: number;
  readonly #learningRate: number | ((step: number) => number);
  readonly #decays: readonly boolean[];
  readonly #m: readonly Float64Array[];
  readonly #v: readonly Float64Array[];
  /** The moments in the SIMD kernels' own memory (null: too large; #m and #v plain arrays). */
  readonly #moments: SimdAdamMoments | null;
  #stepCount = 0;

  /**
   * An optimizer of `parameters`.
   *
   * @throws {RangeError} for a setting out of range or a parameter listed under two names.
   */
  constructor(parameters: ReadonlyMap<string, Tensor>, options: TensorAdamWOptions) {
    this.parameters = new Map(parameters);
    if (new Set(this.parameters.values()).size !== this.parameters.size) {
      throw new RangeError("TensorAdamW: a tensor is listed under two names");
    }
    this.beta1 = fraction("beta1", options.beta1 ?? 0.9);
    this.beta2 = fraction("beta2", options.beta2 ?? 0.999);
    this.eps = positive("eps", options.eps ?? 1e-8);
    const decay = options.weightDecay ?? 0.01;
    if (!(decay >= 0 && decay < Infinity)) {
      throw new RangeError(`TensorAdamW: weightDecay must be a finite number ≥ 0, got ${decay}`);
    }
    this.weightDecay = decay;
    if (typeof options.learningRate === "number") positive("learningRate", options.learningRate);
    this.#learningRate = options.learningRate;
    const decays = options.decays ?? (() => true);
    this.#decays = [...this.parameters].map(([name, t]) => decays(name, t));
    const sizes = [...this.parameters.values()].map((t) => t.size);
    this.#moments = SimdAdamMoments.create(sizes);
    this.#m = this.#moments?.m ?? sizes.map((n) => new Float64Array(n));
    this.#v = this.#moments?.v ?? sizes.map((n) => new Float64Array(n));
  }

  /** How many steps have been taken. */
  get stepCount(): number {
    return this.#stepCount;
  }

  /**
   * The learning rate of the next step.
   *
   * @throws {RangeError} when a schedule gives something other than a finite number > 0.
   */
  get learningRate(): number {
    const lr = this.#learningRate;
    return typeof lr === "number"
      ? lr
      : positive(`learningRate(${this.#stepCount})`, lr(this.#stepCount));
  }

  /** Whether parameter `name` is decayed. */
  decays(name: string): boolean {
    return this.#decays[[...this.parameters.keys()].indexOf(name)] ?? false;
  }

  /**
   * One AdamW step with the gradients the parameters hold now.
   *
   * @throws {RangeError} when a gradient is not finite (nothing changes then).
   */
  step(): void {
    const lr = this.learningRate;
    const tensors = [...this.parameters.values()];
    tensors.forEach((p, i) => {
      const g = p.grad?.data;
      if (g === undefined) return;
      const e = firstNonFinite(g);
      if (e >= 0) {
        throw new RangeError(
          `TensorAdamW: step ${this.#stepCount + 1} refused, nothing changed: parameter ` +
            `"${[...this.parameters.keys()][i]}" element ${e} has gradient ${g[e]}`,
        );
      }
    });
    const t = this.#stepCount + 1;
    const { beta1, beta2, eps } = this;
    const correction1 = 1 - Math.pow(beta1, t);
    const correction2 = 1 - Math.pow(beta2, t);
    tensors.forEach((p, i) => {
      const theta = p.data;
      const grad = p.grad?.data;
      const m = this.#m[i];
      const v = this.#v[i];
      const lambda = this.#decays[i] ? this.weightDecay : 0;
      const mode = lambda > 0 ? 1 : 0;
      const settings = { beta1, beta2, correction1, correction2, lr, lambda, eps, mode } as const;
      const moments = this.#moments;
      const simd = () =>
        moments === null
          ? simdKernels.adam(theta, grad ?? null, m, v, settings)
          : moments.update(i, theta, grad ?? null, settings);
      if (simdRouted("adam", theta, simd)) return;
      for (let e = 0; e < theta.length; e++) {
        const g = grad === undefined ? 0 : grad[e];
        m[e] = beta1 * m[e] + (1 - beta1) * g;
        v[e] = beta2 * v[e] + (1 - beta2) * g * g;
        const mHat = m[e] / correction1;
        const vHat = v[e] / correction2;
        const decayed = lambda > 0 ? theta[e] - lr * lambda * theta[e] : theta[e];
        theta[e] = decayed - lr * mHat / (Math.sqrt(vHat) + eps);
      }
    });
    this.#stepCount = t;
  }

  /** Forgets every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters.values()) p.zeroGrad();
  }

  /**
   * The moments (`m`, `v`, one tensor per parameter name, copies) and the step count, for a
   * checkpoint.
   */
  state(): OptimizerCheckpoint {
    const names = [...this.parameters.keys()];
    const slot = (arrays: readonly Float64Array[]) =>
      new Map(names.map((name, i) => [name, this.#copy(name, arrays[i])]));
    return {
      slots: new Map([["m", slot(this.#m)], ["v", slot(this.#v)]]),
      scalars: {
        name: "AdamW",
        step: this.#stepCount,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: this.weightDecay,
      },
    };
  }

  /**
   * Restores a {@linkcode TensorAdamW.state}: the moments of every parameter and the step
   * count.
   *
   * @throws {CheckpointError} when a slot is missing, names differ, shapes differ, or the
   * state is of another optimizer or other settings (nothing changes then).
   */
  loadState(state: OptimizerCheckpoint): void {
    const scalars = state.scalars;
    if (scalars.name !== "AdamW") {
      throw new CheckpointError(`TensorAdamW: the state is of optimizer ${String(scalars.name)}`);
    }
    for (const key of ["beta1", "beta2", "eps", "weightDecay"] as const) {
      if (scalars[key] !== this[key]) {
        throw new CheckpointError(
          `TensorAdamW: the state has ${key} ${String(scalars[key])}, this optimizer ${this[key]}`,
        );
      }
    }
    const step = scalars.step;
    if (!Number.isSafeInteger(step) || (step as number) < 0) {
      throw new CheckpointError(`TensorAdamW: the state's step ${String(step)} is not a count`);
    }
    const arrays = (kind: string): ArrayLike<number>[] => {
      const slot = state.slots.get(kind);
      if (slot === undefined) throw new CheckpointError(`TensorAdamW: no "${kind}" in the state`);
      if (slot.size !== this.parameters.size) {
        throw new CheckpointError(
          `TensorAdamW: the state's "${kind}" has ${slot.size} tensors, the model ` +
            `${this.parameters.size}`,
        );
      }
      return [...this.parameters].map(([name, p]) => {
        const t = slot.get(name);
        if (t === undefined) {
          throw new CheckpointError(`TensorAdamW: the state's "${kind}" lacks "${name}"`);
        }
        if (t.shape.join() !== p.shape.join()) {
          throw new CheckpointError(
            `TensorAdamW: "${kind}" of "${name}" has shape [${t.shape.join(",")}], the ` +
              `parameter [${p.shape.join(",")}]`,
          );
        }
        return t.data;
      });
    };
    const m = arrays("m");
    const v = arrays("v");
    m.forEach((data, i) => this.#m[i].set(data));
    v.forEach((data, i) => this.#v[i].set(data));
    this.#stepCount = step as number;
  }

  #copy(name: string, data: Float64Array): Tensor {
    const p = this.parameters.get(name) as Tensor;
    return new Tensor(data.slice(), p.shape);
  }
}

function fraction(what: string, x: number): number {
  if (!(typeof x === "number" && x >= 0 && x < 1)) {
    throw new RangeError(`TensorAdamW: ${what} must be a number in [0, 1), got ${x}`);
  }
  return x;
}

function positive(what: string, x: number): number {
  if (!(typeof x === "number" && x > 0 && x < Infinity)) {
    throw new RangeError(`TensorAdamW: ${what} must be a finite number > 0, got ${x}`);
  }
  return x;
}
