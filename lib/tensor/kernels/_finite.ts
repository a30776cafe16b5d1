/**
 * The engine's finiteness check: the index of the first element of an array that is NaN or
 * ±Infinity, or −1. Every op's result and every gradient passes through it (the engine never
 * holds a value that is not finite without saying so), so it is a hot loop of every step.
 *
 * `x·0` is ±0 for every finite x and NaN for NaN and ±Infinity, so a sum of such products
 * stays ±0 until a non-finite element joins it. The screen sums them without a branch per
 * element: in a WebAssembly SIMD loop (four sums of vectors) on arrays large enough to repay
 * copying them into the kernel's memory, else in a TypeScript loop with four sums. Only an
 * array that fails the screen is searched element by element for the first culprit, so the
 * index reported is always the TypeScript search's.
 *
 * @module
 */

import type { FloatArray } from "../_dtype.ts";
import { encodeModule, FunctionBuilder } from "./_wasm_encoder.ts";

/** Elements copied into the kernel's memory per call of the screen. */
const CHUNK = 16384;
/** Bytes of a step of the SIMD loop: four 16-byte vectors. */
const STEP = 64;
/** Where a chunk starts in the kernel's memory; bytes 0–15 hold the screen's sum. */
const DATA = 64;
/**
 * Arrays from these lengths are screened by the SIMD kernel, by element type (measured with
 * the copy, `bench/finite_check.ts`: float32 1.2× faster at 256 elements, 3× from 4,096;
 * float64, whose copy costs twice as much, 1.1× from 1,024; the call's fixed cost loses
 * below).
 */
export const FINITE_SIMD_FROM: Readonly<{ float32: number; float64: number }> = {
  float32: 256,
  float64: 1024,
};
/** The kernel's memory: the sum, then one chunk of float64s. */
const PAGES = Math.ceil((DATA + CHUNK * 8) / 65536);

/**
 * The screen of one element type: `screen(from, to)` adds up x·0 for the elements at byte
 * addresses [from, to) (a whole number of {@link STEP}s) in four vector sums and stores
 * their sum at address 0.
 */
function screen(bytes: 4 | 8): FunctionBuilder {
  const f = new FunctionBuilder(["i32", "i32"], []);
  const [at, end] = [0, 1];
  const sums = [0, 1, 2, 3].map(() => f.local("v128"));
  const zero = f.local("v128"); // locals start as zeros: the vector of +0s
  const add = () => (bytes === 4 ? f.f32x4Add() : f.f64x2Add());
  f.block().loop();
  f.localGet(at).localGet(end).i32GeS().brIf(1);
  for (let u = 0; u < 4; u++) {
    f.localGet(sums[u]).localGet(at).v128Load(16 * u).localGet(zero);
    if (bytes === 4) f.f32x4Mul();
    else f.f64x2Mul();
    add();
    f.localSet(sums[u]);
  }
  f.localGet(at).i32Const(STEP).i32Add().localSet(at);
  f.br(0).end().end();
  f.i32Const(0);
  f.localGet(sums[0]).localGet(sums[1]);
  add();
  f.localGet(sums[2]).localGet(sums[3]);
  add();
  add();
  f.v128Store(0);
  return f;
}

/** The screen module's bytes: `screen32` and `screen64`. */
export function finiteModuleBytes(): Uint8Array<ArrayBuffer> {
  return encodeModule([
    { name: "screen32", body: screen(4) },
    { name: "screen64", body: screen(8) },
  ], PAGES);
}

const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES, shared: true });
const exports = new WebAssembly.Instance(new WebAssembly.Module(finiteModuleBytes()), {
  env: { memory },
}).exports;
const screen32 = exports.screen32 as (from: number, to: number) => void;
const screen64 = exports.screen64 as (from: number, to: number) => void;
const view32 = new Float32Array(memory.buffer);
const view64 = new Float64Array(memory.buffer);

/** Whether every element of `data` is finite, by the SIMD screen (chunk by chunk). */
export function allFiniteSimd(data: FloatArray): boolean {
  const float32 = data instanceof Float32Array;
  const view: FloatArray = float32 ? view32 : view64;
  const bytes = float32 ? 4 : 8;
  const first = DATA / bytes;
  for (let from = 0; from < data.length; from += CHUNK) {
    const to = Math.min(data.length, from + CHUNK);
    const count = to - from;
    view.set(data.subarray(from, to), first);
    // The last step's vectors past the chunk read zeros, which are finite.
    const padded = Math.ceil((count * bytes) / STEP) * STEP;
    view.fill(0, first + count, first + padded / bytes);
    if (float32) screen32(DATA, DATA + padded);
    else screen64(DATA, DATA + padded);
    const lanes = 16 / bytes;
    let sum = 0;
    for (let lane = 0; lane < lanes; lane++) sum += view[lane];
    if (sum !== 0) return false;
  }
  return true;
}

/**
 * The index of the first element of `data` that is NaN or ±Infinity, or −1 when all are
 * finite.
 */
export function firstNonFinite(data: FloatArray): number {
  const from = data instanceof Float32Array ? FINITE_SIMD_FROM.float32 : FINITE_SIMD_FROM.float64;
  if (data.length >= from && allFiniteSimd(data)) return -1;
  return firstNonFiniteByLoop(data);
}

/** {@link firstNonFinite} by the TypeScript loops alone: the reference of the SIMD screen. */
export function firstNonFiniteByLoop(data: FloatArray): number {
  // One loop per element type: a loop that sees both reads every element polymorphically.
  return data instanceof Float64Array ? firstNonFinite64(data) : firstNonFinite32(data);
}

// The TypeScript screen and search (the reference of the SIMD screen): x − x is +0 for every
// finite x and NaN otherwise. Four sums without a branch per element (about 1.5× faster than
// testing each element); a failing array is then searched for its first culprit.
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
