/**
 * The WebAssembly SIMD kernels of the element-wise hot ops, softmax, layer norm and Adam's
 * update, written as the code that emits them (see `_wasm_encoder.ts`).
 *
 * The kernels compute as the engine does for both element types (`_dtype.ts`: float32 storage
 * is widened to float64 for arithmetic and the result rounded once when stored): in float64,
 * two lanes a vector. The float32 variants (names ending in 32) read and write float32 arrays
 * as they are, widening each pair on load (`f64x2.promote_low_f32x4`, exact) and rounding on
 * store (`f32x4.demote_f64x2_zero`, as a float32 store rounds), so that the caller copies
 * float32 storage without conversion; `add32`, `sub32`, `mul32` and most of `gelu32` compute
 * in float32 lanes, four a vector. Arguments are byte addresses in the kernels' memory and
 * element counts.
 *
 * Vectors run past the end: an array of n elements is read and written as whole vectors
 * (⌈n/2⌉ of float64 pairs, ⌈n/4⌉ of float32 quadruples), so a kernel has no scalar tail. The
 * caller leaves 16 bytes of room after every array; within a row-by-row kernel the extra
 * lanes of a row write into the next row, which is computed afterwards and overwrites them.
 *
 * What is exact and what is not:
 * - `add`, `sub`, `mul`, `layerNormForward`, `layerNormBackward`, `adam` and their float32
 *   variants do the reference's IEEE operations (+, −, ×, ÷, √) in the
 *   reference's order, element by element, and every sum over a row in the reference's order
 *   (`ops.ts`'s four interleaved partial sums of layer norm): their results equal the
 *   TypeScript loops' bit for bit. (`add32`, `sub32`, `mul32` round once in float32 where
 *   the reference rounds to float64 and then to float32: the same result, see `binary`.)
 * - `exp`, `tanh`, `gelu` and `softmax` use {@link emitExp} in place of `Math.exp`: a few
 *   units in the last place apart (the property tests state the bounds); `gelu32` is within
 *   {@link GELU32_ULPS} float32 ulps, by the bound derived at {@link gelu32}.
 *
 * @module
 */

import { encodeModule, FunctionBuilder } from "./_wasm_encoder.ts";

/** Largest memory, in 64 KiB pages, the kernels may address (1 GiB). */
export const MAX_PAGES = 16384;

/** The parameters of layer norm's backward kernels (float64 and float32 alike). */
const LAYER_NORM_BACKWARD_PARAMS = [
  "grad",
  "w",
  "x",
  "mean",
  "inverseStd",
  "gx",
  "gw",
  "gb",
  "rows",
  "width",
] as const;

/** The parameters of Adam's kernels (float64 and float32 parameters alike). */
const ADAM_PARAMS = [
  "theta",
  "grad",
  "m",
  "v",
  "n",
  "beta1",
  "beta2",
  "c1",
  "c2",
  "lr",
  "lambda",
  "eps",
  "mode",
] as const;

/** The exported functions, in order, with their parameters (i32 unless named in F64_PARAMS). */
export const SIMD_EXPORTS = {
  /** add(x, y, out, n): out = x + y. */
  add: ["x", "y", "out", "n"],
  /** sub(x, y, out, n): out = x − y. */
  sub: ["x", "y", "out", "n"],
  /** mul(x, y, out, n): out = x · y. */
  mul: ["x", "y", "out", "n"],
  /** add32(x, y, out, n): float32 arrays, four lanes a vector. */
  add32: ["x", "y", "out", "n"],
  /** sub32(x, y, out, n): float32 arrays. */
  sub32: ["x", "y", "out", "n"],
  /** mul32(x, y, out, n): float32 arrays. */
  mul32: ["x", "y", "out", "n"],
  /** nonFinite32(x, n) → i32: 1 when some element of the float32 array is ±∞ or NaN. */
  nonFinite32: ["x", "n"],
  /** nonFinite64(x, n) → i32: 1 when some element of the float64 array is ±∞ or NaN. */
  nonFinite64: ["x", "n"],
  /** exp(x, out, n). */
  exp: ["x", "out", "n"],
  /** tanh(x, out, n). */
  tanh: ["x", "out", "n"],
  /** gelu(x, out, n): x·σ(2u), the scalar registry's form. */
  gelu: ["x", "out", "n"],
  /** gelu32(x, out, n): GELU of float32 arrays, four lanes a vector (see {@link gelu32}). */
  gelu32: ["x", "out", "n"],
  /** softmax(x, out, rows, width): over each row of `width`. */
  softmax: ["x", "out", "rows", "width"],
  /** layerNormForward(x, w, b, out, mean, inverseStd, rows, width, eps). */
  layerNormForward: ["x", "w", "b", "out", "mean", "inverseStd", "rows", "width", "eps"],
  /** layerNormForward32(…): `layerNormForward` with x and out float32 arrays. */
  layerNormForward32: ["x", "w", "b", "out", "mean", "inverseStd", "rows", "width", "eps"],
  /** layerNormBackward(grad, w, x, mean, inverseStd, gx, gw, gb, rows, width): gx, gw, gb
   * at address 0 are not wanted. gw and gb are added to. */
  layerNormBackward: LAYER_NORM_BACKWARD_PARAMS,
  /** layerNormBackward32(…): `layerNormBackward` with grad, x and gx float32 arrays. */
  layerNormBackward32: LAYER_NORM_BACKWARD_PARAMS,
  /** adam32(theta, grad, m, v, n, …): `adam` with theta and grad float32 arrays (widened
   * on load, θ rounded once on store), m and v float64. */
  adam32: ADAM_PARAMS,
  /** adam(theta, grad, m, v, n, beta1, beta2, c1, c2, lr, lambda, eps, mode): in place;
   * mode 0 without weight decay, 1 decoupled (AdamW), 2 coupled (Adam's L2 term). */
  adam: ADAM_PARAMS,
} as const;

const F64_PARAMS = new Set(["eps", "beta1", "beta2", "c1", "c2", "lr", "lambda"]);

type Name = keyof typeof SIMD_EXPORTS;

/** Options of {@link simdModuleBytes}. */
export interface SimdModuleOptions {
  /** Evaluate exp's polynomial with relaxed SIMD's multiply-add (fused where the machine has
   * FMA: one rounding a step instead of two, and fewer instructions). */
  readonly fused: boolean;
}

/** The module's bytes. */
export function simdModuleBytes(options: SimdModuleOptions): Uint8Array<ArrayBuffer> {
  const fused = options.fused;
  const builders: Record<Name, (f: FunctionBuilder) => void> = {
    add: (f) => binary(f, (g) => g.f64x2Add(), 8),
    sub: (f) => binary(f, (g) => g.f64x2Sub(), 8),
    mul: (f) => binary(f, (g) => g.f64x2Mul(), 8),
    nonFinite32: (f) => nonFinite(f, true),
    nonFinite64: (f) => nonFinite(f, false),
    add32: (f) => binary(f, (g) => g.f32x4Add(), 4),
    sub32: (f) => binary(f, (g) => g.f32x4Sub(), 4),
    mul32: (f) => binary(f, (g) => g.f32x4Mul(), 4),
    exp: (f) => unary(f, emitExp, fused),
    tanh: (f) => unary(f, emitTanh, fused),
    gelu: (f) => unary(f, emitGelu, fused),
    gelu32: (f) => gelu32(f, fused),
    softmax: (f) => softmax(f, fused),
    layerNormForward: (f) => layerNormForward(f, false),
    layerNormForward32: (f) => layerNormForward(f, true),
    layerNormBackward: (f) => layerNormBackward(f, false),
    layerNormBackward32: (f) => layerNormBackward(f, true),
    adam: (f) => adam(f, false),
    adam32: (f) => adam(f, true),
  };
  return encodeModule(
    (Object.keys(SIMD_EXPORTS) as Name[]).map((name) => {
      const params = SIMD_EXPORTS[name].map((p) => (F64_PARAMS.has(p) ? "f64" : "i32"));
      const f = new FunctionBuilder(params, name.startsWith("nonFinite") ? ["i32"] : []);
      builders[name](f);
      return { name, body: f };
    }),
    MAX_PAGES,
  );
}

// ---------------------------------------------------------------------------------------
// Loops
// ---------------------------------------------------------------------------------------

/** `for (i = 0; i < end; i += step) body()`, `end` a local holding a byte count. */
export function byteLoop(
  f: FunctionBuilder,
  i: number,
  end: number,
  step: number,
  body: () => void,
) {
  f.i32Const(0).localSet(i);
  f.block().loop();
  f.localGet(i).localGet(end).i32GeS().brIf(1);
  body();
  f.localGet(i).i32Const(step).i32Add().localSet(i);
  f.br(0).end().end();
}

/**
 * A new local holding the bytes of the whole vectors that `n` elements of `bytes` bytes take
 * (n a local): ⌈n/2⌉ vectors of float64s, ⌈n/4⌉ of float32s.
 */
function vectorBytes(f: FunctionBuilder, n: number, bytes: 4 | 8 = 8): number {
  const lanes = 16 / bytes;
  const end = f.local("i32");
  f.localGet(n).i32Const(lanes - 1).i32Add().i32Const(-lanes).i32And().i32Const(bytes).i32Mul()
    .localSet(end);
  return end;
}

/** A new local holding `n` · 8 (n a local): the bytes of n float64s. */
function scalarBytes(f: FunctionBuilder, n: number): number {
  const end = f.local("i32");
  f.localGet(n).i32Const(8).i32Mul().localSet(end);
  return end;
}

/** A new v128 local holding `value` in both lanes. */
export function splat(f: FunctionBuilder, value: number): number {
  const local = f.local("v128");
  f.f64Const(value).f64x2Splat().localSet(local);
  return local;
}

/** Pushes the vector at byte `i` of the array at address local `base`. */
function load(f: FunctionBuilder, base: number, i: number) {
  f.localGet(base).localGet(i).i32Add().v128Load();
}

/** Stores the vector that `value` pushes at byte `i` of the array at address local `base`. */
function store(f: FunctionBuilder, base: number, i: number, value: () => void) {
  f.localGet(base).localGet(i).i32Add();
  value();
  f.v128Store();
}

/** Pushes the float64 at byte `i` of the array at address local `base`. */
function loadScalar(f: FunctionBuilder, base: number, i: number) {
  f.localGet(base).localGet(i).i32Add().f64Load();
}

/**
 * out = x op y over ⌈n/2⌉ float64 vectors or, with `bytes` 4, ⌈n/4⌉ float32 vectors in
 * float32 arithmetic. For +, − and × of two float32 values this equals the reference's
 * float64 result rounded to float32: float64 has more than 2·24 + 2 significant bits, so
 * rounding the float64 result again to float32 gives the correctly rounded float32 result
 * (Figueroa, "When is double rounding innocuous?", 1995).
 */
function binary(f: FunctionBuilder, operation: (f: FunctionBuilder) => void, bytes: 4 | 8) {
  const [x, y, out, n] = [0, 1, 2, 3];
  const end = vectorBytes(f, n, bytes);
  const i = f.local("i32");
  byteLoop(f, i, end, 16, () => {
    store(f, out, i, () => {
      load(f, x, i);
      load(f, y, i);
      operation(f);
    });
  });
}

/**
 * Whether an array (x, n elements, read as whole groups of four vectors: the caller zeroes
 * the 64 bytes past the end) holds ±∞ or NaN. x·0 is ±0 for every finite x and NaN for ±∞
 * and NaN, so four vector sums of such products (four, so that the additions' latencies
 * overlap) stay ±0 until a non-finite element joins them; their total is tested once, at
 * the end, for a lane whose exponent bits are all ones.
 */
function nonFinite(f: FunctionBuilder, float32: boolean) {
  const [x, n] = [0, 1];
  const [at, end] = [f.local("i32"), f.local("i32")];
  const sums = [0, 1, 2, 3].map(() => f.local("v128"));
  const zero = f.local("v128"); // locals start as zeros: the vector of +0s
  const exponent = f.local("v128");
  const add = () => (float32 ? f.f32x4Add() : f.f64x2Add());
  // end = x + the bytes of n elements, rounded up to a whole group of 64.
  f.localGet(n).i32Const(float32 ? 4 : 8).i32Mul().i32Const(63).i32Add().i32Const(-64)
    .i32And().localGet(x).i32Add().localSet(end);
  f.localGet(x).localSet(at);
  f.block().loop();
  f.localGet(at).localGet(end).i32GeS().brIf(1);
  for (let u = 0; u < 4; u++) {
    f.localGet(sums[u]).localGet(at).v128Load(16 * u).localGet(zero);
    if (float32) f.f32x4Mul();
    else f.f64x2Mul();
    add();
    f.localSet(sums[u]);
  }
  f.localGet(at).i32Const(64).i32Add().localSet(at);
  f.br(0).end().end();
  if (float32) f.f32Const(Infinity).f32x4Splat().localSet(exponent); // bits 0x7f800000
  else f.f64Const(Infinity).f64x2Splat().localSet(exponent); // bits 0x7ff0000000000000
  f.localGet(sums[0]).localGet(sums[1]);
  add();
  f.localGet(sums[2]).localGet(sums[3]);
  add();
  add();
  f.localGet(exponent).v128And().localGet(exponent);
  if (float32) f.i32x4Eq();
  else f.i64x2Eq();
  f.v128AnyTrue();
}

/** An emitter of a function of one vector: reads local `x`, leaves the result on the stack. */
type VectorFunction = (f: FunctionBuilder, x: number, scratch: Scratch) => void;

function unary(f: FunctionBuilder, fn: VectorFunction, fused: boolean) {
  const [x, out, n] = [0, 1, 2];
  const end = vectorBytes(f, n);
  const i = f.local("i32");
  const v = f.local("v128");
  const scratch = new Scratch(f, fused);
  byteLoop(f, i, end, 16, () => {
    load(f, x, i);
    f.localSet(v);
    store(f, out, i, () => fn(f, v, scratch));
  });
}

// ---------------------------------------------------------------------------------------
// exp, tanh and GELU
// ---------------------------------------------------------------------------------------

/** Constants and temporaries of the exp emitters, declared once a function. */
export class Scratch {
  readonly log2e: number;
  readonly ln2Hi: number;
  readonly ln2Lo: number;
  readonly lowest: number;
  readonly highest: number;
  readonly half: number;
  readonly magic: number;
  readonly one: number;
  readonly two: number;
  readonly signBit: number;
  readonly taylor: number[];
  readonly k: number;
  readonly r: number;
  readonly q: number;
  readonly t: number;
  constructor(f: FunctionBuilder, readonly fused: boolean) {
    this.log2e = splat(f, Math.LOG2E);
    // Cody–Waite: ln 2 = LN2_HI + LN2_LO, LN2_HI with 32 significant bits, so k·LN2_HI is
    // exact for every |k| < 2¹¹ and x − k·LN2_HI loses nothing (fdlibm's constants).
    this.ln2Hi = splat(f, 6.93147180369123816490e-01);
    this.ln2Lo = splat(f, 1.90821492927058770002e-10);
    // Beyond these, exp is 0 or ∞ in float64; clamping keeps k within the scale's reach.
    this.lowest = splat(f, -746);
    this.highest = splat(f, 710);
    this.half = splat(f, 0.5);
    // 1.5·2⁵² + 1023: adding an integer j (|j| < 2⁵⁰) leaves j + 1023 in the low bits of the
    // significand, and a left shift by 52 moves them to the exponent field: the bits of 2ʲ.
    this.magic = splat(f, 1.5 * 2 ** 52 + 1023);
    this.one = splat(f, 1);
    this.two = splat(f, 2);
    this.signBit = splat(f, -0);
    // 1/j! for j = 13 down to 2: Taylor's series of (eʳ − 1)/r − 1 … to the r¹² term, which
    // for |r| ≤ ln2/2 leaves a truncation error below 2⁻⁵³.
    this.taylor = [];
    let factorial = 1;
    const inverse: number[] = [];
    for (let j = 1; j <= 13; j++) {
      factorial *= j;
      inverse[j] = 1 / factorial;
    }
    for (let j = 13; j >= 2; j--) this.taylor.push(splat(f, inverse[j]));
    this.k = f.local("v128");
    this.r = f.local("v128");
    this.q = f.local("v128");
    this.t = f.local("v128");
  }
}

/**
 * From local `x` (within ±746), sets `s.k` = nearest(x/ln 2) and `s.q` = e^r − 1 for the
 * reduced r = x − k·ln 2 (|r| ≤ ln2/2): eˣ = 2ᵏ·(1 + q).
 */
function reduce(f: FunctionBuilder, x: number, s: Scratch) {
  f.localGet(x).localGet(s.log2e).f64x2Mul().f64x2Nearest().localSet(s.k);
  f.localGet(x).localGet(s.k).localGet(s.ln2Hi).f64x2Mul().f64x2Sub();
  f.localGet(s.k).localGet(s.ln2Lo).f64x2Mul().f64x2Sub().localSet(s.r);
  // q = r·(1 + r·(1/2! + r·(1/3! + … + r/13!))), by Horner's rule.
  f.localGet(s.taylor[0]).localSet(s.t);
  for (const c of s.taylor.slice(1)) {
    if (s.fused) f.localGet(s.t).localGet(s.r).localGet(c).f64x2RelaxedMadd().localSet(s.t);
    else f.localGet(s.t).localGet(s.r).f64x2Mul().localGet(c).f64x2Add().localSet(s.t);
  }
  f.localGet(s.t).localGet(s.r).f64x2Mul().localGet(s.one).f64x2Add();
  f.localGet(s.r).f64x2Mul().localSet(s.q);
}

/** Pushes 2ʲ for the integer-valued lanes j (−1022 ≤ j ≤ 1023) that `j` pushes. */
function powerOfTwo(f: FunctionBuilder, s: Scratch, j: () => void) {
  j();
  f.localGet(s.magic).f64x2Add().i32Const(52).i64x2Shl();
}

/**
 * Pushes eˣ of local `x`: Cody–Waite reduction, a Taylor polynomial on |r| ≤ ln2/2, and the
 * scale 2ᵏ built by an integer shift into the exponent field. The scale is applied as two
 * halves, 2^⌊k/2⌋ then 2^(k−⌊k/2⌋), so that results that overflow become ∞ and results below
 * the normal range round to subnormals or 0 as `Math.exp`'s do. NaN stays NaN.
 */
export const emitExp: VectorFunction = (f, x, s) => {
  // Pseudo-max and -min (x < lo ? lo : x, then hi < t ? hi : t) keep a NaN x.
  f.localGet(x).localGet(s.lowest).f64x2Pmax().localGet(s.highest).f64x2Pmin().localSet(s.t);
  reduce(f, s.t, s);
  f.localGet(s.q).localGet(s.one).f64x2Add();
  powerOfTwo(f, s, () => f.localGet(s.k).localGet(s.half).f64x2Mul().f64x2Floor().localTee(s.t));
  f.f64x2Mul();
  powerOfTwo(f, s, () => f.localGet(s.k).localGet(s.t).f64x2Sub());
  f.f64x2Mul();
};

/**
 * Pushes tanh of local `x`: with a = min(|x|, 20) and e = e^(2a) − 1 (no cancellation near
 * 0: 2ᵏ·q + (2ᵏ − 1), exact in every part but the last addition), tanh a = e / (e + 2), then
 * x's sign. tanh(20) is 1 in float64.
 */
const emitTanh: VectorFunction = (f, x, s) => {
  const a = s.t;
  f.localGet(x).f64x2Abs().localGet(s.two).f64x2Mul();
  f.f64Const(40).f64x2Splat().f64x2Pmin().localSet(a); // 2a (40 < u ? 40 : u keeps a NaN)
  reduce(f, a, s);
  // t = 2ᵏ (0 ≤ k ≤ 58), then e = t·q + (t − 1).
  powerOfTwo(f, s, () => f.localGet(s.k));
  f.localSet(s.t);
  f.localGet(s.t).localGet(s.q).f64x2Mul().localGet(s.t).localGet(s.one).f64x2Sub().f64x2Add();
  f.localTee(s.q).localGet(s.q).localGet(s.two).f64x2Add().f64x2Div().localSet(s.t);
  // x's sign bit, the result's other bits (tanh is odd; tanh(−0) = −0).
  f.localGet(x).localGet(s.t).localGet(s.signBit).v128Bitselect();
};

/** Pushes GELU of local `x` as the scalar registry computes it, `exp` being {@link emitExp}. */
const emitGelu: VectorFunction = (f, x, s) => {
  const GELU_C = Math.sqrt(2 / Math.PI);
  const GELU_K = 0.044715;
  // u = (−2·C)·(x + ((K·x)·x)·x), as JavaScript evaluates −2 * C * (a + K * a * a * a).
  const u = f.local("v128");
  f.f64Const(-2 * GELU_C).f64x2Splat();
  f.localGet(x);
  f.f64Const(GELU_K).f64x2Splat().localGet(x).f64x2Mul().localGet(x).f64x2Mul().localGet(x)
    .f64x2Mul();
  f.f64x2Add().f64x2Mul().localSet(u);
  f.localGet(x);
  emitExp(f, u, s);
  f.localGet(s.one).f64x2Add().f64x2Div();
};

// ---------------------------------------------------------------------------------------
// GELU of float32 arrays, four lanes a vector
// ---------------------------------------------------------------------------------------

/** The float32 Taylor coefficients (ln 2)ʲ/j!, j = 7 down to 0, of 2ᶠ = e^(f·ln 2). */
export const EXP2_TAYLOR_32: readonly number[] = (() => {
  const c: number[] = [];
  for (let j = 0, term = 1; j <= 7; j++, term *= Math.LN2 / j) c.push(Math.fround(term));
  return c.reverse();
})();

/**
 * Where the float32 kernel's four-lane path ends: vectors with a lane whose scale exponent k
 * exceeds it (x below about −9.8, where the result nears float32's subnormal range, and ±∞
 * on the negative side) are computed by the float64 kernel's {@link emitGelu} instead.
 */
export const GELU32_FAST_K = 120;

/** The float32 GELU kernel's error bound, in float32 ulps from the reference (see {@link gelu32}). */
export const GELU32_ULPS = 5;

/**
 * GELU of float32 arrays (x, out: float32 addresses; n elements, read and written as ⌈n/4⌉
 * vectors), the scalar registry's x / (1 + eᵘ), u = −2C·(x + K·x³), to within a few float32
 * ulps of the reference (which computes in float64 and rounds once).
 *
 * The exponent is where float32 arithmetic would lose: u reaches ±100, so a float32 u would
 * err by 100·2⁻²⁴ and eᵘ by as much relatively. So each half vector is widened (exactly) to
 * float64 lanes for v = u·log₂e = x·(A + B·x²), k = nearest(v) and f = v − k (exact), and
 * only f ∈ [−½, ½] and k go back to float32 and integer lanes. The rest runs four lanes a
 * vector: 2ᶠ by a Taylor polynomial, eᵘ = 2ᵏ·2ᶠ (2ᵏ built in the exponent field), and
 * x / (1 + eᵘ). v is clamped below at −126 (eᵘ < 2⁻¹²⁶: 1 + eᵘ rounds to 1 and the result
 * is x, as the reference's is); a vector with k > {@link GELU32_FAST_K} in some lane (the
 * result would be near or below float32's normal range, where a quotient's relative error
 * is no longer what counts) is computed by the float64 kernel and rounded once, as a whole.
 * NaN stays NaN, +∞ gives +∞ and −∞ NaN (−∞/∞), as in the reference.
 *
 * Error bound, with u = 2⁻²⁴ (float32's unit roundoff, half an ulp at 1), relative to the
 * exact value y = x / (1 + eᵘ) of the reference's formula on the float32 input x:
 * - v in float64 (x² exact, three roundings): |Δv| ≤ 5·2⁻⁵³·|v| < 2⁻⁴³ for |v| ≤ 127, so
 *   eᵘ = 2ᵛ is off by < 2⁻¹⁹·u relative. f = v − k is exact.
 * - p = 2ᶠ (all relative to 2ᶠ ≥ 0.707): f rounded to float32 (|Δf| ≤ u·|f|: ln2·|f|·u);
 *   the Taylor remainder of degree 7 in y = f·ln2, |y|⁸/8!·e^|y| ≤ 7.3·10⁻⁹ ≈ 0.12u; the
 *   coefficients' rounding to float32, ≤ u·Σⱼ≥₁ cⱼ·|f|ʲ; Horner's rule (hⱼ = hⱼ₊₁·f + cⱼ),
 *   whose rounding at step j reaches the end multiplied by fʲ: ≤ u·Σⱼ |f|ʲ·|Hⱼ| (Hⱼ the exact
 *   partial sums) with one rounding a step (fused), plus u·Σⱼ |f|ʲ⁺¹·|Hⱼ₊₁| for the products'
 *   own roundings (unfused). Summed and maximised over f ∈ [−½, ½] (at f = −½; the kernel
 *   test evaluates it): δₚ ≤ 2.61u fused, ≤ 3.11u unfused.
 * - 2ᵏ·p: exact (a power of two times p, normal for −126 ≤ k ≤ 120).
 * - 1 + eᵘ: one rounding, u; eᵘ's error reaches it scaled by eᵘ/(1 + eᵘ) < 1.
 * - x / (1 + eᵘ): one rounding, u.
 * Together (second-order terms being ~u²): |result − y| ≤ δ·|y| with δ < 5.12u. The
 * reference is within half an ulp of y (its float64 error, ≈ 2⁻⁵⁰ relative, is negligible);
 * an ulp at y ∈ [2ᵉ, 2ᵉ⁺¹) is 2u·2ᵉ > u·|y|, so δ·|y| < 5.12 ulps and the two float32 values
 * are at most ⌊5.12 + 0.5⌋ = 5 ulps apart ({@link GELU32_ULPS}). Subnormal results arise on
 * this path only as x/(1 + eᵘ) with |x| < 2⁻¹²⁵, where δ·|y| is far below the subnormal
 * spacing; the float64 path is within 1 ulp.
 */
function gelu32(f: FunctionBuilder, fused: boolean) {
  const [x, out, n] = [0, 1, 2];
  const GELU_C = Math.sqrt(2 / Math.PI);
  const GELU_K = 0.044715;
  const end = vectorBytes(f, n, 4);
  const i = f.local("i32");
  const s = new Scratch(f, fused);
  // v = u·log₂e = x·(A + B·x²).
  const a = splat(f, -2 * GELU_C * Math.LOG2E);
  const b = splat(f, -2 * GELU_C * GELU_K * Math.LOG2E);
  const lowest = splat(f, -126);
  const taylor = EXP2_TAYLOR_32.map((c) => {
    const local = f.local("v128");
    f.f32Const(c).f32x4Splat().localSet(local);
    return local;
  });
  const one = taylor[taylor.length - 1]; // c₀ = 1
  const bias = f.local("v128");
  f.i32Const(127).i32x4Splat().localSet(bias);
  const fastK = f.local("v128");
  f.i32Const(GELU32_FAST_K).i32x4Splat().localSet(fastK);
  const wide = [f.local("v128"), f.local("v128")]; // x's halves in float64 lanes
  const [v, kf] = [f.local("v128"), f.local("v128")];
  const fractions = [f.local("v128"), f.local("v128")];
  const exponents = [f.local("v128"), f.local("v128")];
  const [fr, k, p] = [f.local("v128"), f.local("v128"), f.local("v128")];
  const madd = (x: number, y: number, z: number) => {
    if (fused) f.localGet(x).localGet(y).localGet(z).f32x4RelaxedMadd();
    else f.localGet(x).localGet(y).f32x4Mul().localGet(z).f32x4Add();
  };
  byteLoop(f, i, end, 16, () => {
    for (const h of [0, 1]) {
      f.localGet(x).localGet(i).i32Add().v128Load64Zero(8 * h).f64x2PromoteLowF32x4();
      f.localTee(wide[h]).localGet(wide[h]).f64x2Mul();
      if (fused) f.localGet(b).localGet(a).f64x2RelaxedMadd();
      else f.localGet(b).f64x2Mul().localGet(a).f64x2Add();
      // v < lowest ? lowest : v keeps a NaN v.
      f.localGet(wide[h]).f64x2Mul().localGet(lowest).f64x2Pmax().localTee(v);
      f.f64x2Nearest().localTee(kf).i32x4TruncSatF64x2SZero().localSet(exponents[h]);
      f.localGet(v).localGet(kf).f64x2Sub().f32x4DemoteF64x2Zero().localSet(fractions[h]);
    }
    f.localGet(fractions[0]).localGet(fractions[1]).i64x2ConcatLow().localSet(fr);
    f.localGet(exponents[0]).localGet(exponents[1]).i64x2ConcatLow().localTee(k);
    f.localGet(fastK).i32x4GtS().v128AnyTrue().if();
    for (const h of [0, 1]) {
      f.localGet(out).localGet(i).i32Add();
      emitGelu(f, wide[h], s);
      f.f32x4DemoteF64x2Zero().v128Store64Lane0(8 * h);
    }
    f.else();
    // p = 2ᶠ by Horner's rule; then 1 + 2ᵏ·p, the bits of 2ᵏ being (k + 127) << 23.
    f.localGet(taylor[0]).localSet(p);
    for (const c of taylor.slice(1)) {
      madd(p, fr, c);
      f.localSet(p);
    }
    f.localGet(k).localGet(bias).i32x4Add().i32Const(23).i32x4Shl().localSet(k);
    store(f, out, i, () => {
      load(f, x, i);
      madd(k, p, one);
      f.f32x4Div();
    });
    f.end();
  });
}

// ---------------------------------------------------------------------------------------
// Softmax and layer norm, row by row
// ---------------------------------------------------------------------------------------

function softmax(f: FunctionBuilder, fused: boolean) {
  const [x, out, rows, width] = [0, 1, 2, 3];
  const s = new Scratch(f, fused);
  const vectorEnd = vectorBytes(f, width);
  const rowEnd = scalarBytes(f, width);
  const [r, i] = [f.local("i32"), f.local("i32")];
  const max = f.local("f64");
  const total = f.local("f64");
  const [v, divisor] = [f.local("v128"), f.local("v128")];
  f.localGet(rows).localSet(r);
  f.block().loop();
  f.localGet(r).i32Eqz().brIf(1);
  // max: exact in any order. Starts from −∞ as the reference does.
  f.f64Const(-Infinity).localSet(max);
  byteLoop(f, i, rowEnd, 8, () => {
    f.localGet(max);
    loadScalar(f, x, i);
    f.f64Max().localSet(max);
  });
  // e = exp(x − max), then the sum of the e in the reference's order.
  f.localGet(max).f64x2Splat().localSet(divisor);
  byteLoop(f, i, vectorEnd, 16, () => {
    load(f, x, i);
    f.localGet(divisor).f64x2Sub().localSet(v);
    store(f, out, i, () => emitExp(f, v, s));
  });
  f.f64Const(0).localSet(total);
  byteLoop(f, i, rowEnd, 8, () => {
    f.localGet(total);
    loadScalar(f, out, i);
    f.f64Add().localSet(total);
  });
  f.localGet(total).f64x2Splat().localSet(divisor);
  byteLoop(f, i, vectorEnd, 16, () => {
    store(f, out, i, () => {
      load(f, out, i);
      f.localGet(divisor).f64x2Div();
    });
  });
  f.localGet(x).localGet(rowEnd).i32Add().localSet(x);
  f.localGet(out).localGet(rowEnd).i32Add().localSet(out);
  f.localGet(r).i32Const(1).i32Sub().localSet(r);
  f.br(0).end().end();
}

/**
 * New locals holding the masks of a row's last block of four elements, when it is partial:
 * lane j (0, 1 in the first, 2, 3 in the second) all ones when j < width mod 4.
 */
function lastBlockMasks(f: FunctionBuilder, width: number): [number, number] {
  const [maskLow, maskHigh] = [f.local("v128"), f.local("v128")];
  const rest = f.local("v128");
  f.localGet(width).i32Const(3).i32And().f64ConvertI32S().f64x2Splat().localSet(rest);
  for (const [mask, first] of [[maskLow, 0], [maskHigh, 2]]) {
    f.f64Const(first).f64x2Splat().f64Const(first + 1).f64x2ReplaceLane(1);
    f.localGet(rest).f64x2Lt().localSet(mask);
  }
  return [maskLow, maskHigh];
}

/**
 * Layer norm's forward over rows of `width`: x and out float64 arrays, or float32 ones with
 * `float32` (x widened exactly on load, out rounded once on store); w, b float64; each row's
 * mean and 1/σ stored in float64 at `mean` and `inverseStd`. The two row sums (of x, then of (x − mean)²) are `ops.ts`'s `rowSum`:
 * four interleaved partial sums, here the lanes of two vectors, combined as (s₀ + s₂) +
 * (s₁ + s₃); the lanes past the row's end in its last block are masked to +0, which leaves a
 * sum unchanged. Bit for bit the TypeScript loop's results.
 */
function layerNormForward(f: FunctionBuilder, float32: boolean) {
  const [x, w, b, out, means, inverseStd, rows, width, eps] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const vectorEnd = vectorBytes(f, width);
  const size = float32 ? 4 : 8; // bytes of an element of x and out
  const rowBytes = f.local("i32");
  f.localGet(width).i32Const(size).i32Mul().localSet(rowBytes);
  // Whole blocks of 4 end at blockEnd (element bytes); the rest, width mod 4, is masked.
  const blockEnd = f.local("i32");
  f.localGet(width).i32Const(-4).i32And().i32Const(size).i32Mul().localSet(blockEnd);
  const [maskLow, maskHigh] = lastBlockMasks(f, width);
  const [r, i, e] = [f.local("i32"), f.local("i32"), f.local("i32")];
  const [mean, inv] = [f.local("f64"), f.local("f64")];
  const [low, high, shift, zero] = [
    f.local("v128"),
    f.local("v128"),
    f.local("v128"),
    splat(f, 0),
  ];
  const [meanV, invV, n] = [f.local("v128"), f.local("v128"), f.local("v128")];
  /** Pushes the two elements of x at element byte `at` + `offset`, as float64 lanes. */
  const pair = (at: number, offset: number) => {
    f.localGet(x).localGet(at).i32Add();
    if (float32) f.v128Load64Zero(offset).f64x2PromoteLowF32x4();
    else f.v128Load(2 * offset);
  };
  /** Pushes the term of a pair: x − shift, squared when `squares`, masked by `mask`. */
  const term = (at: number, offset: number, squares: boolean, mask: number | null) => {
    const d = f.local("v128");
    pair(at, offset);
    f.localGet(shift).f64x2Sub();
    if (squares) f.localTee(d).localGet(d).f64x2Mul();
    if (mask !== null) f.localGet(zero).localGet(mask).v128Bitselect();
  };
  /** Leaves on the stack the row sum of x − shift (or its squares) at row byte `e`. */
  const rowSum = (squares: boolean) => {
    f.localGet(zero).localSet(low).localGet(zero).localSet(high);
    byteLoop(f, i, blockEnd, 4 * size, () => {
      f.localGet(low);
      term(i, 0, squares, null);
      f.f64x2Add().localSet(low);
      f.localGet(high);
      term(i, 2 * 4, squares, null);
      f.f64x2Add().localSet(high);
    });
    f.localGet(blockEnd).localGet(rowBytes).i32LtS().if();
    f.localGet(low);
    term(blockEnd, 0, squares, maskLow);
    f.f64x2Add().localSet(low);
    f.localGet(high);
    term(blockEnd, 2 * 4, squares, maskHigh);
    f.f64x2Add().localSet(high);
    f.end();
    // (s₀ + s₂) + (s₁ + s₃)
    f.localGet(low).localGet(high).f64x2Add().localTee(low).f64x2ExtractLane(0);
    f.localGet(low).f64x2ExtractLane(1).f64Add();
  };
  f.localGet(rows).localSet(r);
  f.block().loop();
  f.localGet(r).i32Eqz().brIf(1);
  f.localGet(zero).localSet(shift);
  rowSum(false);
  f.localGet(width).f64ConvertI32S().f64Div().localTee(mean).f64x2Splat().localSet(shift);
  rowSum(true);
  f.localGet(width).f64ConvertI32S().f64Div();
  f.localGet(eps).f64Add().f64Sqrt().localSet(inv);
  f.f64Const(1).localGet(inv).f64Div().localSet(inv);
  f.localGet(inverseStd).localGet(inv).f64Store();
  f.localGet(means).localGet(mean).f64Store();
  f.localGet(mean).f64x2Splat().localSet(meanV);
  f.localGet(inv).f64x2Splat().localSet(invV);
  byteLoop(f, i, vectorEnd, 16, () => {
    // e: the byte of element i/8 in x and out.
    if (float32) f.localGet(i).i32Const(1).i32ShrU().localSet(e);
    pair(float32 ? e : i, 0);
    f.localGet(meanV).f64x2Sub().localGet(invV).f64x2Mul().localSet(n);
    const value = () => {
      f.localGet(n);
      f.localGet(w).localGet(i).i32Add().v128Load().f64x2Mul();
      f.localGet(b).localGet(i).i32Add().v128Load().f64x2Add();
    };
    if (float32) {
      f.localGet(out).localGet(e).i32Add();
      value();
      f.f32x4DemoteF64x2Zero().v128Store64Lane0();
    } else store(f, out, i, value);
  });
  f.localGet(x).localGet(rowBytes).i32Add().localSet(x);
  f.localGet(out).localGet(rowBytes).i32Add().localSet(out);
  f.localGet(means).i32Const(8).i32Add().localSet(means);
  f.localGet(inverseStd).i32Const(8).i32Add().localSet(inverseStd);
  f.localGet(r).i32Const(1).i32Sub().localSet(r);
  f.br(0).end().end();
}

/**
 * Layer norm's backward over rows of `width`, from the forward's x and per-row mean and 1/σ
 * (n = (x − μ)·(1/σ) computed again as the forward computes it): gx = s·((d − mean(d)) −
 * n·mean(d·n)) with d = g·w, and gw += g·n, gb += g row after row. grad, x and gx are float64
 * arrays, or float32 ones with `float32` (widened exactly on load, gx rounded once on store);
 * w, gw and gb float64. The two row sums are four interleaved partial sums combined as in
 * `ops.ts`'s `rowSum` (the lanes of two vectors; the last block's lanes past the row masked
 * to +0). Bit for bit the TypeScript loop's results.
 */
function layerNormBackward(f: FunctionBuilder, float32: boolean) {
  const [grad, w, x, means, inverseStd, gx, gw, gb, rows, width] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
  ];
  const size = float32 ? 4 : 8; // bytes of an element of grad, x and gx
  const vectorEnd = vectorBytes(f, width); // float64 bytes of ⌈width/2⌉ pairs
  const rowBytes = f.local("i32");
  f.localGet(width).i32Const(size).i32Mul().localSet(rowBytes);
  const [blockEnd, rowEnd] = [f.local("i32"), f.local("i32")]; // float64 bytes
  f.localGet(width).i32Const(-4).i32And().i32Const(8).i32Mul().localSet(blockEnd);
  f.localGet(width).i32Const(8).i32Mul().localSet(rowEnd);
  const [maskLow, maskHigh] = lastBlockMasks(f, width);
  const [r, i, e] = [f.local("i32"), f.local("i32"), f.local("i32")];
  const widthF = f.local("f64");
  f.localGet(width).f64ConvertI32S().localSet(widthF);
  const [muV, invV, meanDV, meanDNV, g, d] = [
    f.local("v128"),
    f.local("v128"),
    f.local("v128"),
    f.local("v128"),
    f.local("v128"),
    f.local("v128"),
  ];
  const [dLow, dHigh, nLow, nHigh, zero] = [
    f.local("v128"),
    f.local("v128"),
    f.local("v128"),
    f.local("v128"),
    splat(f, 0),
  ];
  /** e = the byte in grad, x and gx of the element at float64 byte `at`. */
  const setE = (at: number) => {
    if (float32) f.localGet(at).i32Const(1).i32ShrU().localSet(e);
    else f.localGet(at).localSet(e);
  };
  /** Pushes the pair of `base` (grad or x) at element byte e + `offset` elements·size. */
  const pair = (base: number, offset: number) => {
    f.localGet(base).localGet(e).i32Add();
    if (float32) f.v128Load64Zero(offset * 4).f64x2PromoteLowF32x4();
    else f.v128Load(offset * 8);
  };
  /** Pushes n = (x − μ)·s of the pair at element offset `offset`. */
  const normalized = (offset: number) => {
    pair(x, offset);
    f.localGet(muV).f64x2Sub().localGet(invV).f64x2Mul();
  };
  /** Adds d = g·w and d·n of the pair at `offset` (masked by `mask`) into `sums`, `sumsN`. */
  const accumulate = (
    at: number,
    offset: number,
    sums: number,
    sumsN: number,
    mask: number | null,
  ) => {
    pair(grad, offset);
    f.localGet(w).localGet(at).i32Add().v128Load(offset * 8).f64x2Mul().localSet(d);
    f.localGet(sums).localGet(d);
    if (mask !== null) f.localGet(zero).localGet(mask).v128Bitselect();
    f.f64x2Add().localSet(sums);
    f.localGet(sumsN).localGet(d);
    normalized(offset);
    f.f64x2Mul();
    if (mask !== null) f.localGet(zero).localGet(mask).v128Bitselect();
    f.f64x2Add().localSet(sumsN);
  };
  /** Pushes the mean over the row of the sums in two vectors: ((s₀ + s₂) + (s₁ + s₃))/width. */
  const rowMean = (low: number, high: number) => {
    f.localGet(low).localGet(high).f64x2Add().localTee(low).f64x2ExtractLane(0);
    f.localGet(low).f64x2ExtractLane(1).f64Add().localGet(widthF).f64Div();
  };
  f.localGet(rows).localSet(r);
  f.block().loop();
  f.localGet(r).i32Eqz().brIf(1);
  f.localGet(means).v128Load64Splat().localSet(muV);
  f.localGet(inverseStd).v128Load64Splat().localSet(invV);
  f.localGet(gx).if();
  {
    for (const sum of [dLow, dHigh, nLow, nHigh]) f.localGet(zero).localSet(sum);
    byteLoop(f, i, blockEnd, 32, () => {
      setE(i);
      accumulate(i, 0, dLow, nLow, null);
      accumulate(i, 2, dHigh, nHigh, null);
    });
    f.localGet(blockEnd).localGet(rowEnd).i32LtS().if();
    setE(blockEnd);
    accumulate(blockEnd, 0, dLow, nLow, maskLow);
    accumulate(blockEnd, 2, dHigh, nHigh, maskHigh);
    f.end();
    rowMean(dLow, dHigh);
    f.f64x2Splat().localSet(meanDV);
    rowMean(nLow, nHigh);
    f.f64x2Splat().localSet(meanDNV);
    // gx = s·((g·w − mean(d)) − n·mean(d·n))
    byteLoop(f, i, vectorEnd, 16, () => {
      setE(i);
      f.localGet(gx).localGet(e).i32Add();
      f.localGet(invV);
      pair(grad, 0);
      load(f, w, i);
      f.f64x2Mul().localGet(meanDV).f64x2Sub();
      normalized(0);
      f.localGet(meanDNV).f64x2Mul().f64x2Sub().f64x2Mul();
      if (float32) f.f32x4DemoteF64x2Zero().v128Store64Lane0();
      else f.v128Store();
    });
    f.localGet(gx).localGet(rowBytes).i32Add().localSet(gx);
  }
  f.end();
  // gw += g·n and gb += g, column by column: the same order over rows as the reference.
  byteLoop(f, i, vectorEnd, 16, () => {
    setE(i);
    pair(grad, 0);
    f.localSet(g);
    f.localGet(gw).if();
    store(f, gw, i, () => {
      load(f, gw, i);
      f.localGet(g);
      normalized(0);
      f.f64x2Mul().f64x2Add();
    });
    f.end();
    f.localGet(gb).if();
    store(f, gb, i, () => {
      load(f, gb, i);
      f.localGet(g).f64x2Add();
    });
    f.end();
  });
  for (const base of [grad, x]) f.localGet(base).localGet(rowBytes).i32Add().localSet(base);
  for (const base of [means, inverseStd]) f.localGet(base).i32Const(8).i32Add().localSet(base);
  f.localGet(r).i32Const(1).i32Sub().localSet(r);
  f.br(0).end().end();
}

// ---------------------------------------------------------------------------------------
// Adam's update
// ---------------------------------------------------------------------------------------

/**
 * Adam's update in place (θ and g float64 arrays, or with `float32` float32 arrays widened on
 * load and θ rounded once on store, as a float32 store rounds), operation for operation the
 * reference's (`lib/lm/adamw.ts`,
 * `lib/nn/optim.ts`):
 *   g ← g + λθ (coupled only); m ← β₁m + (1−β₁)g; v ← β₂v + ((1−β₂)g)g;
 *   θ ← θ′ − (lr·m/c₁) / (√(v/c₂) + ε), θ′ = θ − (lr·λ)θ when decoupled, else θ.
 */
function adam(f: FunctionBuilder, float32: boolean) {
  const [theta, grad, m, v, n, beta1, beta2, c1, c2, lr, lambda, eps, mode] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
  ];
  const end = vectorBytes(f, n);
  const i = f.local("i32");
  const vector = (scalar: () => void) => {
    const local = f.local("v128");
    scalar();
    f.f64x2Splat().localSet(local);
    return local;
  };
  const b1 = vector(() => f.localGet(beta1));
  const b2 = vector(() => f.localGet(beta2));
  const oneMinusB1 = vector(() => f.f64Const(1).localGet(beta1).f64Sub());
  const oneMinusB2 = vector(() => f.f64Const(1).localGet(beta2).f64Sub());
  const c1V = vector(() => f.localGet(c1));
  const c2V = vector(() => f.localGet(c2));
  const lrV = vector(() => f.localGet(lr));
  const lambdaV = vector(() => f.localGet(lambda));
  const lrLambda = vector(() => f.localGet(lr).localGet(lambda).f64Mul());
  const epsV = vector(() => f.localGet(eps));
  const [t, g, mNew, vNew] = [f.local("v128"), f.local("v128"), f.local("v128"), f.local("v128")];
  // θ and g: two float64s at byte i, or two float32s at byte i/2 widened (exactly).
  const half = f.local("i32");
  const loadPair = (base: number) => {
    if (!float32) return load(f, base, i);
    f.localGet(base).localGet(half).i32Add().v128Load64Zero().f64x2PromoteLowF32x4();
  };
  byteLoop(f, i, end, 16, () => {
    if (float32) f.localGet(i).i32Const(1).i32ShrU().localSet(half);
    loadPair(theta);
    f.localSet(t);
    loadPair(grad);
    f.localSet(g);
    f.localGet(mode).i32Const(2).i32Eq().if();
    f.localGet(g).localGet(lambdaV).localGet(t).f64x2Mul().f64x2Add().localSet(g);
    f.end();
    f.localGet(b1);
    load(f, m, i);
    f.f64x2Mul().localGet(oneMinusB1).localGet(g).f64x2Mul().f64x2Add().localSet(mNew);
    f.localGet(b2);
    load(f, v, i);
    f.f64x2Mul().localGet(oneMinusB2).localGet(g).f64x2Mul().localGet(g).f64x2Mul();
    f.f64x2Add().localSet(vNew);
    store(f, m, i, () => f.localGet(mNew));
    store(f, v, i, () => f.localGet(vNew));
    f.localGet(mode).i32Const(1).i32Eq().if();
    f.localGet(t).localGet(lrLambda).localGet(t).f64x2Mul().f64x2Sub().localSet(t);
    f.end();
    const update = () => {
      f.localGet(t);
      f.localGet(lrV).localGet(mNew).localGet(c1V).f64x2Div().f64x2Mul();
      f.localGet(vNew).localGet(c2V).f64x2Div().f64x2Sqrt().localGet(epsV).f64x2Add();
      f.f64x2Div().f64x2Sub();
    };
    if (float32) {
      f.localGet(theta).localGet(half).i32Add();
      update();
      f.f32x4DemoteF64x2Zero().v128Store64Lane0();
    } else store(f, theta, i, update);
  });
}
