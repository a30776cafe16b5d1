/**
 * What keeping a graph's nodes alive costs, by node layout: W2's forward pass (N steps of
 * `y = tanh(y · 1.0001 + 0.01)`, every node kept until the end, as before a backward pass)
 * built from bare objects of several layouts beside the `Value` engine itself. It measures
 * the allocation and garbage-collection cost that any engine with that layout pays, whatever
 * its code: an engine whose `a` of `d` must be the very object that was returned as `c` needs
 * one object per node that the graph keeps alive.
 *
 * Layouts (one process each; `--all` runs them all in alternating rounds, process by process,
 * and prints the medians, with the times relative to `engine`):
 * - `engine`: the `Value` engine (`y.mul(1.0001).add(0.01).tanh()`), 3N + 1 nodes.
 * - `lifted`: today's seven-field node with the constants lifted to leaf nodes, as the engine
 *   made them before it kept number operands on the node: 5N + 1 nodes.
 * - `fields7`: the engine's seven fields (`data`, `grad`, `op`, `a`, `b`, `constant`, `stamp`),
 *   3N + 1 nodes: `data` holds a fraction, so each node is two heap objects (V8 boxes a double
 *   field in a heap number of its own).
 * - `columns`: a four-field node (`a`, `b`, a block, an index) whose numbers and op code live
 *   in Float64Array blocks of 1024 nodes: one heap object per node, and no boxed number.
 * - `fields4`: the same four fields holding only references and small integers, with no
 *   blocks: what `columns` would cost if its typed arrays were free.
 * - `floor`: one object of one field (its input) per node: less than any node can hold.
 *
 *     deno run --allow-run --allow-read --allow-sys bench/scalar_node_cost.ts --all --rounds 5
 *     deno run bench/scalar_node_cost.ts --layout engine --n 1000000
 *
 * Each process prints one JSON object on its last line: wall and CPU milliseconds of the
 * forward pass, and heap and external (typed-array) bytes per node after it (`heapUsed` and
 * `external` of `Deno.memoryUsage`, no collection forced: nearly everything made is kept).
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

const LAYOUTS = ["engine", "lifted", "fields7", "columns", "arrays", "fields4", "floor"] as const;
type Layout = typeof LAYOUTS[number];

/** A stand-in for an op spec: nodes of the bare layouts point at one like the engine's do. */
const OP = Object.freeze({ name: "op" });

/** The engine's fields as plain data. */
class Fields7 {
  data: number;
  grad: number;
  op: object | null;
  a: Fields7 | null;
  b: Fields7 | null;
  constant: number;
  stamp: number;
  constructor(data: number, a: Fields7 | null, b: Fields7 | null, constant: number) {
    // Fractions first, so the double fields never change representation (as the engine does).
    this.data = 0.5;
    this.data = data;
    this.grad = 0.5;
    this.grad = 0;
    this.op = a === null ? null : OP;
    this.a = a;
    this.b = b;
    this.constant = 0.5;
    this.constant = constant;
    this.stamp = stampCount++;
  }
}

// Blocks of `columns`: data, grad, constant, stamp and op code of BLOCK_NODES nodes.
const BLOCK_NODES = 1024;
const CELLS_PER_NODE = 5;
let cells = new Float64Array(0);
let cellsUsed = 0;
let stampCount = 0;

/** A node whose numbers live in a Float64Array block. */
class Columns {
  a: Columns | null;
  b: Columns | null;
  cells: Float64Array;
  at: number;
  constructor(data: number, a: Columns | null, constant: number) {
    if (cellsUsed === cells.length) {
      cells = new Float64Array(CELLS_PER_NODE * BLOCK_NODES);
      cellsUsed = 0;
    }
    this.a = a;
    this.b = null;
    this.cells = cells;
    this.at = cellsUsed;
    cellsUsed += CELLS_PER_NODE;
    cells[this.at] = data;
    cells[this.at + 2] = constant;
    cells[this.at + 3] = stampCount++;
    cells[this.at + 4] = a === null ? 0 : 1;
  }
  get data(): number {
    return this.cells[this.at];
  }
}

// Blocks of `arrays`: the same five numbers a node in a plain array of doubles (on the heap,
// unboxed: a FixedDoubleArray), so no external memory.
let doubles: number[] = [];
let doublesUsed = 0;

/** A node whose numbers live in a plain array of doubles. */
class Arrays {
  a: Arrays | null;
  b: Arrays | null;
  cells: number[];
  at: number;
  constructor(data: number, a: Arrays | null, constant: number) {
    if (doublesUsed === doubles.length) {
      doubles = new Array<number>(CELLS_PER_NODE * BLOCK_NODES).fill(0.5);
      doublesUsed = 0;
    }
    this.a = a;
    this.b = null;
    this.cells = doubles;
    this.at = doublesUsed;
    doublesUsed += CELLS_PER_NODE;
    doubles[this.at] = data;
    doubles[this.at + 1] = 0;
    doubles[this.at + 2] = constant;
    doubles[this.at + 3] = stampCount++;
    doubles[this.at + 4] = a === null ? 0 : 1;
  }
  get data(): number {
    return this.cells[this.at];
  }
}

/** The four fields of `Columns`, with no block and no number but small integers. */
class Fields4 {
  a: Fields4 | null;
  b: Fields4 | null;
  block: object | null;
  at: number;
  constructor(a: Fields4 | null) {
    this.a = a;
    this.b = null;
    this.block = OP;
    this.at = stampCount++;
  }
}

/** One field a node. */
class Floor {
  a: Floor | null;
  constructor(a: Floor | null) {
    this.a = a;
  }
}

/** Builds W2's chain of `n` steps with `layout`; returns the node count and the last node. */
function build(layout: Layout, n: number): { nodes: number; last: unknown } {
  switch (layout) {
    case "engine": {
      let y = new Value(0.5);
      for (let i = 0; i < n; i++) y = y.mul(1.0001).add(0.01).tanh();
      return { nodes: 3 * n + 1, last: y };
    }
    case "lifted": {
      let y = new Fields7(0.5, null, null, 0);
      for (let i = 0; i < n; i++) {
        const scale = new Fields7(1.0001, null, null, 0);
        const product = new Fields7(y.data * scale.data, y, scale, 0);
        const shift = new Fields7(0.01, null, null, 0);
        const sum = new Fields7(product.data + shift.data, product, shift, 0);
        y = new Fields7(Math.tanh(sum.data), sum, null, 0);
      }
      return { nodes: 5 * n + 1, last: y };
    }
    case "fields7": {
      let y = new Fields7(0.5, null, null, 0);
      for (let i = 0; i < n; i++) {
        const product = new Fields7(y.data * 1.0001, y, null, 1.0001);
        const sum = new Fields7(product.data + 0.01, product, null, 0.01);
        y = new Fields7(Math.tanh(sum.data), sum, null, 0);
      }
      return { nodes: 3 * n + 1, last: y };
    }
    case "columns": {
      let y = new Columns(0.5, null, 0);
      for (let i = 0; i < n; i++) {
        const product = new Columns(y.data * 1.0001, y, 1.0001);
        const sum = new Columns(product.data + 0.01, product, 0.01);
        y = new Columns(Math.tanh(sum.data), sum, 0);
      }
      return { nodes: 3 * n + 1, last: y };
    }
    case "arrays": {
      let y = new Arrays(0.5, null, 0);
      for (let i = 0; i < n; i++) {
        const product = new Arrays(y.data * 1.0001, y, 1.0001);
        const sum = new Arrays(product.data + 0.01, product, 0.01);
        y = new Arrays(Math.tanh(sum.data), sum, 0);
      }
      return { nodes: 3 * n + 1, last: y };
    }
    case "fields4": {
      let y = new Fields4(null);
      for (let i = 0; i < n; i++) y = new Fields4(new Fields4(new Fields4(y)));
      return { nodes: 3 * n + 1, last: y };
    }
    case "floor": {
      let y = new Floor(null);
      for (let i = 0; i < n; i++) y = new Floor(new Floor(new Floor(y)));
      return { nodes: 3 * n + 1, last: y };
    }
  }
}

/** One layout in this process: the forward pass timed, the memory it holds read after it. */
function measureOne(layout: Layout, n: number): void {
  const before = Deno.memoryUsage();
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const { nodes, last } = build(layout, n);
  const wall = performance.now() - t0;
  const cpu = cpuMs() - cpu0;
  const after = Deno.memoryUsage();
  report({
    layout,
    n,
    nodes,
    forward_ms: ms(wall),
    cpu_ms: ms(cpu),
    heap_bytes_per_node: Math.round((after.heapUsed - before.heapUsed) / nodes),
    external_bytes_per_node: Math.round((after.external - before.external) / nodes),
    kept: last !== null,
  });
}

/** Every layout `rounds` times, one process each, alternating; prints the medians. */
async function measureAll(n: number, rounds: number): Promise<void> {
  const results = await alternatingProcesses({
    script: import.meta.filename ?? "",
    option: "layout",
    variants: LAYOUTS,
    args: ["--n", String(n)],
    rounds,
  });
  const engineWall = medianOf(results.get("engine")!, "forward_ms");
  const engineCpu = medianOf(results.get("engine")!, "cpu_ms");
  const summary = LAYOUTS.map((layout) => {
    const runs = results.get(layout)!;
    const wall = medianOf(runs, "forward_ms");
    const cpu = medianOf(runs, "cpu_ms");
    return {
      layout,
      nodes: runs[0].nodes,
      forward_ms: ms(wall),
      forward_ms_all: runs.map((r) => r.forward_ms),
      cpu_ms: ms(cpu),
      wall_vs_engine: Math.round((wall / engineWall) * 1000) / 1000,
      cpu_vs_engine: Math.round((cpu / engineCpu) * 1000) / 1000,
      heap_bytes_per_node: medianOf(runs, "heap_bytes_per_node"),
      external_bytes_per_node: medianOf(runs, "external_bytes_per_node"),
    };
  });
  console.log(JSON.stringify({ n, rounds, load: loadAverage(), layouts: summary }));
}

const n = positiveIntegerFlag("n", 1_000_000);
if (Deno.args.includes("--all")) await measureAll(n, positiveIntegerFlag("rounds", 3));
else measureOne(choiceFlag("layout", LAYOUTS), n);
