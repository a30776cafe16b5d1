/**
 * Peak memory of a 512×512 matrix product, forward and backward, against the least it can
 * take: the six Float64Arrays A, B, out = A·B, dOut, dA = dOut·Bᵀ, dB = Aᵀ·dOut
 * (6·512²·8 bytes ≈ 12.6 MB). A per-element object would cost tens of bytes per element, so
 * any design that made one would show here as several times the minimum.
 *
 *     deno run -A bench/matmul_memory.ts [--engine kernel|tensor]
 *
 * (Deno 2 opens /proc/self only with --allow-all. Without it the bench falls back to
 * `Deno.memoryUsage().rss` and getrusage's peak, which cannot be reset; the JSON says which.)
 *
 * Tensor level (`--engine tensor`, the headline): `a.matmul(b).backward(dOut)` through the
 * Tensor engine, whatever it allocates on the way (its backward materialises the transposes
 * and keeps gradients in fresh arrays).
 *
 * Kernel level (`--engine kernel`, the default): the forward and the two backward products with `matmulKernel`, the
 * transposes Aᵀ and Bᵀ materialised (two more arrays, 8·512²·8 bytes ≈ 16.8 MB in all).
 * Two rounds in one process: the first includes what compiling the loops costs, the second
 * (the headline) only what the data costs.
 *
 * The peak is the kernel's high-water mark (`VmHWM`), reset to the current resident size just
 * before the workload (writing 5 to /proc/self/clear_refs) so that start-up does not hide in
 * it; where the reset is not permitted the report says so and the peak includes start-up.
 *
 * @module
 */

import process from "node:process";
import { matmulKernel } from "../lib/tensor/_matmul.ts";
import { Tensor } from "../lib/tensor/tensor.ts";
import { uniformArray } from "./_measure.ts";

const SIZE = 512;
const BYTES = SIZE * SIZE * Float64Array.BYTES_PER_ELEMENT;

function statusKb(field: "VmRSS" | "VmHWM"): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(
      Deno.readTextFileSync("/proc/self/status"),
    );
    if (match !== null) return Number(match[1]) * 1024;
  } catch {
    // Not permitted or not Linux: fall through.
  }
  return field === "VmRSS" ? Deno.memoryUsage().rss : process.resourceUsage().maxRSS * 1024;
}

function resetPeak(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

function transposeInto(source: Float64Array, target: Float64Array, rows: number, cols: number) {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) target[j * rows + i] = source[i * cols + j];
  }
}

interface Round {
  rss_base: number;
  rss_after_forward: number;
  rss_peak: number;
  peak_minus_base: number;
  peak_over_minimum: number;
  extra_bytes_per_element: number;
  ms: number;
}

// One forward + backward through the Tensor engine, measured the same way.
function tensorRound(): Round {
  resetPeak();
  const rssBase = statusKb("VmRSS");
  const start = performance.now();
  const a = new Tensor(uniformArray(SIZE * SIZE, 1), [SIZE, SIZE], { requiresGrad: true });
  const b = new Tensor(uniformArray(SIZE * SIZE, 2), [SIZE, SIZE], { requiresGrad: true });
  const out = a.matmul(b);
  const rssAfterForward = statusKb("VmRSS");
  const dOut = new Tensor(uniformArray(SIZE * SIZE, 3), [SIZE, SIZE]);
  out.backward(dOut);
  const ms = performance.now() - start;
  const rssPeak = statusKb("VmHWM");
  const bT = new Float64Array(SIZE * SIZE);
  const aT = new Float64Array(SIZE * SIZE);
  // float64 tensors throughout (the default dtype).
  const f64 = (t: Tensor) => t.data as Float64Array;
  transposeInto(f64(b), bT, SIZE, SIZE);
  transposeInto(f64(a), aT, SIZE, SIZE);
  checkElement(f64(out), f64(a), f64(b), 17, 300);
  checkElement(f64(a.grad as Tensor), f64(dOut), bT, 511, 0);
  checkElement(f64(b.grad as Tensor), aT, f64(dOut), 3, 511);
  return measured(rssBase, rssAfterForward, rssPeak, ms);
}

function measured(rssBase: number, rssAfterForward: number, rssPeak: number, ms: number): Round {
  return {
    rss_base: rssBase,
    rss_after_forward: rssAfterForward,
    rss_peak: rssPeak,
    peak_minus_base: rssPeak - rssBase,
    peak_over_minimum: (rssPeak - rssBase) / MINIMUM,
    extra_bytes_per_element: (rssPeak - rssBase - MINIMUM) / (SIZE * SIZE),
    ms,
  };
}

// One forward + backward from fresh arrays, measured from a high-water mark reset just before.
function kernelRound(): Round {
  resetPeak();
  const rssBase = statusKb("VmRSS");
  const start = performance.now();
  const a = uniformArray(SIZE * SIZE, 1);
  const b = uniformArray(SIZE * SIZE, 2);
  const out = new Float64Array(SIZE * SIZE);
  matmulKernel(a, b, out, SIZE, SIZE, SIZE);
  const rssAfterForward = statusKb("VmRSS");
  const dOut = uniformArray(SIZE * SIZE, 3);
  const aT = new Float64Array(SIZE * SIZE);
  const bT = new Float64Array(SIZE * SIZE);
  transposeInto(a, aT, SIZE, SIZE);
  transposeInto(b, bT, SIZE, SIZE);
  const dA = new Float64Array(SIZE * SIZE);
  const dB = new Float64Array(SIZE * SIZE);
  matmulKernel(dOut, bT, dA, SIZE, SIZE, SIZE);
  matmulKernel(aT, dOut, dB, SIZE, SIZE, SIZE);
  const ms = performance.now() - start;
  const rssPeak = statusKb("VmHWM");
  // Check one element of each product by hand, which also keeps every result alive.
  checkElement(out, a, b, 17, 300);
  checkElement(dA, dOut, bT, 511, 0);
  checkElement(dB, aT, dOut, 3, 511);
  return measured(rssBase, rssAfterForward, rssPeak, ms);
}

// Within the dot product's error bound 2·γ_n·Σ|xy| of the textbook fold: the engine's kernel
// may fuse multiply-adds.
function checkElement(m: Float64Array, x: Float64Array, y: Float64Array, i: number, j: number) {
  let s = 0, scale = 0;
  for (let p = 0; p < SIZE; p++) {
    s += x[i * SIZE + p] * y[p * SIZE + j];
    scale += Math.abs(x[i * SIZE + p] * y[p * SIZE + j]);
  }
  const bound = 2 * ((SIZE * 2 ** -53) / (1 - SIZE * 2 ** -53)) * scale;
  if (!(Math.abs(m[i * SIZE + j] - s) <= bound)) {
    throw new Error(`matmul_memory: wrong product at (${i}, ${j})`);
  }
}

const MINIMUM = 6 * BYTES;
const engine = Deno.args.includes("--engine")
  ? Deno.args[Deno.args.indexOf("--engine") + 1]
  : "kernel";
if (engine !== "kernel" && engine !== "tensor") {
  throw new RangeError(`matmul_memory: --engine must be kernel or tensor, got ${engine}`);
}
const round = engine === "tensor" ? tensorRound : kernelRound;
const peakReset = resetPeak();
// The first round also pays for compiling the loops (V8's optimising compiler allocates
// while it works); the second runs compiled code, which is what the arrays alone cost.
const first = round();
const second = round();

console.log(JSON.stringify({
  bench: "matmul_memory",
  engine,
  size: SIZE,
  peak_reset: peakReset,
  minimum_bytes: MINIMUM,
  first_round: first,
  second_round: second,
  peak_minus_base: second.peak_minus_base,
  peak_over_minimum: second.peak_over_minimum,
}));
