/**
 * The WebAssembly SIMD kernels of batched attention, forward and backward, written as the
 * code that emits them (see `_wasm_encoder.ts`): one call runs every (batch × head) problem,
 * in place of one matrix-product call per small product per head (`_attention.ts`, which
 * stays the reference and states the arithmetic).
 *
 * Two sets of kernels:
 * - `forward` and `backward` compute in float64, two lanes a vector, like the element-wise
 *   kernels of `_simd_module.ts` (whose exp, {@link emitExp}, the softmax reuses), for
 *   float64 storage. The caller lays each problem out for the loops:
 *   - rows of Q, K, V, G and their gradients are `dp` wide: d rounded up to even, 0-padded;
 *   - Kᵀ (both) and Vᵀ (backward) are d rows of `tkp` (Tk rounded up to even), 0-padded, so
 *     that a score row S[i, j…j+1] is a sum over p of Q[i,p]·Kᵀ[p, j…j+1], two keys a vector;
 *   - the probabilities are not kept: a row of P lives in scratch while its query is worked
 *     on, and backward computes it again (with the same code, so the same bits) from Q and Kᵀ.
 * - `forward32` and `backward32` compute in float32, four lanes a vector, for float32
 *   storage, as the reference's float32 products do (the softmax's sums in float64, each
 *   rounded once; exp by {@link emitExp32}, within 3 float32 roundoffs). They read and write
 *   the heads where they are (a fused [..., T, 3C] projection's rows, copied whole into the
 *   kernels' memory), each problem's Kᵀ and Vᵀ transposed into scratch by the kernel itself;
 *   forward32 keeps P for backward32. Rows of results are computed into scratch `dp` wide
 *   (d rounded up to a multiple of 4) and their d values copied into place.
 *
 * Query i sees keys j < seen(i) = i + 1 + Tk − Tq when causal, else all Tk. Row loops over
 * keys stop at seen(i) rounded up to whole vectors, and every read of a key's result stops at
 * seen(i).
 * Every sum over keys runs over j < seen(i) in increasing order, as the reference's folds do
 * (whose further terms are products with P = 0); the row sums of the softmax and of
 * rowsum(∂L/∂P ⊙ P) are sequential scalar sums in the reference's order.
 *
 * @module
 */

import { encodeModule, FunctionBuilder } from "./_wasm_encoder.ts";
import { emitExp, MAX_PAGES, Scratch } from "./_simd_module.ts";

/** The exported functions, in order, with their parameters (i32 unless `scale`, f64). */
export const ATTENTION_EXPORTS = {
  /** forward(q, kt, v, out, probs, batch, tq, tk, d, dp, tkp, scale, causal): probs is
   * scratch of one row (tkp). */
  forward: [
    "q",
    "kt",
    "v",
    "out",
    "probs",
    "batch",
    "tq",
    "tk",
    "d",
    "dp",
    "tkp",
    "scale",
    "causal",
  ],
  /** backward(g, q, k, kt, vt, probs, dq, dk, dv, ds, batch, tq, tk, d, dp, tkp, scale,
   * causal): probs and ds are scratch of one row (tkp) each. */
  backward: [
    "g",
    "q",
    "k",
    "kt",
    "vt",
    "probs",
    "dq",
    "dk",
    "dv",
    "ds",
    "batch",
    "tq",
    "tk",
    "d",
    "dp",
    "tkp",
    "scale",
    "causal",
  ],
  /** forward32(q, qs, k, ks, v, vs, out, os, kt, probs, row, outer, heads, tq, tk, d, scale,
   * causal): float32 operands read and written in place, each a byte address of head 0 of row
   * 0 and the bytes from one row to the next (qs…): row t of head h of leading position o at
   * `q + (o·tq + t)·qs + h·d·4`. Writes P at `probs`: for every query of every problem, in
   * order, a row of the keys it sees rounded up to a multiple of 4 (past the keys seen,
   * values no one reads). kt (d rows of Tk so rounded: tkp) and row (d so rounded) are
   * scratch. */
  forward32: [
    "q",
    "qs",
    "k",
    "ks",
    "v",
    "vs",
    "out",
    "os",
    "kt",
    "probs",
    "row",
    "outer",
    "heads",
    "tq",
    "tk",
    "d",
    "scale",
    "causal",
  ],
  /** backward32(g, gs, q, qs, k, ks, v, vs, dq, dqs, dk, dks, dv, dvs, vt, probs, ds, row,
   * dkSum, dvSum, outer, heads, tq, tk, d, scale, causal): as forward32, reading P where
   * forward32 wrote it; vt (d rows of tkp), ds (one such row), row, dkSum and dvSum (Tk rows
   * of d rounded up) are scratch. */
  backward32: [
    "g",
    "gs",
    "q",
    "qs",
    "k",
    "ks",
    "v",
    "vs",
    "dq",
    "dqs",
    "dk",
    "dks",
    "dv",
    "dvs",
    "vt",
    "probs",
    "ds",
    "row",
    "dkSum",
    "dvSum",
    "outer",
    "heads",
    "tq",
    "tk",
    "d",
    "scale",
    "causal",
  ],
} as const;

/** Options of {@link attentionModuleBytes}. */
export interface AttentionModuleOptions {
  /** Multiply-adds (and exp's polynomial) with relaxed SIMD's multiply-add: fused where the
   * machine has FMA, one rounding instead of two. */
  readonly fused: boolean;
}

/** The module's bytes. */
export function attentionModuleBytes(options: AttentionModuleOptions): Uint8Array<ArrayBuffer> {
  const functions = [
    { name: "forward", emit: forward },
    { name: "backward", emit: backward },
    { name: "forward32", emit: forward32 },
    { name: "backward32", emit: backward32 },
  ] as const;
  return encodeModule(
    functions.map(({ name, emit }) => {
      const params = ATTENTION_EXPORTS[name].map((p) => (p === "scale" ? "f64" : "i32"));
      const f = new FunctionBuilder(params, []);
      emit(f, options.fused);
      return { name, body: f };
    }),
    MAX_PAGES,
  );
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** `for (i = start(); i < end(); i += step) body()` over i32 local `i`. */
function loop(
  f: FunctionBuilder,
  i: number,
  start: () => void,
  end: () => void,
  step: number,
  body: () => void,
) {
  start();
  f.localSet(i);
  f.block().loop();
  f.localGet(i);
  end();
  f.i32GeS().brIf(1);
  body();
  f.localGet(i).i32Const(step).i32Add().localSet(i);
  f.br(0).end().end();
}

/** What a kernel's vectors hold: float64s two a vector, or float32s four. */
interface Lanes {
  /** Bytes of an element. */
  readonly bytes: 4 | 8;
  /** Loads the element at the address on the stack (+ `offset` bytes) into every lane. */
  splatLoad(f: FunctionBuilder, offset?: number): void;
  /** Lane-wise product and sum of the two vectors on the stack. */
  mul(f: FunctionBuilder): void;
  add(f: FunctionBuilder): void;
  /** a·b + c of the three vectors on the stack (relaxed SIMD: fused where the machine is). */
  madd(f: FunctionBuilder): void;
  /** Whether a row's last vectors (fewer than {@link BLOCK}) go two at a time before one. */
  readonly pairs: boolean;
}

/**
 * The vectors of a row from byte `c` on, fewer than {@link BLOCK}: `block(2)` where two are
 * left (with `lanes.pairs`: float32 rows are short and their tails take most of the time),
 * then `block(1)` for each left.
 */
function rest(
  f: FunctionBuilder,
  c: number,
  width: number,
  lanes: Lanes,
  block: (width: number) => void,
) {
  if (lanes.pairs) {
    const end = () => f.localGet(width).i32Const(16).i32Sub();
    loop(f, c, () => f.localGet(c), end, 32, () => block(2));
  }
  loop(f, c, () => f.localGet(c), () => f.localGet(width), 16, () => block(1));
}

const F64_LANES: Lanes = {
  bytes: 8,
  splatLoad: (f, offset = 0) => f.v128Load64Splat(offset),
  mul: (f) => f.f64x2Mul(),
  add: (f) => f.f64x2Add(),
  madd: (f) => f.f64x2RelaxedMadd(),
  pairs: false,
};

const F32_LANES: Lanes = {
  bytes: 4,
  splatLoad: (f, offset = 0) => f.v128Load32Splat(offset),
  mul: (f) => f.f32x4Mul(),
  add: (f) => f.f32x4Add(),
  madd: (f) => f.f32x4RelaxedMadd(),
  pairs: true,
};

/** Sets vector local `acc` to a·b + acc, where `a` and `b` push the factors. */
function accumulate(
  f: FunctionBuilder,
  acc: number,
  fused: boolean,
  a: () => void,
  b: () => void,
  lanes: Lanes,
) {
  a();
  b();
  if (fused) {
    f.localGet(acc);
    lanes.madd(f);
  } else {
    lanes.mul(f);
    f.localGet(acc);
    lanes.add(f);
  }
  f.localSet(acc);
}

/** Sets local `to` to local `a` + local `b` · `factor` (i32, `factor` a local or constant). */
function offset(f: FunctionBuilder, to: number, a: number, b: number, factor: () => void) {
  f.localGet(a).localGet(b);
  factor();
  f.i32Mul().i32Add().localSet(to);
}

/** Vectors a block of {@link dots} computes at once (register blocking). */
const BLOCK = 4;

/** Where {@link dots} reads and writes: i32 locals holding byte addresses and counts. */
interface Dots {
  /** Bytes of the output row (a multiple of 16). */
  readonly width: number;
  /** Bytes of the sum's terms (8 a term, 4 in float32 lanes). */
  readonly terms: number;
  /** Address of the scalar factors: term x at `scalars + x`. */
  readonly scalars: number;
  /** Address of the vector factors: term x, vector c at `vectors + c + (x/8)·stride` (x/4 in
   * float32 lanes). */
  readonly vectors: number;
  /** Bytes from one term's vectors to the next's. */
  readonly stride: number;
  /** Address of the output row. */
  readonly out: number;
  /** A v128 local to multiply each result by, or null. */
  readonly scale: number | null;
}

/**
 * out[c…c+1] = (Σₓ scalars[x]·vectors[x][c…c+1]) (· scale), each sum a fold in increasing x,
 * for every vector c of the output row: {@link BLOCK} vectors at a time (each scalar loaded
 * once for all of them), then the rest one by one. (Four lanes c…c+3 in float32, each sum
 * two folds, of the even and of the odd x, added at the end; the rest two vectors at a time
 * before one.)
 */
function dots(f: FunctionBuilder, fused: boolean, at: Dots, lanes: Lanes = F64_LANES) {
  const [c, x, a, limit] = [0, 0, 0, 0].map(() => f.local("i32"));
  const s = f.local("v128");
  const acc = Array.from({ length: BLOCK }, () => f.local("v128"));
  const odd = lanes.pairs ? Array.from({ length: BLOCK }, () => f.local("v128")) : [];
  const [b, pairsEnd] = lanes.pairs ? [f.local("i32"), f.local("i32")] : [0, 0];
  // Adds the products of the term whose scalar is at scalars + x + `ahead` bytes and whose
  // vectors are at local `at` into `sums`.
  const term = (sums: number[], width: number, ahead: number, vectors: number) => {
    f.localGet(at.scalars).localGet(x).i32Add();
    lanes.splatLoad(f, ahead);
    f.localSet(s);
    for (let w = 0; w < width; w++) {
      const vector = () => f.localGet(vectors).v128Load(16 * w);
      accumulate(f, sums[w], fused, () => f.localGet(s), vector, lanes);
    }
  };
  const block = (width: number) => {
    for (let w = 0; w < width; w++) f.f64Const(0).f64x2Splat().localSet(acc[w]);
    f.localGet(at.vectors).localGet(c).i32Add().localSet(a);
    if (lanes.pairs) {
      // Float32: even terms into `acc`, odd into `odd`, added at the end: two chains of
      // multiply-adds in flight in place of one (the rows are short, so the chains' latency
      // is what a row costs).
      for (let w = 0; w < width; w++) f.f64Const(0).f64x2Splat().localSet(odd[w]);
      f.localGet(at.terms).i32Const(lanes.bytes).i32Sub().localSet(pairsEnd);
      loop(f, x, () => f.i32Const(0), () => f.localGet(pairsEnd), 2 * lanes.bytes, () => {
        term(acc, width, 0, a);
        f.localGet(a).localGet(at.stride).i32Add().localSet(b);
        term(odd, width, lanes.bytes, b);
        f.localGet(b).localGet(at.stride).i32Add().localSet(a);
      });
      // The last term where their number is odd.
      loop(f, x, () => f.localGet(x), () => f.localGet(at.terms), lanes.bytes, () => {
        term(acc, width, 0, a);
        f.localGet(a).localGet(at.stride).i32Add().localSet(a);
      });
      for (let w = 0; w < width; w++) {
        f.localGet(acc[w]).localGet(odd[w]);
        lanes.add(f);
        f.localSet(acc[w]);
      }
    } else {
      loop(f, x, () => f.i32Const(0), () => f.localGet(at.terms), lanes.bytes, () => {
        term(acc, width, 0, a);
        f.localGet(a).localGet(at.stride).i32Add().localSet(a);
      });
    }
    for (let w = 0; w < width; w++) {
      f.localGet(at.out).localGet(c).i32Add().localGet(acc[w]);
      if (at.scale !== null) {
        f.localGet(at.scale);
        lanes.mul(f);
      }
      f.v128Store(16 * w);
    }
  };
  f.localGet(at.width).i32Const(16 * (BLOCK - 1)).i32Sub().localSet(limit);
  loop(f, c, () => f.i32Const(0), () => f.localGet(limit), 16 * BLOCK, () => block(BLOCK));
  rest(f, c, at.width, lanes, block);
}

/** Where {@link addOuter} reads and writes: i32 locals holding byte addresses and counts. */
interface Outer {
  /** Bytes of a row (a multiple of 16). */
  readonly width: number;
  /** Bytes of the factors (8 a factor, 4 in float32 lanes). */
  readonly terms: number;
  /** Address of the factors: factor x at `factors + x`. */
  readonly factors: number;
  /** Address of the row added. */
  readonly row: number;
  /** Address of the first target row; target row x/8 at `target + (x/8)·width` (x/4 in
   * float32 lanes). */
  readonly target: number;
}

/**
 * target[x] += factors[x]·row for every factor x (an outer product added in): {@link BLOCK}
 * vectors of the row at a time, held in locals while every target row takes them in.
 */
function addOuter(f: FunctionBuilder, fused: boolean, at: Outer, lanes: Lanes = F64_LANES) {
  const [c, x, a, limit] = [0, 0, 0, 0].map(() => f.local("i32"));
  const s = f.local("v128");
  const r = Array.from({ length: BLOCK }, () => f.local("v128"));
  const block = (width: number) => {
    for (let w = 0; w < width; w++) {
      f.localGet(at.row).localGet(c).i32Add().v128Load(16 * w).localSet(r[w]);
    }
    f.localGet(at.target).localGet(c).i32Add().localSet(a);
    loop(f, x, () => f.i32Const(0), () => f.localGet(at.terms), lanes.bytes, () => {
      f.localGet(at.factors).localGet(x).i32Add();
      lanes.splatLoad(f);
      f.localSet(s);
      for (let w = 0; w < width; w++) {
        f.localGet(a);
        if (fused) {
          f.localGet(s).localGet(r[w]).localGet(a).v128Load(16 * w);
          lanes.madd(f);
        } else {
          f.localGet(a).v128Load(16 * w).localGet(s).localGet(r[w]);
          lanes.mul(f);
          lanes.add(f);
        }
        f.v128Store(16 * w);
      }
      f.localGet(a).localGet(at.width).i32Add().localSet(a);
    });
  };
  f.localGet(at.width).i32Const(16 * (BLOCK - 1)).i32Sub().localSet(limit);
  loop(f, c, () => f.i32Const(0), () => f.localGet(limit), 16 * BLOCK, () => block(BLOCK));
  rest(f, c, at.width, lanes, block);
}

/**
 * Sets `seen` (keys query i sees) and `vecBytes` (bytes of seen rounded up to whole vectors:
 * to even in float64 lanes, to a multiple of 4 in float32 lanes).
 */
function keysSeen(
  f: FunctionBuilder,
  i: number,
  tq: number,
  tk: number,
  causal: number,
  seen: number,
  vecBytes: number,
  lanes: Lanes = F64_LANES,
) {
  const perVector = 16 / lanes.bytes;
  f.localGet(i).i32Const(1).i32Add().localGet(tk).i32Add().localGet(tq).i32Sub();
  f.localGet(tk);
  f.localGet(causal).select().localSet(seen);
  f.localGet(seen).i32Const(perVector - 1).i32Add().i32Const(-perVector).i32And()
    .i32Const(lanes.bytes).i32Mul().localSet(vecBytes);
}

// ---------------------------------------------------------------------------------------
// Forward
// ---------------------------------------------------------------------------------------

/** Where {@link probabilityRow} reads and writes: locals (i32 unless named). */
interface Row {
  /** Address of Q[i]. */
  readonly qRow: number;
  /** Address of this problem's Kᵀ. */
  readonly kt: number;
  /** Address to write P[i] (even(seen) elements). */
  readonly pRow: number;
  /** Bytes of seen rounded up to even, of seen, of d, of a row of Kᵀ. */
  readonly vecBytes: number;
  readonly seenBytes: number;
  readonly dBytes: number;
  readonly tkpBytes: number;
  /** v128: the scale in both lanes. */
  readonly scaleV: number;
}

/**
 * P[i, j] for j < seen: S[i, j] = scale·Σₚ Q[i,p]·Kᵀ[p, j], then softmax: max (exact in any
 * order), e = exp(S − max), their sum sequentially in increasing j, and e / sum. The lane
 * past seen (seen odd) holds a value no caller reads. Forward and backward both compute
 * P[i] with this code, so backward's P is forward's bit for bit and nothing is kept.
 */
function probabilityRow(f: FunctionBuilder, fused: boolean, s: Scratch, at: Row) {
  const [j, a] = [f.local("i32"), f.local("i32")];
  const [m, x] = [f.local("v128"), f.local("v128")];
  const [max, total] = [f.local("f64"), f.local("f64")];
  dots(f, fused, {
    width: at.vecBytes,
    terms: at.dBytes,
    scalars: at.qRow,
    vectors: at.kt,
    stride: at.tkpBytes,
    out: at.pRow,
    scale: at.scaleV,
  });
  f.f64Const(-Infinity).localSet(max);
  loop(f, j, () => f.i32Const(0), () => f.localGet(at.seenBytes), 8, () => {
    f.localGet(max).localGet(at.pRow).localGet(j).i32Add().f64Load().f64Max().localSet(max);
  });
  f.localGet(max).f64x2Splat().localSet(m);
  loop(f, j, () => f.i32Const(0), () => f.localGet(at.vecBytes), 16, () => {
    f.localGet(at.pRow).localGet(j).i32Add().localSet(a);
    f.localGet(a).v128Load().localGet(m).f64x2Sub().localSet(x);
    f.localGet(a);
    emitExp(f, x, s);
    f.v128Store();
  });
  f.f64Const(0).localSet(total);
  loop(f, j, () => f.i32Const(0), () => f.localGet(at.seenBytes), 8, () => {
    f.localGet(total).localGet(at.pRow).localGet(j).i32Add().f64Load().f64Add().localSet(total);
  });
  f.localGet(total).f64x2Splat().localSet(m);
  loop(f, j, () => f.i32Const(0), () => f.localGet(at.vecBytes), 16, () => {
    f.localGet(at.pRow).localGet(j).i32Add().localSet(a);
    f.localGet(a).localGet(a).v128Load().localGet(m).f64x2Div().v128Store();
  });
}

function forward(f: FunctionBuilder, fused: boolean) {
  const [q, kt, v, out, probs, batch, tq, tk, d, dp, tkp, scale, causal] = [
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
  const s = new Scratch(f, fused);
  const [b, i, seen, vecBytes] = [0, 0, 0, 0].map(() => f.local("i32"));
  const [dpBytes, tkpBytes, dBytes, seenBytes] = [0, 0, 0, 0].map(() => f.local("i32"));
  const [qRow, oRow] = [0, 0].map(() => f.local("i32"));
  const scaleV = f.local("v128");
  f.localGet(dp).i32Const(8).i32Mul().localSet(dpBytes);
  f.localGet(tkp).i32Const(8).i32Mul().localSet(tkpBytes);
  f.localGet(d).i32Const(8).i32Mul().localSet(dBytes);
  f.localGet(scale).f64x2Splat().localSet(scaleV);
  loop(f, b, () => f.i32Const(0), () => f.localGet(batch), 1, () => {
    loop(f, i, () => f.i32Const(0), () => f.localGet(tq), 1, () => {
      keysSeen(f, i, tq, tk, causal, seen, vecBytes);
      f.localGet(seen).i32Const(8).i32Mul().localSet(seenBytes);
      offset(f, qRow, q, i, () => f.localGet(dpBytes));
      offset(f, oRow, out, i, () => f.localGet(dpBytes));
      const row = { qRow, kt, pRow: probs, vecBytes, seenBytes, dBytes, tkpBytes, scaleV };
      probabilityRow(f, fused, s, row);
      // O[i, c…c+1] = Σ_{j<seen} P[i,j]·V[j, c…c+1].
      dots(f, fused, {
        width: dpBytes,
        terms: seenBytes,
        scalars: probs,
        vectors: v,
        stride: dpBytes,
        out: oRow,
        scale: null,
      });
    });
    // The next problem.
    offset(f, q, q, tq, () => f.localGet(dpBytes));
    offset(f, out, out, tq, () => f.localGet(dpBytes));
    offset(f, v, v, tk, () => f.localGet(dpBytes));
    offset(f, kt, kt, d, () => f.localGet(tkpBytes));
  });
}

// ---------------------------------------------------------------------------------------
// Backward
// ---------------------------------------------------------------------------------------

function backward(f: FunctionBuilder, fused: boolean) {
  const [g, q, k, kt, vt, probs, dq, dk, dv, ds, batch, tq, tk, d, dp, tkp, scale, causal] = [
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
    13,
    14,
    15,
    16,
    17,
  ];
  const s = new Scratch(f, fused);
  const [b, i, j, seen, vecBytes] = [0, 0, 0, 0, 0].map(() => f.local("i32"));
  const [dpBytes, tkpBytes, dBytes, seenBytes, kvBytes] = [0, 0, 0, 0, 0].map(() => f.local("i32"));
  const [gRow, qRow, dqRow, a1] = [0, 0, 0, 0].map(() => f.local("i32"));
  const [scaleV, w] = [0, 0].map(() => f.local("v128"));
  // P[i] is computed again, into the one-row scratch `probs`, as forward computed it.
  const pRow = probs;
  const dot = f.local("f64");
  f.localGet(dp).i32Const(8).i32Mul().localSet(dpBytes);
  f.localGet(tkp).i32Const(8).i32Mul().localSet(tkpBytes);
  f.localGet(d).i32Const(8).i32Mul().localSet(dBytes);
  f.localGet(tk).localGet(dpBytes).i32Mul().localSet(kvBytes);
  f.localGet(scale).f64x2Splat().localSet(scaleV);
  loop(f, b, () => f.i32Const(0), () => f.localGet(batch), 1, () => {
    // ∂L/∂K and ∂L/∂V are sums over queries: from 0.
    loop(f, j, () => f.i32Const(0), () => f.localGet(kvBytes), 16, () => {
      f.localGet(dk).localGet(j).i32Add().f64Const(0).f64x2Splat().v128Store();
      f.localGet(dv).localGet(j).i32Add().f64Const(0).f64x2Splat().v128Store();
    });
    loop(f, i, () => f.i32Const(0), () => f.localGet(tq), 1, () => {
      keysSeen(f, i, tq, tk, causal, seen, vecBytes);
      f.localGet(seen).i32Const(8).i32Mul().localSet(seenBytes);
      offset(f, gRow, g, i, () => f.localGet(dpBytes));
      offset(f, qRow, q, i, () => f.localGet(dpBytes));
      offset(f, dqRow, dq, i, () => f.localGet(dpBytes));
      const row = { qRow, kt, pRow, vecBytes, seenBytes, dBytes, tkpBytes, scaleV };
      probabilityRow(f, fused, s, row);
      // ∂L/∂V[j] += P[i,j]·G[i] and, below, ∂L/∂K[j] += ∂L/∂S[i,j]·Q[i], for j < seen.
      const addRowTimes = (target: number, factors: number, row: number) =>
        addOuter(f, fused, { width: dpBytes, terms: seenBytes, factors, row, target });
      addRowTimes(dv, pRow, gRow);
      // ∂L/∂P[i, j…j+1] = Σₚ G[i,p]·Vᵀ[p, j…j+1].
      dots(f, fused, {
        width: vecBytes,
        terms: dBytes,
        scalars: gRow,
        vectors: vt,
        stride: tkpBytes,
        out: ds,
        scale: null,
      });
      // dot = Σ_{j<seen} ∂L/∂P[i,j]·P[i,j], sequentially; ∂L/∂S = (scale·P)·(∂L/∂P − dot).
      f.f64Const(0).localSet(dot);
      loop(f, j, () => f.i32Const(0), () => f.localGet(seenBytes), 8, () => {
        f.localGet(dot);
        f.localGet(ds).localGet(j).i32Add().f64Load();
        f.localGet(pRow).localGet(j).i32Add().f64Load();
        f.f64Mul().f64Add().localSet(dot);
      });
      f.localGet(dot).f64x2Splat().localSet(w);
      loop(f, j, () => f.i32Const(0), () => f.localGet(vecBytes), 16, () => {
        f.localGet(ds).localGet(j).i32Add().localSet(a1);
        f.localGet(a1);
        f.localGet(scaleV).localGet(pRow).localGet(j).i32Add().v128Load().f64x2Mul();
        f.localGet(a1).v128Load().localGet(w).f64x2Sub().f64x2Mul();
        f.v128Store();
      });
      // ∂L/∂Q[i, c…c+1] = Σ_{j<seen} ∂L/∂S[i,j]·K[j, c…c+1].
      dots(f, fused, {
        width: dpBytes,
        terms: seenBytes,
        scalars: ds,
        vectors: k,
        stride: dpBytes,
        out: dqRow,
        scale: null,
      });
      addRowTimes(dk, ds, qRow);
    });
    // The next problem.
    for (const row of [g, q, dq]) offset(f, row, row, tq, () => f.localGet(dpBytes));
    for (const row of [k, dk, dv]) offset(f, row, row, tk, () => f.localGet(dpBytes));
    for (const rows of [kt, vt]) offset(f, rows, rows, d, () => f.localGet(tkpBytes));
  });
}

// ---------------------------------------------------------------------------------------
// Float32: four lanes a vector, the heads read and written in place
// ---------------------------------------------------------------------------------------

/**
 * The constants and scratch vectors of {@link emitExp32}, as float32 vectors. Taylor's
 * series to the r⁷ term on |r| ≤ ln2/2 leaves a truncation error below r⁸/8! ≤ 5.2·10⁻⁹
 * relative to e^r ≥ 0.70: 0.15 of float32's unit roundoff u = 2⁻²⁴.
 */
class Scratch32 {
  readonly lowest: number;
  readonly log2e: number;
  readonly ln2Hi: number;
  readonly ln2Lo: number;
  readonly magic: number;
  readonly taylor: number[];
  readonly k: number;
  readonly r: number;
  readonly t: number;
  constructor(f: FunctionBuilder, readonly fused: boolean) {
    const splat = (value: number) => {
      const local = f.local("v128");
      f.f32Const(value).f32x4Splat().localSet(local);
      return local;
    };
    // Below −87, eˣ < 1.7·10⁻³⁸ (float32's smallest normal is 1.2·10⁻³⁸): clamped there,
    // k stays ≥ −126, where 2ᵏ is a normal float32.
    this.lowest = splat(-87);
    this.log2e = splat(Math.LOG2E);
    // Cody–Waite: ln 2 = LN2_HI + LN2_LO, LN2_HI with 9 significant bits, so that k·LN2_HI is
    // exact for |k| ≤ 126 and x − k·LN2_HI is exact (the two within a factor of 2 of each
    // other, Sterbenz) (Cephes' expf constants).
    this.ln2Hi = splat(0.693359375);
    this.ln2Lo = splat(-2.12194440e-4);
    // 1.5·2²³ + 127: adding an integer k (|k| < 2²²) leaves k + 127 in the low bits of the
    // significand, and a left shift by 23 moves them to the exponent field: the bits of 2ᵏ.
    this.magic = splat(1.5 * 2 ** 23 + 127);
    // 1/j! for j = 7 down to 0.
    const inverse = [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040];
    this.taylor = inverse.reverse().map(splat);
    this.k = f.local("v128");
    this.r = f.local("v128");
    this.t = f.local("v128");
  }
}

/**
 * Pushes eˣ of the float32 lanes of local `x` (x ≤ 0 where a caller reads the result; a NaN
 * stays NaN): x clamped at −87, k = nearest(x/ln 2), r = x − k·ln 2 by Cody–Waite (|r| ≤
 * ln2/2), e^r by Horner's rule on Taylor's series to r⁷, times 2ᵏ built in the exponent field.
 * Error: r's two roundings (≤ u·|k·LN2_LO| + u·|r|, moving e^r by ≤ 0.4u relative), Horner's
 * eight steps on terms that shrink by |r| ≤ 0.35 (≤ 1.6u), the truncation (≤ 0.15u): under
 * 3u relative, u = 2⁻²⁴; below e⁻⁸⁷ the result is e⁻⁸⁷·(1 + 3u) (an absolute error below
 * 2·10⁻³⁸).
 */
function emitExp32(f: FunctionBuilder, x: number, s: Scratch32) {
  // Pseudo-max (x < lo ? lo : x) keeps a NaN x.
  f.localGet(x).localGet(s.lowest).f32x4Pmax().localSet(s.t);
  f.localGet(s.t).localGet(s.log2e).f32x4Mul().f32x4Nearest().localSet(s.k);
  f.localGet(s.t).localGet(s.k).localGet(s.ln2Hi).f32x4Mul().f32x4Sub();
  f.localGet(s.k).localGet(s.ln2Lo).f32x4Mul().f32x4Sub().localSet(s.r);
  f.localGet(s.taylor[0]).localSet(s.t);
  for (const c of s.taylor.slice(1)) {
    if (s.fused) f.localGet(s.t).localGet(s.r).localGet(c).f32x4RelaxedMadd().localSet(s.t);
    else f.localGet(s.t).localGet(s.r).f32x4Mul().localGet(c).f32x4Add().localSet(s.t);
  }
  f.localGet(s.t);
  f.localGet(s.k).localGet(s.magic).f32x4Add().i32Const(23).i32x4Shl();
  f.f32x4Mul();
}

/** Sets local `to` to `base` + `a`·`b` + `c` (i32 locals; `c` null for none). */
function address(
  f: FunctionBuilder,
  to: number,
  base: number,
  a: number,
  b: number,
  c: number | null = null,
) {
  f.localGet(base).localGet(a).localGet(b).i32Mul().i32Add();
  if (c !== null) f.localGet(c).i32Add();
  f.localSet(to);
}

/**
 * Copies `bytes` bytes (a multiple of 4) from `from` to `to`: whole vectors, then float32s:
 * a row of a head written into its place without touching its neighbours.
 */
function copyRow(f: FunctionBuilder, to: number, from: number, bytes: number) {
  const c = f.local("i32");
  loop(f, c, () => f.i32Const(0), () => f.localGet(bytes).i32Const(12).i32Sub(), 16, () => {
    f.localGet(to).localGet(c).i32Add().localGet(from).localGet(c).i32Add().v128Load();
    f.v128Store();
  });
  loop(f, c, () => f.localGet(c), () => f.localGet(bytes), 4, () => {
    f.localGet(to).localGet(c).i32Add().localGet(from).localGet(c).i32Add().f32Load();
    f.f32Store();
  });
}

/** The bytes of `i8x16.shuffle` taking float32 lanes `lanes` (0–3 of a, 4–7 of b). */
function lanes32(lanes: readonly number[]): number[] {
  return lanes.flatMap((lane) => [0, 1, 2, 3].map((byte) => 4 * lane + byte));
}

/**
 * Writes the `rows` rows (`stride` bytes apart, d float32s each) at `from` transposed to `to`:
 * d rows of `toBytes` bytes, float32 t of row p = element p of row t, padded with 0 to the
 * end of each row. Blocks of 4 × 4 go through vectors (four loads, eight shuffles, four
 * stores); the rows and columns past the last whole block, one float32 at a time.
 */
function transpose32(
  f: FunctionBuilder,
  to: number,
  from: number,
  stride: number,
  rows: number,
  d: number,
  toBytes: number,
) {
  const [t, p, a, b, rows4, d4] = [0, 0, 0, 0, 0, 0].map(() => f.local("i32"));
  const r = [0, 0, 0, 0].map(() => f.local("v128"));
  f.localGet(rows).i32Const(-4).i32And().localSet(rows4);
  f.localGet(d).i32Const(-4).i32And().localSet(d4);
  // Element p of row t: from + t·stride + 4p, to + p·toBytes + 4t.
  const element = (t: number, p: number) => {
    f.localGet(to).localGet(p).localGet(toBytes).i32Mul().i32Add();
    f.localGet(t).i32Const(4).i32Mul().i32Add();
    address(f, a, from, t, stride);
    f.localGet(a).localGet(p).i32Const(4).i32Mul().i32Add().f32Load();
    f.f32Store();
  };
  loop(f, t, () => f.i32Const(0), () => f.localGet(rows4), 4, () => {
    address(f, a, from, t, stride);
    loop(f, p, () => f.i32Const(0), () => f.localGet(d4), 4, () => {
      // Rows t…t+3, columns p…p+3, into rows p…p+3, columns t…t+3.
      for (let row = 0; row < 4; row++) {
        f.localGet(a).localGet(p).i32Const(4).i32Mul().i32Add();
        for (let k = 0; k < row; k++) f.localGet(stride).i32Add();
        f.v128Load().localSet(r[row]);
      }
      address(f, b, to, p, toBytes);
      f.localGet(b).localGet(t).i32Const(4).i32Mul().i32Add().localSet(b);
      const pairs = [[0, 4, 1, 5], [2, 6, 3, 7]];
      const halves = [[0, 1, 4, 5], [2, 3, 6, 7]];
      for (let column = 0; column < 4; column++) {
        const pair = pairs[column >> 1];
        f.localGet(b);
        f.localGet(r[0]).localGet(r[1]).i8x16Shuffle(lanes32(pair));
        f.localGet(r[2]).localGet(r[3]).i8x16Shuffle(lanes32(pair));
        f.i8x16Shuffle(lanes32(halves[column & 1]));
        f.v128Store();
        f.localGet(b).localGet(toBytes).i32Add().localSet(b);
      }
    });
    // Columns past the last whole block of four.
    for (let row = 0; row < 4; row++) {
      loop(f, p, () => f.localGet(d4), () => f.localGet(d), 1, () => {
        f.localGet(t).i32Const(row).i32Add().localSet(b);
        element(b, p);
      });
    }
  });
  // Rows past the last whole block of four.
  loop(f, t, () => f.localGet(rows4), () => f.localGet(rows), 1, () => {
    loop(f, p, () => f.i32Const(0), () => f.localGet(d), 1, () => element(t, p));
  });
  loop(f, p, () => f.i32Const(0), () => f.localGet(d), 1, () => {
    loop(f, t, () => f.localGet(rows).i32Const(4).i32Mul(), () => f.localGet(toBytes), 4, () => {
      f.localGet(to).localGet(p).localGet(toBytes).i32Mul().i32Add().localGet(t).i32Add();
      f.f32Const(0).f32Store();
    });
  });
}

/**
 * Sets local `into` to a fold with `combine` of the terms j < `bytes`/4 (i32 local) that
 * `term(j, offset)` pushes (from byte j + offset of its rows), starting from what `start`
 * pushes: the even terms and the odd in two chains, combined at the end, so that two of
 * `combine`'s latencies overlap (float32 rows are short: the chain is what a fold costs).
 */
function twoChains(
  f: FunctionBuilder,
  bytes: number,
  type: "f32" | "f64",
  start: () => void,
  term: (j: number, offset: number) => void,
  combine: () => void,
  into: number,
) {
  const [j, end] = [f.local("i32"), f.local("i32")];
  const [even, odd] = [f.local(type), f.local(type)];
  start();
  f.localSet(even);
  start();
  f.localSet(odd);
  const add = (chain: number, offset: number) => {
    f.localGet(chain);
    term(j, offset);
    combine();
    f.localSet(chain);
  };
  f.localGet(bytes).i32Const(4).i32Sub().localSet(end);
  loop(f, j, () => f.i32Const(0), () => f.localGet(end), 8, () => {
    add(even, 0);
    add(odd, 4);
  });
  loop(f, j, () => f.localGet(j), () => f.localGet(bytes), 4, () => add(even, 0));
  f.localGet(even).localGet(odd);
  combine();
  f.localSet(into);
}

/**
 * {@link probabilityRow} in float32 lanes: the scores and e = exp(S − max) in float32 (the
 * max is exact in any order), their sum in float64 (two chains: {@link twoChains}), rounded
 * once, and e / sum.
 */
function probabilityRow32(f: FunctionBuilder, fused: boolean, s: Scratch32, at: Row) {
  const [j, a] = [f.local("i32"), f.local("i32")];
  const [m, x] = [f.local("v128"), f.local("v128")];
  const max = f.local("f32");
  const total = f.local("f64");
  dots(f, fused, {
    width: at.vecBytes,
    terms: at.dBytes,
    scalars: at.qRow,
    vectors: at.kt,
    stride: at.tkpBytes,
    out: at.pRow,
    scale: at.scaleV,
  }, F32_LANES);
  const element = (j: number, offset: number) =>
    f.localGet(at.pRow).localGet(j).i32Add().f32Load(offset);
  const maxOf = () => f.f32Max();
  twoChains(f, at.seenBytes, "f32", () => f.f32Const(-Infinity), element, maxOf, max);
  f.localGet(max).f32x4Splat().localSet(m);
  loop(f, j, () => f.i32Const(0), () => f.localGet(at.vecBytes), 16, () => {
    f.localGet(at.pRow).localGet(j).i32Add().localSet(a);
    f.localGet(a).v128Load().localGet(m).f32x4Sub().localSet(x);
    f.localGet(a);
    emitExp32(f, x, s);
    f.v128Store();
  });
  const wide = (j: number, offset: number) => {
    element(j, offset);
    f.f64PromoteF32();
  };
  twoChains(f, at.seenBytes, "f64", () => f.f64Const(0), wide, () => f.f64Add(), total);
  f.localGet(total).f32DemoteF64().f32x4Splat().localSet(m);
  loop(f, j, () => f.i32Const(0), () => f.localGet(at.vecBytes), 16, () => {
    f.localGet(at.pRow).localGet(j).i32Add().localSet(a);
    f.localGet(a).localGet(a).v128Load().localGet(m).f32x4Div().v128Store();
  });
}

/** Sets the i32 locals `dBytes`, `dpBytes` and `tkpBytes`, and v128 `scaleV` (float32). */
function sizes32(
  f: FunctionBuilder,
  { d, tk, scale }: { d: number; tk: number; scale: number },
  { dBytes, dpBytes, tkpBytes, scaleV }: Record<"dBytes" | "dpBytes" | "tkpBytes", number> & {
    scaleV: number;
  },
) {
  f.localGet(d).i32Const(4).i32Mul().localSet(dBytes);
  f.localGet(d).i32Const(3).i32Add().i32Const(-4).i32And().i32Const(4).i32Mul().localSet(dpBytes);
  f.localGet(tk).i32Const(3).i32Add().i32Const(-4).i32And().i32Const(4).i32Mul()
    .localSet(tkpBytes);
  f.localGet(scale).f32DemoteF64().f32x4Splat().localSet(scaleV);
}

function forward32(f: FunctionBuilder, fused: boolean) {
  const [q, qs, k, ks, v, vs, out, os, kt, probs, row, outer, heads, tq, tk, d, scale, causal] =
    ATTENTION_EXPORTS.forward32.map((_, i) => i);
  const s = new Scratch32(f, fused);
  const [o, h, i, seen, vecBytes, seenBytes] = [0, 0, 0, 0, 0, 0].map(() => f.local("i32"));
  const [dBytes, dpBytes, tkpBytes, head, first] = [0, 0, 0, 0, 0].map(() => f.local("i32"));
  const [qb, kb, vb, ob, qRow, oRow, pRow] = [0, 0, 0, 0, 0, 0, 0].map(() => f.local("i32"));
  const scaleV = f.local("v128");
  sizes32(f, { d, tk, scale }, { dBytes, dpBytes, tkpBytes, scaleV });
  // P's rows, one after another for every problem and query (each as long as its keys seen
  // rounded up to whole vectors): kept for backward.
  f.localGet(probs).localSet(pRow);
  loop(f, o, () => f.i32Const(0), () => f.localGet(outer), 1, () => {
    loop(f, h, () => f.i32Const(0), () => f.localGet(heads), 1, () => {
      // Row 0 of head h of position o: row o·T, column h·d of each operand.
      f.localGet(h).localGet(dBytes).i32Mul().localSet(head);
      f.localGet(o).localGet(tq).i32Mul().localSet(first);
      address(f, qb, q, first, qs, head);
      address(f, ob, out, first, os, head);
      f.localGet(o).localGet(tk).i32Mul().localSet(first);
      address(f, kb, k, first, ks, head);
      address(f, vb, v, first, vs, head);
      transpose32(f, kt, kb, ks, tk, d, tkpBytes);
      loop(f, i, () => f.i32Const(0), () => f.localGet(tq), 1, () => {
        keysSeen(f, i, tq, tk, causal, seen, vecBytes, F32_LANES);
        f.localGet(seen).i32Const(4).i32Mul().localSet(seenBytes);
        address(f, qRow, qb, i, qs);
        const at = { qRow, kt, pRow, vecBytes, seenBytes, dBytes, tkpBytes, scaleV };
        probabilityRow32(f, fused, s, at);
        // O[i, c…c+3] = Σ_{j<seen} P[i,j]·V[j, c…c+3], into `row`, then its d into place.
        dots(f, fused, {
          width: dpBytes,
          terms: seenBytes,
          scalars: pRow,
          vectors: vb,
          stride: vs,
          out: row,
          scale: null,
        }, F32_LANES);
        address(f, oRow, ob, i, os);
        copyRow(f, oRow, row, dBytes);
        f.localGet(pRow).localGet(vecBytes).i32Add().localSet(pRow);
      });
    });
  });
}

function backward32(f: FunctionBuilder, fused: boolean) {
  const [g, gs, q, qs, k, ks, v, vs, dq, dqs, dk, dks, dv, dvs] = ATTENTION_EXPORTS.backward32
    .map((_, i) => i);
  const [vt, probs, ds, row, dkSum, dvSum, outer, heads, tq, tk, d, scale, causal] =
    ATTENTION_EXPORTS.backward32.map((_, i) => i).slice(14);
  const [o, h, i, j, seen, vecBytes, seenBytes] = [0, 0, 0, 0, 0, 0, 0].map(() => f.local("i32"));
  const [dBytes, dpBytes, tkpBytes, head, first, sumBytes] = [0, 0, 0, 0, 0, 0].map(() =>
    f.local("i32")
  );
  const [gb, qb, kb, vb, dqb, dkb, dvb] = [0, 0, 0, 0, 0, 0, 0].map(() => f.local("i32"));
  const [gRow, qRow, to, from, a] = [0, 0, 0, 0, 0].map(() => f.local("i32"));
  const [scaleV, w] = [f.local("v128"), f.local("v128")];
  const dot = f.local("f64");
  sizes32(f, { d, tk, scale }, { dBytes, dpBytes, tkpBytes, scaleV });
  f.localGet(tk).localGet(dpBytes).i32Mul().localSet(sumBytes);
  // P's rows as forward32 kept them, one after another.
  const pRow = f.local("i32");
  f.localGet(probs).localSet(pRow);
  loop(f, o, () => f.i32Const(0), () => f.localGet(outer), 1, () => {
    loop(f, h, () => f.i32Const(0), () => f.localGet(heads), 1, () => {
      f.localGet(h).localGet(dBytes).i32Mul().localSet(head);
      f.localGet(o).localGet(tq).i32Mul().localSet(first);
      address(f, gb, g, first, gs, head);
      address(f, qb, q, first, qs, head);
      address(f, dqb, dq, first, dqs, head);
      f.localGet(o).localGet(tk).i32Mul().localSet(first);
      address(f, kb, k, first, ks, head);
      address(f, vb, v, first, vs, head);
      address(f, dkb, dk, first, dks, head);
      address(f, dvb, dv, first, dvs, head);
      transpose32(f, vt, vb, vs, tk, d, tkpBytes);
      // ∂L/∂K and ∂L/∂V are sums over queries, from 0, in rows of dpBytes.
      loop(f, j, () => f.i32Const(0), () => f.localGet(sumBytes), 16, () => {
        f.localGet(dkSum).localGet(j).i32Add().f64Const(0).f64x2Splat().v128Store();
        f.localGet(dvSum).localGet(j).i32Add().f64Const(0).f64x2Splat().v128Store();
      });
      loop(f, i, () => f.i32Const(0), () => f.localGet(tq), 1, () => {
        keysSeen(f, i, tq, tk, causal, seen, vecBytes, F32_LANES);
        f.localGet(seen).i32Const(4).i32Mul().localSet(seenBytes);
        address(f, gRow, gb, i, gs);
        address(f, qRow, qb, i, qs);
        // ∂L/∂V[j] += P[i,j]·G[i] and, below, ∂L/∂K[j] += ∂L/∂S[i,j]·Q[i], for j < seen.
        const addRowTimes = (target: number, factors: number, row: number) =>
          addOuter(f, fused, { width: dpBytes, terms: seenBytes, factors, row, target }, F32_LANES);
        addRowTimes(dvSum, pRow, gRow);
        // ∂L/∂P[i, j…j+3] = Σₚ G[i,p]·Vᵀ[p, j…j+3].
        dots(f, fused, {
          width: vecBytes,
          terms: dBytes,
          scalars: gRow,
          vectors: vt,
          stride: tkpBytes,
          out: ds,
          scale: null,
        }, F32_LANES);
        // dot = Σ_{j<seen} ∂L/∂P[i,j]·P[i,j] in float64 (each product exact; two chains),
        // rounded once; ∂L/∂S = (scale·P)·(∂L/∂P − dot).
        const product = (j: number, offset: number) => {
          f.localGet(ds).localGet(j).i32Add().f32Load(offset).f64PromoteF32();
          f.localGet(pRow).localGet(j).i32Add().f32Load(offset).f64PromoteF32();
          f.f64Mul();
        };
        twoChains(f, seenBytes, "f64", () => f.f64Const(0), product, () => f.f64Add(), dot);
        f.localGet(dot).f32DemoteF64().f32x4Splat().localSet(w);
        loop(f, j, () => f.i32Const(0), () => f.localGet(vecBytes), 16, () => {
          f.localGet(ds).localGet(j).i32Add().localSet(a);
          f.localGet(a);
          f.localGet(scaleV).localGet(pRow).localGet(j).i32Add().v128Load().f32x4Mul();
          f.localGet(a).v128Load().localGet(w).f32x4Sub().f32x4Mul();
          f.v128Store();
        });
        // ∂L/∂Q[i, c…c+3] = Σ_{j<seen} ∂L/∂S[i,j]·K[j, c…c+3], into `row`, then into place.
        dots(f, fused, {
          width: dpBytes,
          terms: seenBytes,
          scalars: ds,
          vectors: kb,
          stride: ks,
          out: row,
          scale: null,
        }, F32_LANES);
        address(f, to, dqb, i, dqs);
        copyRow(f, to, row, dBytes);
        addRowTimes(dkSum, ds, qRow);
        f.localGet(pRow).localGet(vecBytes).i32Add().localSet(pRow);
      });
      // The sums' rows into place.
      loop(f, j, () => f.i32Const(0), () => f.localGet(tk), 1, () => {
        address(f, from, dkSum, j, dpBytes);
        address(f, to, dkb, j, dks);
        copyRow(f, to, from, dBytes);
        address(f, from, dvSum, j, dpBytes);
        address(f, to, dvb, j, dvs);
        copyRow(f, to, from, dBytes);
      });
    });
  });
}
