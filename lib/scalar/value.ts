/**
 * The scalar reverse-mode autodiff engine: `Value`, its ops, and `backward`.
 *
 * Every op builds a new `Value` whose `op`, `a` and `b` (or `constant`, when the second
 * operand is a plain number) remember how it was made; `backward` visits that graph in reverse
 * creation order, which is a reverse topological order, and applies each op's local
 * derivative from the registry in `ops.ts` (the chain rule, one edge at a time).
 *
 * @module
 */

import { isGradEnabled } from "./grad_mode.ts";
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

// Creation numbers. A node's inputs exist before it does, so they always hold smaller numbers:
// creation order is already a topological order, and `backward` sweeps it in reverse instead
// of first discovering an order. The numbers wrap below 2^30 so that the field stays a small
// integer for V8; a graph built across the wrap has an edge that goes up in number, which
// `backward` detects, and it then orders that graph by a depth-first search instead.
const STAMP_WRAP = 2 ** 30;
let stampCount = 0;

function nextStamp(): number {
  const stamp = stampCount;
  stampCount = stamp + 1 === STAMP_WRAP ? 0 : stamp + 1;
  return stamp;
}

/**
 * A scalar in a computational graph: its value `data`, the gradient `grad` that `backward`
 * computes for it, and the op and inputs that made it.
 *
 * Each op accepts a `Value` or a plain number and returns a new `Value`. A number operand is
 * no node of its own: the result keeps it in `constant` (with `b` null) and it receives no
 * gradient. Results and gradients that are not finite are refused with a `RangeError` naming
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
  /** The op's second input, or `null` for a leaf, a unary op, or a number operand. */
  b: Value | null;
  /**
   * The op's second operand when it was a plain number (`x.mul(2)` keeps 2 here and `b` is
   * `null`); 0 otherwise. A constant, so it receives no gradient.
   */
  constant: number;
  /**
   * Bookkeeping of `backward`. For an op's result, its creation number: a node made later
   * holds a larger one (until the count wraps at 2^30), so every input holds a smaller one
   * than the nodes made from it. For a leaf, the number of the last backward pass that
   * reached it, drawn from the same count.
   */
  stamp: number;

  /**
   * A leaf holding `data`, which must be a finite number.
   *
   * @throws {TypeError} when `data` is not a number.
   * @throws {RangeError} when `data` is NaN or ±Infinity.
   */
  constructor(data: number, options?: ValueOptions) {
    // V8 chooses a field's representation from the first value stored in it. Storing a
    // fraction first makes the number fields doubles from the start; had the first Value been
    // made from a small integer, the first fraction would migrate every live node to a new
    // hidden class (measured: ~50× slower on the first pass over 3M nodes). `stamp` is
    // meant to stay a small integer, which costs no separate heap number.
    this.data = 0.5;
    this.data = checkedNumber("Value", "data", data, false);
    this.grad = 0.5;
    this.grad = 0;
    this.op = null;
    this.a = null;
    this.b = null;
    this.constant = 0.5;
    this.constant = 0;
    this.stamp = nextStamp();
    if (options?.label !== undefined) labels.set(this, options.label);
  }

  /** A name for display, or `""`. */
  get label(): string {
    return labels.get(this) ?? "";
  }
  set label(name: string) {
    labels.set(this, name);
  }

  /**
   * A new leaf with the same `data` and no history: gradients stop here.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Value } from "./value.ts";
   * const x = new Value(3);
   * const y = x.mul(x.detach()); // the second factor is held constant
   * y.backward();
   * assert.equal(x.grad, 3);
   * ```
   */
  detach(): Value {
    return new Value(this.data);
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
    const b = denominator instanceof Value ? denominator.data : denominator;
    if (Math.abs(b) >= eps) return binary(ops.div, this, denominator);
    return binary(ops.div, this, b < 0 ? -eps : eps);
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
    // Creation order is a topological order, so one sweep in reverse creation order applies
    // the chain rule at each node after all of its consumers have handed it their share.
    // Where that order does not hold (nodes wired by hand, an op's result made more than 2^24
    // nodes before the rest, or the creation count wrapped), the sweep notices, puts back
    // every gradient it changed, and a depth-first search supplies the order instead.
    let outcome = sweep(this, null);
    if (outcome === OUT_OF_ORDER) outcome = sweep(this, ranksFromSearch(this));
    if (outcome !== null) throw outcome;
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

// How far ahead of the rank being visited the ring may reach: this many ranks, or a few times
// the nodes reached so far. Further lies an op's result made long before the rest of the
// graph; a ring reaching it would be mostly empty, so a search orders that graph instead.
const RING_LIMIT = 1 << 24;

/** What `sweep` returns when creation order is not a topological order of the graph. */
const OUT_OF_ORDER = "out of order";

/**
 * One backward pass from `root`: the chain rule at every node `root` depends on, consumers
 * before their inputs. Returns `null` on success, the error of a gradient that is not finite
 * (the gradients are then put back), or `OUT_OF_ORDER` (gradients put back too).
 *
 * Op results are visited by rank, 0 for the root: with `ranks` null, the distance back from
 * the root in creation order (`root.stamp − node.stamp`), otherwise the rank given. Every
 * input ranks after its consumers, so walking the ranks upward reaches each node after all of
 * its consumers have handed it their share: its gradient is then complete. Leaves need no
 * place in the order (they pass nothing on), only their sums.
 */
function sweep(
  root: Value,
  ranks: Map<Value, number> | null,
): RangeError | typeof OUT_OF_ORDER | null {
  const pass = new Pass(root, ranks);
  pass.reach(root, 1);
  for (let rank = 0; rank <= pass.last && pass.ok(); rank++) {
    const node = pass.take(rank);
    if (node === undefined) continue; // no op result of this graph has this rank
    const op = node.op as OpSpec;
    // The chain rule: each input receives ∂node/∂input · ∂root/∂node.
    const a = node.a as Value;
    const b = node.b;
    const bData = b === null ? node.constant : b.data;
    pass.hand(node, a, op.gradA(a.data, bData, node.data) * node.grad);
    if (b !== null && !op.constantB) {
      pass.hand(node, b, op.gradB(a.data, bData, node.data) * node.grad);
    }
  }
  return pass.finish();
}

/**
 * The bookkeeping of one `sweep`: the op results reached but not yet visited, in a ring of
 * slots indexed by rank (a chain needs two slots, however long it is), and the leaves that
 * held a gradient before the pass.
 */
class Pass {
  /** The highest rank reached so far. */
  last = 0;
  /** The first gradient found not finite: the sweep stops and the gradients are put back. */
  failure: RangeError | null = null;
  /** Set when an input does not rank after its consumer: this order cannot be used. */
  outOfOrder = false;
  // A leaf reached by this pass carries this stamp, drawn from the creation count so that a
  // leaf later wired by hand into an op's result still ranks after every input it had then.
  private readonly stamp = nextStamp();
  // Ranks from `visited + 1` to `last` live in the ring, at `rank & mask`.
  private visited = -1;
  private slots: (Value | undefined)[] = takeSpareSlots();
  private mask = this.slots.length - 1;
  private reachedCount = 0;
  // Leaves that held a gradient: their sum for this pass starts from 0, and what they held
  // is added back at the end (or restored after a failure). Usually none.
  private readonly heldLeaves: Value[] = [];
  private readonly heldGrads: number[] = [];

  constructor(readonly root: Value, readonly ranks: Map<Value, number> | null) {}

  /** Whether the sweep may go on. */
  ok(): boolean {
    return this.failure === null && !this.outOfOrder;
  }

  /** The op result of `rank`, if one was reached, and frees its slot. */
  take(rank: number): Value | undefined {
    this.visited = rank;
    const slot = rank & this.mask;
    const node = this.slots[slot];
    this.slots[slot] = undefined;
    return node;
  }

  /** Hands `share` of the gradient to `input`, an input of `consumer`, and checks the sum. */
  hand(consumer: Value, input: Value, share: number): void {
    const sum = this.reach(input, share);
    if (this.failure === null && !Number.isFinite(sum)) {
      this.failure = backwardError(consumer, share, sum);
    }
  }

  /**
   * Adds `share` to `node`'s gradient for this pass and returns the new sum. The first share
   * replaces what the node held (an op result's gradient is this pass's alone; a leaf's old
   * one is set aside).
   */
  reach(node: Value, share: number): number {
    if (node.op === null) {
      if (node.stamp === this.stamp) {
        node.grad += share;
        return node.grad;
      }
      node.stamp = this.stamp;
      if (node.grad !== 0) {
        this.heldLeaves.push(node);
        this.heldGrads.push(node.grad);
      }
      node.grad = 0 + share; // a sum from 0, as every gradient is: 0 + −0 is 0
      return node.grad;
    }
    const rank = this.ranks === null
      ? this.root.stamp - node.stamp
      : this.ranks.get(node) as number;
    const span = rank - this.visited;
    const tooFar = this.ranks === null && span > RING_LIMIT && span > 4 * this.reachedCount;
    if (!(span > 0) || tooFar) {
      // An input made after its consumer (wired by hand, or the count wrapped), or an op's
      // result made long before the rest of the graph: creation order will not do.
      this.outOfOrder = true;
      return 0;
    }
    if (span > this.mask) this.grow(span);
    const slot = rank & this.mask;
    const there = this.slots[slot];
    if (there === undefined) {
      this.slots[slot] = node;
      this.reachedCount++;
      if (rank > this.last) this.last = rank;
      node.grad = 0 + share;
      return node.grad;
    }
    if (there !== node) {
      this.outOfOrder = true; // two nodes with one creation number: the count wrapped
      return 0;
    }
    node.grad += share;
    return node.grad;
  }

  /** Makes room for ranks up to `span` beyond the last one visited. */
  private grow(span: number): void {
    let size = this.slots.length * 2;
    while (size <= span) size *= 2;
    const slots = new Array<Value | undefined>(size);
    for (let rank = this.visited + 1; rank <= this.last; rank++) {
      slots[rank & (size - 1)] = this.slots[rank & this.mask];
    }
    this.slots = slots;
    this.mask = size - 1;
  }

  /**
   * Ends the pass: on success, adds back to each leaf what it held. Otherwise puts every
   * gradient back: leaves this pass reached to what they held, every other node to 0.
   */
  finish(): RangeError | typeof OUT_OF_ORDER | null {
    for (let rank = this.visited + 1; rank <= this.last; rank++) this.take(rank);
    keepSpareSlots(this.slots);
    if (this.ok()) {
      for (let j = 0; j < this.heldLeaves.length && this.failure === null; j++) {
        const leaf = this.heldLeaves[j];
        const total = leaf.grad + this.heldGrads[j];
        if (Number.isFinite(total)) leaf.grad = total;
        else {
          this.failure = new RangeError(
            `backward: the gradient of a leaf (data ${leaf.data}) would become ${total}`,
          );
        }
      }
      if (this.failure === null) return null;
    }
    for (const node of topologicalOrder(this.root)) {
      if (node.op !== null || node.stamp === this.stamp) node.grad = 0;
    }
    for (let j = 0; j < this.heldLeaves.length; j++) {
      this.heldLeaves[j].grad = this.heldGrads[j];
    }
    if (!this.outOfOrder) return this.failure;
    if (this.ranks === null) return OUT_OF_ORDER;
    return new RangeError("backward: the graph has a cycle (a node is its own input)");
  }
}

// The ring of the last pass, left empty, for the next one: a training step's pass would
// otherwise spend a good part of its time making a new one. Kept only while small.
let spareSlots: (Value | undefined)[] | null = null;
const SPARE_SLOTS_LIMIT = 1 << 17;

function takeSpareSlots(): (Value | undefined)[] {
  const slots = spareSlots ?? new Array<Value | undefined>(1024).fill(undefined);
  spareSlots = null;
  return slots;
}

function keepSpareSlots(slots: (Value | undefined)[]): void {
  if (slots.length <= SPARE_SLOTS_LIMIT) spareSlots = slots;
}

/** Ranks from a depth-first search: the root 0, every input after all of its consumers. */
function ranksFromSearch(root: Value): Map<Value, number> {
  const order = topologicalOrder(root);
  const ranks = new Map<Value, number>();
  for (let i = 0; i < order.length; i++) ranks.set(order[i], order.length - 1 - i);
  return ranks;
}

/**
 * Every node `root` depends on, inputs before the nodes made from them, `root` last.
 *
 * Iterative depth-first search with an explicit stack, so a chain of millions of nodes does
 * not overflow the call stack. (`backward` does not need this list: creation order serves.)
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

/** `op` applied to `a`: the forward and the node that remembers it. */
function unary(op: OpSpec, a: Value): Value {
  const out = op.forward(a.data, 0);
  if (!Number.isFinite(out)) throw forwardError(op, a.data, null, out);
  return record(op, out, a, null, 0);
}

/**
 * `op` applied to `a` and `b`. A number `b` makes no node: the result keeps it as `constant`.
 */
function binary(op: OpSpec, a: Value, b: Value | number): Value {
  if (b instanceof Value) {
    const out = op.forward(a.data, b.data);
    if (!Number.isFinite(out)) throw forwardError(op, a.data, b.data, out);
    return record(op, out, a, b, 0);
  }
  const out = op.forward(a.data, b);
  if (!Number.isFinite(out)) throw forwardError(op, a.data, b, out);
  return record(op, out, a, null, b);
}

/** A `Value` operand as it is, a number operand checked to be finite: what `binary` takes. */
function lift(op: OpSpec, x: Value | number): Value | number {
  return x instanceof Value ? x : checkedNumber(op.name, "operand", x, true);
}

/** The node holding `data`; inside `noGrad` a plain leaf, so no graph is kept alive. */
function record(op: OpSpec, data: number, a: Value, b: Value | null, constant: number): Value {
  const node = new Value(data);
  if (isGradEnabled()) {
    node.op = op;
    node.a = a;
    node.b = b;
    node.constant = constant;
  }
  return node;
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

function call(op: OpSpec, a: number, b: number | null): string {
  return `${op.name}(${a}${b === null ? "" : `, ${b}`})`;
}

function forwardError(op: OpSpec, a: number, b: number | null, out: number): RangeError {
  return new RangeError(`${op.name}: ${call(op, a, b)} is ${out}, not a finite number`);
}

/** The error for `node`'s op when a share it handed, or the sum it made, is not finite. */
function backwardError(node: Value, share: number, sum: number): RangeError {
  const op = node.op as OpSpec;
  const a = (node.a as Value).data;
  const b = node.b !== null ? node.b.data : op.arity === 2 ? node.constant : null;
  return Number.isFinite(share)
    ? new RangeError(
      `${op.name}: at ${call(op, a, b)} the gradient share ${share} makes an input's sum ${sum}`,
    )
    : new RangeError(`${op.name}: the gradient at ${call(op, a, b)} is ${share}`);
}
