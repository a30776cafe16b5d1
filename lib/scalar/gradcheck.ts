/**
 * Gradient checking: the engine's analytic gradients against central finite differences,
 * in the spirit of PyTorch's `torch.autograd.gradcheck`.
 *
 * The analytic gradient of each input comes from one `backward` on fresh leaf Values; the
 * numeric one from central differences `(f(x + h) − f(x − h)) / 2h` at three half-widths,
 * Richardson-extrapolated, evaluated in float64 on fresh graphs (forward only). The numeric
 * gradient is accurate enough (~1e-10 relative for smooth functions) that the default
 * tolerances catch a derivative off by one part in a million.
 *
 * @module
 */

import { extrapolatedDerivative, halfWidthFor } from "./_finite_difference.ts";
import { Value } from "./value.ts";

/**
 * Tolerances of PyTorch's `torch.autograd.gradcheck` (`atol` 1e-5, `rtol` 1e-3), for a
 * check as lenient as PyTorch's: it passes a derivative that is uniformly 0.1% wrong, so the
 * defaults are far tighter (see {@linkcode DEFAULT_GRADCHECK_TOLERANCES}).
 *
 * @example A derivative 0.01% wrong fails the default check but passes PyTorch's:
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradcheck, PYTORCH_GRADCHECK_TOLERANCES } from "./gradcheck.ts";
 * import { Value } from "./value.ts";
 * // x² with 1e-4·x hidden from the graph: the engine's gradient is 0.01% off at x = 1.
 * const off = (x: Value) => x.mul(x).add(new Value(2e-4 * x.data));
 * assert.ok(!gradcheck(off, [1], { raise: false }).passed);
 * assert.ok(gradcheck(off, [1], { ...PYTORCH_GRADCHECK_TOLERANCES }).passed);
 * ```
 */
export const PYTORCH_GRADCHECK_TOLERANCES: { readonly atol: number; readonly rtol: number } = Object
  .freeze({ atol: 1e-5, rtol: 1e-3 });

/**
 * The default tolerances: `atol` 1e-10, `rtol` 1e-7. The numerical derivative is accurate to
 * ~1e-10 relative for smooth functions (central differences with Richardson extrapolation),
 * so a derivative off by 1e-6 relative fails with a tenfold margin; near a kink or a pole the
 * computed allowance of each input widens the tolerance by the estimated uncertainty of the
 * finite differences there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_GRADCHECK_TOLERANCES } from "./gradcheck.ts";
 * assert.ok(DEFAULT_GRADCHECK_TOLERANCES.rtol < 1e-6);
 * ```
 */
export const DEFAULT_GRADCHECK_TOLERANCES: { readonly atol: number; readonly rtol: number } = Object
  .freeze({ atol: 1e-10, rtol: 1e-7 });

/** The default coarsest half-width of the central differences, relative to max(1, |x|). */
const DEFAULT_STEP = 1e-3;

/**
 * Options of {@linkcode gradcheck}.
 *
 * @example PyTorch's tolerances, and a report instead of an exception:
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GradcheckOptions } from "./gradcheck.ts";
 * const options: GradcheckOptions = { atol: 1e-5, rtol: 1e-3, raise: false };
 * assert.ok(options.raise === false);
 * ```
 */
export interface GradcheckOptions {
  /**
   * Coarsest half-width of the central differences, relative to the input's magnitude: input
   * x is moved by `step·max(1, |x|)`, then by a half and a quarter of that, and the three
   * differences are extrapolated. Finite and > 0 (default `1e-3`); make it smaller than the
   * distance to the nearest kink or pole.
   */
  readonly step?: number;
  /** Absolute tolerance: finite and ≥ 0 (default `1e-10`). */
  readonly atol?: number;
  /** Tolerance relative to the numeric gradient: finite and ≥ 0 (default `1e-7`). */
  readonly rtol?: number;
  /** Throw a {@linkcode GradcheckError} when a gradient disagrees (default `true`). */
  readonly raise?: boolean;
}

/**
 * What {@linkcode gradcheck} measured, input by input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradcheck, type GradcheckReport } from "./gradcheck.ts";
 * const report: GradcheckReport = gradcheck((x) => x.mul(x), [3]);
 * assert.ok(report.output === 9 && report.analytic[0] === 6);
 * assert.ok(Math.abs(report.numeric[0] - 6) < 1e-12);
 * ```
 */
export interface GradcheckReport {
  /** The point the gradients were taken at. */
  readonly inputs: readonly number[];
  /** `fn(...inputs)`. */
  readonly output: number;
  /** ∂fn/∂inputᵢ from `backward`. */
  readonly analytic: readonly number[];
  /** ∂fn/∂inputᵢ from extrapolated central differences. */
  readonly numeric: readonly number[];
  /** `|analyticᵢ − numericᵢ|`. */
  readonly errors: readonly number[];
  /**
   * The computed uncertainty of each numeric gradient: twice the gap between the two best
   * extrapolations (truncation) plus a bound on rounding. Tiny for a smooth function; large
   * when a difference straddles a kink or comes near a pole.
   */
  readonly allowances: readonly number[];
  /** The largest error allowed for each input: `atol + rtol·|numericᵢ| + allowanceᵢ`. */
  readonly tolerances: readonly number[];
  /** True when every error is within its tolerance. */
  readonly passed: boolean;
}

/**
 * Thrown by {@linkcode gradcheck} when an analytic gradient disagrees with the numeric one.
 * The message names the first disagreeing input; `report` holds every measurement.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradcheck, GradcheckError } from "./gradcheck.ts";
 * import { Value } from "./value.ts";
 * // A wrong derivative: hide x from the graph, so its gradient reads 0 instead of 1.
 * const wrong = (x: Value) => new Value(x.data);
 * try {
 *   gradcheck(wrong, [2]);
 *   throw new Error("not caught");
 * } catch (error) {
 *   assert.ok(error instanceof GradcheckError && !error.report.passed);
 * }
 * ```
 */
export class GradcheckError extends Error {
  /** Everything that was measured. */
  readonly report: GradcheckReport;

  /** An error describing the failed `report`. */
  constructor(message: string, report: GradcheckReport) {
    super(message);
    this.name = "GradcheckError";
    this.report = report;
  }
}

/**
 * Checks the gradients the engine computes for `fn` at `inputs` against numerical ones.
 *
 * The numeric gradient of input `i` is the Richardson extrapolation of three central
 * differences, at half-widths `h = step·max(1, |xᵢ|)`, `h/2` and `h/4`, all in float64: its
 * truncation error is O(h⁶), so for a smooth `fn` it is good to ~1e-10 relative. Input `i`
 * passes when `|analytic − numeric| ≤ atol + rtol·|numeric| + allowance`, where the allowance
 * is computed from the same evaluations (see {@linkcode GradcheckReport.allowances}). With
 * the defaults (`atol` 1e-10, `rtol` 1e-7) a derivative off by 1e-6 relative fails; pass
 * {@linkcode PYTORCH_GRADCHECK_TOLERANCES} for PyTorch's leniency.
 *
 * `fn` must build its result from the Values it is given and return a `Value`; it is called
 * once for the analytic gradients and six times per input for the numeric ones, each time on
 * fresh leaves, so it must not depend on anything it mutates.
 *
 * @throws {GradcheckError} when a gradient disagrees and `raise` is not `false`.
 * @throws {TypeError} when `fn` is not a function or returns something other than a Value.
 * @throws {RangeError} for an invalid option or input, or when `fn` is evaluated outside its
 * domain (the engine's own error, unchanged).
 *
 * @example The derivative of x·sin(x) is sin(x) + x·cos(x):
 * ```ts
 * import assert from "node:assert/strict";
 * import { gradcheck } from "./gradcheck.ts";
 * const report = gradcheck((x) => x.mul(x.sin()), [1.5]);
 * assert.ok(report.passed);
 * const exact = Math.sin(1.5) + 1.5 * Math.cos(1.5);
 * assert.ok(Math.abs(report.analytic[0] - exact) < 1e-15);
 * assert.ok(Math.abs(report.numeric[0] - exact) < 1e-10 * Math.abs(exact));
 * ```
 */
export function gradcheck(
  fn: (...xs: Value[]) => Value,
  inputs: readonly number[],
  options: GradcheckOptions = {},
): GradcheckReport {
  if (typeof fn !== "function") {
    throw new TypeError(`gradcheck: fn must be a function, got ${typeof fn}`);
  }
  const step = optionAbove("step", options.step, DEFAULT_STEP, false);
  const atol = optionAbove("atol", options.atol, DEFAULT_GRADCHECK_TOLERANCES.atol, true);
  const rtol = optionAbove("rtol", options.rtol, DEFAULT_GRADCHECK_TOLERANCES.rtol, true);
  const raise = options.raise ?? true;
  if (typeof raise !== "boolean") {
    throw new TypeError(`gradcheck: raise must be a boolean, got ${typeof raise} ${raise}`);
  }
  checkInputs(inputs);

  const leaves = inputs.map((x) => new Value(x));
  const out = evaluate(fn, leaves);
  out.backward();
  const analytic = leaves.map((leaf) => leaf.grad);

  const numeric: number[] = [];
  const allowances: number[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const estimate = extrapolatedDerivative((h) => {
      // Divide by the step actually taken: x ± h is rounded.
      const up = inputs[i] + h;
      const down = inputs[i] - h;
      const above = evaluate(fn, shifted(inputs, i, up)).data;
      const below = evaluate(fn, shifted(inputs, i, down)).data;
      return {
        delta: above - below,
        width: up - down,
        magnitude: Math.max(Math.abs(above), Math.abs(below)),
      };
    }, halfWidthFor(inputs[i], step));
    numeric.push(estimate.value);
    allowances.push(estimate.allowance);
  }

  const errors = analytic.map((g, i) => Math.abs(g - numeric[i]));
  const tolerances = numeric.map((g, i) => atol + rtol * Math.abs(g) + allowances[i]);
  // Written as a negation so that a NaN error fails rather than passes.
  const failing = errors.findIndex((e, i) => !(e <= tolerances[i]));
  const report: GradcheckReport = {
    inputs: [...inputs],
    output: out.data,
    analytic,
    numeric,
    errors,
    allowances,
    tolerances,
    passed: failing === -1,
  };
  if (failing !== -1 && raise) {
    throw new GradcheckError(failureMessage(report, failing, atol, rtol), report);
  }
  return report;
}

function optionAbove(
  name: string,
  given: number | undefined,
  fallback: number,
  zeroAllowed: boolean,
): number {
  if (given === undefined) return fallback;
  const ok = typeof given === "number" && given < Infinity &&
    (zeroAllowed ? given >= 0 : given > 0);
  if (!ok) {
    const bound = zeroAllowed ? "≥ 0" : "> 0";
    throw new RangeError(`gradcheck: ${name} must be a finite number ${bound}, got ${given}`);
  }
  return given;
}

function checkInputs(inputs: readonly number[]): void {
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new RangeError(`gradcheck: inputs must be a non-empty array of numbers, got ${inputs}`);
  }
  for (let i = 0; i < inputs.length; i++) {
    const x: unknown = inputs[i];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new RangeError(`gradcheck: input ${i} must be a finite number, got ${String(x)}`);
    }
  }
}

function shifted(inputs: readonly number[], index: number, to: number): Value[] {
  return inputs.map((x, i) => new Value(i === index ? to : x));
}

function evaluate(fn: (...xs: Value[]) => Value, leaves: Value[]): Value {
  const out: unknown = fn(...leaves);
  if (!(out instanceof Value)) {
    const shown = typeof out === "string" ? JSON.stringify(out) : String(out);
    throw new TypeError(`gradcheck: fn must return a Value, got ${typeof out} ${shown}`);
  }
  return out;
}

function failureMessage(report: GradcheckReport, i: number, atol: number, rtol: number): string {
  const others = report.errors.filter((e, j) => !(e <= report.tolerances[j])).length - 1;
  const also = others === 0 ? "" : ` (and ${others} more input${others === 1 ? "" : "s"})`;
  return `gradcheck: gradient of input ${i} (x${i} = ${report.inputs[i]}) disagrees${also}: ` +
    `analytic ${report.analytic[i]}, numeric ${report.numeric[i]}, ` +
    `error ${report.errors[i]} > tolerance ${report.tolerances[i]} ` +
    `(atol ${atol} + rtol ${rtol}·|numeric| + allowance ${report.allowances[i]}); inputs [${
      report.inputs.join(", ")
    }], ` +
    `output ${report.output}`;
}
