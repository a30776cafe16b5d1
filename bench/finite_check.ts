/**
 * The finiteness check's SIMD screen against its TypeScript loop, by element type and length:
 * the measurement behind `FINITE_SIMD_FROM` (lib/tensor/kernels/_finite.ts). Both run on the
 * same finite array in alternating rounds; the figure is the best round of each. Prints one
 * JSON line per (type, length).
 *
 *   deno run bench/finite_check.ts
 *
 * @module
 */

import { allFiniteSimd, firstNonFiniteByLoop } from "../lib/tensor/kernels/_finite.ts";

for (const Type of [Float32Array, Float64Array]) {
  for (const length of [64, 128, 256, 512, 1024, 4096, 65536]) {
    const data = new Type(length).map((_, i) => Math.sin(i));
    let simd = Infinity, loop = Infinity;
    for (let round = 0; round < 7; round++) {
      const reps = Math.ceil(2e6 / length);
      let started = performance.now();
      for (let r = 0; r < reps; r++) allFiniteSimd(data);
      simd = Math.min(simd, (performance.now() - started) / reps);
      started = performance.now();
      for (let r = 0; r < reps; r++) firstNonFiniteByLoop(data);
      loop = Math.min(loop, (performance.now() - started) / reps);
    }
    console.log(JSON.stringify({
      dtype: Type === Float32Array ? "float32" : "float64",
      length,
      simdNs: Math.round(simd * 1e6),
      loopNs: Math.round(loop * 1e6),
      speedup: Number((loop / simd).toFixed(2)),
    }));
  }
}
