/**
 * The WebAssembly SIMD kernels of `_simd_module.ts` called on ordinary typed arrays, and the
 * one table that says which ops use them, from which size: {@link SIMD_FROM}.
 *
 * Tensors live in ordinary ArrayBuffers, so a kernel call copies its operands into the
 * kernels' memory and its results back out (float32 storage as it is where the op has a
 * float32 kernel, else widened on the way in and rounded on the way out by the typed arrays'
 * own conversion; Adam's moments stay in a memory of their own, {@link SimdAdamMoments}). A
 * call therefore pays a fixed cost and a copy per element; it is used only where it was
 * measured to be faster than the plain TypeScript loop, copies included. The TypeScript loops stay the reference: each
 * kernel is property-tested against them (`tests/tensor/simd_kernel_test.ts`).
 *
 * @module
 */

import { type DType, dtypeOf, type FloatArray } from "../_dtype.ts";
import type { BinaryLoops, UnaryLoops } from "./_elementwise.ts";
import { MAX_PAGES } from "./_simd_module.ts";
import { moduleBytes } from "./_modules.ts";
import type { AttentionSizes } from "./_attention.ts";

/**
 * The ops with a SIMD kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SimdOp } from "./simd.ts";
 * const op: SimdOp = "gelu";
 * assert.ok(op === "gelu");
 * ```
 */
export type SimdOp =
  | "add"
  | "sub"
  | "mul"
  | "exp"
  | "tanh"
  | "gelu"
  | "softmax"
  | "layerNormForward"
  | "layerNormBackward"
  | "adam"
  | "adamFlat"
  | "nonFinite";

/**
 * For which numbers of elements each op runs its SIMD kernel, per element type of its
 * storage: `[from, below)` (`[Infinity, Infinity]`: never). Set from `bench/simd_crossover.ts`
 * (TypeScript time / SIMD time, copies included, median of 7 alternating rounds, 2 shared
 * cores; saved in `bench/results/simd/`), rows of 64 for the row-wise ops. Figures at
 * 16 · 64 · 256 · 1024 · 4096 · 65536 · 2²⁰ elements:
 *
 * - add, sub, mul, float64: 0.15 · 0.4 · 0.9 · 1.15 · 1.3 · 1.3 · 0.85 (beyond the caches the
 *   copies double the memory traffic of a loop that does one operation an element); float32:
 *   0.25 · 0.9 · 1.8 · 2.4 · 2.8 · 3.0 · 2.4 (the loop's float32 stores round one by one, the
 *   copy out in one native loop). All three alike. A repeated row of 64 (a bias): float32
 *   1.8–3.9 from 256; float64 0.9–1.0 for mul in every run and for add under load (see
 *   `repeatable`). Float32 arrays now go to float32 kernels (four lanes, the same results,
 *   copied without conversion): add against the float64-lane kernel 1.3 · 1.9 · 2.5 · 2.5 ·
 *   2.8 · 2.7 at 64 · 256 · 1024 · 4096 · 32768 · 2¹⁸ (a repeated row of 64: 1.6–1.9), and
 *   against the loop 0.45 · 1.16 · 2.2 · 2.6 · 2.6 · 2.9 (a row: 0.9 · 1.3 · 1.6 · 1.4 · 1.6).
 * - exp, tanh, GELU: 0.6–0.95 · 1.4–1.9 · 2.0–2.6, then 2.1–5.3 above. GELU of float32
 *   arrays runs its own four-lane kernel (`gelu32`, float32 copied without conversion):
 *   1.3 · 3.5 · 5.9 · 6.9 · 7.3 (at 8 elements 0.7; 3.1 times the float64-lane kernel on
 *   2¹⁷), so from 16.
 * - GELU's float32 backward: a kernel in float64 lanes (bit for bit the loop's) measured
 *   1.1–1.2 times the loop from 1024 elements (1.6 with the arrays out of the cache), but
 *   0.94–0.96 in the names transformer's step (the loop reads its three arrays once, the
 *   kernel copies them): left out.
 * - softmax: 1.4–1.6 from one row of 64, 1.2–2.3 above.
 * - layer norm forward: the row sums in four interleaved partial sums (`ops.ts`'s `rowSum`,
 *   two vectors here) and no float64 copy of the normalized rows (backward computes them
 *   again): float32 (x and out copied as they are) 0.85–0.93 · 0.84–0.98 · 1.08–1.61 ·
 *   1.62–1.65 · 1.48–1.94 at 64 · 256 · 1024 · 4096 · 32768; float64 0.98 · 0.94–0.97 ·
 *   1.39–2.28 · 2.15–2.31 · 2.10–2.12 (two runs). On the names transformer's [512, 64]
 *   float32 rows: 0.058 ms against 0.120 for the loop of sequential sums it replaces.
 * - layer norm backward, its row sums in `rowSum`'s order and n computed again from x:
 *   float32 (grad, x and ∂x copied as they are) 1.20–1.23 · 1.56–1.60 · 1.94–1.98 ·
 *   2.07–2.38 · 2.20–2.24 at 64 · 256 · 1024 · 4096 · 32768; float64 0.82–0.84 · 1.01–1.10
 *   · 1.33–1.88 · 2.46 · 2.47–2.55 (two runs). On [512, 64] float32: 0.08 ms against 0.10
 *   for the kernel with sequential sums and widening copies it replaces.
 * - Adam (`lm`'s TensorAdamW, one parameter tensor at a time, its moments kept in the
 *   kernels' memory by {@link SimdAdamMoments}): float32 (θ and g copied as they are)
 *   0.76–0.93 · 0.98 · 1.42 · 1.66 · 1.66 · 1.70 at 16 · 64 · 256 · 1024 · 4096 · 16384;
 *   float64 0.74 · 1.01 · 1.27–1.32 · 1.31–1.34 · 1.35–1.39 · 1.43–1.85 (two runs). The
 *   kernel's three float64 divisions and square root an element bound it (≈ 2.9 ns). On the
 *   names transformer's 204,544 float32 parameters, cold: 0.67–0.70 of the time of the
 *   kernel with widening copies of θ and g and copies of the moments in and out.
 * - The finiteness test (every op's result and every gradient pass it; TensorAdamW refuses a
 *   step with a non-finite gradient), against the loop of four branch-free sums of x − x:
 *   float32 (copied as it is) 0.44 · 0.80 · 1.31 · 1.95 · 2.70 · 2.99 · 3.08 at 64 · 256 ·
 *   512 · 1024 · 4096 · 32768 · 2¹⁷; float64, whose copy costs twice as much, 0.48 · 0.76 ·
 *   0.99 · 1.05 · 1.17 · 1.12 at 256 · 512 · 1024 · 4096 · 32768 · 2¹⁷: not routed.
 * - Adam over one flat Float64Array (`nn`'s Adam and AdamW, parameters gathered): 0.4–0.9 to
 *   256, 1.0–1.05 to 65536, 0.85 at 2²⁰: that loop reads and writes float64 arrays of one kind
 *   only and is as fast as the copies; not routed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SIMD_FROM } from "./simd.ts";
 * const [from, below] = SIMD_FROM.gelu.float32;
 * assert.ok(from < below);
 * ```
 */
export const SIMD_FROM: Readonly<Record<SimdOp, Readonly<Record<DType, SizeRange>>>> = {
  add: { float64: [1024, 2 ** 19], float32: [256, Infinity] },
  sub: { float64: [1024, 2 ** 19], float32: [256, Infinity] },
  mul: { float64: [1024, 2 ** 19], float32: [256, Infinity] },
  exp: { float64: [64, Infinity], float32: [64, Infinity] },
  tanh: { float64: [64, Infinity], float32: [64, Infinity] },
  gelu: { float64: [64, Infinity], float32: [16, Infinity] },
  softmax: { float64: [64, Infinity], float32: [64, Infinity] },
  layerNormForward: { float64: [1024, Infinity], float32: [1024, Infinity] },
  layerNormBackward: { float64: [1024, Infinity], float32: [64, Infinity] },
  adam: { float64: [256, Infinity], float32: [256, Infinity] },
  adamFlat: { float64: [Infinity, Infinity], float32: [Infinity, Infinity] },
  nonFinite: { float64: [Infinity, Infinity], float32: [512, Infinity] },
};

/**
 * Sizes `[from, below)`: at least `from` elements and fewer than `below`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SizeRange } from "./simd.ts";
 * const fromAThousand: SizeRange = [1024, Infinity];
 * assert.ok(fromAThousand[0] === 1024);
 * ```
 */
export type SizeRange = readonly [from: number, below: number];

/**
 * Which ops run their SIMD kernels: `"measured"` (the default) those that {@link SIMD_FROM}
 * routes; `"always"` every op with a kernel, at any size; `"never"` none (every op runs its
 * TypeScript loop). For measuring and testing one against the other in the same run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SimdMode } from "./simd.ts";
 * const mode: SimdMode = "never";
 * assert.ok(mode === "never");
 * ```
 */
export type SimdMode = "measured" | "always" | "never";

let mode: SimdMode = "measured";

/**
 * Sets which ops run their SIMD kernels (see {@link SimdMode}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setSimdMode, simdMode } from "./simd.ts";
 * setSimdMode("never");
 * assert.ok(simdMode() === "never");
 * setSimdMode("measured");
 * ```
 */
export function setSimdMode(next: SimdMode): void {
  if (next !== "measured" && next !== "always" && next !== "never") {
    throw new TypeError(
      `setSimdMode: mode must be "measured", "always" or "never", got ${String(next)}`,
    );
  }
  mode = next;
}

/**
 * The current {@link SimdMode}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simdMode } from "./simd.ts";
 * assert.ok(["measured", "always", "never"].includes(simdMode()));
 * ```
 */
export function simdMode(): SimdMode {
  return mode;
}

/** Whether `op` on `length` elements of `dtype` storage runs its SIMD kernel. */
function routed(op: SimdOp, dtype: DType, length: number): boolean {
  if (mode !== "measured") return mode === "always";
  const [from, below] = SIMD_FROM[op][dtype];
  return length >= from && length < below;
}

// ---------------------------------------------------------------------------------------
// The kernels' memory
// ---------------------------------------------------------------------------------------

// Relaxed SIMD's multiply-add where it validates (as the matrix kernels do); else separate.
const fusedModuleBytes = moduleBytes("simd-fused");
const FUSED = WebAssembly.validate(fusedModuleBytes);
const memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
const simdModule = new WebAssembly.Module(
  FUSED ? fusedModuleBytes : moduleBytes("simd-separate"),
);
const kernels = new WebAssembly.Instance(simdModule, { env: { memory } })
  .exports as unknown as Kernels;

// The batched attention kernels, on the same memory: compiled on first use, so that a
// program without attention does not pay for them when it starts.
let attention: AttentionKernels | null = null;
function attentionKernels(): AttentionKernels {
  attention ??= new WebAssembly.Instance(
    new WebAssembly.Module(moduleBytes(FUSED ? "attention-fused" : "attention-separate")),
    { env: { memory } },
  ).exports as unknown as AttentionKernels;
  return attention;
}

type F = (...args: number[]) => void;
type Test = (...args: number[]) => number;
interface AttentionKernels {
  readonly forward: F;
  readonly backward: F;
  readonly forward32: F;
  readonly backward32: F;
}
interface Kernels {
  readonly add: F;
  readonly sub: F;
  readonly mul: F;
  readonly add32: F;
  readonly sub32: F;
  readonly mul32: F;
  readonly exp: F;
  readonly tanh: F;
  readonly gelu: F;
  readonly gelu32: F;
  readonly softmax: F;
  readonly layerNormForward: F;
  readonly layerNormForward32: F;
  readonly layerNormBackward: F;
  readonly layerNormBackward32: F;
  readonly adam: F;
  readonly adam32: F;
  readonly nonFinite32: Test;
  readonly nonFinite64: Test;
}

// Views of the kernels' memory, float64 and float32 (renewed when the memory has grown).
let heap = new Float64Array(memory.buffer);
let heap32 = new Float32Array(memory.buffer);
let top = 0;

/**
 * Makes room for arrays of `lengths` float64s and returns their byte addresses: each starts
 * on a 16-byte boundary and has 16 bytes of room after it (the kernels' vectors run past the
 * end). Address 0 is never given out (kernels read it as "not wanted").
 */
function place(...lengths: number[]): number[] {
  top = 16;
  const addresses = lengths.map((length) => {
    const address = top;
    top += Math.ceil(length / 2) * 16 + 16;
    return address;
  });
  if (top > memory.buffer.byteLength) {
    memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536));
  }
  // A shared memory's old buffers stay valid when it grows: only the view's length changes.
  if (heap.length * 8 !== memory.buffer.byteLength) {
    heap = new Float64Array(memory.buffer);
    heap32 = new Float32Array(memory.buffer);
  }
  return addresses;
}

/** Copies `data` (widened to float64) to byte address `address`. */
function copyIn(data: FloatArray, address: number): void {
  heap.set(data, address / 8);
}

/** Copies `target.length` elements from byte address `address` into `target`. */
function copyOut(address: number, target: FloatArray): void {
  target.set(heap.subarray(address / 8, address / 8 + target.length));
}

/**
 * Writes elements [from, from + length) of `data` repeated with period `period` at `address`
 * (`from` a multiple of the period unless the period is the whole).
 */
function copyRepeated(
  data: FloatArray,
  period: number,
  from: number,
  length: number,
  address: number,
): void {
  const start = address / 8;
  if (period === 1) heap.fill(data[0], start, start + length);
  else if (period >= from + length) heap.set(data.subarray(from, from + length), start);
  else for (let at = 0; at < length; at += period) heap.set(data.subarray(0, period), start + at);
}

/** {@link copyRepeated} for float32 data into float32 storage at byte `address`. */
function copyRepeated32(
  data: Float32Array,
  period: number,
  from: number,
  length: number,
  address: number,
): void {
  const start = address / 4;
  if (period === 1) heap32.fill(data[0], start, start + length);
  else if (period >= from + length) heap32.set(data.subarray(from, from + length), start);
  else {
    for (let at = 0; at < length; at += period) heap32.set(data.subarray(0, period), start + at);
  }
}

/**
 * Elements per kernel call: long arrays go through in chunks of this many, so that what is
 * copied in is still in the cache when the kernel reads it and what it writes when it is
 * copied out (whole arrays at once were measured slower than the loops from about 10⁶).
 */
const CHUNK = 8192;

// ---------------------------------------------------------------------------------------
// The kernels on typed arrays (always SIMD: for the tests and the crossover bench)
// ---------------------------------------------------------------------------------------

/**
 * Each kernel on ordinary typed arrays, copies included, whatever the size. The element-wise
 * ones take operands repeated with a period as the `_elementwise.ts` loops do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simdKernels } from "./simd.ts";
 * const out = new Float64Array(3);
 * simdKernels.binary("add", new Float64Array([1, 2, 3]), 3, new Float64Array([10]), 1, out);
 * assert.ok(out.join() === "11,12,13");
 * ```
 */
export const simdKernels = {
  /** `out[i] = x[i mod px] op y[i mod py]`. */
  binary(
    op: "add" | "sub" | "mul",
    x: FloatArray,
    px: number,
    y: FloatArray,
    py: number,
    out: FloatArray,
  ): void {
    const n = out.length;
    // A chunk is whole rows of a repeated operand.
    const row = Math.max(px < n ? px : 1, py < n ? py : 1);
    const chunk = row * Math.max(1, Math.floor(CHUNK / row));
    const size = Math.min(n, chunk);
    const [ax, ay, ao] = place(size, size, size);
    if (x instanceof Float32Array && y instanceof Float32Array && out instanceof Float32Array) {
      // Float32 arrays as they are, to the float32 kernel (the same results: see add32).
      for (let from = 0; from < n; from += chunk) {
        const length = Math.min(chunk, n - from);
        copyRepeated32(x, px, from, length, ax);
        copyRepeated32(y, py, from, length, ay);
        kernels[`${op}32`](ax, ay, ao, length);
        out.set(heap32.subarray(ao / 4, ao / 4 + length), from);
      }
      return;
    }
    for (let from = 0; from < n; from += chunk) {
      const length = Math.min(chunk, n - from);
      copyRepeated(x, px, from, length, ax);
      copyRepeated(y, py, from, length, ay);
      kernels[op](ax, ay, ao, length);
      copyOut(ao, out.subarray(from, from + length));
    }
  },
  /** `out[i] = f(x[i])`. */
  unary(op: "exp" | "tanh" | "gelu", x: FloatArray, out: FloatArray): void {
    const n = out.length;
    const [ax, ao] = place(Math.min(n, CHUNK), Math.min(n, CHUNK));
    for (let from = 0; from < n; from += CHUNK) {
      const to = Math.min(n, from + CHUNK);
      copyIn(x.subarray(from, to), ax);
      kernels[op](ax, ao, to - from);
      copyOut(ao, out.subarray(from, to));
    }
  },
  /**
   * GELU of float32 arrays by the four-lane float32 kernel (`_simd_module.ts`'s `gelu32`:
   * within 6 float32 ulps of the reference), copied in and out without conversion.
   */
  gelu32(x: Float32Array, out: Float32Array): void {
    const n = out.length;
    // place() counts float64s: n float32s take ⌈n/2⌉ of them.
    const [ax, ao] = place(Math.ceil(Math.min(n, CHUNK) / 2), Math.ceil(Math.min(n, CHUNK) / 2));
    for (let from = 0; from < n; from += CHUNK) {
      const to = Math.min(n, from + CHUNK);
      heap32.set(x.subarray(from, to), ax / 4);
      kernels.gelu32(ax, ao, to - from);
      out.set(heap32.subarray(ao / 4, ao / 4 + (to - from)), from);
    }
  },
  /**
   * The index of the first element of `data` that is ±∞ or NaN, or −1: the kernel tests
   * each chunk (copied as it is, the 64 bytes past its end zeroed: the kernel reads four
   * vectors at a time), and only a chunk that holds one is searched element by element.
   */
  firstNonFinite(data: FloatArray): number {
    const n = data.length;
    const float32 = data instanceof Float32Array;
    const [at] = place(Math.min(n, CHUNK) + 8); // 8 float64s: the 64 bytes past the end
    const [view, scale] = float32 ? [heap32, 4] : [heap, 8];
    for (let from = 0; from < n; from += CHUNK) {
      const to = Math.min(n, from + CHUNK);
      view.set(data.subarray(from, to), at / scale);
      view.fill(0, at / scale + to - from, at / scale + to - from + 64 / scale);
      if ((float32 ? kernels.nonFinite32 : kernels.nonFinite64)(at, to - from) === 0) continue;
      for (let e = from; e < to; e++) if (!Number.isFinite(data[e])) return e;
    }
    return -1;
  },
  /** Softmax over each of `rows` rows of `width` elements. */
  softmax(x: FloatArray, out: FloatArray, rows: number, width: number): void {
    const [ax, ao] = place(x.length, x.length);
    copyIn(x, ax);
    kernels.softmax(ax, ao, rows, width);
    copyOut(ao, out);
  },
  /** Layer norm's forward over rows of `weight.length`, as `ops.ts` computes it: out, and
   * each row's mean and 1/σ. */
  layerNormForward(
    x: FloatArray,
    weight: FloatArray,
    bias: FloatArray,
    eps: number,
    out: FloatArray,
    mean: Float64Array,
    inverseStd: Float64Array,
  ): void {
    const width = weight.length;
    const [ax, aw, ab, ao, am, as] = place(
      x.length,
      width,
      width,
      x.length,
      mean.length,
      inverseStd.length,
    );
    // float32 x and out are copied as they are, for the float32 kernel.
    const float32 = x instanceof Float32Array && out instanceof Float32Array;
    if (float32) heap32.set(x, ax / 4);
    else copyIn(x, ax);
    copyIn(weight, aw);
    copyIn(bias, ab);
    (float32 ? kernels.layerNormForward32 : kernels.layerNormForward)(
      ax,
      aw,
      ab,
      ao,
      am,
      as,
      inverseStd.length,
      width,
      eps,
    );
    if (float32) out.set(heap32.subarray(ao / 4, ao / 4 + out.length));
    else copyOut(ao, out);
    copyOut(am, mean);
    copyOut(as, inverseStd);
  },
  /**
   * Layer norm's backward from the forward's x and per-row mean and 1/σ: writes gx, adds
   * into gw and gb (each may be null). A float32 grad or x is widened on the way in and a
   * float32 gx rounded on the way out.
   */
  layerNormBackward(
    grad: FloatArray,
    weight: FloatArray,
    x: FloatArray,
    mean: Float64Array,
    inverseStd: Float64Array,
    gx: FloatArray | null,
    gw: Float64Array | null,
    gb: Float64Array | null,
  ): void {
    const width = weight.length;
    const n = grad.length;
    const [ag, aw, axi, am, as, ax, agw, agb] = place(
      n,
      width,
      n,
      mean.length,
      inverseStd.length,
      gx === null ? 0 : n,
      gw === null ? 0 : width,
      gb === null ? 0 : width,
    );
    // float32 grad, x and gx are copied as they are, for the float32 kernel.
    const float32 = grad instanceof Float32Array && x instanceof Float32Array &&
      (gx === null || gx instanceof Float32Array);
    if (float32) {
      heap32.set(grad, ag / 4);
      heap32.set(x, axi / 4);
    } else {
      copyIn(grad, ag);
      copyIn(x, axi);
    }
    copyIn(weight, aw);
    copyIn(mean, am);
    copyIn(inverseStd, as);
    if (gw !== null) copyIn(gw, agw);
    if (gb !== null) copyIn(gb, agb);
    (float32 ? kernels.layerNormBackward32 : kernels.layerNormBackward)(
      ag,
      aw,
      axi,
      am,
      as,
      gx === null ? 0 : ax,
      gw === null ? 0 : agw,
      gb === null ? 0 : agb,
      inverseStd.length,
      width,
    );
    if (gx !== null && float32) gx.set(heap32.subarray(ax / 4, ax / 4 + gx.length));
    else if (gx !== null) copyOut(ax, gx);
    if (gw !== null) copyOut(agw, gw);
    if (gb !== null) copyOut(agb, gb);
  },
  /**
   * Adam's update of `theta` (in place unless `thetaOut`, `mOut`, `vOut` are given) from
   * `grad` (null: zeros) and the moments `m`, `v`, on elements [from, to).
   */
  adam(
    theta: FloatArray,
    grad: FloatArray | null,
    m: Float64Array,
    v: Float64Array,
    settings: AdamSettings,
    from = 0,
    to = theta.length,
    thetaOut: FloatArray = theta,
    mOut: Float64Array = m,
    vOut: Float64Array = v,
  ): void {
    const size = Math.min(to - from, CHUNK);
    const [at, ag, am, av] = place(size, size, size, size);
    // float32 θ and g are copied as they are (no conversion) for the float32 kernel.
    const float32 = theta instanceof Float32Array && thetaOut instanceof Float32Array &&
      (grad === null || grad instanceof Float32Array);
    for (let start = from; start < to; start += CHUNK) {
      const end = Math.min(to, start + CHUNK);
      const n = end - start;
      if (float32) {
        heap32.set(theta.subarray(start, end), at / 4);
        if (grad === null) heap32.fill(0, ag / 4, ag / 4 + n);
        else heap32.set(grad.subarray(start, end), ag / 4);
      } else {
        copyIn(theta.subarray(start, end), at);
        if (grad === null) heap.fill(0, ag / 8, ag / 8 + n);
        else copyIn(grad.subarray(start, end), ag);
      }
      copyIn(m.subarray(start, end), am);
      copyIn(v.subarray(start, end), av);
      adamKernel(float32 ? kernels.adam32 : kernels.adam, at, ag, am, av, n, settings);
      if (float32) thetaOut.set(heap32.subarray(at / 4, at / 4 + n), start);
      else copyOut(at, thetaOut.subarray(start, end));
      copyOut(am, mOut.subarray(start, end));
      copyOut(av, vOut.subarray(start, end));
    }
  },
};

/** One call of Adam's kernel `kernel` (`adam` or `adam32`) on the n elements at those byte
 * addresses of θ, g, m and v, with the step's scalars. */
function adamKernel(
  kernel: F,
  at: number,
  ag: number,
  am: number,
  av: number,
  n: number,
  s: AdamSettings,
): void {
  const { beta1, beta2, correction1, correction2, lr, lambda, eps, mode } = s;
  kernel(at, ag, am, av, n, beta1, beta2, correction1, correction2, lr, lambda, eps, mode);
}

/** The largest moments (bytes of m and v together) that {@link SimdAdamMoments} keeps. */
const MOMENTS_MAX_BYTES = 2 ** 28;

/**
 * Adam's moments m and v of a list of parameters, kept in a WebAssembly memory of their own
 * (with room for one chunk of θ and of g), so that a step copies θ in and out and g in while
 * the moments stay where the kernel reads and writes them: no copy of the moments, which are
 * float64 and twice θ's size each. `m[i]` and `v[i]` are ordinary Float64Array views of that
 * memory, which are the moments (a loop may update them as well).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimdAdamMoments } from "./simd.ts";
 * const moments = SimdAdamMoments.create([3])!;
 * const theta = new Float64Array([1, 2, 3]);
 * const settings = { beta1: 0.9, beta2: 0.999, correction1: 0.1, correction2: 0.001,
 *   lr: 0.1, lambda: 0, eps: 1e-8, mode: 0 } as const;
 * moments.update(0, theta, new Float64Array([1, 1, 1]), settings);
 * assert.ok(theta[0] < 1 && moments.m[0][0] > 0);
 * ```
 */
export class SimdAdamMoments {
  /** First moments, one array a parameter. */
  readonly m: readonly Float64Array[];
  /** Second moments, one array a parameter. */
  readonly v: readonly Float64Array[];
  readonly #kernels: Kernels;
  readonly #heap: Float64Array;
  readonly #heap32: Float32Array;
  readonly #mAt: readonly number[];
  readonly #vAt: readonly number[];
  readonly #thetaAt: number;
  readonly #gradAt: number;

  /**
   * Zeroed moments for parameters of `sizes` elements, or null when they would take more than
   * 256 MiB (the caller keeps its own arrays and copies them through `simdKernels.adam`).
   */
  static create(sizes: readonly number[]): SimdAdamMoments | null {
    const bytes = sizes.reduce((total, n) => total + 16 * n, 0);
    return bytes > MOMENTS_MAX_BYTES ? null : new SimdAdamMoments(sizes);
  }

  private constructor(sizes: readonly number[]) {
    // Each array on a 16-byte boundary with 16 bytes of room after it (vectors run past).
    let top = 16;
    const room = (n: number) => {
      const at = top;
      top += Math.ceil(n / 2) * 16 + 16;
      return at;
    };
    const mAt = sizes.map(room);
    const vAt = sizes.map(room);
    this.#thetaAt = room(CHUNK);
    this.#gradAt = room(CHUNK);
    const pages = Math.ceil(top / 65536);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.#kernels = new WebAssembly.Instance(simdModule, { env: { memory } })
      .exports as unknown as Kernels;
    this.#heap = new Float64Array(memory.buffer);
    this.#heap32 = new Float32Array(memory.buffer);
    this.#mAt = mAt;
    this.#vAt = vAt;
    this.m = sizes.map((n, i) => new Float64Array(memory.buffer, mAt[i], n));
    this.v = sizes.map((n, i) => new Float64Array(memory.buffer, vAt[i], n));
  }

  /**
   * Adam's update of parameter `index`: `theta` in place from `grad` (null: zeros) and the
   * moments, which are updated too; bit for bit `simdKernels.adam`'s.
   */
  update(index: number, theta: FloatArray, grad: FloatArray | null, settings: AdamSettings): void {
    const [heap, heap32, at, ag] = [this.#heap, this.#heap32, this.#thetaAt, this.#gradAt];
    const float32 = theta instanceof Float32Array &&
      (grad === null || grad instanceof Float32Array);
    for (let start = 0; start < theta.length; start += CHUNK) {
      const end = Math.min(theta.length, start + CHUNK);
      const n = end - start;
      const target = float32 ? heap32 : heap;
      const scale = float32 ? 4 : 8;
      target.set(theta.subarray(start, end), at / scale);
      if (grad === null) target.fill(0, ag / scale, ag / scale + n);
      else target.set(grad.subarray(start, end), ag / scale);
      const kernel = float32 ? this.#kernels.adam32 : this.#kernels.adam;
      const [am, av] = [this.#mAt[index] + 8 * start, this.#vAt[index] + 8 * start];
      adamKernel(kernel, at, ag, am, av, n, settings);
      theta.set(target.subarray(at / scale, at / scale + n), start);
    }
  }
}

/**
 * The scalars of one Adam step (see `_simd_module.ts`'s `adam`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdamSettings } from "./simd.ts";
 * const s: AdamSettings = { beta1: 0.9, beta2: 0.999, correction1: 0.1, correction2: 0.001,
 *   lr: 1e-3, lambda: 0, eps: 1e-8, mode: 0 };
 * assert.ok(s.mode === 0);
 * ```
 */
export interface AdamSettings {
  /** β₁. */
  readonly beta1: number;
  /** β₂. */
  readonly beta2: number;
  /** 1 − β₁ᵗ. */
  readonly correction1: number;
  /** 1 − β₂ᵗ. */
  readonly correction2: number;
  /** Learning rate. */
  readonly lr: number;
  /** Weight decay λ. */
  readonly lambda: number;
  /** ε. */
  readonly eps: number;
  /** 0: no weight decay; 1: decoupled (AdamW: θ − lr·λ·θ); 2: coupled (g + λθ). */
  readonly mode: 0 | 1 | 2;
}

// ---------------------------------------------------------------------------------------
// Routing: the hooks of ops.ts and the optimizers
// ---------------------------------------------------------------------------------------

/**
 * Whether an operand of `period` goes to the kernel: the whole result or a scalar, and for
 * float32 a repeated row of 32 or more (copied in row by row; for float64 that was measured
 * no faster than the loop).
 */
function repeatable(period: number, length: number, dtype: DType): boolean {
  return period === length || period === 1 || (dtype === "float32" && period >= 32);
}

/**
 * `loops` with forward running the SIMD kernel of `op` where {@link SIMD_FROM} routes it
 * (operands and result of one element type); backward (and backward32) is `loops`' own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hotLoops } from "./_elementwise.ts";
 * import { routedBinaryLoops } from "./simd.ts";
 * const add = routedBinaryLoops("add", hotLoops.binary.add);
 * const out = new Float64Array(2);
 * add.forward(new Float64Array([1, 2]), 2, new Float64Array([3, 4]), 2, out);
 * assert.ok(out.join() === "4,6");
 * ```
 */
export function routedBinaryLoops(op: "add" | "sub" | "mul", loops: BinaryLoops): BinaryLoops {
  return {
    forward(x, px, y, py, out) {
      const dtype = dtypeOf(out);
      if (
        routed(op, dtype, out.length) && dtypeOf(x) === dtype && dtypeOf(y) === dtype &&
        repeatable(px, out.length, dtype) && repeatable(py, out.length, dtype)
      ) {
        simdKernels.binary(op, x, px, y, py, out);
      } else {
        loops.forward(x, px, y, py, out);
      }
    },
    backward: loops.backward,
    backward32: loops.backward32,
    unitSlope: loops.unitSlope,
  };
}

/**
 * `loops` with forward running the SIMD kernel of `op` where {@link SIMD_FROM} routes it
 * (GELU of float32 arrays: the four-lane float32 kernel); backward (and backward32) is
 * `loops`' own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hotLoops } from "./_elementwise.ts";
 * import { routedUnaryLoops } from "./simd.ts";
 * const exp = routedUnaryLoops("exp", hotLoops.unary.exp);
 * const out = new Float64Array(1);
 * exp.forward(new Float64Array([0]), out);
 * assert.ok(out[0] === 1);
 * ```
 */
export function routedUnaryLoops(op: "exp" | "tanh" | "gelu", loops: UnaryLoops): UnaryLoops {
  return {
    forward(x, out) {
      const dtype = dtypeOf(x);
      if (!routed(op, dtype, out.length)) loops.forward(x, out);
      else if (op === "gelu" && dtype === "float32" && dtypeOf(out) === "float32") {
        simdKernels.gelu32(x as Float32Array, out as Float32Array);
      } else simdKernels.unary(op, x, out);
    },
    backward: loops.backward,
    backward32: loops.backward32,
  };
}

/**
 * The index of the first element of `data` that is ±∞ or NaN, or −1; by the SIMD kernel where
 * {@link SIMD_FROM} routes `nonFinite`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firstNonFinite } from "./simd.ts";
 * assert.equal(firstNonFinite(new Float32Array([1, 2, NaN, Infinity])), 2);
 * assert.equal(firstNonFinite(new Float64Array([1, -0, 3e300])), -1);
 * ```
 */
export function firstNonFinite(data: FloatArray): number {
  if (routed("nonFinite", dtypeOf(data), data.length)) return simdKernels.firstNonFinite(data);
  // One loop per element type: a loop that sees both reads every element polymorphically.
  return data instanceof Float64Array ? firstNonFinite64(data) : firstNonFinite32(data);
}

// The loops: x − x is +0 for every finite x and NaN otherwise, so four sums of such
// differences, without a branch per element (about 1.5× faster than testing each element),
// stay 0 until a non-finite element joins them; only then is the array searched element by
// element for the first culprit.
function firstNonFinite64(data: Float64Array): number {
  let a = 0, b = 0, c = 0, d = 0;
  const n = data.length;
  let i = 0;
  for (const end = n - (n % 4); i < end; i += 4) {
    a += data[i] - data[i];
    b += data[i + 1] - data[i + 1];
    c += data[i + 2] - data[i + 2];
    d += data[i + 3] - data[i + 3];
  }
  for (; i < n; i++) a += data[i] - data[i];
  if (a + b + c + d === 0) return -1;
  for (let j = 0; j < n; j++) {
    if (data[j] - data[j] !== 0) return j;
  }
  return -1;
}

function firstNonFinite32(data: Float32Array): number {
  let a = 0, b = 0, c = 0, d = 0;
  const n = data.length;
  let i = 0;
  for (const end = n - (n % 4); i < end; i += 4) {
    a += data[i] - data[i];
    b += data[i + 1] - data[i + 1];
    c += data[i + 2] - data[i + 2];
    d += data[i + 3] - data[i + 3];
  }
  for (; i < n; i++) a += data[i] - data[i];
  if (a + b + c + d === 0) return -1;
  for (let j = 0; j < n; j++) {
    if (data[j] - data[j] !== 0) return j;
  }
  return -1;
}

/**
 * Runs `op`'s SIMD kernel through `run` and returns true where {@link SIMD_FROM} routes `op`
 * on `length` elements of `data`'s type; else returns false (the caller runs its loop).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setSimdMode, simdRouted } from "./simd.ts";
 * setSimdMode("never");
 * assert.ok(!simdRouted("softmax", new Float64Array(8), () => {}));
 * setSimdMode("measured");
 * ```
 */
export function simdRouted(op: SimdOp, data: FloatArray, run: () => void): boolean {
  if (!routed(op, dtypeOf(data), data.length)) return false;
  run();
  return true;
}

// ---------------------------------------------------------------------------------------
// Batched attention (`_attention_module.ts`)
// ---------------------------------------------------------------------------------------

/**
 * Where the heads of an attention operand are stored: row t of head h of leading position o
 * starts at element `(o·rows + t)·rowWidth + column + h·d` of `data` (rows: Tq or Tk). A plain
 * [batch, T, d] array is `{ heads: 1, rowWidth: d, column: 0 }`; the q of a fused
 * [..., T, 3C] projection is `{ heads, rowWidth: 3C, column: 0 }`, its k at column C.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AttentionHeads } from "./simd.ts";
 * const k: AttentionHeads = { data: new Float64Array(12), heads: 2, rowWidth: 6, column: 2 };
 * assert.ok(k.heads === 2);
 * ```
 */
export interface AttentionHeads {
  /** The storage. */
  readonly data: FloatArray;
  /** Heads side by side in a row (the problems are leading positions × heads). */
  readonly heads: number;
  /** Elements of a stored row. */
  readonly rowWidth: number;
  /** Where head 0 starts in a row. */
  readonly column: number;
}

/**
 * The largest sizes for which selfAttention runs the batched SIMD kernel, by element type:
 * keys (T) and head size d. Set from `bench/attention_step.ts --grid` (selfAttention's forward and backward
 * alone on [8, T, 3·4·d], float32, kernel time / reference time, median of 20 alternating
 * pairs, 2 shared cores): d = 16: 0.85 · 0.88 · 0.94 at T = 16 · 32 · 64; d = 32: 0.96 ·
 * 1.06 · 1.16; d = 64: 1.13 · 1.21 · 1.38 (the reference's products grow efficient with d,
 * while the kernel's copies of the heads and its float64 arithmetic grow with it). With the
 * float32 kernels (float32 lanes, the heads read in place), d = 16: 0.74 · 0.81 · 0.84; routed
 * beyond these sizes too, float32 measured d = 32: 0.83 · 0.94 · 1.01 and d = 64: 0.96 · 1.00
 * · 0.81 (10 pairs, 2 loaded cores): too close to call then. After the float32 kernels came
 * to keep the probabilities for backward and to fold in two interleaved chains, the same grid
 * on the quiet machine (20 pairs, routing widened for the run): d = 16: 0.47 · 0.46 · 0.48; d
 * = 32: 0.55 · 0.59 · 0.59; d = 64: 0.58 · 0.64 · 0.68 at T = 16 · 32 · 64: float32 is routed
 * up to d = 64 (the Shakespeare GPT's heads are 32 wide, its T 64).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SIMD_ATTENTION_UP_TO } from "./simd.ts";
 * assert.ok(SIMD_ATTENTION_UP_TO.float32.d >= SIMD_ATTENTION_UP_TO.float64.d);
 * ```
 */
export const SIMD_ATTENTION_UP_TO: Readonly<
  Record<DType, Readonly<{ keys: number; d: number }>>
> = {
  float64: { keys: 64, d: 16 },
  float32: { keys: 64, d: 64 },
};

let attentionKernel = true;

/**
 * Turns the batched attention kernel off (`false`: the reference path at every size) or back
 * on (routed by {@link SIMD_ATTENTION_UP_TO}), under {@link SimdMode} `"measured"`: for
 * measuring one against the other in the same run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setSimdAttention, simdAttentionRouted } from "./simd.ts";
 * setSimdAttention(false);
 * assert.ok(!simdAttentionRouted(16, 16, "float64"));
 * setSimdAttention(true);
 * ```
 */
export function setSimdAttention(enabled: boolean): void {
  if (typeof enabled !== "boolean") {
    throw new TypeError(`setSimdAttention: enabled must be a boolean, got ${String(enabled)}`);
  }
  attentionKernel = enabled;
}

/**
 * Whether attention over `keys` keys of head size `d` in `dtype` runs the batched SIMD kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setSimdMode, simdAttentionRouted } from "./simd.ts";
 * setSimdMode("always");
 * assert.ok(simdAttentionRouted(1000, 1000, "float64"));
 * setSimdMode("measured");
 * ```
 */
export function simdAttentionRouted(keys: number, d: number, dtype: DType): boolean {
  if (mode !== "measured") return mode === "always";
  const upTo = SIMD_ATTENTION_UP_TO[dtype];
  return attentionKernel && keys <= upTo.keys && d <= upTo.d;
}

/** Rounds up to even: rows padded to whole vectors. */
function even(n: number): number {
  return n + (n & 1);
}

/** Rounds up to a multiple of 4: float32 rows padded to whole vectors. */
function fourfold(n: number): number {
  return (n + 3) & ~3;
}

/** An output of the float32 kernels: its heads and their rows (Tq or Tk) a position. */
interface Written {
  readonly heads: AttentionHeads;
  readonly rows: number;
}

/**
 * Whether the heads of `outputs` that are stored in `data` cover every element of it: their
 * columns side by side from 0 to the row's end, and `outer` positions of their rows in all.
 */
function coveredBy(
  data: FloatArray,
  outputs: readonly Written[],
  d: number,
  outer: number,
): boolean {
  const mine = outputs.filter((o) => o.heads.data === data);
  if (mine.some((o) => o.rows !== mine[0].rows || o.heads.rowWidth !== mine[0].heads.rowWidth)) {
    return false;
  }
  let end = 0;
  for (const { heads } of [...mine].sort((a, b) => a.heads.column - b.heads.column)) {
    if (heads.column !== end) return false;
    end += heads.heads * d;
  }
  const { rowWidth } = mine[0].heads;
  return end === rowWidth && data.length === outer * mine[0].rows * rowWidth;
}

/**
 * Places the float32 arrays of `inputs` and `outputs` (each distinct array once, whole) and
 * scratch of `scratch` float32s each in the kernels' memory, and copies in the inputs' arrays
 * and those outputs' arrays whose heads do not cover every element (the kernels write the
 * heads alone). Returns the byte address of head 0 of each operand, inputs then outputs, the
 * scratch's, and where each output array is, for {@link copyOut32}.
 */
function place32(
  inputs: readonly AttentionHeads[],
  outputs: readonly Written[],
  scratch: readonly number[],
  d: number,
  outer: number,
): { at: number[]; scratch: number[]; written: { data: FloatArray; address: number }[] } {
  const arrays: FloatArray[] = [];
  for (const { data } of [...inputs, ...outputs.map((o) => o.heads)]) {
    if (!arrays.includes(data)) arrays.push(data);
  }
  const addresses = place(
    ...[...arrays.map((a) => a.length), ...scratch].map((n) => Math.ceil(n / 2)),
  );
  if (heap32.length * 4 !== memory.buffer.byteLength) heap32 = new Float32Array(memory.buffer);
  const written: { data: FloatArray; address: number }[] = [];
  arrays.forEach((data, i) => {
    const output = outputs.some((o) => o.heads.data === data);
    if (!output || !coveredBy(data, outputs, d, outer)) heap32.set(data, addresses[i] / 4);
    if (output) written.push({ data, address: addresses[i] });
  });
  const at = [...inputs, ...outputs.map((o) => o.heads)].map(({ data, column }) =>
    addresses[arrays.indexOf(data)] + 4 * column
  );
  return { at, scratch: addresses.slice(arrays.length), written };
}

/** Copies the arrays `place32` placed for outputs back out. */
function copyOut32(written: readonly { data: FloatArray; address: number }[]): void {
  for (const { data, address } of written) {
    data.set(heap32.subarray(address / 4, address / 4 + data.length));
  }
}

/** Whether the float32 kernels take these operands: all float32, of one head count. */
function float32Operands(operands: readonly AttentionHeads[]): boolean {
  return operands.every((o) => o.data instanceof Float32Array && o.heads === operands[0].heads);
}

/**
 * Copies the heads of `from` ([batch, rows, d] problems) to byte address `address`: each
 * problem's rows `dp` wide, or (transposed) its d columns as rows `even(rows)` wide; padding 0.
 */
function headsIn(from: AttentionHeads, rows: number, d: number, batch: number, address: number) {
  const { data, heads, rowWidth, column } = from;
  const dp = even(d);
  for (let b = 0, at = address / 8; b < batch; b++) {
    const o = Math.floor(b / heads), h = b - o * heads;
    for (let t = 0; t < rows; t++, at += dp) {
      const src = (o * rows + t) * rowWidth + column + h * d;
      for (let e = 0; e < d; e++) heap[at + e] = data[src + e];
      if (dp > d) heap[at + d] = 0;
    }
  }
}

/** As {@link headsIn}, each problem transposed: d rows of `even(rows)`. */
function headsInTransposed(
  from: AttentionHeads,
  rows: number,
  d: number,
  batch: number,
  address: number,
) {
  const { data, heads, rowWidth, column } = from;
  const tp = even(rows);
  for (let b = 0, at = address / 8; b < batch; b++, at += d * tp) {
    const o = Math.floor(b / heads), h = b - o * heads;
    for (let t = 0; t < rows; t++) {
      const src = (o * rows + t) * rowWidth + column + h * d;
      for (let e = 0; e < d; e++) heap[at + e * tp + t] = data[src + e];
    }
    if (tp > rows) { for (let e = 0; e < d; e++) heap[at + e * tp + rows] = 0; }
  }
}

/** The inverse of {@link headsIn}: rows `dp` wide at `address` into the heads of `to`. */
function headsOut(address: number, to: AttentionHeads, rows: number, d: number, batch: number) {
  const { data, heads, rowWidth, column } = to;
  const dp = even(d);
  for (let b = 0, at = address / 8; b < batch; b++) {
    const o = Math.floor(b / heads), h = b - o * heads;
    for (let t = 0; t < rows; t++, at += dp) {
      const dst = (o * rows + t) * rowWidth + column + h * d;
      for (let e = 0; e < d; e++) data[dst + e] = heap[at + e];
    }
  }
}

/** The length of the P that forward32 keeps: for each query of each problem, the keys it
 * sees rounded up to a multiple of 4. */
function probabilitiesLength32(
  { batch, tq, tk, causal }: Pick<AttentionSizes, "batch" | "tq" | "tk" | "causal">,
): number {
  let perProblem = 0;
  for (let i = 0; i < tq; i++) perProblem += fourfold(causal ? i + 1 + tk - tq : tk);
  return batch * perProblem;
}

/**
 * The float32 kernel forward: the heads read and written in place, in float32 lanes; returns
 * P, as {@link probabilitiesLength32} lays it out.
 */
function forward32(
  q: AttentionHeads,
  k: AttentionHeads,
  v: AttentionHeads,
  out: AttentionHeads,
  { batch, tq, tk, d, scale, causal }: AttentionSizes,
): Float32Array {
  const outer = batch / q.heads, dp = fourfold(d), tkp = fourfold(tk);
  const probsLength = probabilitiesLength32({ batch, tq, tk, causal });
  const outputs = [{ heads: out, rows: tq }];
  const { at, scratch, written } = place32(
    [q, k, v],
    outputs,
    [d * tkp, probsLength, dp],
    d,
    outer,
  );
  const stride = [q, k, v, out].map((o) => 4 * o.rowWidth);
  attentionKernels().forward32(
    ...at.flatMap((address, i) => [address, stride[i]]),
    ...scratch,
    outer,
    q.heads,
    tq,
    tk,
    d,
    scale,
    causal ? 1 : 0,
  );
  copyOut32(written);
  // A new array set from the memory's view (slice of a shared memory's view copies element
  // by element: ~50 times slower).
  const probs = new Float32Array(probsLength);
  probs.set(heap32.subarray(scratch[1] / 4, scratch[1] / 4 + probsLength));
  return probs;
}

/** The float32 kernel backward, from the P {@link forward32} returned. */
function backward32(
  grad: AttentionHeads,
  q: AttentionHeads,
  k: AttentionHeads,
  v: AttentionHeads,
  { batch, tq, tk, d, scale, causal }: AttentionSizes,
  dq: AttentionHeads,
  dk: AttentionHeads,
  dv: AttentionHeads,
  probs: Float32Array,
): void {
  const outer = batch / q.heads, dp = fourfold(d), tkp = fourfold(tk);
  const probsLength = probabilitiesLength32({ batch, tq, tk, causal });
  if (probs.length !== probsLength) {
    throw new RangeError(
      `simdAttention.backward: probs must hold ${probsLength} values, got ${probs.length}`,
    );
  }
  const outputs = [{ heads: dq, rows: tq }, { heads: dk, rows: tk }, { heads: dv, rows: tk }];
  const { at, scratch, written } = place32(
    [grad, q, k, v],
    outputs,
    [
      d * tkp,
      probs.length,
      tkp,
      dp,
      tk * dp,
      tk * dp,
    ],
    d,
    outer,
  );
  heap32.set(probs, scratch[1] / 4);
  const operands = [grad, q, k, v, dq, dk, dv];
  attentionKernels().backward32(
    ...operands.flatMap((o, i) => [at[i], 4 * o.rowWidth]),
    ...scratch,
    outer,
    q.heads,
    tq,
    tk,
    d,
    scale,
    causal ? 1 : 0,
  );
  copyOut32(written);
}

/**
 * Attention's batched SIMD kernels on ordinary typed arrays, copies included, whatever the
 * size: every (batch × head) problem of `sizes` in one call forward and one backward. They
 * compute what `_attention.ts`'s `attentionForward` and `attentionBackward` compute, in the
 * storage's precision (float32 storage in float32 lanes, the heads read and written where
 * they are in one copy of each array; float64 in float64 lanes, the heads copied row by row),
 * reading and writing the heads in place.
 *
 * @example Two heads of a fused [T, 3C] projection, T = 2, d = 1, causal.
 * ```ts
 * import assert from "node:assert/strict";
 * import { simdAttention } from "./simd.ts";
 * const qkv = new Float64Array([0, 0, 1, 2, 3, 4, 0, 0, 5, 6, 7, 8]);
 * const out = new Float64Array(4);
 * const sizes = { batch: 2, tq: 2, tk: 2, d: 1, scale: 1, causal: true };
 * simdAttention.forward(
 *   { data: qkv, heads: 2, rowWidth: 6, column: 0 },
 *   { data: qkv, heads: 2, rowWidth: 6, column: 2 },
 *   { data: qkv, heads: 2, rowWidth: 6, column: 4 },
 *   { data: out, heads: 2, rowWidth: 2, column: 0 },
 *   sizes,
 * );
 * assert.ok(out[0] === 3 && out[1] === 4); // the first query sees only the first value
 * ```
 */
export const simdAttention = {
  /** Writes O into the heads of `out`; returns the probabilities for `backward` where the
   * operands are float32 (and null where they are float64: backward computes them again). */
  forward(
    q: AttentionHeads,
    k: AttentionHeads,
    v: AttentionHeads,
    out: AttentionHeads,
    { batch, tq, tk, d, scale, causal }: AttentionSizes,
  ): Float32Array | null {
    if (float32Operands([q, k, v, out]) && batch > 0) {
      return forward32(q, k, v, out, { batch, tq, tk, d, scale, causal });
    }
    const dp = even(d), tkp = even(tk);
    const [aq, ak, av, ao, ap] = place(
      batch * tq * dp,
      batch * d * tkp,
      batch * tk * dp,
      batch * tq * dp,
      tkp,
    );
    headsIn(q, tq, d, batch, aq);
    headsInTransposed(k, tk, d, batch, ak);
    headsIn(v, tk, d, batch, av);
    const { forward } = attentionKernels();
    forward(aq, ak, av, ao, ap, batch, tq, tk, d, dp, tkp, scale, causal ? 1 : 0);
    headsOut(ao, out, tq, d, batch);
    return null;
  },
  /** Writes ∂L/∂Q, ∂L/∂K and ∂L/∂V into the heads of `dq`, `dk` and `dv`, from G = ∂L/∂O and
   * the probabilities `forward` returned (float32; float64 operands compute them again from
   * Q and K, as float32 ones do when given none). */
  backward(
    grad: AttentionHeads,
    q: AttentionHeads,
    k: AttentionHeads,
    v: AttentionHeads,
    { batch, tq, tk, d, scale, causal }: AttentionSizes,
    dq: AttentionHeads,
    dk: AttentionHeads,
    dv: AttentionHeads,
    probs: Float32Array | null = null,
  ): void {
    if (float32Operands([grad, q, k, v, dq, dk, dv]) && batch > 0) {
      const sizes = { batch, tq, tk, d, scale, causal };
      if (!(probs instanceof Float32Array)) {
        // No probabilities kept: forward's, from a run of forward into a throwaway result.
        const out = {
          data: new Float32Array(batch * tq * d),
          heads: q.heads,
          rowWidth: q.heads * d,
          column: 0,
        };
        probs = forward32(q, k, v, out, sizes);
      }
      backward32(grad, q, k, v, sizes, dq, dk, dv, probs);
      return;
    }
    const dp = even(d), tkp = even(tk);
    const rowsQ = batch * tq * dp, rowsK = batch * tk * dp, columnsK = batch * d * tkp;
    const [ag, aq, ak, akt, av, ap, adq, adk, adv, ads] = place(
      rowsQ,
      rowsQ,
      rowsK,
      columnsK,
      columnsK,
      tkp,
      rowsQ,
      rowsK,
      rowsK,
      tkp,
    );
    headsIn(grad, tq, d, batch, ag);
    headsIn(q, tq, d, batch, aq);
    headsIn(k, tk, d, batch, ak);
    headsInTransposed(k, tk, d, batch, akt);
    headsInTransposed(v, tk, d, batch, av);
    attentionKernels().backward(
      ag,
      aq,
      ak,
      akt,
      av,
      ap,
      adq,
      adk,
      adv,
      ads,
      batch,
      tq,
      tk,
      d,
      dp,
      tkp,
      scale,
      causal ? 1 : 0,
    );
    headsOut(adq, dq, tq, d, batch);
    headsOut(adk, dk, tk, d, batch);
    headsOut(adv, dv, tk, d, batch);
  },
};
