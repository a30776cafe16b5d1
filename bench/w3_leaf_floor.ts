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
 *
 *     deno run --allow-run --allow-read --allow-sys bench/w3_leaf_floor.ts --all --rounds 5
 *     deno run bench/w3_leaf_floor.ts --kind index --n 1000000
 *
 * Each process prints one JSON object on its last line: wall and CPU milliseconds of making
 * the 2N leaves (W3's `leaves_ms`), and heap and external bytes per leaf after it.
 *
 * @module
 */

import { Value } from "../mod.ts";
import {
  alternatingProcesses,
  choiceFlag,
  cpuMs,
  loadAverage,
  median,
  ms,
  positiveIntegerFlag,
  report,
} from "./_measure.ts";

const KINDS = ["engine", "number", "index"] as const;
type Kind = typeof KINDS[number];

/** A leaf that holds its value. */
class NumberLeaf {
  data: number;
  constructor(data: number) {
    this.data = data;
  }
}

/** A leaf that holds where its value is. */
class IndexLeaf {
  at: number;
  constructor(at: number) {
    this.at = at;
  }
}

/** W3's 2N leaves of `kind`, in two arrays, as the workload makes them. */
function makeLeaves(kind: Kind, n: number): { as: unknown[]; bs: unknown[] } {
  const as: unknown[] = [], bs: unknown[] = [];
  const values = kind === "index" ? new Float64Array(2 * n) : null;
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
      as.push(new IndexLeaf(2 * i));
      bs.push(new IndexLeaf(2 * i + 1));
    }
  }
  return { as, bs };
}

function measureOne(kind: Kind, n: number): void {
  const before = Deno.memoryUsage();
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const { as, bs } = makeLeaves(kind, n);
  const wall = performance.now() - t0;
  const cpu = cpuMs() - cpu0;
  const after = Deno.memoryUsage();
  report({
    kind,
    n,
    leaves: as.length + bs.length,
    leaves_ms: ms(wall),
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
      leaves_ms: ms(median(runs.map((r) => r.leaves_ms))),
      leaves_ms_all: runs.map((r) => r.leaves_ms),
      cpu_ms: ms(median(runs.map((r) => r.cpu_ms))),
      heap_bytes_per_leaf: median(runs.map((r) => r.heap_bytes_per_leaf)),
      external_bytes_per_leaf: median(runs.map((r) => r.external_bytes_per_leaf)),
    };
  });
  console.log(JSON.stringify({ n, rounds, load: loadAverage(), kinds: summary }));
}

const n = positiveIntegerFlag("n", 1_000_000);
if (Deno.args.includes("--all")) await measureAll(n, positiveIntegerFlag("rounds", 3));
else measureOne(choiceFlag("kind", KINDS), n);
