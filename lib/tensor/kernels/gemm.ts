/**
 * Matrix products on WebAssembly SIMD, on every core: the fast path under `matmul`.
 *
 * {@link gemm} copies A and B into the kernels' shared memory and runs the kernel of
 * `_gemm_module.ts` over chunks of rows, on the calling thread alone for small products and
 * together with a pool of worker threads for large ones (see `_pool_worker.ts`); it copies
 * each chunk of C out as soon as it is finished. B is packed there (in a parallel product
 * with a large B, by all threads, while the calling thread copies A in chunk by chunk).
 * Waiting threads spin briefly before they sleep, so that in a burst of products the
 * workers start at once. Operands may be read transposed (their storage is then the
 * transpose's, row-major), which is how matmul's backward computes G·Bᵀ and Aᵀ·G without
 * materialising a transpose.
 *
 * The plain TypeScript kernel of `../_matmul.ts` stays the reference: a property test runs
 * these kernels against it on random shapes.
 *
 * @module
 */

import { elementKind, FLOAT32, FLOAT64, KC, MAX_PAGES } from "./_gemm_module.ts";
import { moduleBytes } from "./_modules.ts";
import type { ModuleVariant } from "./_module_variants.ts";
import {
  CLOSED,
  Control,
  CONTROL_BYTES,
  MAX_WORKERS,
  PACK_ARGS,
  PACK_TASK_WORDS,
  PARAM_COUNT,
  type PoolWorkerInit,
  poolWorkerMain,
  waitWhileEqual,
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
/** Fewest strips in a chunk of a parallel product: smaller ones would stream all of packed B
 * through the cache for too few rows. */
const MIN_CHUNK_STRIPS = 2;
/** From this size of B (bytes), a parallel product shares the packing of B among threads. */
const SHARED_PACKING_BYTES = 512 * 1024;
/** About how many bytes of B one pack task packs (and the calling thread copies in before
 * it can start). */
const PACK_TASK_BYTES = 128 * 1024;
/** Bytes of one thread's packed strips of A: the largest chunk × KC float64s. */
const AP_BYTES = MAX_CHUNK_STRIPS * Math.max(FLOAT32.mr, FLOAT64.mr) * KC * 8;
/**
 * Below this many multiply-adds (m·k·n) a product stays on the calling thread. Measured
 * (float32, alternating single and pool, 2 cores shared): the transformers' 512×64×64
 * products (2.1 M) ran 0.83–0.92× as fast on the pool as alone, 512×64×192 (6.3 M) about
 * even, 512×64×256 (8.4 M) up to 1.3–1.5× faster.
 */
let parallelThreshold = 1 << 22;

// Whether relaxed SIMD (fused multiply-add) validates here; else separate multiply and add.
const fused64Bytes = moduleBytes("gemm-f64-fused");
const FUSED = WebAssembly.validate(fused64Bytes);
// Index: element type (0 float64, 1 float32) + 2 for the exact variant (separate multiply
// and add: the left fold of the TypeScript kernel, bit for bit).
const KINDS = [
  elementKind(8, FUSED),
  elementKind(4, FUSED),
  elementKind(8, false),
  elementKind(4, false),
];
// Each kind's module, by the index above; compiled when a product first needs it (workers get
// every kind's bytes when they start).
const KIND_MODULES: readonly ModuleVariant[] = FUSED
  ? ["gemm-f64-fused", "gemm-f32-fused", "gemm-f64-separate", "gemm-f32-separate"]
  : ["gemm-f64-separate", "gemm-f32-separate", "gemm-f64-separate", "gemm-f32-separate"];
const kindModuleBytes: (Uint8Array<ArrayBuffer> | null)[] = [
  FUSED ? fused64Bytes : null,
  null,
  null,
  null,
];
function kindBytes(index: number): Uint8Array<ArrayBuffer> {
  kindModuleBytes[index] ??= moduleBytes(KIND_MODULES[index]);
  return kindModuleBytes[index];
}

const memory = new WebAssembly.Memory({ initial: 32, maximum: MAX_PAGES, shared: true });
type ChunkKernel = (...args: number[]) => void;
type PackB = (...args: number[]) => void;
/** One kind's compiled kernels, as the calling thread calls them. */
interface KindKernels {
  readonly chunk: ChunkKernel;
  readonly packB: PackB;
}
const instances: (KindKernels | null)[] = [null, null, null, null];
function kernelsOf(index: number): KindKernels {
  if (instances[index] === null) {
    const exports = new WebAssembly.Instance(new WebAssembly.Module(kindBytes(index)), {
      env: { memory },
    }).exports;
    instances[index] = { chunk: exports.chunk as ChunkKernel, packB: exports.packB as PackB };
  }
  return instances[index];
}
const control = new Int32Array(memory.buffer, 0, CONTROL_BYTES / 4);
let generation = 0;
let workerCount = defaultWorkerCount();
const IDLE_MS = 500;
/** Default of {@link GemmThreadOptions.spinMicroseconds}. */
const SPIN_MICROSECONDS = 200;
control[Control.SPIN_US] = SPIN_MICROSECONDS;

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
  /**
   * How long a thread waiting for the others (a worker between the products of a burst, or
   * for rows still being copied in; the calling thread for the last chunks) spins before it
   * sleeps. Waking a sleeping thread costs tens of microseconds; spinning costs a core's
   * time, which on a machine with more running threads than cores slows everyone: 0 there.
   * Default 200.
   */
  readonly spinMicroseconds?: number;
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
  if (options.spinMicroseconds !== undefined) {
    const spin = options.spinMicroseconds;
    if (!Number.isInteger(spin) || spin < 0 || spin > 1e6) {
      throw new RangeError(
        `setGemmThreads: spinMicroseconds must be an integer in [0, 1e6], got ${spin}`,
      );
    }
    Atomics.store(control, Control.SPIN_US, spin);
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
  return {
    workers: workerCount,
    parallelThreshold,
    spinMicroseconds: Atomics.load(control, Control.SPIN_US),
  };
}

/**
 * Writes the product A·B of the m×k matrix `a` and the k×n matrix `b` into
 * `out[outOffset .. outOffset + m·n)`, row-major; with `accumulate`, adds it to what `out`
 * holds; with `bias` (n values), adds it to every row of it. All arrays have the same
 * element type. Each output is the left fold over p = 0..k-1 in increasing order, starting
 * from 0, from the element's previous value when accumulating, or from its column's bias (as
 * in a neuron: `b + a₀w₀ + a₁w₁ + …`). With `exact`, every step rounds the product and then
 * the sum, so results equal the plain TypeScript kernel's bit for bit; otherwise a step may
 * be one fused multiply-add (faster, and within the same error bound).
 *
 * @throws {RangeError} when the element types differ, an array is too short, or both
 * `accumulate` and `bias` are given.
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
 * // The same product, each row starting from the bias [1000, 2000].
 * gemm({ data: a, offset: 0, transposed: false }, { data: bt, offset: 0, transposed: true },
 *   out, 0, 2, 3, 2, false, false, new Float64Array([1000, 2000]));
 * assert.ok(out.join() === "1058,2064,1139,2154");
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
  bias: FloatArray | null = null,
): void {
  const float32 = out instanceof Float32Array;
  const kindIndex = (float32 ? 1 : 0) + (exact && FUSED ? 2 : 0);
  const Type = float32 ? Float32Array : Float64Array;
  if (!(a.data instanceof Type) || !(b.data instanceof Type)) {
    throw new RangeError("gemm: a, b and out must all be Float64Array or all Float32Array");
  }
  if (bias !== null) {
    if (!(bias instanceof Type)) {
      throw new RangeError("gemm: bias must have out's element type");
    }
    if (accumulate) throw new RangeError("gemm: takes accumulate or a bias, not both");
    checkFits("bias", bias, 0, n);
  }
  checkFits("a", a.data, a.offset, m * k);
  checkFits("b", b.data, b.offset, k * n);
  checkFits("out", out, outOffset, m * n);
  if (m === 0 || n === 0) return;
  if (k === 0) {
    if (bias !== null) {
      for (let i = 0; i < m; i++) out.set(bias.subarray(0, n), outOffset + i * n);
    } else if (!accumulate) out.fill(0, outOffset, outOffset + m * n);
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
  const bounds = chunkBounds(strips, threads, kind.mr);
  const chunks = bounds.length - 1;

  // Layout: control words, one scratch per thread, chunk flags, pack tasks, A, B, packed B,
  // C (64-byte aligned).
  const apBase = CONTROL_BYTES;
  const offFlags = align(apBase + (MAX_WORKERS + 1) * AP_BYTES);
  const offTable = align(offFlags + (2 * chunks + 1) * 4);
  const kBlocks = Math.ceil(k / KC);
  const parallel = threads > 1 && chunks > 1;
  // Pack tasks (parallel products with a large B): each k-block's rows cut into pieces of
  // about PACK_TASK_BYTES, at least two a thread. A small B is packed by the calling thread
  // before the job is published: shared out, its parts are too short to repay the waiting.
  const sharePacking = parallel && k * n * E >= SHARED_PACKING_BYTES;
  const blockRows = Math.min(KC, k);
  const splits = sharePacking
    ? Math.min(blockRows, Math.max(2 * threads, Math.ceil((blockRows * n * E) / PACK_TASK_BYTES)))
    : 1;
  const offA = align(offTable + kBlocks * splits * PACK_TASK_WORDS * 4);
  const offB = align(offA + m * k * E);
  const offBp = align(offB + k * n * E);
  const offBias = align(offBp + kBlocks * KC * ldc * E);
  const offC = align(offBias + (bias === null ? 0 : ldc * E));
  const end = offC + rowsPadded * ldc * E;
  ensureBytes(end);
  const view: FloatArray = float32
    ? new Float32Array(memory.buffer)
    : new Float64Array(memory.buffer);
  const c0 = offC / E;
  // Rows [i0, i1) of A, and of C's start: what the chunks of those rows need (not the
  // packing of B). A stored transposed has no contiguous rows: it comes whole, with the
  // first rows.
  const copyIn = (i0: number, i1: number): void => {
    const r1 = Math.min(m, i1);
    if (!a.transposed) {
      view.set(a.data.subarray(a.offset + i0 * k, a.offset + r1 * k), offA / E + i0 * k);
    } else if (i0 === 0) {
      view.set(a.data.subarray(a.offset, a.offset + m * k), offA / E);
    }
    if (accumulate) {
      // C starts as out's block (rows padded to ldc, padding zero); the product folds onto it.
      // Without accumulate, the kernel's first k-block starts from zero or the bias, and C is
      // not read.
      if (ldc === n) {
        view.set(out.subarray(outOffset + i0 * n, outOffset + r1 * n), c0 + i0 * n);
        view.fill(0, c0 + r1 * n, c0 + i1 * n);
      } else {
        view.fill(0, c0 + i0 * ldc, c0 + i1 * ldc);
        for (let i = i0; i < r1; i++) {
          view.set(out.subarray(outOffset + i * n, outOffset + (i + 1) * n), c0 + i * ldc);
        }
      }
    }
  };
  // Rows [r0, r1) of B in: all of B at once when it is stored transposed (its rows are not
  // contiguous there).
  const copyB = (r0: number, r1: number): void => {
    if (b.transposed) {
      if (r0 === 0) view.set(b.data.subarray(b.offset, b.offset + k * n), offB / E);
    } else view.set(b.data.subarray(b.offset + r0 * n, b.offset + r1 * n), offB / E + r0 * n);
  };
  // The bias, padded with zeros to ldc: the micro-kernel reads whole panels of it.
  if (bias !== null) {
    view.fill(0, offBias / E + n, offBias / E + ldc);
    view.set(bias.subarray(0, n), offBias / E);
  }
  const kernels = kernelsOf(kindIndex);
  // Strides in bytes: A[i,p] is at i·rowStride + p·colStride.
  const [aRow, aCol] = a.transposed ? [E, m * E] : [k * E, E];
  const [bRow, bCol] = b.transposed ? [E, k * E] : [n * E, E];
  // How C starts (the chunk kernel's `start`): 0 zero, 1 out's block, 2 the bias row.
  const start = accumulate ? 1 : bias !== null ? 2 : 0;
  const params = [offA, aRow, aCol, offBp, offC, ldc * E, m, k, panels, start, offBias];
  const c = view.subarray(c0, end / E);
  // Copies rows [i0, i1) of C out (padding rows and columns left behind), one chunk at a
  // time, while that chunk is still in cache and, in parallel, while the workers compute.
  const copyOut = (i0: number, i1: number): void => {
    const rows = Math.min(m, i1) - i0;
    if (rows <= 0) return;
    if (ldc === n) {
      out.set(c.subarray(i0 * n, (i0 + rows) * n), outOffset + i0 * n);
    } else {
      for (let i = i0; i < i0 + rows; i++) {
        out.set(c.subarray(i * ldc, i * ldc + n), outOffset + i * n);
      }
    }
  };
  if (!parallel) {
    copyB(0, k);
    copyIn(0, rowsPadded);
    kernels.packB(offB, bRow, bCol, k, n, panels, offBp, 0);
    for (let chunk = 0; chunk < chunks; chunk++) {
      kernels.chunk(...params, bounds[chunk], bounds[chunk + 1], apBase);
      copyOut(bounds[chunk], bounds[chunk + 1]);
    }
    return;
  }
  // Each pack task: packB's arguments for rows [r0, r1) of the k-block from row p0, then
  // the rows of B it needs copied in (r1). Packed B holds the k-blocks one after another,
  // and in each its panels one after another (kc × NR each): a task's rows go to their place
  // in every panel of the block (panelBytes apart).
  const packTasks: number[][] = [];
  if (!sharePacking) {
    // Nothing for the workers to do before the chunks: all is ready before they wake. (A
    // worker woken before the copies, to wait for them, made products twice as slow on a
    // busy machine, measured: while it spins, the thread that copies may be the one left
    // waiting for a core.)
    copyB(0, k);
    copyIn(0, rowsPadded);
    kernels.packB(offB, bRow, bCol, k, n, panels, offBp, 0);
  }
  for (let p0 = 0; sharePacking && p0 < k; p0 += KC) {
    const kc = Math.min(KC, k - p0);
    for (let s = 0; s < splits; s++) {
      const r0 = p0 + Math.floor((s * kc) / splits), r1 = p0 + Math.floor(((s + 1) * kc) / splits);
      if (r1 === r0) continue;
      packTasks.push([
        offB + r0 * bRow,
        bRow,
        bCol,
        r1 - r0,
        n,
        panels,
        offBp + (p0 * panels + r0 - p0) * kind.nr * E,
        kc * kind.nr * E,
        r1,
      ]);
    }
  }
  runParallel({
    kindIndex,
    params,
    packTasks,
    offTable,
    bounds,
    apBase,
    offFlags,
    copyIn: sharePacking ? copyIn : null,
    copyB: sharePacking ? copyB : null,
    copyOut,
  });
}

/**
 * Row bounds of the chunks of a product of `strips` strips of `mr` rows. On one thread, every
 * chunk has MAX_CHUNK_STRIPS strips. With several, chunks are guided: each takes 1/(2·threads)
 * of the strips still left (within MIN_CHUNK_STRIPS … MAX_CHUNK_STRIPS), so the last ones
 * are small and the threads, claiming them one by one, finish nearly together.
 */
function chunkBounds(strips: number, threads: number, mr: number): number[] {
  const bounds = [0];
  for (let done = 0; done < strips;) {
    const guided = Math.ceil((strips - done) / (2 * threads));
    const size = threads === 1
      ? MAX_CHUNK_STRIPS
      : Math.max(MIN_CHUNK_STRIPS, Math.min(MAX_CHUNK_STRIPS, guided));
    done = Math.min(strips, done + size);
    bounds.push(done * mr);
  }
  return bounds;
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
    const word = Atomics.load(control, Control.SLOTS + slot);
    if (word === 0) workers[slot] = null;
    else if (word === 1) running++;
  }
  for (let slot = 0; slot < MAX_WORKERS && running < workerCount; slot++) {
    // Only a free slot: one still marked 2 holds a worker that did not leave when stopped.
    if (Atomics.load(control, Control.SLOTS + slot) !== 0) continue;
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
      modules: KINDS.map((_, index) => kindBytes(index)),
      slot,
      idleMs: IDLE_MS,
      layout: { ...Control, CLOSED, PARAM_COUNT, PACK_ARGS, PACK_TASK_WORDS },
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

/** How long {@link stopGemmWorkers} waits for a worker to leave its slot. */
const STOP_WAIT_MS = 2000;

/**
 * Ends every worker now (they also end by themselves when idle). Each is asked to leave and
 * waited for: `terminate` alone may leave the thread running for a while, and a new worker
 * in its slot would then share its scratch. A worker that does not leave in time is
 * terminated and its slot never used again.
 *
 * @example
 * ```ts
 * import { stopGemmWorkers } from "./gemm.ts";
 * stopGemmWorkers();
 * ```
 */
export function stopGemmWorkers(): void {
  for (let slot = 0; slot < MAX_WORKERS; slot++) {
    const worker = workers[slot];
    if (worker === null) continue;
    if (Atomics.compareExchange(control, Control.SLOTS + slot, 1, 2) === 1) {
      Atomics.notify(control, Control.GEN); // wakes it, to see the request
      Atomics.wait(control, Control.SLOTS + slot, 2, STOP_WAIT_MS);
    }
    worker.terminate();
    workers[slot] = null;
  }
}

/** One parallel product, as {@link runParallel} publishes it. */
interface ParallelJob {
  readonly kindIndex: number;
  /** The `chunk` arguments shared by every chunk. */
  readonly params: readonly number[];
  /** The `packB` arguments of each pack task, then the rows of B it needs copied in. */
  readonly packTasks: readonly (readonly number[])[];
  /** Where the pack tasks' arguments go in the shared memory. */
  readonly offTable: number;
  /** Chunk c is rows [bounds[c], bounds[c + 1]). */
  readonly bounds: readonly number[];
  readonly apBase: number;
  /** Where the chunks' done flags, then their bounds, go in the shared memory. */
  readonly offFlags: number;
  /** Copies rows [i0, i1) of A (and C's start) in, chunk by chunk: the first before the
   * workers wake, the others while they pack B; null if done already. */
  readonly copyIn: ((i0: number, i1: number) => void) | null;
  /** Copies rows [r0, r1) of B in: piece by piece, as the pack tasks need them, the first
   * before the workers wake; null if done already. */
  readonly copyB: ((r0: number, r1: number) => void) | null;
  /** Copies rows [i0, i1) of C out. */
  readonly copyOut: (i0: number, i1: number) => void;
}

function runParallel(job: ParallelJob): void {
  const { kindIndex, params, packTasks, bounds, apBase } = job;
  const chunks = bounds.length - 1;
  startWorkers();
  // The first chunk's rows of A, and the rows of B the first pack task needs, go in before
  // the workers wake; the rest while they pack B.
  job.copyIn?.(bounds[0], bounds[1]);
  const bRows = packTasks.map((task) => task[PACK_ARGS]);
  job.copyB?.(0, bRows[0]);
  const flags = new Int32Array(memory.buffer, job.offFlags, chunks);
  flags.fill(0);
  new Int32Array(memory.buffer, job.offFlags + chunks * 4, chunks + 1).set(bounds);
  new Int32Array(memory.buffer, job.offTable, packTasks.length * PACK_TASK_WORDS)
    .set(packTasks.flat());
  const kernels = kernelsOf(kindIndex);
  const tasks = packTasks.length + chunks;
  generation = (generation + 1) & 0x3fffffff;
  const tag = (generation & 0x7ff) << 20;
  Atomics.store(control, Control.CLAIM, CLOSED);
  control[Control.KIND] = kindIndex;
  control[Control.CHUNKS] = chunks;
  control[Control.AP_BASE] = apBase;
  control[Control.AP_BYTES] = AP_BYTES;
  control[Control.CHUNK_FLAGS] = job.offFlags;
  control[Control.PACK_TASKS] = packTasks.length;
  control[Control.PACK_TABLE] = job.offTable;
  control.set(params, Control.PARAMS);
  Atomics.store(control, Control.READY, 0);
  Atomics.store(control, Control.B_ROWS_IN, job.copyB === null ? 0x7fffffff : bRows[0]);
  Atomics.store(control, Control.ROWS_IN, job.copyIn === null ? bounds[chunks] : bounds[1]);
  Atomics.store(control, Control.DONE, 0);
  Atomics.store(control, Control.FAILED, 0);
  Atomics.store(control, Control.CLAIM, tag);
  Atomics.store(control, Control.GEN, generation);
  Atomics.notify(control, Control.GEN);
  // While the workers wake and pack B, the calling thread copies the rest of B, then of A,
  // in.
  for (let task = 1; job.copyB !== null && task < bRows.length; task++) {
    job.copyB(bRows[task - 1], bRows[task]);
    Atomics.store(control, Control.B_ROWS_IN, bRows[task]);
    Atomics.notify(control, Control.B_ROWS_IN);
  }
  for (let chunk = 1; job.copyIn !== null && chunk < chunks; chunk++) {
    job.copyIn(bounds[chunk], bounds[chunk + 1]);
    Atomics.store(control, Control.ROWS_IN, bounds[chunk + 1]);
    Atomics.notify(control, Control.ROWS_IN);
  }
  // Then it claims tasks too (scratch 0). After each, it copies out every chunk finished so
  // far, in order from `copied`; once no task is left to claim, it copies the rest as they
  // finish, sleeping on DONE in between.
  let copied = 0;
  const copyFinished = (): void => {
    for (; copied < chunks && Atomics.load(flags, copied) !== 0; copied++) {
      job.copyOut(bounds[copied], bounds[copied + 1]);
    }
  };
  while (true) {
    const claim = Atomics.load(control, Control.CLAIM);
    const index = claim & CLOSED;
    if (index >= tasks) break;
    if (Atomics.compareExchange(control, Control.CLAIM, claim, claim + 1) !== claim) continue;
    if (index < packTasks.length) {
      kernels.packB(...packTasks[index].slice(0, PACK_ARGS));
      Atomics.add(control, Control.READY, 1);
      Atomics.notify(control, Control.READY);
      continue;
    }
    // Every pack task is claimed by now: wait for those still running.
    for (let ready = Atomics.load(control, Control.READY); ready < packTasks.length;) {
      waitWhileEqual(control, Control.READY, ready, control[Control.SPIN_US] / 1000);
      ready = Atomics.load(control, Control.READY);
    }
    const chunk = index - packTasks.length;
    kernels.chunk(...params, bounds[chunk], bounds[chunk + 1], apBase);
    Atomics.store(flags, chunk, 1);
    Atomics.add(control, Control.DONE, 1);
    copyFinished();
  }
  while (true) {
    // DONE read before the flags: a chunk finishing after this read bumps DONE, so the wait
    // below returns at once instead of missing it.
    const done = Atomics.load(control, Control.DONE);
    copyFinished();
    if (copied === chunks) break;
    waitWhileEqual(control, Control.DONE, done, control[Control.SPIN_US] / 1000);
  }
  Atomics.store(control, Control.CLAIM, CLOSED);
  if (control[Control.FAILED] !== 0) {
    throw new Error("gemm: a worker thread failed to run its part of the product");
  }
}
