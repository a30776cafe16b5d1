/**
 * Gradient checking: the engine's analytic gradients against central finite differences,
 * in the spirit of PyTorch's `torch.autograd.gradcheck`.
 *
 * The analytic gradient of each input comes from one `backward` on fresh leaf Values; the
 * numeric one from `(f(x + h) − f(x − h)) / 2h`, evaluated in float64 on fresh graphs
 * (forward only), so a wrong local derivative anywhere in `fn` shows up as a disagreement.
 *
 * @module
 */

import { Value } from "./value.ts";

/**
 * Options of {@linkcode gradcheck}.
 *
 * @example Tighter tolerances, and a report instead of an exception:
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GradcheckOptions } from "./gradcheck.ts";
 * const options: GradcheckOptions = { atol: 1e-7, rtol: 1e-5, raise: false };
 * assert.ok(options.raise === false);
 * ```
 */
export interface GradcheckOptions {
  /** Half-width `h` of the central difference: finite and > 0 (default `1e-6`). */
  readonly step?: number;
  /** Absolute tolerance: finite and ≥ 0 (default `1e-5`). */
  readonly atol?: number;
  /** Tolerance relative to the numeric gradient: finite and ≥ 0 (default `1e-3`). */
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
 * ```
 */
export interface GradcheckReport {
  /** The point the gradients were taken at. */
  readonly inputs: readonly number[];
  /** `fn(...inputs)`. */
  readonly output: number;
  /** ∂fn/∂inputᵢ from `backward`. */
  readonly analytic: readonly number[];
  /** ∂fn/∂inputᵢ from central differences. */
  readonly numeric: readonly number[];
  /** `|analyticᵢ − numericᵢ|`. */
  readonly errors: readonly number[];
  /** The largest error allowed for each input: `atol + rtol·|numericᵢ|`. */
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
 * Checks the gradients the engine computes for `fn` at `inputs` against central finite
 * differences. Input `i` passes when `|analytic − numeric| ≤ atol + rtol·|numeric|`.
 *
 * `fn` must build its result from the Values it is given and return a `Value`; it is called
 * once for the analytic gradients and twice per input for the numeric ones, each time on
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
 * assert.ok(Math.abs(report.analytic[0] - (Math.sin(1.5) + 1.5 * Math.cos(1.5))) < 1e-15);
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
  const step = optionAbove("step", options.step, 1e-6, false);
  const atol = optionAbove("atol", options.atol, 1e-5, true);
  const rtol = optionAbove("rtol", options.rtol, 1e-3, true);
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
  for (let i = 0; i < inputs.length; i++) {
    // Divide by the step actually taken: x ± h is rounded, and the rounding matters at 1e-6.
    const up = inputs[i] + step;
    const down = inputs[i] - step;
    const above = evaluate(fn, shifted(inputs, i, up)).data;
    const below = evaluate(fn, shifted(inputs, i, down)).data;
    numeric.push((above - below) / (up - down));
  }

  const errors = analytic.map((g, i) => Math.abs(g - numeric[i]));
  const tolerances = numeric.map((g) => atol + rtol * Math.abs(g));
  // Written as a negation so that a NaN error fails rather than passes.
  const failing = errors.findIndex((e, i) => !(e <= tolerances[i]));
  const report: GradcheckReport = {
    inputs: [...inputs],
    output: out.data,
    analytic,
    numeric,
    errors,
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
    `(atol ${atol} + rtol ${rtol}·|numeric|); inputs [${report.inputs.join(", ")}], ` +
    `output ${report.output}`;
}
