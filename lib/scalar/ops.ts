/**
 * The op registry: every differentiable scalar op, declared once as plain data.
 *
 * An op is a forward function and its local derivatives side by side, plus the input domain
 * on which those derivatives are valid. The `Value` engine reads `forward`, `gradA` and `gradB`;
 * the test suite reads `domains` and turns them into random inputs, so an op added here is
 * gradient-checked without anyone writing a test for it.
 *
 * This module holds numbers only: it imports nothing, so the engine and the tests can both
 * depend on it without a cycle.
 *
 * @module
 */

/**
 * The interval one input of an op is drawn from when the op is gradient-checked.
 *
 * @example Inputs of `log`: strictly positive, and far enough from 0 that the pole does not
 * spoil a central difference.
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InputDomain } from "./ops.ts";
 * const positive: InputDomain = { min: 0.05, max: 5 };
 * assert.ok(positive.min > 0);
 * ```
 */
export interface InputDomain {
  /** Smallest value drawn. */
  readonly min: number;
  /** Largest value drawn. */
  readonly max: number;
  /** Points a finite difference must not straddle: kinks, poles and discontinuities. */
  readonly avoid?: readonly number[];
  /** How far a drawn value stays from every avoided point (default {@link DEFAULT_CLEARANCE}). */
  readonly clearance?: number;
  /** Draw whole numbers only (e.g. an integer exponent of a negative base). */
  readonly integer?: boolean;
}

/**
 * Distance kept from an avoided point when an {@linkcode InputDomain} names none. Gradient
 * checks near such a point take their step from this clearance, so that no difference crosses
 * the kink or pole.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CLEARANCE } from "./ops.ts";
 * assert.ok(DEFAULT_CLEARANCE > 0 && DEFAULT_CLEARANCE < 1);
 * ```
 */
export const DEFAULT_CLEARANCE = 1e-3;

/**
 * An op of one or two number inputs, `out = forward(a, b)`, with its local derivatives.
 *
 * The derivatives receive the output too, because many are cheapest in terms of it
 * (`tanh' = 1 - out²`, `exp' = out`). For a unary op `b` is unused and `gradB` is never called.
 *
 * @example Declaring an op (cube) the way the registry does:
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OpSpec } from "./ops.ts";
 * const cube: OpSpec = {
 *   name: "cube",
 *   arity: 1,
 *   forward: (a) => a * a * a,
 *   gradA: (a) => 3 * a * a,
 *   gradB: () => 0,
 *   domains: [[{ min: -3, max: 3 }]],
 *   constantB: false,
 * };
 * assert.ok(cube.forward(2, 0) === 8);
 * ```
 */
export interface OpSpec {
  /** The op's name, as used in error messages and graph drawings. */
  readonly name: string;
  /** How many inputs it takes: 1 (unary) or 2 (binary). */
  readonly arity: 1 | 2;
  /** The function itself. */
  forward(a: number, b: number): number;
  /** ∂out/∂a at (a, b), where out = forward(a, b). */
  gradA(a: number, b: number, out: number): number;
  /** ∂out/∂b at (a, b); zero for unary ops and for inputs that are held constant. */
  gradB(a: number, b: number, out: number): number;
  /**
   * Where the derivatives may be checked: each domain is one interval per input, and the
   * union of the domains is the op's checked domain (several describe disjoint regions).
   */
  readonly domains: readonly (readonly InputDomain[])[];
  /** True when the second input is a constant that receives no gradient (e.g. `x ** 2`). */
  readonly constantB: boolean;
}

function stableSigmoid(x: number): number {
  // exp of a large positive number overflows, so only ever exponentiate a non-positive one.
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

// GELU in the tanh form of Hendrycks & Gimpel (as GPT-2 uses it): JavaScript has no erf.
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

const anywhere: InputDomain = { min: -5, max: 5 };
const positive: InputDomain = { min: 0.05, max: 5 };
const nonZero: InputDomain = { min: -5, max: 5, avoid: [0], clearance: 0.2 };
// Two disjoint intervals: a pair drawn one from each is never tied (min and max kink at a = b).
const below: InputDomain = { min: -5, max: -0.1 };
const above: InputDomain = { min: 0.1, max: 5 };
function zero(): number {
  return 0;
}

/**
 * Builds every op with the same fields in the same order, so the engine's reads of
 * `op.forward`, `op.gradA` and `op.gradB` see one object shape and stay monomorphic.
 */
function defineOp(spec: Omit<OpSpec, "constantB"> & { constantB?: boolean }): OpSpec {
  return Object.freeze({
    name: spec.name,
    arity: spec.arity,
    forward: spec.forward,
    gradA: spec.gradA,
    gradB: spec.gradB,
    domains: spec.domains,
    constantB: spec.constantB ?? false,
  });
}

/**
 * The registry: every differentiable op of the scalar engine, in one place. Frozen, so V8 can
 * treat each op as a constant where the engine names it.
 *
 * @example An op's forward and local derivative, side by side, and the domain it is checked on:
 * ```ts
 * import assert from "node:assert/strict";
 * import { ops } from "./ops.ts";
 * const x = 0.5;
 * const y = ops.tanh.forward(x, 0);
 * assert.equal(ops.tanh.gradA(x, 0, y), 1 - Math.tanh(x) ** 2);
 * assert.equal(ops.log.domains[0][0].min > 0, true); // log is checked on positive inputs
 * assert.equal(ops.max.gradB(1, 2, 2), 1); // the larger input takes the gradient
 * ```
 */
export const ops: Readonly<Record<OpName, OpSpec>> = Object.freeze({
  add: defineOp({
    name: "add",
    arity: 2,
    forward: (a, b) => a + b,
    gradA: () => 1,
    gradB: () => 1,
    domains: [[anywhere, anywhere]],
  }),
  sub: defineOp({
    name: "sub",
    arity: 2,
    forward: (a, b) => a - b,
    gradA: () => 1,
    gradB: () => -1,
    domains: [[anywhere, anywhere]],
  }),
  mul: defineOp({
    name: "mul",
    arity: 2,
    forward: (a, b) => a * b,
    gradA: (_a, b) => b,
    gradB: (a) => a,
    domains: [[anywhere, anywhere]],
  }),
  div: defineOp({
    name: "div",
    arity: 2,
    forward: (a, b) => a / b,
    gradA: (_a, b) => 1 / b,
    gradB: (_a, b, out) => -out / b,
    domains: [[anywhere, nonZero]],
  }),
  pow: defineOp({
    // Exponent is a graph input: d/db a^b = a^b · ln a needs a > 0.
    name: "pow",
    arity: 2,
    forward: (a, b) => Math.pow(a, b),
    gradA: (a, b) => b * Math.pow(a, b - 1),
    gradB: (a, _b, out) => out * Math.log(a),
    domains: [[{ min: 0.1, max: 4 }, { min: -3, max: 3 }]],
  }),
  powConst: defineOp({
    // Exponent is a fixed number, so a negative base is fine when the exponent is whole.
    name: "pow",
    arity: 2,
    forward: (a, b) => Math.pow(a, b),
    gradA: (a, b) => b * Math.pow(a, b - 1),
    gradB: zero,
    constantB: true,
    domains: [
      [{ min: -3, max: 3, avoid: [0], clearance: 0.2 }, { min: -3, max: 4, integer: true }],
      [{ min: 0.1, max: 4 }, { min: -2.5, max: 2.5 }],
    ],
  }),
  neg: defineOp({
    name: "neg",
    arity: 1,
    forward: (a) => -a,
    gradA: () => -1,
    gradB: zero,
    domains: [[anywhere]],
  }),
  exp: defineOp({
    name: "exp",
    arity: 1,
    forward: (a) => Math.exp(a),
    gradA: (_a, _b, out) => out,
    gradB: zero,
    domains: [[anywhere]],
  }),
  log: defineOp({
    name: "log",
    arity: 1,
    forward: (a) => Math.log(a),
    gradA: (a) => 1 / a,
    gradB: zero,
    domains: [[positive]],
  }),
  sqrt: defineOp({
    name: "sqrt",
    arity: 1,
    forward: (a) => Math.sqrt(a),
    gradA: (_a, _b, out) => 0.5 / out,
    gradB: zero,
    domains: [[positive]],
  }),
  abs: defineOp({
    // At the kink itself the derivative is taken as 0, as PyTorch does.
    name: "abs",
    arity: 1,
    forward: (a) => Math.abs(a),
    gradA: (a) => (a > 0 ? 1 : a < 0 ? -1 : 0),
    gradB: zero,
    domains: [[{ ...anywhere, avoid: [0] }]],
  }),
  tanh: defineOp({
    name: "tanh",
    arity: 1,
    forward: (a) => Math.tanh(a),
    gradA: (_a, _b, out) => 1 - out * out,
    gradB: zero,
    domains: [[anywhere]],
  }),
  relu: defineOp({
    name: "relu",
    arity: 1,
    forward: (a) => (a > 0 ? a : 0),
    gradA: (a) => (a > 0 ? 1 : 0),
    gradB: zero,
    domains: [[{ ...anywhere, avoid: [0] }]],
  }),
  sigmoid: defineOp({
    name: "sigmoid",
    arity: 1,
    forward: stableSigmoid,
    gradA: (_a, _b, out) => out * (1 - out),
    gradB: zero,
    domains: [[{ min: -10, max: 10 }]],
  }),
  softplus: defineOp({
    // log(1 + e^a) without overflow: max(a, 0) + log1p(e^-|a|).
    name: "softplus",
    arity: 1,
    forward: (a) => Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a))),
    gradA: (a) => stableSigmoid(a),
    gradB: zero,
    domains: [[{ min: -10, max: 10 }]],
  }),
  gelu: defineOp({
    // x·Φ(x) ≈ ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³), as GPT-2 computes it, written
    // as x·σ(2u) (½(1 + tanh u) = σ(2u) = 1/(1 + e^(−2u))): one Math.exp instead of a
    // Math.tanh, the slowest of V8's elementary functions, in every transformer's MLP.
    name: "gelu",
    arity: 1,
    forward: (a) => a / (1 + Math.exp(-2 * GELU_C * (a + GELU_K * a * a * a))),
    // d/dx x·σ(2u) = σ + 2x·σ(1 − σ)·u′, with σ = out/x read back from the result (near
    // x = 0, where out may be subnormal, σ = ½ to within ε).
    gradA: (a, _, out) => {
      const s = Math.abs(a) < 1e-30 ? 0.5 : out / a;
      return s + 2 * a * s * (1 - s) * GELU_C * (1 + 3 * GELU_K * a * a);
    },
    gradB: zero,
    domains: [[{ min: -4, max: 4 }]],
  }),
  sin: defineOp({
    name: "sin",
    arity: 1,
    forward: (a) => Math.sin(a),
    gradA: (a) => Math.cos(a),
    gradB: zero,
    domains: [[anywhere]],
  }),
  cos: defineOp({
    name: "cos",
    arity: 1,
    forward: (a) => Math.cos(a),
    gradA: (a) => -Math.sin(a),
    gradB: zero,
    domains: [[anywhere]],
  }),
  max: defineOp({
    // The kink is the line a = b: checked on each side of it. At a tie the whole gradient
    // goes to the first input, as a reduction's goes to the first largest element.
    name: "max",
    arity: 2,
    forward: (a, b) => (a >= b ? a : b),
    gradA: (a, b) => (a >= b ? 1 : 0),
    gradB: (a, b) => (a >= b ? 0 : 1),
    domains: [[below, above], [above, below]],
  }),
  min: defineOp({
    name: "min",
    arity: 2,
    forward: (a, b) => (a <= b ? a : b),
    gradA: (a, b) => (a <= b ? 1 : 0),
    gradB: (a, b) => (a <= b ? 0 : 1),
    domains: [[below, above], [above, below]],
  }),
});

/**
 * The name under which an op is registered in {@linkcode ops}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type OpName, ops } from "./ops.ts";
 * const name: OpName = "tanh";
 * assert.ok(ops[name].arity === 1);
 * ```
 */
export type OpName =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "powConst"
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "abs"
  | "tanh"
  | "relu"
  | "sigmoid"
  | "softplus"
  | "gelu"
  | "sin"
  | "cos"
  | "max"
  | "min";
