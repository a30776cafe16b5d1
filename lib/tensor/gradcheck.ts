/**
 * Gradient checking for tensor functions: every element of every input is perturbed, and
 * the central difference is compared with what `backward` computed.
 *
 * A function with a tensor result is reduced to a number by a fixed random projection,
 * `Σ wᵢ·outᵢ` (the weights are drawn from a seeded generator), so that the gradient of every
 * output element takes part: a backward that is wrong for one output element alone fails.
 *
 * @module
 */

import { DEFAULT_GRADCHECK_TOLERANCES, type GradcheckOptions } from "../scalar/gradcheck.ts";
import { extrapolatedDerivative, halfWidthFor } from "../scalar/_finite_difference.ts";
import { Random } from "../util/random.ts";
import { formatShape } from "./_shape.ts";
import { noGrad, Tensor } from "./tensor.ts";

/**
 * Options of {@linkcode gradcheckTensor}: those of the scalar `gradcheck`, and the seed of
 * the projection weights. The defaults are the precise ones (`atol` 1e-10, `rtol` 1e-7, step
 * 1e-3 relative, Richardson-extrapolated); spread `PYTORCH_GRADCHECK_TOLERANCES` for
 * PyTorch's `{ atol: 1e-5, rtol: 1e-3 }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TensorGradcheckOptions } from "./gradcheck.ts";
 * import { PYTORCH_GRADCHECK_TOLERANCES } from "../scalar/gradcheck.ts";
 * const options: TensorGradcheckOptions = { ...PYTORCH_GRADCHECK_TOLERANCES, seed: 3 };
 * assert.ok(options.seed === 3 && options.rtol === 1e-3);
 * ```
 */
export interface TensorGradcheckOptions extends GradcheckOptions {
  /** Seed of the projection weights (default 1). */
  readonly seed?: number;
}

/**
 * One measured element: where it is and what the two gradients said.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TensorGradcheckEntry } from "./gradcheck.ts";
 * const e: TensorGradcheckEntry = {
 *   input: 0, index: 2, analytic: 1, numeric: 1, error: 0, allowance: 1e-12, tolerance: 1e-7,
 * };
 * assert.ok(e.error <= e.tolerance);
 * ```
 */
export interface TensorGradcheckEntry {
  /** Which input tensor. */
  readonly input: number;
  /** Flat (row-major) position of the element in that input. */
  readonly index: number;
  /** ∂f/∂element from `backward`. */
  readonly analytic: number;
  /** ∂f/∂element from extrapolated central differences. */
  readonly numeric: number;
  /** `|analytic − numeric|`. */
  readonly error: number;
  /** Computed uncertainty of `numeric` (truncation estimate plus rounding bound). */
  readonly allowance: number;
  /** `atol + rtol·|numeric| + allowance`. */
  readonly tolerance: number;
}

/**
 * What {@linkcode gradcheckTensor} measured.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradcheckTensor } from "./gradcheck.ts";
 * import { tensor } from "./tensor.ts";
 * const report = gradcheckTensor((x) => x.mul(x).sum(), [tensor([1, 2])]);
 * assert.ok(report.passed && report.analytic[0][1] === 4);
 * ```
 */
export interface TensorGradcheckReport {
  /** `Σ wᵢ·fᵢ`: the number whose gradient was checked (`f` itself when it is a scalar). */
  readonly output: number;
  /** ∂output/∂input from `backward`, one array per input. */
  readonly analytic: readonly Float64Array[];
  /** The same from extrapolated central differences. */
  readonly numeric: readonly Float64Array[];
  /** Computed uncertainty of each numeric element (see the scalar `GradcheckReport`). */
  readonly allowances: readonly Float64Array[];
  /** The element whose error is largest relative to its tolerance (null: no elements). */
  readonly worst: TensorGradcheckEntry | null;
  /** How many elements disagree. */
  readonly failures: number;
  /** True when every element agrees. */
  readonly passed: boolean;
}

/**
 * Thrown by {@linkcode gradcheckTensor} when a gradient disagrees.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradcheckTensor, TensorGradcheckError } from "./gradcheck.ts";
 * import { tensor } from "./tensor.ts";
 * // Hides x from the graph: the analytic gradient reads 0.
 * const wrong = (x: ReturnType<typeof tensor>) => x.detach().mul(x.sum().mul(0).add(1));
 * try {
 *   gradcheckTensor(wrong, [tensor([2, 3])]);
 *   throw new Error("not caught");
 * } catch (error) {
 *   assert.ok(error instanceof TensorGradcheckError && !error.report.passed);
 * }
 * ```
 */
export class TensorGradcheckError extends Error {
  /** Everything that was measured. */
  readonly report: TensorGradcheckReport;

  /** An error describing the failed `report`. */
  constructor(message: string, report: TensorGradcheckReport) {
    super(message);
    this.name = "TensorGradcheckError";
    this.report = report;
  }
}

/**
 * Checks the gradients `backward` computes for `fn` at `inputs` against numerical ones,
 * element by element, in float64. Element e (value x) is moved by `h = step·max(1, |x|)`,
 * `h/2` and `h/4` both ways and the three central differences are Richardson-extrapolated
 * (see the scalar `gradcheck`); it passes when
 * `|analytic − numeric| ≤ atol + rtol·|numeric| + allowance`, with the allowance computed from
 * the same evaluations. Defaults: step 1e-3, atol 1e-10, rtol 1e-7, so a backward off by 1e-6
 * relative fails.
 *
 * `fn` is called on fresh leaf copies of `inputs` (which are not modified): once with
 * gradients, then six times per input element inside `noGrad`.
 *
 * @throws {TensorGradcheckError} when a gradient disagrees and `raise` is not `false`.
 * @throws {TypeError} when `fn` does not return a Tensor.
 * @throws {RangeError} for an invalid option.
 *
 * @example softmax's gradient, through a random projection of its 2×3 result:
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradcheckTensor } from "./gradcheck.ts";
 * import { tensor } from "./tensor.ts";
 * const report = gradcheckTensor((x) => x.softmax(), [tensor([[1, 2, 3], [0, -1, 4]])]);
 * assert.ok(report.passed && report.failures === 0);
 * ```
 */
export function gradcheckTensor(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: TensorGradcheckOptions = {},
): TensorGradcheckReport {
  const step = option("step", options.step, 1e-3, false);
  const atol = option("atol", options.atol, DEFAULT_GRADCHECK_TOLERANCES.atol, true);
  const rtol = option("rtol", options.rtol, DEFAULT_GRADCHECK_TOLERANCES.rtol, true);
  const raise = options.raise ?? true;
  const points = inputs.map((t) => Float64Array.from(t.data)); // float64, whatever the dtype
  const shapes = inputs.map((t) => t.shape);

  const leaves = points.map((data, i) =>
    new Tensor(data.slice(), shapes[i], { requiresGrad: true })
  );
  const out = evaluate(fn, leaves);
  const weights = new Float64Array(out.size);
  const random = new Random(options.seed ?? 1);
  // A one-element result is checked as it is; a larger one through weights of both signs.
  for (let i = 0; i < weights.length; i++) {
    weights[i] = out.size === 1 ? 1 : random.uniform(0.5, 1.5) * (i % 2 === 0 ? 1 : -1);
  }
  const output = project(out, weights);
  if (out.requiresGrad) out.backward(new Tensor(weights, out.shape));
  const analytic = leaves.map((leaf) =>
    leaf.grad === null ? new Float64Array(leaf.size) : Float64Array.from(leaf.grad.data)
  );

  const allowances = points.map((point) => new Float64Array(point.length));
  const numeric = points.map((point, i) => {
    const column = new Float64Array(point.length);
    for (let e = 0; e < point.length; e++) {
      const estimate = extrapolatedDerivative((h) => {
        // Divide by the step actually taken: x ± h is rounded.
        const up = point[e] + h;
        const down = point[e] - h;
        const above = noGrad(() => evaluate(fn, shifted(points, shapes, i, e, up))).data;
        const below = noGrad(() => evaluate(fn, shifted(points, shapes, i, e, down))).data;
        // Σ w·(above − below), not Σ w·above − Σ w·below: output elements that do not move
        // then cancel exactly, however large they are, and add nothing to the rounding bound.
        let delta = 0;
        let magnitude = 0;
        for (let o = 0; o < weights.length; o++) {
          if (above[o] === below[o]) continue;
          delta += weights[o] * (above[o] - below[o]);
          magnitude += Math.abs(weights[o]) * Math.max(Math.abs(above[o]), Math.abs(below[o]));
        }
        return { delta, width: up - down, magnitude };
      }, halfWidthFor(point[e], step));
      column[e] = estimate.value;
      allowances[i][e] = estimate.allowance;
    }
    return column;
  });

  let worst: TensorGradcheckEntry | null = null;
  let failures = 0;
  for (let i = 0; i < points.length; i++) {
    for (let e = 0; e < points[i].length; e++) {
      const error = Math.abs(analytic[i][e] - numeric[i][e]);
      const allowance = allowances[i][e];
      const tolerance = atol + rtol * Math.abs(numeric[i][e]) + allowance;
      // Written as a negation so that a NaN error fails rather than passes.
      if (!(error <= tolerance)) failures++;
      if (worst === null || !(error / tolerance <= worst.error / worst.tolerance)) {
        worst = {
          input: i,
          index: e,
          analytic: analytic[i][e],
          numeric: numeric[i][e],
          error,
          allowance,
          tolerance,
        };
      }
    }
  }
  const report: TensorGradcheckReport = {
    output,
    analytic,
    numeric,
    allowances,
    worst,
    failures,
    passed: failures === 0,
  };
  if (failures > 0 && raise) {
    const w = worst as TensorGradcheckEntry;
    throw new TensorGradcheckError(
      `gradcheckTensor: ${failures} gradient element(s) disagree; worst: input ${w.input} ` +
        `${formatShape(shapes[w.input])} element ${w.index}: analytic ${w.analytic}, ` +
        `numeric ${w.numeric}, error ${w.error} > tolerance ${w.tolerance} ` +
        `(atol ${atol} + rtol ${rtol}·|numeric| + allowance ${w.allowance})`,
      report,
    );
  }
  return report;
}

function option(name: string, given: number | undefined, fallback: number, zero: boolean): number {
  if (given === undefined) return fallback;
  if (!(typeof given === "number" && given < Infinity && (zero ? given >= 0 : given > 0))) {
    throw new RangeError(
      `gradcheckTensor: ${name} must be a finite number ${zero ? "≥ 0" : "> 0"}, got ${given}`,
    );
  }
  return given;
}

function evaluate(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): Tensor {
  const out: unknown = fn(...inputs);
  if (!(out instanceof Tensor)) {
    throw new TypeError(`gradcheckTensor: fn must return a Tensor, got ${typeof out}`);
  }
  return out;
}

function project(out: Tensor, weights: Float64Array): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i] * out.data[i];
  return total;
}

function shifted(
  points: readonly Float64Array[],
  shapes: readonly (readonly number[])[],
  input: number,
  element: number,
  to: number,
): Tensor[] {
  return points.map((data, i) => {
    const copy = data.slice();
    if (i === input) copy[element] = to;
    return new Tensor(copy, shapes[i]);
  });
}
