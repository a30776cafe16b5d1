/**
 * The gemm micro-kernel alone, on packed operands that stay in L1: how close each block shape
 * (MR rows × NR columns) comes to the machine's peak, before packing, copies or threads
 * count. Per shape, a module holds the micro-kernel of `_gemm_module.ts` and a loop that calls
 * it `calls` times on the same strip, panel and C block (KC deep).
 *
 *     deno run bench/gemm_micro.ts [--rounds 3] [--calls 4000]
 *
 * Prints one line of JSON: GFLOP/s (best of `rounds`) per element type, shape and variant
 * (`fused`: relaxed multiply-add; `separate`: multiply, then add). The peak of 128-bit SIMD
 * with two FMA units is 16 flop per cycle in float32 and 8 in float64.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type ElementKind,
  KC,
  MAX_PAGES,
  microKernel,
} from "../lib/tensor/kernels/_gemm_module.ts";
import { encodeModule, FunctionBuilder } from "../lib/tensor/kernels/_wasm_encoder.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    calls: { type: "string", default: "4000" },
  },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);

/** repeat(ap, bp, c, ldc, kc, calls): micro(ap, bp, c, ldc, kc, 1, 0), `calls` times (C
 * loaded, added to and stored, as in every k-block after a product's first). */
function repeatLoop(): FunctionBuilder {
  const f = new FunctionBuilder(["i32", "i32", "i32", "i32", "i32", "i32"], []);
  f.block().loop();
  f.localGet(5).i32Eqz().brIf(1);
  for (let i = 0; i < 5; i++) f.localGet(i);
  f.i32Const(1).i32Const(0).call(0);
  f.localGet(5).i32Const(1).i32Sub().localSet(5);
  f.br(0).end().end();
  return f;
}

const memory = new WebAssembly.Memory({ initial: 4, maximum: MAX_PAGES, shared: true });
type Repeat = (ap: number, bp: number, c: number, ldc: number, kc: number, n: number) => void;

function measure(kind: ElementKind, fused: boolean): number {
  const bytes = encodeModule([
    { name: "micro", body: microKernel(kind, fused) },
    { name: "repeat", body: repeatLoop() },
  ], MAX_PAGES);
  const repeat = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
    .exports.repeat as Repeat;
  // Strip at 0, panel at 64 KiB, C at 128 KiB: small values, so nothing overflows.
  const view = kind.bytes === 8 ? new Float64Array(memory.buffer) : new Float32Array(memory.buffer);
  view.fill(0);
  for (let i = 0; i < kind.mr * KC; i++) view[i] = 1e-3 * ((i % 7) - 3);
  const bp = 65536, c = 131072, ldc = kind.nr * kind.bytes + 64;
  for (let i = 0; i < KC * kind.nr; i++) view[bp / kind.bytes + i] = 1e-3 * ((i % 5) - 2);
  repeat(0, bp, c, ldc, KC, 200); // warm-up: compiled by the optimising tier
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    repeat(0, bp, c, ldc, KC, calls);
    best = Math.min(best, performance.now() - start);
  }
  return (2 * kind.mr * kind.nr * KC * calls) / best / 1e6;
}

// Shapes as (rows, vectors a row); registers live in the loop: rows·vectors + vectors + 1.
// (A variant taking A's values by lane shuffles from whole-vector loads was measured no
// faster, bench/results/matmul/gemm_micro_2026-12-05.json, and left out of the kernel.)
const shapes = [[6, 2], [5, 2], [4, 2], [3, 3], [4, 3], [2, 4], [3, 4], [12, 1], [8, 1]];
const results: Record<string, Record<string, number>> = {};
for (const bytes of [4, 8] as const) {
  for (const [mr, v] of shapes) {
    const kind: ElementKind = { bytes, mr, nr: (v * 16) / bytes };
    const name = `f${bytes * 8} ${mr}x${kind.nr} (${mr * v + v + 1} regs)`;
    results[name] = { fused: measure(kind, true), separate: measure(kind, false) };
  }
}
console.log(JSON.stringify({ bench: "gemm_micro", kc: KC, calls, rounds, gflops: results }));
