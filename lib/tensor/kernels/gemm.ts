/**
 * Matrix products on WebAssembly SIMD, on every core: the fast path under `matmul`.
 *
 * {@link gemm} copies A and B into the kernels' shared memory, packs B there, and runs the
 * kernel of `_gemm_module.ts` over chunks of rows, on the calling thread alone for small
 * products and together with a pool of worker threads for large ones (see
 * `_pool_worker.ts`); then it copies C out. Operands may be read transposed (their storage
 * is then the transpose's, row-major), which is how matmul's backward computes G·Bᵀ and
 * Aᵀ·G without materialising a transpose.
 *
 * The plain TypeScript kernel of `../_matmul.ts` stays the reference: a property test runs
 * these kernels against it on random shapes.
 *
 * @module
 */

import { elementKind, FLOAT32, FLOAT64, gemmModuleBytes, KC, MAX_PAGES } from "./_gemm_module.ts";
import {
  CLOSED,
  Control,
  CONTROL_BYTES,
  MAX_WORKERS,
  PARAM_COUNT,
  type PoolWorkerInit,
  poolWorkerMain,
} from "./_pool_worker.ts";

import type { FloatArray } from "../_dtype.ts";

/**
 * One operand of {@link gemm}: the logical matrix is `data` from `offset`, row-major, or
 * (when `transposed`) the transpose of the row-major matrix stored there.
 */
export interface MatrixOperand {
  /** The storage. */
  readonly data: FloatArray;
  /** Index of the first element. */
  readonly offset: number;
  /** Whether the storage holds the transpose (k×m for A, n×k for B). */
  readonly transposed: boolean;
}

/** Most strips (of MR rows) in one chunk, the unit of work of a thread. */
const MAX_CHUNK_STRIPS = 8;
/** Chunks per thread a parallel product is cut into at least (while chunks have ≥ 1 strip):
 * threads claim them one by one, so one slowed by other processes takes fewer. */
const CHUNKS_PER_THREAD = 4;
/** Bytes of one thread's packed strips of A: the largest chunk × KC float64s. */
const AP_BYTES = MAX_CHUNK_STRIPS * Math.max(FLOAT32.mr, FLOAT64.mr) * KC * 8;
/** Below this many multiply-adds (m·k·n) a product stays on the calling thread. */
let parallelThreshold = 128 * 128 * 128;

// Whether relaxed SIMD (fused multiply-add) validates here; else separate multiply and add.
const FUSED = WebAssembly.validate(gemmModuleBytes(FLOAT64, { fused: true }));
// Index: element type (0 float64, 1 float32) + 2 for the exact variant (separate multiply
// and add: the left fold of the TypeScript kernel, bit for bit).
const KINDS = [
  elementKind(8, FUSED),
  elementKind(4, FUSED),
  elementKind(8, false),
  elementKind(4, false),
];
const MODULES = KINDS.map((kind, i) => gemmModuleBytes(kind, { fused: i < 2 && FUSED }));

const memory = new WebAssembly.Memory({ initial: 32, maximum: MAX_PAGES, shared: true });
type ChunkKernel = (...args: number[]) => void;
type PackB = (...args: number[]) => void;
const instances = MODULES.map((bytes) => {
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
    .exports;
  return { chunk: exports.chunk as ChunkKernel, packB: exports.packB as PackB };
});
const control = new Int32Array(memory.buffer, 0, CONTROL_BYTES / 4);
let generation = 0;
let workerCount = defaultWorkerCount();
const IDLE_MS = 500;

function defaultWorkerCount(): number {
  const cores = typeof navigator === "object" ? navigator.hardwareConcurrency ?? 1 : 1;
  return Math.max(0, Math.min(MAX_WORKERS, cores - 1));
}

/** Whether the kernels use relaxed SIMD's fused multiply-add (else multiply, then add). */
export const gemmUsesFusedMultiplyAdd: boolean = FUSED;

/**
 * Options of {@link setGemmThreads}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GemmThreadOptions } from "./gemm.ts";
 * const oneThread: GemmThreadOptions = { workers: 0 };
 * assert.ok(oneThread.workers === 0);
 * ```
 */
export interface GemmThreadOptions {
  /** Threads besides the calling one (0: none). Default: one less than the cores. */
  readonly workers?: number;
  /** Products of at least this many multiply-adds (m·k·n) use the workers. */
  readonly parallelThreshold?: number;
}

/**
 * Sets how many worker threads large products use, and from which size. Fewer workers than
 * running end as soon as they are idle; more start on the next large product.
 *
 * @example Single-threaded products.
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmThreads, setGemmThreads } from "./gemm.ts";
 * const before = gemmThreads();
 * setGemmThreads({ workers: 0 });
 * assert.ok(gemmThreads().workers === 0);
 * setGemmThreads(before);
 * ```
 */
export function setGemmThreads(options: GemmThreadOptions): void {
  if (options.workers !== undefined) {
    if (!Number.isInteger(options.workers) || options.workers < 0) {
      throw new RangeError(
        `setGemmThreads: workers must be a non-negative integer, got ${options.workers}`,
      );
    }
    workerCount = Math.min(MAX_WORKERS, options.workers);
  }
  if (options.parallelThreshold !== undefined) {
    if (!(options.parallelThreshold >= 0)) {
      throw new RangeError(
        `setGemmThreads: parallelThreshold must be ≥ 0, got ${options.parallelThreshold}`,
      );
    }
    parallelThreshold = options.parallelThreshold;
  }
}

/**
 * The current thread settings of {@link setGemmThreads}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmThreads } from "./gemm.ts";
 * assert.ok(gemmThreads().workers >= 0);
 * ```
 */
export function gemmThreads(): Required<GemmThreadOptions> {
  return { workers: workerCount, parallelThreshold };
}

/**
 * Writes the product A·B of the m×k matrix `a` and the k×n matrix `b` into
 * `out[outOffset .. outOffset + m·n)`, row-major; with `accumulate`, adds it to what `out`
 * holds. All three arrays have the same element type. Each output is the left fold over
 * p = 0..k-1 in increasing order, starting from 0, or from the element's previous value when
 * accumulating (so a bias put in `out` first is the fold's start, as in a neuron). With
 * `exact`, every step rounds the product and then the sum, so results equal the plain
 * TypeScript kernel's bit for bit; otherwise a step may be one fused multiply-add (faster,
 * and within the same error bound).
 *
 * @throws {RangeError} when the element types differ or an array is too short.
 *
 * @example A 2×3 by 3×2 product, the second operand given as its transpose.
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemm } from "./gemm.ts";
 * const a = new Float64Array([1, 2, 3, 4, 5, 6]);
 * const bt = new Float64Array([7, 9, 11, 8, 10, 12]); // Bᵀ, 2×3
 * const out = new Float64Array(4);
 * gemm({ data: a, offset: 0, transposed: false }, { data: bt, offset: 0, transposed: true },
 *   out, 0, 2, 3, 2, false);
 * assert.ok(out.join() === "58,64,139,154");
 * ```
 */
export function gemm(
  a: MatrixOperand,
  b: MatrixOperand,
  out: FloatArray,
  outOffset: number,
  m: number,
  k: number,
  n: number,
  accumulate: boolean,
  exact = false,
): void {
  const float32 = out instanceof Float32Array;
  const kindIndex = (float32 ? 1 : 0) + (exact && FUSED ? 2 : 0);
  const Type = float32 ? Float32Array : Float64Array;
  if (!(a.data instanceof Type) || !(b.data instanceof Type)) {
    throw new RangeError("gemm: a, b and out must all be Float64Array or all Float32Array");
  }
  checkFits("a", a.data, a.offset, m * k);
  checkFits("b", b.data, b.offset, k * n);
  checkFits("out", out, outOffset, m * n);
  if (m === 0 || n === 0) return;
  if (k === 0) {
    if (!accumulate) out.fill(0, outOffset, outOffset + m * n);
    return;
  }
  const kind = KINDS[kindIndex];
  const E = kind.bytes;
  const panels = Math.ceil(n / kind.nr);
  // C's row length, padded off multiples of 1 KiB: rows a power of two apart share cache sets,
  // and the micro-kernel touches MR of them at once.
  const ldc = panels * kind.nr + ((panels * kind.nr * E) % 1024 === 0 ? kind.nr : 0);
  const strips = Math.ceil(m / kind.mr);
  const rowsPadded = strips * kind.mr;
  const threads = 1 + (m * k * n >= parallelThreshold ? workerCount : 0);
  const chunkStrips = Math.max(
    1,
    Math.min(MAX_CHUNK_STRIPS, Math.ceil(strips / (threads * CHUNKS_PER_THREAD))),
  );
  const chunkRows = chunkStrips * kind.mr;
  const chunks = Math.ceil(rowsPadded / chunkRows);

  // Layout: control words, one scratch per thread, A, B, packed B, C (64-byte aligned).
  const apBase = CONTROL_BYTES;
  const offA = align(apBase + (MAX_WORKERS + 1) * AP_BYTES);
  const offB = align(offA + m * k * E);
  const offBp = align(offB + k * n * E);
  const offC = align(offBp + Math.ceil(k / KC) * KC * ldc * E);
  const end = offC + rowsPadded * ldc * E;
  ensureBytes(end);
  const view: FloatArray = float32
    ? new Float32Array(memory.buffer)
    : new Float64Array(memory.buffer);
  view.set(a.data.subarray(a.offset, a.offset + m * k), offA / E);
  view.set(b.data.subarray(b.offset, b.offset + k * n), offB / E);
  if (accumulate) {
    // C starts as out's block (rows padded to ldc, padding zero); the product folds onto it.
    // Without accumulate, the kernel's first k-block starts from zero and C is not read.
    const c0 = offC / E;
    view.fill(0, c0, end / E);
    for (let i = 0; i < m; i++) {
      view.set(out.subarray(outOffset + i * n, outOffset + (i + 1) * n), c0 + i * ldc);
    }
  }
  const kernels = instances[kindIndex];
  // Strides in bytes: A[i,p] is at i·rowStride + p·colStride.
  const [aRow, aCol] = a.transposed ? [E, m * E] : [k * E, E];
  const [bRow, bCol] = b.transposed ? [E, k * E] : [n * E, E];
  kernels.packB(offB, bRow, bCol, k, n, panels, offBp);
  const params = [offA, aRow, aCol, offBp, offC, ldc * E, m, k, panels, accumulate ? 1 : 0];
  if (threads === 1 || chunks === 1) {
    for (let i0 = 0; i0 < rowsPadded; i0 += chunkRows) {
      kernels.chunk(...params, i0, Math.min(rowsPadded, i0 + chunkRows), apBase);
    }
  } else {
    runParallel(kindIndex, params, chunks, chunkRows, rowsPadded, apBase);
  }
  const c = view.subarray(offC / E, end / E);
  if (ldc === n) {
    out.set(c.subarray(0, m * n), outOffset);
  } else {
    for (let i = 0; i < m; i++) out.set(c.subarray(i * ldc, i * ldc + n), outOffset + i * n);
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

function ensureBytes(bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return;
  const pages = Math.ceil((bytes - have) / 65536);
  if (have / 65536 + pages > MAX_PAGES) {
    throw new RangeError(`gemm: the product needs ${bytes} bytes of kernel memory, over 1 GiB`);
  }
  memory.grow(pages);
}

function checkFits(name: string, data: FloatArray, offset: number, count: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + count > data.length) {
    throw new RangeError(
      `gemm: ${name} needs ${count} elements from offset ${offset}, has ${data.length}`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// The worker pool
// ---------------------------------------------------------------------------------------

let workerUrl: string | null = null;
const workers: (Worker | null)[] = new Array(MAX_WORKERS).fill(null);

/** Starts workers in free slots until `workerCount` are running; they join when ready. */
function startWorkers(): void {
  let running = 0;
  for (let slot = 0; slot < MAX_WORKERS; slot++) {
    if (Atomics.load(control, Control.SLOTS + slot) === 0) workers[slot] = null;
    else running++;
  }
  for (let slot = 0; slot < MAX_WORKERS && running < workerCount; slot++) {
    if (workers[slot] !== null) continue;
    workerUrl ??= "data:text/javascript," + encodeURIComponent(`(${poolWorkerMain})();`);
    let worker: Worker;
    try {
      worker = new Worker(workerUrl, { type: "module" });
    } catch {
      workerCount = 0; // no workers in this environment: every product on the calling thread
      return;
    }
    Atomics.store(control, Control.SLOTS + slot, 1);
    const init: PoolWorkerInit = {
      memory,
      modules: MODULES,
      slot,
      idleMs: IDLE_MS,
      layout: { ...Control, CLOSED, PARAM_COUNT },
    };
    worker.postMessage(init);
    workers[slot] = worker;
    running++;
  }
}

/**
 * How many chunks of rows worker threads have computed so far (the calling thread's own
 * chunks not counted): shows whether the pool takes part.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmWorkerChunks } from "./gemm.ts";
 * assert.ok(gemmWorkerChunks() >= 0);
 * ```
 */
export function gemmWorkerChunks(): number {
  return Atomics.load(control, Control.WORKER_CHUNKS);
}

/** Ends every worker now (they also end by themselves when idle). */
export function stopGemmWorkers(): void {
  for (let slot = 0; slot < MAX_WORKERS; slot++) {
    workers[slot]?.terminate();
    workers[slot] = null;
    Atomics.store(control, Control.SLOTS + slot, 0);
  }
}

function runParallel(
  kindIndex: number,
  params: readonly number[],
  chunks: number,
  chunkRows: number,
  rowsPadded: number,
  apBase: number,
): void {
  startWorkers();
  const kernel = instances[kindIndex].chunk;
  generation = (generation + 1) & 0x3fffffff;
  const tag = (generation & 0x7ff) << 20;
  Atomics.store(control, Control.CLAIM, CLOSED);
  control[Control.KIND] = kindIndex;
  control[Control.CHUNKS] = chunks;
  control[Control.CHUNK_ROWS] = chunkRows;
  control[Control.ROWS_PADDED] = rowsPadded;
  control[Control.AP_BASE] = apBase;
  control[Control.AP_BYTES] = AP_BYTES;
  control.set(params, Control.PARAMS);
  Atomics.store(control, Control.DONE, 0);
  Atomics.store(control, Control.FAILED, 0);
  Atomics.store(control, Control.CLAIM, tag);
  Atomics.store(control, Control.GEN, generation);
  Atomics.notify(control, Control.GEN);
  // The calling thread works too (scratch 0), then sleeps until every chunk is done.
  while (true) {
    const claim = Atomics.load(control, Control.CLAIM);
    const index = claim & CLOSED;
    if (index >= chunks) break;
    if (Atomics.compareExchange(control, Control.CLAIM, claim, claim + 1) !== claim) continue;
    kernel(...params, index * chunkRows, Math.min(rowsPadded, (index + 1) * chunkRows), apBase);
    Atomics.add(control, Control.DONE, 1);
  }
  for (let done = Atomics.load(control, Control.DONE); done < chunks;) {
    Atomics.wait(control, Control.DONE, done);
    done = Atomics.load(control, Control.DONE);
  }
  Atomics.store(control, Control.CLAIM, CLOSED);
  if (control[Control.FAILED] !== 0) {
    throw new Error("gemm: a worker thread failed to run its part of the product");
  }
}
