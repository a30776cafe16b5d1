/**
 * Matrix-product throughput: this engine's `matmulKernel` (float64) against TensorFlow.js's
 * pure-JavaScript CPU backend (`tf.matMul` after `tf.setBackend("cpu")`, float32) and a
 * textbook i-k-j loop, on square matrices of 64, 256 and 512.
 *
 *     deno bench --no-config --allow-env --allow-read bench/matmul_bench.ts   # comparison table
 *     deno run --allow-env --allow-read bench/matmul_bench.ts     # JSON with GFLOP/s
 *
 * GFLOP/s = 2·n³ / time. The two engines do not compute the same thing: float64 here, float32
 * in tfjs (half the bytes moved, same number of operations); both are scalar JavaScript.
 * tfjs's timing includes `dataSync()` so that the product is complete.
 *
 * @module
 */

// The full specifier here, not in deno.json: tensorflow.js (~270 MB) is fetched only when a
// tfjs benchmark runs. These files are excluded from `deno check .` for the same reason;
// check them with `deno task bench:check`.
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
import { matmulKernel } from "../lib/tensor/_matmul.ts";
import { median } from "./_w1_data.ts";
import { uniformArray } from "./_measure.ts";

const SIZES = [64, 256, 512];

await tf.setBackend("cpu");
await tf.ready();

// The loop every text starts from, for scale: i-k-j, inner loop over a contiguous row of B.
function simpleMatmul(a: Float64Array, b: Float64Array, out: Float64Array, size: number): void {
  out.fill(0);
  for (let i = 0; i < size; i++) {
    for (let p = 0; p < size; p++) {
      const x = a[i * size + p];
      for (let j = 0; j < size; j++) out[i * size + j] += x * b[p * size + j];
    }
  }
}

interface Contestants {
  dcslm: () => void;
  tfjs: () => void;
  simple: () => void;
}

function contestants(size: number): Contestants {
  const a = uniformArray(size * size, 1);
  const b = uniformArray(size * size, 2);
  const out = new Float64Array(size * size);
  const simpleOut = new Float64Array(size * size);
  const ta = tf.tensor2d(Float32Array.from(a), [size, size], "float32");
  const tb = tf.tensor2d(Float32Array.from(b), [size, size], "float32");
  // Sanity: all three agree (to float32 accuracy for tfjs) before anything is timed.
  matmulKernel(a, b, out, size, size, size);
  simpleMatmul(a, b, simpleOut, size);
  const tfOut = tf.matMul(ta, tb);
  const tfValues = tfOut.dataSync();
  tfOut.dispose();
  for (let i = 0; i < out.length; i++) {
    if (out[i] !== simpleOut[i] || Math.abs(out[i] - tfValues[i]) > 1e-4 * size) {
      throw new Error(
        `matmul ${size}: results differ at ${i}: ${out[i]}, ${simpleOut[i]}, ${tfValues[i]}`,
      );
    }
  }
  return {
    dcslm: () => matmulKernel(a, b, out, size, size, size),
    tfjs: () => {
      const c = tf.matMul(ta, tb);
      c.dataSync();
      c.dispose();
    },
    simple: () => simpleMatmul(a, b, simpleOut, size),
  };
}

if (import.meta.main) {
  // Script mode: per size, the median time of single calls, the engines interleaved call by
  // call so that machine noise hits both alike.
  const results: Record<string, Record<string, number>> = {};
  for (const size of SIZES) {
    const run = contestants(size);
    const calls = Math.max(7, Math.round(3e8 / (2 * size ** 3)));
    const times: Record<keyof Contestants, number[]> = { dcslm: [], tfjs: [], simple: [] };
    for (let warm = 0; warm < 3; warm++) (run.dcslm(), run.tfjs(), run.simple());
    for (let c = 0; c < calls; c++) {
      for (const name of ["dcslm", "tfjs", "simple"] as const) {
        const start = performance.now();
        run[name]();
        times[name].push(performance.now() - start);
      }
    }
    const gflops = (name: keyof Contestants) => 2 * size ** 3 / median(times[name]) / 1e6;
    results[String(size)] = {
      dcslm_gflops: gflops("dcslm"),
      tfjs_cpu_gflops: gflops("tfjs"),
      simple_ikj_gflops: gflops("simple"),
      dcslm_ms: median(times.dcslm),
      tfjs_cpu_ms: median(times.tfjs),
      calls,
    };
  }
  console.log(JSON.stringify({
    bench: "matmul",
    dcslm: "matmulKernel, float64",
    tfjs: `tfjs ${tf.version.tfjs} cpu backend, float32`,
    sizes: results,
  }));
} else {
  for (const size of SIZES) {
    const run = contestants(size);
    const group = `matmul ${size}×${size}`;
    Deno.bench(`dcslm matmulKernel (float64) ${size}`, { group, baseline: true }, run.dcslm);
    Deno.bench(`tfjs cpu tf.matMul (float32) ${size}`, { group }, run.tfjs);
    Deno.bench(`simple i-k-j loop (float64) ${size}`, { group }, run.simple);
  }
}
