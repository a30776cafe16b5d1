/**
 * The scalar reverse-mode autodiff engine: `Value`, its ops, and `backward`.
 *
 * Every op builds a new `Value` whose `op`, `a` and `b` remember how it was made; `backward`
 * walks that graph in reverse topological order and applies each op's local derivative
 * from the registry in `ops.ts` (the chain rule, one edge at a time).
 *
 * @module
 */

import { ops, type OpSpec } from "./ops.ts";

/**
 * The smallest magnitude `div` lets a denominator have, unless a call names its own `eps`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_EPS, Value } from "./value.ts";
 * assert.ok(new Value(1).div(0).data === 1 / DEFAULT_EPS);
 * ```
 */
export const DEFAULT_EPS = 1e-12;

/**
 * Options of {@linkcode Value.div}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DivOptions, Value } from "./value.ts";
 * const options: DivOptions = { eps: 0.5 };
 * assert.ok(new Value(1).div(0.1, options).data === 2);
 * ```
 */
export interface DivOptions {
  /** Smallest magnitude of the denominator actually used (default {@linkcode DEFAULT_EPS}). */
  readonly eps?: number;
}

/**
 * Options of the {@linkcode Value} constructor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Value, type ValueOptions } from "./value.ts";
 * const options: ValueOptions = { label: "w" };
 * assert.ok(new Value(0, options).label === "w");
 * ```
 */
export interface ValueOptions {
  /** A name for display in `toString` and graph drawings. */
  readonly label?: string;
}

// Labels are for display and rare, so they live beside the graph instead of costing every
// node a field.
const labels = new WeakMap<Value, string>();

/**
 * A scalar in a computational graph: its value `data`, the gradient `grad` that `backward`
 * computes for it, and the op and inputs that made it.
 *
 * Each op accepts a `Value` or a plain number (lifted to a leaf `Value`) and returns a new
 * `Value`. Results and gradients that are not finite are refused with a `RangeError` naming
 * the op and the offending value, so the engine never holds NaN or ±Infinity silently.
 *
 * @example The seed's training loop: fit w so that w·2 = 8.
 * ```ts
 * import assert from "node:assert/strict";
 * import { Value } from "./value.ts";
 * const w = new Value(0);
 * const x = new Value(2);
 * const yTrue = new Value(8);
 * for (let step = 0; step < 50; step++) {
 *   const loss = w.mul(x).sub(yTrue).pow(2);
 *   loss.backward();
 *   w.data -= 0.1 * w.grad;
 *   w.grad = 0;
 * }
 * assert.ok(Math.abs(w.data - 4) < 1e-9);
 * ```
 */
export class Value {
  /** The number this node holds; free to change between passes (that is how we train). */
  data: number;
  /** ∂root/∂this after `backward`; leaves accumulate it across calls until zeroed. */
  grad: number;
  /** The registry op that produced this node, or `null` for a leaf. */
  op: OpSpec | null;
  /** The op's first input, or `null` for a leaf. */
  a: Value | null;
  /** The op's second input, or `null` for a leaf or a unary op. */
  b: Value | null;
  /**
   * During `backward`: how many of this node's consumers have yet to hand it their gradient.
   * 0 at every other time, which is how a walk knows it has not reached the node yet.
   */
  pending: number;

  /**
   * A leaf holding `data`, which must be a finite number.
   *
   * @throws {TypeError} when `data` is not a number.
   * @throws {RangeError} when `data` is NaN or ±Infinity.
   */
  constructor(data: number, options?: ValueOptions) {
    // V8 chooses a field's representation from the first value stored in it. Storing a
    // fraction first makes `data` and `grad` double fields from the start; had the first
    // Value been made from a small integer, the first fraction would migrate every live
    // node to a new hidden class (measured: ~50× slower on the first pass over 3M nodes).
    this.data = 0.5;
    this.data = checkedNumber("Value", "data", data, false);
    this.grad = 0.5;
    this.grad = 0;
    this.op = null;
    this.a = null;
    this.b = null;
    this.pending = 0;
    if (options?.label !== undefined) labels.set(this, options.label);
  }

  /** A name for display, or `""`. */
  get label(): string {
    return labels.get(this) ?? "";
  }
  set label(name: string) {
    labels.set(this, name);
  }

  /** this + other */
  add(other: Value | number): Value {
    return binary(ops.add, this, lift(ops.add, other));
  }
  /** this − other */
  sub(other: Value | number): Value {
    return binary(ops.sub, this, lift(ops.sub, other));
  }
  /** this · other */
  mul(other: Value | number): Value {
    return binary(ops.mul, this, lift(ops.mul, other));
  }
  /**
   * this / other, with the denominator's magnitude kept at least `eps` (sign kept, 0 counts
   * as positive). Where |other| < eps the result is this / (±eps), a function that does not
   * depend on `other`, so `other` receives no gradient: the derivative of what is computed.
   *
   * @throws {RangeError} when `eps` is negative or not finite.
   */
  div(other: Value | number, options?: DivOptions): Value {
    const eps = options?.eps ?? DEFAULT_EPS;
    if (!(eps >= 0 && eps < Infinity)) {
      throw new RangeError(`div: eps must be a finite number ≥ 0, got ${eps}`);
    }
    const denominator = lift(ops.div, other);
    if (Math.abs(denominator.data) >= eps) return binary(ops.div, this, denominator);
    return binary(ops.div, this, new Value(denominator.data < 0 ? -eps : eps));
  }
  /**
   * this ** exponent. A number exponent is a constant (any base, if it is whole); a `Value`
   * exponent is differentiated too, which needs a positive base.
   *
   * @throws {RangeError} for a `Value` exponent of a non-positive base, or a non-finite result.
   */
  pow(exponent: Value | number): Value {
    if (exponent instanceof Value) {
      if (!(this.data > 0)) {
        throw new RangeError(
          `pow: a Value exponent needs a positive base (d/db a^b = a^b·ln a), got base ${this.data}`,
        );
      }
      return binary(ops.pow, this, exponent);
    }
    return binary(ops.powConst, this, lift(ops.powConst, exponent));
  }
  /** −this */
  neg(): Value {
    return unary(ops.neg, this);
  }
  /** e^this */
  exp(): Value {
    return unary(ops.exp, this);
  }
  /** Natural logarithm; `this` must be positive. */
  log(): Value {
    return unary(ops.log, this);
  }
  /** Square root; `this` must be ≥ 0 (and > 0 for a gradient). */
  sqrt(): Value {
    return unary(ops.sqrt, this);
  }
  /** |this|, with derivative 0 at 0. */
  abs(): Value {
    return unary(ops.abs, this);
  }
  /** Hyperbolic tangent. */
  tanh(): Value {
    return unary(ops.tanh, this);
  }
  /** max(this, 0), with derivative 0 at 0. */
  relu(): Value {
    return unary(ops.relu, this);
  }
  /** 1 / (1 + e^−this), computed without overflow. */
  sigmoid(): Value {
    return unary(ops.sigmoid, this);
  }
  /** log(1 + e^this), computed without overflow. */
  softplus(): Value {
    return unary(ops.softplus, this);
  }
  /** GELU, ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as GPT-2 computes it. */
  gelu(): Value {
    return unary(ops.gelu, this);
  }
  /** Sine. */
  sin(): Value {
    return unary(ops.sin, this);
  }
  /** Cosine. */
  cos(): Value {
    return unary(ops.cos, this);
  }
  /**
   * The larger of this and `other`. At a tie the gradient goes to `this` alone (a
   * subgradient, as a reduction's goes to the first largest element).
   */
  max(other: Value | number): Value {
    return binary(ops.max, this, lift(ops.max, other));
  }
  /** The smaller of this and `other`; at a tie the gradient goes to `this` alone. */
  min(other: Value | number): Value {
    return binary(ops.min, this, lift(ops.min, other));
  }
  /**
   * This kept within [`low`, `high`]: `this.max(low).min(high)`. The gradient is 1 inside
   * the interval (and on its bounds) and 0 outside, as in PyTorch.
   *
   * @throws {TypeError} when a bound is not a number.
   * @throws {RangeError} when a bound is not finite or `low > high`.
   */
  clamp(low: number, high: number): Value {
    checkedNumber("clamp", "low", low, false);
    checkedNumber("clamp", "high", high, false);
    if (low > high) throw new RangeError(`clamp: low ${low} is greater than high ${high}`);
    return this.max(low).min(high);
  }

  /**
   * Fills `grad` with ∂this/∂node for every node this depends on, by the chain rule in
   * reverse topological order. Leaves add this pass's gradient to what they held; every
   * other node holds this pass's gradient alone, so calling `backward` twice gives leaves
   * exactly twice the gradient.
   *
   * @throws {RangeError} when a gradient is not finite, naming the op; the leaves then keep
   * the gradients they had before the call and the other nodes are cleared to 0.
   */
  backward(): void {
    // Like PyTorch's autograd engine, count dependencies instead of materialising a
    // topological order: a node is ready once each of its consumers has handed it its share.
    // Nodes are then processed in a reverse topological order (Kahn's algorithm), and no
    // array as long as the graph is ever built.
    //
    // Pass 1: reach every node once (its `pending` is still 0), count its consumers and zero
    // its gradient. A leaf's gradient is first set aside, so this pass's can be added to it
    // and a failure can put it back; leaves already at 0 (the usual case) need no record.
    const heldLeaves: Value[] = [];
    const heldGrads: number[] = [];
    const stack: Value[] = [this];
    while (stack.length > 0) {
      const node = stack.pop() as Value;
      if (node.op === null && node.grad !== 0) {
        heldLeaves.push(node);
        heldGrads.push(node.grad);
      }
      node.grad = 0;
      const a = node.a;
      if (a !== null && a.pending++ === 0) stack.push(a);
      const b = node.b;
      if (b !== null && b.pending++ === 0) stack.push(b);
    }
    // Pass 2: the chain rule, one ready node at a time. After a failure the walk still runs
    // to the end, without arithmetic, so that every `pending` returns to 0.
    let failure: RangeError | null = null;
    this.grad = 1;
    stack.push(this);
    while (stack.length > 0) {
      const node = stack.pop() as Value;
      if (failure === null) failure = propagate(node);
      const a = node.a;
      if (a !== null && --a.pending === 0 && a.op !== null) stack.push(a);
      const b = node.b;
      if (b !== null && --b.pending === 0 && b.op !== null) stack.push(b);
    }
    for (let i = 0; i < heldLeaves.length && failure === null; i++) {
      const total = heldLeaves[i].grad + heldGrads[i];
      if (!Number.isFinite(total)) {
        failure = new RangeError(
          `backward: the gradient of a leaf (data ${heldLeaves[i].data}) would become ${total}`,
        );
      }
    }
    if (failure !== null) {
      // Every leaf held 0 unless set aside above; interior nodes are cleared.
      for (const node of topologicalOrder(this)) node.grad = 0;
      for (let i = 0; i < heldLeaves.length; i++) heldLeaves[i].grad = heldGrads[i];
      throw failure;
    }
    for (let i = 0; i < heldLeaves.length; i++) heldLeaves[i].grad += heldGrads[i];
  }

  /** A readable summary, e.g. `Value(data=6, grad=1, op=mul)`. */
  toString(): string {
    const name = this.label === "" ? "" : `${this.label}, `;
    const made = this.op === null ? "" : `, op=${this.op.name}`;
    return `Value(${name}data=${this.data}, grad=${this.grad}${made})`;
  }

  /** How `console.log` shows a Value in Deno. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

/**
 * Applies the chain rule at one node: hands its gradient to its inputs. Each sum is checked
 * as it grows, so a gradient that is or becomes non-finite is caught at the op responsible.
 */
function propagate(out: Value): RangeError | null {
  const op = out.op;
  if (op === null) return null;
  const a = out.a as Value;
  const b = out.b;
  const bData = b === null ? 0 : b.data;
  const gradA = op.gradA(a.data, bData, out.data) * out.grad;
  a.grad += gradA;
  if (!Number.isFinite(a.grad)) return backwardError(op, a, b, gradA, a.grad);
  if (b !== null && !op.constantB) {
    const gradB = op.gradB(a.data, bData, out.data) * out.grad;
    b.grad += gradB;
    if (!Number.isFinite(b.grad)) return backwardError(op, a, b, gradB, b.grad);
  }
  return null;
}

/**
 * Every node `root` depends on, inputs before the nodes made from them, `root` last.
 *
 * Iterative depth-first search with an explicit stack, so a chain of millions of nodes does
 * not overflow the call stack. (`backward` does not need this list: it counts dependencies.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topologicalOrder, Value } from "./value.ts";
 * const x = new Value(3);
 * const y = x.mul(x).add(1);
 * assert.ok(topologicalOrder(y).at(-1) === y);
 * ```
 */
export function topologicalOrder(root: Value): Value[] {
  const order: Value[] = [];
  const emitted = new Map<Value, boolean>(); // absent: not reached; false: inputs pending
  const stack: Value[] = [root];
  while (stack.length > 0) {
    const node = stack[stack.length - 1];
    const state = emitted.get(node);
    if (state === undefined) {
      // First visit: explore the inputs; the node is emitted when it comes back to the top.
      emitted.set(node, false);
      if (node.b !== null && !emitted.has(node.b)) stack.push(node.b);
      if (node.a !== null && !emitted.has(node.a)) stack.push(node.a);
    } else {
      stack.pop();
      if (!state) {
        emitted.set(node, true);
        order.push(node);
      }
    }
  }
  return order;
}

function unary(op: OpSpec, a: Value): Value {
  const out = op.forward(a.data, 0);
  if (!Number.isFinite(out)) throw forwardError(op, a, null, out);
  const node = new Value(out);
  node.op = op;
  node.a = a;
  return node;
}

function binary(op: OpSpec, a: Value, b: Value): Value {
  const out = op.forward(a.data, b.data);
  if (!Number.isFinite(out)) throw forwardError(op, a, b, out);
  const node = new Value(out);
  node.op = op;
  node.a = a;
  node.b = b;
  return node;
}

function lift(op: OpSpec, x: Value | number): Value {
  return x instanceof Value ? x : new Value(checkedNumber(op.name, "operand", x, true));
}

function checkedNumber(where: string, what: string, x: unknown, orValue: boolean): number {
  if (typeof x !== "number") {
    const shown = x instanceof Value
      ? x.toString()
      : typeof x === "string"
      ? JSON.stringify(x)
      : String(x);
    const expected = orValue ? "a number or a Value" : "a number";
    throw new TypeError(`${where}: ${what} must be ${expected}, got ${typeof x} ${shown}`);
  }
  if (!Number.isFinite(x)) throw new RangeError(`${where}: ${what} must be finite, got ${x}`);
  return x;
}

function call(op: OpSpec, a: Value, b: Value | null): string {
  return `${op.name}(${a.data}${b === null ? "" : `, ${b.data}`})`;
}

function forwardError(op: OpSpec, a: Value, b: Value | null, out: number): RangeError {
  return new RangeError(`${op.name}: ${call(op, a, b)} is ${out}, not a finite number`);
}

function backwardError(
  op: OpSpec,
  a: Value,
  b: Value | null,
  share: number,
  sum: number,
): RangeError {
  return Number.isFinite(share)
    ? new RangeError(
      `${op.name}: at ${call(op, a, b)} the gradient share ${share} makes an input's sum ${sum}`,
    )
    : new RangeError(`${op.name}: the gradient at ${call(op, a, b)} is ${share}`);
}
