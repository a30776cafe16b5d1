/**
 * The WebAssembly matrix-product kernel, written as the code that emits it (see
 * `_wasm_encoder.ts`). One module per element type (float64: two lanes a vector; float32:
 * four), all over one shared memory, so that worker threads can run the same code on the same
 * matrices.
 *
 * The algorithm is the classic one of BLAS libraries (Goto's), at the size of this engine:
 * - B is packed once ({@link GEMM_EXPORTS} `packB`): cut into blocks of {@link KC} rows, each
 *   block into panels of `NR` columns (zero-padded), each panel stored row after row, so the
 *   micro-kernel reads it front to back.
 * - Rows of A come in chunks (`chunk`): the chunk's rows of one k-block are packed into
 *   strips of {@link MR} rows (zero-padded past the last row), column after column, into the
 *   calling thread's scratch; then every (strip, panel) pair is one call of the micro-kernel.
 *   The packed strips stay in L2, a panel in L1.
 * - The micro-kernel (`micro`) holds an MR × NR block of C in 2·MR vector registers and, per
 *   step of the shared index p, loads two vectors of B, splats MR values of A and does 2·MR
 *   vector multiply-adds.
 *
 * Strides are arguments of the packing, so a transposed operand is packed straight from its
 * storage: no transpose is materialised. C is written row-major with row length `ldc` (a
 * multiple of NR) and `MR`-padded rows; the caller copies the real m × n block out. Each C
 * element is the left fold `((0 + a₀b₀) + a₁b₁) + …` in increasing p: with `fused: false`
 * (separate multiply and add) results are bit-identical to the plain TypeScript kernel; with
 * `fused: true` (relaxed SIMD multiply-add) each step may round once instead of twice.
 *
 * @module
 */

import { encodeModule, FunctionBuilder } from "./_wasm_encoder.ts";

/** Rows of A (and of C) per micro-kernel block. */
export const MR = 6;
/** Depth (rows of B, columns of A) of one packed block. */
export const KC = 256;
/** Steps of p per iteration of the micro-kernel's loop (a power of two). */
const UNROLL = 4;
/** Bytes of packed B one k-block of a column block holds (a share of L2). */
const NC_BYTES = 256 * 1024;
/** Largest memory, in 64 KiB pages, a kernel module may address (1 GiB). */
export const MAX_PAGES = 16384;

/** Names and argument lists of the functions each module exports (all arguments i32). */
export const GEMM_EXPORTS = {
  /** micro(ap, bp, c, ldcBytes, kc): C block += packed strip · packed panel. */
  micro: ["ap", "bp", "c", "ldcBytes", "kc"],
  /** packB(offB, rowStride, colStride, k, n, panels, offBp): strides in bytes. */
  packB: ["offB", "rowStride", "colStride", "k", "n", "panels", "offBp"],
  /** chunk(offA, rowStride, colStride, offBp, offC, ldcBytes, m, k, panels, i0, i1, offAp). */
  chunk: [
    "offA",
    "rowStride",
    "colStride",
    "offBp",
    "offC",
    "ldcBytes",
    "m",
    "k",
    "panels",
    "i0",
    "i1",
    "offAp",
  ],
} as const;

/** An element type a kernel module is generated for. */
export interface ElementKind {
  /** Bytes of one element. */
  readonly bytes: 4 | 8;
  /** Columns of B (and C) per micro-kernel block: two vectors. */
  readonly nr: number;
}

/** float64: two lanes a vector, NR = 4. */
export const FLOAT64: ElementKind = { bytes: 8, nr: 4 };
/** float32: four lanes a vector, NR = 8. */
export const FLOAT32: ElementKind = { bytes: 4, nr: 8 };

/** Options of {@link gemmModuleBytes}. */
export interface GemmModuleOptions {
  /** Use relaxed SIMD's multiply-add (fused where the machine has FMA). */
  readonly fused: boolean;
}

/** The module's bytes for `kind`. */
export function gemmModuleBytes(
  kind: ElementKind,
  options: GemmModuleOptions,
): Uint8Array<ArrayBuffer> {
  return encodeModule([
    { name: "micro", body: microKernel(kind, options.fused) },
    { name: "packB", body: packB(kind) },
    { name: "chunk", body: chunk(kind) },
  ], MAX_PAGES);
}

const MICRO_INDEX = 0;

type Emit = (f: FunctionBuilder) => void;

/** `for (i = start; i < end; i += step) body`, with `start`, `end` and `step` pushed by emitters. */
function forLoop(f: FunctionBuilder, i: number, start: Emit, end: Emit, step: Emit, body: Emit) {
  start(f);
  f.localSet(i);
  f.block().loop();
  f.localGet(i);
  end(f);
  f.i32GeS().brIf(1);
  body(f);
  f.localGet(i);
  step(f);
  f.i32Add().localSet(i);
  f.br(0).end().end();
}

const get = (index: number): Emit => (f) => f.localGet(index);
const constant = (value: number): Emit => (f) => f.i32Const(value);

function microKernel(kind: ElementKind, fused: boolean): FunctionBuilder {
  const f = new FunctionBuilder(["i32", "i32", "i32", "i32", "i32"], []);
  const [ap, bp, c, ldc, kc] = [0, 1, 2, 3, 4];
  const row = f.local("i32");
  const acc: number[][] = [];
  for (let r = 0; r < MR; r++) acc.push([f.local("v128"), f.local("v128")]);
  const b0 = f.local("v128");
  const b1 = f.local("v128");
  const a = f.local("v128");
  // Load the C block, row by row.
  const eachRow = (visit: (r: number) => void) => {
    f.localGet(c).localSet(row);
    for (let r = 0; r < MR; r++) {
      visit(r);
      if (r < MR - 1) f.localGet(row).localGet(ldc).i32Add().localSet(row);
    }
  };
  eachRow((r) => {
    f.localGet(row).v128Load(0).localSet(acc[r][0]);
    f.localGet(row).v128Load(16).localSet(acc[r][1]);
  });
  // One step of p: two vectors of B, MR splats of A, 2·MR multiply-adds; `step` is the
  // step's place in an unrolled group (a constant byte offset).
  const step = (u: number) => {
    f.localGet(bp).v128Load(u * kind.nr * kind.bytes).localSet(b0);
    f.localGet(bp).v128Load(u * kind.nr * kind.bytes + 16).localSet(b1);
    for (let r = 0; r < MR; r++) {
      f.localGet(ap);
      if (kind.bytes === 8) f.v128Load64Splat((u * MR + r) * 8);
      else f.v128Load32Splat((u * MR + r) * 4);
      f.localSet(a);
      for (const [h, b] of [[0, b0], [1, b1]]) {
        if (fused) {
          f.localGet(a).localGet(b).localGet(acc[r][h]);
          if (kind.bytes === 8) f.f64x2RelaxedMadd();
          else f.f32x4RelaxedMadd();
        } else {
          f.localGet(acc[r][h]).localGet(a).localGet(b);
          if (kind.bytes === 8) f.f64x2Mul().f64x2Add();
          else f.f32x4Mul().f32x4Add();
        }
        f.localSet(acc[r][h]);
      }
    }
  };
  // kc = UNROLL·groups + rest: a loop over groups of UNROLL steps, then one over the rest.
  const count = f.local("i32");
  const loopOver = (steps: number) => {
    f.localGet(count).if().loop();
    for (let u = 0; u < steps; u++) step(u);
    f.localGet(ap).i32Const(steps * MR * kind.bytes).i32Add().localSet(ap);
    f.localGet(bp).i32Const(steps * kind.nr * kind.bytes).i32Add().localSet(bp);
    f.localGet(count).i32Const(1).i32Sub().localTee(count).brIf(0);
    f.end().end();
  };
  f.localGet(kc).i32Const(Math.log2(UNROLL)).i32ShrU().localSet(count);
  loopOver(UNROLL);
  f.localGet(kc).i32Const(UNROLL - 1).i32And().localSet(count);
  loopOver(1);
  eachRow((r) => {
    f.localGet(row).localGet(acc[r][0]).v128Store(0);
    f.localGet(row).localGet(acc[r][1]).v128Store(16);
  });
  return f;
}

/** value = inside ? the element at byte address `address` : 0. */
function loadOrZero(
  f: FunctionBuilder,
  kind: ElementKind,
  value: number,
  inside: Emit,
  address: Emit,
) {
  inside(f);
  f.if();
  address(f);
  if (kind.bytes === 8) f.f64Load().localSet(value);
  else f.f32Load().localSet(value);
  f.else();
  if (kind.bytes === 8) f.f64Const(0).localSet(value);
  else f.f32Const(0).localSet(value);
  f.end();
}

function packB(kind: ElementKind): FunctionBuilder {
  const f = new FunctionBuilder(["i32", "i32", "i32", "i32", "i32", "i32", "i32"], []);
  const [offB, rs, cs, k, n, panels, w] = [0, 1, 2, 3, 4, 5, 6];
  const [p0, kEnd, jp, p, col, j, rowAddr] = [0, 0, 0, 0, 0, 0, 0].map(() => f.local("i32"));
  const value = f.local(kind.bytes === 8 ? "f64" : "f32");
  forLoop(f, p0, constant(0), get(k), constant(KC), () => {
    // kEnd = min(p0 + KC, k)
    f.localGet(p0).i32Const(KC).i32Add().localTee(kEnd).localGet(k).localGet(kEnd)
      .localGet(k).i32LtS().select().localSet(kEnd);
    forLoop(f, jp, constant(0), get(panels), constant(1), () => {
      forLoop(f, p, get(p0), get(kEnd), constant(1), () => {
        f.localGet(offB).localGet(p).localGet(rs).i32Mul().i32Add().localSet(rowAddr);
        f.localGet(jp).i32Const(kind.nr).i32Mul().localSet(j);
        forLoop(f, col, constant(0), constant(kind.nr), constant(1), () => {
          f.localGet(w);
          loadOrZero(
            f,
            kind,
            value,
            () => f.localGet(j).localGet(n).i32LtS(),
            () => f.localGet(rowAddr).localGet(j).localGet(cs).i32Mul().i32Add(),
          );
          f.localGet(value);
          if (kind.bytes === 8) f.f64Store();
          else f.f32Store();
          f.localGet(w).i32Const(kind.bytes).i32Add().localSet(w);
          f.localGet(j).i32Const(1).i32Add().localSet(j);
        });
      });
    });
  });
  return f;
}

function chunk(kind: ElementKind): FunctionBuilder {
  const f = new FunctionBuilder(new Array(12).fill("i32"), []);
  const [offA, rs, cs, offBp, offC, ldc, m, k, panels, i0, i1, offAp] = [
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
  ];
  const [p0, kc, i, p, r, w, s, jp, bBlock, colAddr, rowIndex, jb, jbEnd] = new Array(13).fill(0)
    .map(() => f.local("i32"));
  const value = f.local(kind.bytes === 8 ? "f64" : "f32");
  const E = kind.bytes;
  // Column blocks of NC_BYTES / (KC·E) columns keep a k-block's packed B within L2.
  const blockPanels = NC_BYTES / (KC * E * kind.nr);
  forLoop(f, jb, constant(0), get(panels), constant(blockPanels), () => {
    // jbEnd = min(jb + blockPanels, panels)
    f.localGet(jb).i32Const(blockPanels).i32Add().localTee(jbEnd).localGet(panels).localGet(jbEnd)
      .localGet(panels).i32LtS().select().localSet(jbEnd);
    forLoop(f, p0, constant(0), get(k), constant(KC), () => {
      // kc = min(KC, k − p0)
      f.i32Const(KC).localGet(k).localGet(p0).i32Sub().localTee(kc).localGet(kc).i32Const(KC)
        .i32GtS().select().localSet(kc);
      // Pack rows i0 … i1 − 1, columns p0 … p0 + kc − 1 of A into strips of MR rows.
      f.localGet(offAp).localSet(w);
      forLoop(f, i, get(i0), get(i1), constant(MR), () => {
        forLoop(f, p, constant(0), get(kc), constant(1), () => {
          f.localGet(offA).localGet(p0).localGet(p).i32Add().localGet(cs).i32Mul().i32Add()
            .localSet(colAddr);
          forLoop(f, r, constant(0), constant(MR), constant(1), () => {
            f.localGet(i).localGet(r).i32Add().localSet(rowIndex);
            f.localGet(w);
            loadOrZero(
              f,
              kind,
              value,
              () => f.localGet(rowIndex).localGet(m).i32LtS(),
              () => f.localGet(colAddr).localGet(rowIndex).localGet(rs).i32Mul().i32Add(),
            );
            f.localGet(value);
            if (E === 8) f.f64Store();
            else f.f32Store();
            f.localGet(w).i32Const(E).i32Add().localSet(w);
          });
        });
      });
      // This k-block of packed B starts at offBp + p0 · panels · NR · E.
      f.localGet(offBp).localGet(p0).localGet(panels).i32Mul().i32Const(kind.nr * E).i32Mul()
        .i32Add().localSet(bBlock);
      forLoop(f, jp, get(jb), get(jbEnd), constant(1), () => {
        forLoop(
          f,
          s,
          constant(0),
          (g) => g.localGet(i1).localGet(i0).i32Sub(),
          constant(MR),
          () => {
            // micro(offAp + s·kc·E, bBlock + jp·kc·NR·E, offC + (i0 + s)·ldc + jp·NR·E, ldc, kc)
            f.localGet(offAp).localGet(s).localGet(kc).i32Mul().i32Const(E).i32Mul().i32Add();
            f.localGet(bBlock).localGet(jp).localGet(kc).i32Mul().i32Const(kind.nr * E).i32Mul()
              .i32Add();
            f.localGet(offC).localGet(i0).localGet(s).i32Add().localGet(ldc).i32Mul().i32Add()
              .localGet(jp).i32Const(kind.nr * E).i32Mul().i32Add();
            f.localGet(ldc).localGet(kc).call(MICRO_INDEX);
          },
        );
      });
    });
  });
  return f;
}
