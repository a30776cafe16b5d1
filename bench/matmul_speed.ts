/**
 * Matrix-product throughput of this engine's kernels, for the side-by-side run of
 * `bench/run_all.ts` (its PyTorch twin is `bench/pytorch/matmul.py`): the plain TypeScript
 * kernel (float64, the reference) and the WebAssembly SIMD kernel `gemm` in float64 and
 * float32, on one thread and with the worker pool, on square matrices.
 *
 *     deno run bench/matmul_speed.ts [--sizes 64,128,256,512] [--reps 15] [--ts-max 512]
 *
 * Each figure is 2·n³ / the median time of `reps` products (`gflops`) and / the best time
 * (`gflops_best`: on a shared machine, the run least disturbed by other processes), after a
 * warm-up of 100 ms (3 to 50 products; WebAssembly is compiled in tiers, as JavaScript
 * is). The engines alternate size by size. Prints one line of JSON.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { matmulKernel } from "../lib/tensor/_matmul.ts";
import type { FloatArray } from "../lib/tensor/_dtype.ts";
import {
  gemm,
  gemmThreads,
  gemmUsesFusedMultiplyAdd,
  gemmWorkerChunks,
  setGemmThreads,
  stopGemmWorkers,
} from "../lib/tensor/kernels/gemm.ts";
import { uniformArray } from "./_measure.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "64,128,256,512" },
    reps: { type: "string", default: "15" },
    "ts-max": { type: "string", default: "512" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const reps = Number(values.reps);
// The plain TypeScript kernel is ~40× slower: above this size it is left out.
const tsMax = Number(values["ts-max"]);
const workers = gemmThreads().workers;

const best: Record<string, Record<string, number>> = {};
let bestRow: Record<string, number> = {};

// The median time of `reps` runs; the best one goes to `bestRow[name]` (as GFLOP/s at n).
function medianMs(name: string, n: number, run: () => void): number {
  const warmUpEnd = performance.now() + 100;
  for (let i = 0; i < 3 || (i < 50 && performance.now() < warmUpEnd); i++) run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((x, y) => x - y);
  bestRow[name] = (2 * n ** 3) / times[0] / 1e6;
  return times[times.length >> 1];
}

function gemmRun(a: FloatArray, b: FloatArray, out: FloatArray, n: number): () => void {
  return () =>
    gemm(
      { data: a, offset: 0, transposed: false },
      { data: b, offset: 0, transposed: false },
      out,
      0,
      n,
      n,
      n,
      false,
    );
}

const results: Record<string, Record<string, number>> = {};
for (const n of sizes) {
  const a = uniformArray(n * n, 1), b = uniformArray(n * n, 2);
  const a32 = Float32Array.from(a), b32 = Float32Array.from(b);
  const out = new Float64Array(n * n), out32 = new Float32Array(n * n);
  const gflops = (ms: number) => (2 * n ** 3) / ms / 1e6;
  const row: Record<string, number> = {};
  bestRow = best[n] = {};
  // Sanity: the kernels agree before anything is timed.
  matmulKernel(a, b, out, n, n, n);
  const check = new Float64Array(n * n);
  gemmRun(a, b, check, n)();
  for (let i = 0; i < check.length; i++) {
    if (Math.abs(check[i] - out[i]) > 1e-12 * n) throw new Error(`gemm ${n}: differs at ${i}`);
  }
  if (n <= tsMax) {
    row.ts_f64_1t = gflops(medianMs("ts_f64_1t", n, () => matmulKernel(a, b, out, n, n, n)));
  }
  setGemmThreads({ workers: 0 });
  row.wasm_f64_1t = gflops(medianMs("wasm_f64_1t", n, gemmRun(a, b, out, n)));
  row.wasm_f32_1t = gflops(medianMs("wasm_f32_1t", n, gemmRun(a32, b32, out32, n)));
  setGemmThreads({ workers, parallelThreshold: 0 });
  const before = gemmWorkerChunks();
  row.wasm_f64_pool = gflops(medianMs("wasm_f64_pool", n, gemmRun(a, b, out, n)));
  row.wasm_f32_pool = gflops(medianMs("wasm_f32_pool", n, gemmRun(a32, b32, out32, n)));
  row.worker_chunks = gemmWorkerChunks() - before;
  results[n] = row;
}
stopGemmWorkers();

console.log(JSON.stringify({
  bench: "matmul",
  engine: "dcslm",
  threads_with_pool: 1 + workers,
  fused_multiply_add: gemmUsesFusedMultiplyAdd,
  reps,
  gflops: results,
  gflops_best: best,
}));
