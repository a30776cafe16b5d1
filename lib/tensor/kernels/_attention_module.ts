/**
 * The WebAssembly SIMD kernels of batched attention, forward and backward, written as the
 * code that emits them (see `_wasm_encoder.ts`): one call runs every (batch × head) problem,
 * in place of one matrix-product call per small product per head (`_attention.ts`, which
 * stays the reference and states the arithmetic).
 *
 * Every kernel computes in float64, two lanes a vector, like the element-wise kernels of
 * `_simd_module.ts` (whose exp, {@link emitExp}, the softmax reuses); the caller converts
 * float32 storage on the way in and out. The caller lays each problem out for the loops:
 * - rows of Q, K, V, G and their gradients are `dp` wide: d rounded up to even, padded with 0;
 * - Kᵀ (both) and Vᵀ (backward) are d rows of `tkp` (Tk rounded up to even), padded with 0,
 *   so that a score row S[i, j…j+1] is a sum over p of Q[i,p]·Kᵀ[p, j…j+1], two keys a vector;
 * - the probabilities are not kept: a row of P lives in scratch while its query is worked on,
 *   and backward computes it again (with the same code, so the same bits) from Q and Kᵀ.
 *
 * Query i sees keys j < seen(i) = i + 1 + Tk − Tq when causal, else all Tk. Row loops over
 * keys stop at seen(i) rounded up to even, and every read of a key's result stops at seen(i).
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

/** Sets vector local `acc` to a·b + acc, where `a` and `b` push the factors. */
function accumulate(
  f: FunctionBuilder,
  acc: number,
  fused: boolean,
  a: () => void,
  b: () => void,
) {
  a();
  b();
  if (fused) {
    f.localGet(acc).f64x2RelaxedMadd();
  } else {
    f.f64x2Mul().localGet(acc).f64x2Add();
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
  /** Bytes of the sum's terms (8 a term). */
  readonly terms: number;
  /** Address of the scalar factors: term x at `scalars + x`. */
  readonly scalars: number;
  /** Address of the vector factors: term x, vector c at `vectors + c + (x/8)·stride`. */
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
 * once for all of them), then the rest one by one.
 */
function dots(f: FunctionBuilder, fused: boolean, at: Dots) {
  const [c, x, a, limit] = [0, 0, 0, 0].map(() => f.local("i32"));
  const s = f.local("v128");
  const acc = Array.from({ length: BLOCK }, () => f.local("v128"));
  const block = (width: number) => {
    for (let w = 0; w < width; w++) f.f64Const(0).f64x2Splat().localSet(acc[w]);
    f.localGet(at.vectors).localGet(c).i32Add().localSet(a);
    loop(f, x, () => f.i32Const(0), () => f.localGet(at.terms), 8, () => {
      f.localGet(at.scalars).localGet(x).i32Add().v128Load64Splat().localSet(s);
      for (let w = 0; w < width; w++) {
        accumulate(f, acc[w], fused, () => f.localGet(s), () => f.localGet(a).v128Load(16 * w));
      }
      f.localGet(a).localGet(at.stride).i32Add().localSet(a);
    });
    for (let w = 0; w < width; w++) {
      f.localGet(at.out).localGet(c).i32Add().localGet(acc[w]);
      if (at.scale !== null) f.localGet(at.scale).f64x2Mul();
      f.v128Store(16 * w);
    }
  };
  f.localGet(at.width).i32Const(16 * (BLOCK - 1)).i32Sub().localSet(limit);
  loop(f, c, () => f.i32Const(0), () => f.localGet(limit), 16 * BLOCK, () => block(BLOCK));
  loop(f, c, () => f.localGet(c), () => f.localGet(at.width), 16, () => block(1));
}

/** Where {@link addOuter} reads and writes: i32 locals holding byte addresses and counts. */
interface Outer {
  /** Bytes of a row (a multiple of 16). */
  readonly width: number;
  /** Bytes of the factors (8 a factor). */
  readonly terms: number;
  /** Address of the factors: factor x at `factors + x`. */
  readonly factors: number;
  /** Address of the row added. */
  readonly row: number;
  /** Address of the first target row; target row x/8 at `target + (x/8)·width`. */
  readonly target: number;
}

/**
 * target[x] += factors[x]·row for every factor x (an outer product added in): {@link BLOCK}
 * vectors of the row at a time, held in locals while every target row takes them in.
 */
function addOuter(f: FunctionBuilder, fused: boolean, at: Outer) {
  const [c, x, a, limit] = [0, 0, 0, 0].map(() => f.local("i32"));
  const s = f.local("v128");
  const r = Array.from({ length: BLOCK }, () => f.local("v128"));
  const block = (width: number) => {
    for (let w = 0; w < width; w++) {
      f.localGet(at.row).localGet(c).i32Add().v128Load(16 * w).localSet(r[w]);
    }
    f.localGet(at.target).localGet(c).i32Add().localSet(a);
    loop(f, x, () => f.i32Const(0), () => f.localGet(at.terms), 8, () => {
      f.localGet(at.factors).localGet(x).i32Add().v128Load64Splat().localSet(s);
      for (let w = 0; w < width; w++) {
        f.localGet(a);
        if (fused) {
          f.localGet(s).localGet(r[w]).localGet(a).v128Load(16 * w).f64x2RelaxedMadd();
        } else {
          f.localGet(a).v128Load(16 * w).localGet(s).localGet(r[w]).f64x2Mul().f64x2Add();
        }
        f.v128Store(16 * w);
      }
      f.localGet(a).localGet(at.width).i32Add().localSet(a);
    });
  };
  f.localGet(at.width).i32Const(16 * (BLOCK - 1)).i32Sub().localSet(limit);
  loop(f, c, () => f.i32Const(0), () => f.localGet(limit), 16 * BLOCK, () => block(BLOCK));
  loop(f, c, () => f.localGet(c), () => f.localGet(at.width), 16, () => block(1));
}

/** Sets `seen` (keys query i sees) and `vecBytes` (bytes of seen rounded up to even). */
function keysSeen(
  f: FunctionBuilder,
  i: number,
  tq: number,
  tk: number,
  causal: number,
  seen: number,
  vecBytes: number,
) {
  f.localGet(i).i32Const(1).i32Add().localGet(tk).i32Add().localGet(tq).i32Sub();
  f.localGet(tk);
  f.localGet(causal).select().localSet(seen);
  f.localGet(seen).i32Const(1).i32Add().i32Const(-2).i32And().i32Const(8).i32Mul()
    .localSet(vecBytes);
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
