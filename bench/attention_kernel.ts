/**
 * The batched attention kernels alone (`simdAttention` of lib/tensor/kernels/simd.ts, copies
 * into and out of the kernels' memory included) on the names transformer's exact shape: a
 * fused [32, 16, 192] q|k|v projection, 4 heads of d = 16, causal. Forward, then backward
 * (with the probabilities forward kept, where it keeps them), each timed over `calls` calls.
 *
 * With `--baseline DIR` (another checkout of the project, e.g. `git worktree add /tmp/base
 * main`), the same calls on DIR's kernels in alternating rounds (ABBA), and the median over
 * rounds of this tree's time over the baseline's: on a shared machine, compare only ratios
 * measured in one run.
 *
 *     deno run -A bench/attention_kernel.ts [--dtype float32] [--rounds 41] [--calls 10]
 *       [--baseline DIR]
 *
 * Prints one line of JSON: per direction the median time a call (µs) of each tree and the
 * median ratio.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dtype: { type: "string", default: "float32" },
    rounds: { type: "string", default: "41" },
    calls: { type: "string", default: "10" },
    baseline: { type: "string" },
  },
});
const rounds = Number(values.rounds), calls = Number(values.calls);
const dtype = values.dtype === "float64" ? "float64" : "float32";

type Kernels = typeof import("../lib/tensor/kernels/simd.ts");
const trees: Kernels[] = [await import("../lib/tensor/kernels/simd.ts")];
if (values.baseline !== undefined) {
  const url = pathToFileURL(resolve(values.baseline, "lib/tensor/kernels/simd.ts")).href;
  trees.push(await import(url));
}

const outer = 32, time = 16, heads = 4, d = 16, width = heads * d;
const like = (length: number) =>
  dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
let seed = 1;
const draw = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return 4 * (seed / 2 ** 32) - 2;
};
const qkv = like(outer * time * 3 * width).map(draw);
const grad = like(outer * time * width).map(draw);
const out = like(outer * time * width), gx = like(qkv.length);
const heads3 = (data: Float32Array | Float64Array, rowWidth: number, column: number) => ({
  data,
  heads,
  rowWidth,
  column,
});
const sizes = {
  batch: outer * heads,
  tq: time,
  tk: time,
  d,
  scale: 1 / Math.sqrt(d),
  causal: true,
};
const kept: (Float32Array | null | void)[] = trees.map(() => null);

function forward(tree: number): void {
  const q = heads3(qkv, 3 * width, 0), k = heads3(qkv, 3 * width, width);
  const v = heads3(qkv, 3 * width, 2 * width);
  kept[tree] = trees[tree].simdAttention.forward(q, k, v, heads3(out, width, 0), sizes);
}

function backward(tree: number): void {
  const [q, k, v] = [0, 1, 2].map((i) => heads3(qkv, 3 * width, i * width));
  const [dq, dk, dv] = [0, 1, 2].map((i) => heads3(gx, 3 * width, i * width));
  // A baseline whose backward takes no probabilities ignores the argument.
  const probs = kept[tree] ?? null;
  trees[tree].simdAttention.backward(heads3(grad, width, 0), q, k, v, sizes, dq, dk, dv, probs);
}

/** Microseconds a call of `run` on `tree`, over `calls` calls. */
function timed(run: (tree: number) => void, tree: number): number {
  const started = performance.now();
  for (let i = 0; i < calls; i++) run(tree);
  return (performance.now() - started) / calls * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const result: Record<string, unknown> = { bench: "attention_kernel", dtype, rounds, calls };
for (const [name, run] of [["forward", forward], ["backward", backward]] as const) {
  for (let i = 0; i < 5; i++) trees.forEach((_, tree) => timed(run, tree));
  const times: number[][] = trees.map(() => []);
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? trees.map((_, i) => i) : trees.map((_, i) => i).reverse();
    const now: number[] = [];
    for (const tree of order) now[tree] = timed(run, tree);
    now.forEach((t, tree) => times[tree].push(t));
    if (trees.length > 1) ratios.push(now[0] / now[1]);
  }
  result[name] = {
    us: median(times[0]),
    ...(trees.length > 1 ? { baselineUs: median(times[1]), overBaseline: median(ratios) } : {}),
  };
}
console.log(JSON.stringify(result));
