/**
 * fast-check arbitraries built from the op registry's plain-data input domains, and random
 * expression DAGs, so that lib/ never imports a test library.
 */

import { fc } from "../_seed.ts";
import { DEFAULT_CLEARANCE, type InputDomain, Value } from "../../mod.ts";

/** True when `x` keeps at least the domain's clearance from every avoided point. */
export function clearOfAvoided(domain: InputDomain, x: number): boolean {
  const clearance = domain.clearance ?? DEFAULT_CLEARANCE;
  return (domain.avoid ?? []).every((point) => Math.abs(x - point) >= clearance);
}

/**
 * The gradcheck step for inputs drawn from `domains`: 1e-3, or less where needed so that no
 * central difference (half-width step·max(1, |x|)) reaches halfway to an avoided point.
 */
export function checkStep(domains: readonly InputDomain[]): number {
  let step = 1e-3;
  for (const d of domains) {
    if (d.avoid === undefined || d.avoid.length === 0) continue;
    const reach = Math.max(1, Math.abs(d.min), Math.abs(d.max));
    step = Math.min(step, (d.clearance ?? DEFAULT_CLEARANCE) / (2 * reach));
  }
  return step;
}

/** Numbers of one input domain: within [min, max], clear of avoided points, whole if asked. */
export function domainArbitrary(domain: InputDomain): fc.Arbitrary<number> {
  const numbers = domain.integer
    ? fc.integer({ min: Math.ceil(domain.min), max: Math.floor(domain.max) })
    : fc.double({ min: domain.min, max: domain.max, noNaN: true, noDefaultInfinity: true });
  return numbers.filter((x) => clearOfAvoided(domain, x));
}

/** One number per input, drawn from the matching domain of the tuple. */
export function domainTupleArbitrary(domains: readonly InputDomain[]): fc.Arbitrary<number[]> {
  return fc.tuple(...domains.map(domainArbitrary));
}

/** True when `x` lies in `domain` and clear of its avoided points (used to test the above). */
export function inDomain(domain: InputDomain, x: number): boolean {
  return Number.isFinite(x) && x >= domain.min && x <= domain.max &&
    (!domain.integer || Number.isInteger(x)) && clearOfAvoided(domain, x);
}

// ---------------------------------------------------------------------------------------
// Random expression DAGs
// ---------------------------------------------------------------------------------------

/**
 * The DAG's building blocks. Each is defined on all reals (partial ops are wrapped so that
 * their argument stays in their domain), so any pool node can feed any instruction.
 */
export const dagOps = {
  add: (p: Value, q: Value) => p.add(q),
  sub: (p: Value, q: Value) => p.sub(q),
  mul: (p: Value, q: Value) => p.mul(q),
  // 1 + q² ≥ 1 keeps the denominator away from zero (and from div's eps clamp).
  div: (p: Value, q: Value) => p.div(q.mul(q).add(1)),
  // softplus(p) + 0.1 > 0.1: a positive base, as log, sqrt and a Value exponent require.
  log: (p: Value) => p.softplus().add(0.1).log(),
  sqrt: (p: Value) => p.softplus().add(0.1).sqrt(),
  pow: (p: Value, q: Value) => p.softplus().add(0.1).pow(q.tanh()),
  square: (p: Value) => p.pow(2),
  cube: (p: Value) => p.pow(3),
  neg: (p: Value) => p.neg(),
  exp: (p: Value) => p.exp(),
  tanh: (p: Value) => p.tanh(),
  sigmoid: (p: Value) => p.sigmoid(),
  softplus: (p: Value) => p.softplus(),
  gelu: (p: Value) => p.gelu(),
  sin: (p: Value) => p.sin(),
  cos: (p: Value) => p.cos(),
  // Kinked ops: only applied where the argument is clear of the kink (see planDag).
  abs: (p: Value) => p.abs(),
  relu: (p: Value) => p.relu(),
} as const;

/** The name of a DAG building block. */
export type DagOpName = keyof typeof dagOps;

const dagOpNames = Object.keys(dagOps) as DagOpName[];
const kinked: ReadonlySet<DagOpName> = new Set(["abs", "relu"]);

/** One step: apply `op` to pool nodes `left` and `right` (indices counted back from the top). */
export interface DagInstruction {
  readonly op: DagOpName;
  /** How far back from the newest node the first operand is (small: builds depth). */
  readonly left: number;
  /** Any earlier node (modulo the pool size): builds reuse. */
  readonly right: number;
}

/** A random DAG: its leaves' values and the instructions that grow the pool from them. */
export interface DagCase {
  readonly inputs: number[];
  readonly instructions: DagInstruction[];
}

/** Random DAGs over 1 to 4 inputs in [-3, 3] and 1 to `maxInstructions` instructions. */
export function dagArbitrary(maxInstructions = 14): fc.Arbitrary<DagCase> {
  return fc.record({
    inputs: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), {
      minLength: 1,
      maxLength: 4,
    }),
    instructions: fc.array(
      fc.record({
        op: fc.constantFrom(...dagOpNames),
        left: fc.nat(2),
        right: fc.nat(64),
      }),
      { minLength: 1, maxLength: maxInstructions },
    ),
  });
}

/** A DAG with every choice fixed: which op (kinked ops may be replaced) and which operands. */
export interface DagPlan {
  readonly steps: readonly { op: DagOpName; left: number; right: number }[];
}

/** Distance from a kink below which abs and relu are replaced by tanh. */
const kinkClearance = 0.05;

/** Pool values beyond this are skipped: finite differences lose their precision there. */
export const dagMagnitudeLimit = 1e3;

/**
 * Fixes every choice of `dag` at its inputs, or returns null when it leaves the tame region
 * (a value beyond {@link dagMagnitudeLimit}, or an overflow). Choices are made once here, so
 * the function gradcheck perturbs has no branches of its own.
 */
export function planDag(dag: DagCase): DagPlan | null {
  const pool = dag.inputs.map((x) => new Value(x));
  const steps: { op: DagOpName; left: number; right: number }[] = [];
  for (const instruction of dag.instructions) {
    const left = pool.length - 1 - Math.min(instruction.left, pool.length - 1);
    const right = instruction.right % pool.length;
    let op = instruction.op;
    if (kinked.has(op) && Math.abs(pool[left].data) < kinkClearance) op = "tanh";
    let node: Value;
    try {
      node = dagOps[op](pool[left], pool[right]);
    } catch (error) {
      if (error instanceof RangeError) return null;
      throw error;
    }
    if (!(Math.abs(node.data) <= dagMagnitudeLimit)) return null;
    steps.push({ op, left, right });
    pool.push(node);
  }
  return { steps };
}

/** Builds the planned DAG on `leaves`; returns every node of the pool, the root last. */
export function buildDag(plan: DagPlan, leaves: readonly Value[]): Value[] {
  const pool = [...leaves];
  for (const { op, left, right } of plan.steps) pool.push(dagOps[op](pool[left], pool[right]));
  return pool;
}

/** Length of the longest path from a leaf to `root`, counting ops of the whole engine graph. */
export function graphDepth(root: Value): number {
  const depth = new Map<Value, number>();
  const stack: Value[] = [root];
  while (stack.length > 0) {
    const node = stack[stack.length - 1];
    const pending = [node.a, node.b].filter((x): x is Value => x !== null && !depth.has(x));
    if (pending.length > 0) {
      stack.push(...pending);
      continue;
    }
    stack.pop();
    const below = Math.max(0, ...[node.a, node.b].map((x) => (x === null ? -1 : depth.get(x)!)));
    depth.set(node, node.op === null ? 0 : below + 1);
  }
  return depth.get(root)!;
}
