/**
 * What W3's leaves alone cost (WORKLOADS.md: `a_i = leaf(…)`, `b_i = leaf(…)` for i < N, all
 * kept in two arrays until the gradients are read): the part of W3's time that no engine can
 * remove while `new Value(x)` returns an object the caller keeps. Kinds of leaf (one process
 * each; `--all` alternates them, process by process, and prints the medians):
 * - `engine`: `new Value(x)`, this engine's leaf.
 * - `number`: an object of one field holding the value (V8 boxes a fraction held in a field:
 *   two heap objects a leaf), the least a leaf that keeps its value on itself can be.
 * - `index`: an object of one field holding a small integer (the value kept in a
 *   `Float64Array` beside it): the least any leaf with an identity of its own can be.
 * - `tree`: `index` leaves, then W3b's whole forward pass (the N products and the pairwise
 *   sums, kept in lists as the workload keeps them) with every node such an object (its
 *   numbers and inputs in typed arrays): the least an engine pays before its backward pass
 *   while the nodes it returns are objects the caller keeps.
 *
 *     deno run --allow-run --allow-read --allow-sys bench/w3_leaf_floor.ts --all --rounds 5
 *     deno run bench/w3_leaf_floor.ts --kind index --n 1000000
 *
 * Each process prints one JSON object on its last line: wall and CPU milliseconds of making
 * the 2N leaves (W3's `leaves_ms`; for `tree` also `forward_ms`, the products and sums, and
 * the sum `s`), and heap and external bytes per leaf after it.
 *
 * @module
 */

import { Value } from "../mod.ts";
import {
  alternatingProcesses,
  choiceFlag,
  cpuMs,
  loadAverage,
  medianOf,
  ms,
  positiveIntegerFlag,
  report,
} from "./_measure.ts";

const KINDS = ["engine", "number", "index", "tree"] as const;
type Kind = typeof KINDS[number];

/** A leaf that holds its value. */
class NumberLeaf {
  data: number;
  constructor(data: number) {
    this.data = data;
  }
}

/** A node that holds where its numbers are. */
class IndexNode {
  at: number;
  constructor(at: number) {
    this.at = at;
  }
}

/** W3's 2N leaves of `kind`, in two arrays, as the workload makes them; `values` holds
 * those of `index` leaves. */
function makeLeaves(
  kind: Kind,
  n: number,
  values: Float64Array | null,
): { as: unknown[]; bs: unknown[] } {
  const as: unknown[] = [], bs: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const a = (i % 1000) / 1000, b = 1.0 - (i % 777) / 777;
    if (kind === "engine") {
      as.push(new Value(a));
      bs.push(new Value(b));
    } else if (kind === "number") {
      as.push(new NumberLeaf(a));
      bs.push(new NumberLeaf(b));
    } else {
      values![2 * i] = a;
      values![2 * i + 1] = b;
      as.push(new IndexNode(2 * i));
      bs.push(new IndexNode(2 * i + 1));
    }
  }
  return { as, bs };
}

/**
 * W3b's products and pairwise sums over `index` leaves (numbers at `values`, inputs at
 * `inputs`, both indexed by the node's `at`); returns the root.
 */
function pairwiseTree(
  as: IndexNode[],
  bs: IndexNode[],
  values: Float64Array,
  inputs: Int32Array,
): IndexNode {
  let used = 2 * as.length;
  const node = (x: IndexNode, y: IndexNode, value: number): IndexNode => {
    values[used] = value;
    inputs[2 * used] = x.at;
    inputs[2 * used + 1] = y.at;
    return new IndexNode(used++);
  };
  let level: IndexNode[] = [];
  for (let i = 0; i < as.length; i++) {
    level.push(node(as[i], bs[i], values[as[i].at] * values[bs[i].at]));
  }
  while (level.length > 1) {
    const next: IndexNode[] = [];
    for (let j = 0; j + 1 < level.length; j += 2) {
      next.push(node(level[j], level[j + 1], values[level[j].at] + values[level[j + 1].at]));
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

function measureOne(kind: Kind, n: number): void {
  const before = Deno.memoryUsage();
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const values = kind === "index" || kind === "tree" ? new Float64Array(4 * n) : null;
  const { as, bs } = makeLeaves(kind, n, values);
  const wall = performance.now() - t0;
  let forward: number | null = null, s: number | null = null;
  if (kind === "tree") {
    const t1 = performance.now();
    const root = pairwiseTree(as as IndexNode[], bs as IndexNode[], values!, new Int32Array(8 * n));
    forward = performance.now() - t1;
    s = values![root.at];
  }
  const cpu = cpuMs() - cpu0;
  const after = Deno.memoryUsage();
  report({
    kind,
    n,
    leaves: as.length + bs.length,
    leaves_ms: ms(wall),
    forward_ms: forward === null ? null : ms(forward),
    s,
    cpu_ms: ms(cpu),
    heap_bytes_per_leaf: Math.round((after.heapUsed - before.heapUsed) / (2 * n)),
    external_bytes_per_leaf: Math.round((after.external - before.external) / (2 * n)),
  });
}

async function measureAll(n: number, rounds: number): Promise<void> {
  const results = await alternatingProcesses({
    script: import.meta.filename ?? "",
    option: "kind",
    variants: KINDS,
    args: ["--n", String(n)],
    rounds,
  });
  const summary = KINDS.map((kind) => {
    const runs = results.get(kind)!;
    return {
      kind,
      leaves_ms: ms(medianOf(runs, "leaves_ms")),
      leaves_ms_all: runs.map((r) => r.leaves_ms),
      forward_ms: kind === "tree" ? ms(medianOf(runs, "forward_ms")) : null,
      forward_ms_all: kind === "tree" ? runs.map((r) => r.forward_ms) : null,
      cpu_ms: ms(medianOf(runs, "cpu_ms")),
      heap_bytes_per_leaf: medianOf(runs, "heap_bytes_per_leaf"),
      external_bytes_per_leaf: medianOf(runs, "external_bytes_per_leaf"),
    };
  });
  console.log(JSON.stringify({ n, rounds, load: loadAverage(), kinds: summary }));
}

const n = positiveIntegerFlag("n", 1_000_000);
if (Deno.args.includes("--all")) await measureAll(n, positiveIntegerFlag("rounds", 3));
else measureOne(choiceFlag("kind", KINDS), n);
