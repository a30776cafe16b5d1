/**
 * The seed's training step: plain gradient descent on scalar parameters.
 *
 * @module
 */

import type { Value } from "./value.ts";
import { checkedLearningRate, checkedNonEmpty, checkedOptions } from "../util/_checks.ts";

/**
 * Options of {@linkcode gradientDescentStep}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GradientDescentOptions } from "./gradient_descent.ts";
 * const options: GradientDescentOptions = { learningRate: 0.1 };
 * assert.ok(options.learningRate > 0);
 * ```
 */
export interface GradientDescentOptions {
  /** Step size: a finite number > 0. */
  readonly learningRate: number;
}

/**
 * One step of plain gradient descent: `p.data -= learningRate · p.grad` for every parameter,
 * then `p.grad = 0`, as the seed's training loop does by hand. Every new value is checked
 * before any is written, so a bad step changes nothing.
 *
 * @throws {RangeError} when there are no parameters, the learning rate is not a finite number
 * > 0, or a gradient or an updated value is not finite.
 * @throws {TypeError} when the options are missing or name an unknown option.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradientDescentStep } from "./gradient_descent.ts";
 * import { Value } from "../scalar/value.ts";
 * const w = new Value(0);
 * const loss = w.mul(2).sub(8).pow(2);
 * loss.backward(); // ∂loss/∂w = 2·(0·2 − 8)·2 = −32
 * gradientDescentStep([w], { learningRate: 0.1 });
 * assert.ok(w.data === 3.2 && w.grad === 0);
 * ```
 */
export function gradientDescentStep(
  parameters: readonly Value[],
  options: GradientDescentOptions,
): void {
  checkedOptions("gradientDescentStep", options, ["learningRate"]);
  checkedNonEmpty("gradientDescentStep", parameters);
  const learningRate = checkedLearningRate("gradientDescentStep", options.learningRate);
  for (let i = 0; i < parameters.length; i++) {
    const p = parameters[i];
    if (!Number.isFinite(p.data - learningRate * p.grad)) {
      throw new RangeError(
        `gradientDescentStep: parameter ${i} (data ${p.data}, grad ${p.grad}) would become ` +
          `${p.data - learningRate * p.grad}`,
      );
    }
  }
  for (const p of parameters) {
    p.data -= learningRate * p.grad;
    p.grad = 0;
  }
}
