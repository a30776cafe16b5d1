/**
 * The WebAssembly matrix-product kernel, written as the code that emits it (see
 * `_wasm_encoder.ts`). One module per element type (float64: two lanes a vector; float32:
 * four), all over one shared memory, so that worker threads can run the same code on the same
 * matrices.
 *
 * The algorithm is the classic one of BLAS libraries (Goto's), at the size of this engine:
 * - B is packed once (`packB`): cut into blocks of {@link KC} rows, each block into panels
 *   of NR columns (zero-padded), each panel stored row after row, so the micro-kernel reads
 *   it front to back.
 * - Rows of A come in chunks (`chunk`), a thread's unit of work: per k-block, the chunk's rows
 *   are packed (`packA`) into strips of MR rows (zero-padded past the last row), column after
 *   column, into the calling thread's scratch; then every (panel, strip) pair is one call of
 *   the micro-kernel. A panel stays in L1 while the strips pass over it. An A stored
 *   row-major is read in place instead (`microRows`), but for a last strip past m: its
 *   packing would be a scalar copy of every element.
 * - The micro-kernel (`micro`) holds an MR × NR block of C in vector registers and, per step
 *   of the shared index p, loads the NR values of B's row as vectors, splats MR values of A
 *   one at a time and does MR·NR/lanes vector multiply-adds.
 *
 * Strides are arguments of the packing, so a transposed operand is packed straight from its
 * storage: no transpose is materialised. C is written row-major with row length `ldc` (a
 * multiple of NR) and MR-padded rows; the caller copies the real m × n block out. Each C
 * element is the left fold `((0 + a₀b₀) + a₁b₁) + …` in increasing p: with `fused: false`
 * (separate multiply and add) results are bit-identical to the plain TypeScript kernel; with
 * `fused: true` (relaxed SIMD multiply-add) each step may round once instead of twice.
 *
 * @module
 */

import { encodeModule, FunctionBuilder } from "./_wasm_encoder.ts";

/**
 * Depth (rows of B, columns of A) of one packed block. A panel of B is then KC·NR elements,
 * 16 KiB in either element type, and stays in L1 beside the rows of A that meet it. 512
 * rather than 256: on 512 × 512 products with two threads, 2–3% faster (one k-block, so C is
 * written once), the same on one thread.
 */
export const KC = 512;
/** Steps of p per iteration of the micro-kernel's loop (a power of two). */
const UNROLL = 4;
/** Largest memory, in 64 KiB pages, a kernel module may address (1 GiB). */
export const MAX_PAGES = 16384;

/** Names and argument lists of the functions each module exports (all arguments i32). */
export const GEMM_EXPORTS = {
  /** micro(ap, bp, c, ldcBytes, kc, start, bias): C block = start + packed strip · packed panel. */
  micro: ["ap", "bp", "c", "ldcBytes", "kc", "start", "bias"],
  /** microRows(ap, bp, c, ldcBytes, kc, start, bias, aRow): micro with A's rows read in place
   * (row-major, rows aRow bytes apart) instead of packed. */
  microRows: ["ap", "bp", "c", "ldcBytes", "kc", "start", "bias", "aRow"],
  /** packB(offB, rowStride, colStride, k, n, panels, offBp, panelBytes): strides in bytes;
   * panelBytes 0 for panels one after another. */
  packB: ["offB", "rowStride", "colStride", "k", "n", "panels", "offBp", "panelBytes"],
  /** packA(offA, rowStride, colStride, m, p0, kc, i0, i1, offAp): one k-block of a chunk. */
  packA: ["offA", "rowStride", "colStride", "m", "p0", "kc", "i0", "i1", "offAp"],
  /** chunk(offA, rowStride, colStride, offBp, offC, ldc, m, k, panels, start, offBias, i0, i1,
   * offAp). */
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
    "start",
    "offBias",
    "i0",
    "i1",
    "offAp",
  ],
} as const;

/** An element type and the shape of the micro-kernel generated for it. */
export interface ElementKind {
  /** Bytes of one element. */
  readonly bytes: 4 | 8;
  /** Rows of A (and of C) per micro-kernel block. */
  readonly mr: number;
  /** Columns of B (and of C) per micro-kernel block: a whole number of 16-byte vectors. */
  readonly nr: number;
}

/** float64 with fused multiply-add: two lanes a vector; a 6 × 4 block (12 accumulators). */
export const FLOAT64: ElementKind = { bytes: 8, mr: 6, nr: 4 };
/** float32 with fused multiply-add: four lanes a vector; a 6 × 8 block (12 accumulators). */
export const FLOAT32: ElementKind = { bytes: 4, mr: 6, nr: 8 };
/**
 * float64 with separate multiply and add: a 5 × 4 block. The product needs a register of its
 * own before the add, one more than the 15 the fused 6-row block leaves, and a spill inside
 * the loop costs about 4× (measured by `bench/gemm_micro.ts`).
 */
export const FLOAT64_SEPARATE: ElementKind = { bytes: 8, mr: 5, nr: 4 };
/** float32 with separate multiply and add: a 5 × 8 block, for the reason of FLOAT64_SEPARATE. */
export const FLOAT32_SEPARATE: ElementKind = { bytes: 4, mr: 5, nr: 8 };

/** The shape of `bytes`-byte elements' kernel, with or without fused multiply-add. */
export function elementKind(bytes: 4 | 8, fused: boolean): ElementKind {
  if (bytes === 8) return fused ? FLOAT64 : FLOAT64_SEPARATE;
  return fused ? FLOAT32 : FLOAT32_SEPARATE;
}

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
    { name: "packA", body: packA(kind) },
    { name: "chunk", body: chunk(kind) },
    { name: "microRows", body: microKernel(kind, options.fused, { rows: true }) },
  ], MAX_PAGES);
}

const MICRO_INDEX = 0;
const PACK_A_INDEX = 2;
const MICRO_ROWS_INDEX = 4;

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

/**
 * The micro-kernel `micro(ap, bp, c, ldcBytes, kc, start, bias)` of `kind`'s shape: C block =
 * start + packed strip · packed panel. The block starts from zero with `start` 0 (WebAssembly
 * locals start at zero: the first k-block of a product that does not accumulate needs no
 * zero-filled C), from C's contents with 1, and with 2 from the NR values at `bias`, the
 * same in every row (a layer's bias: the first k-block of a product that starts from one
 * needs no C filled with copies of it).
 *
 * With `rows` (the variant `microRows(…, aRow)`), A is not a packed strip but MR rows of a
 * row-major A read in place, `aRow` bytes apart: each step splats A[r, p] from row r's
 * address (one more integer add per element of A) instead of from the strip. A's rows then
 * need no packing: for an A stored row-major, packing is a scalar copy of every element
 * (strided loads), about a tenth of a product of n = 64 columns.
 *
 * Registers are the budget: V8 on x64 gives a function 15 vector registers (xmm15 is its
 * scratch), and the loop holds mr·v accumulators, v vectors of B and one splat of A (v =
 * vectors a row of the block), all live at once; one more and the loop spills to the stack.
 */
export function microKernel(
  kind: ElementKind,
  fused: boolean,
  options: { readonly rows: boolean } = { rows: false },
): FunctionBuilder {
  const direct = options.rows;
  const f = new FunctionBuilder(new Array(direct ? 8 : 7).fill("i32"), []);
  const [ap, bp, c, ldc, kc, start, bias, aRow] = [0, 1, 2, 3, 4, 5, 6, 7];
  const vectors = (kind.nr * kind.bytes) / 16;
  const row = f.local("i32");
  const acc: number[][] = [];
  for (let r = 0; r < kind.mr; r++) {
    acc.push(Array.from({ length: vectors }, () => f.local("v128")));
  }
  const b = Array.from({ length: vectors }, () => f.local("v128"));
  const a = f.local("v128");
  // Row r of A (direct) is at ap + rowOffset[r]: r·aRow, computed once.
  const rowOffset = [0];
  for (let r = 1; direct && r < kind.mr; r++) {
    rowOffset.push(f.local("i32"));
    f.localGet(aRow).i32Const(r).i32Mul().localSet(rowOffset[r]);
  }
  // Bytes from one step's A to the next: a strip column (packed), an element (direct).
  const aStep = direct ? kind.bytes : kind.mr * kind.bytes;
  // Visits the C block row by row, `row` holding the row's address.
  const eachRow = (visit: (r: number) => void) => {
    f.localGet(c).localSet(row);
    for (let r = 0; r < kind.mr; r++) {
      visit(r);
      if (r < kind.mr - 1) f.localGet(row).localGet(ldc).i32Add().localSet(row);
    }
  };
  f.localGet(start).i32Const(1).i32Eq().if();
  eachRow((r) => {
    for (let v = 0; v < vectors; v++) f.localGet(row).v128Load(16 * v).localSet(acc[r][v]);
  });
  f.end();
  f.localGet(start).i32Const(2).i32Eq().if();
  for (let v = 0; v < vectors; v++) f.localGet(bias).v128Load(16 * v).localSet(acc[0][v]);
  for (let r = 1; r < kind.mr; r++) {
    for (let v = 0; v < vectors; v++) f.localGet(acc[0][v]).localSet(acc[r][v]);
  }
  f.end();
  // One step of p: the row of the B panel, then per row of A one splat and v multiply-adds;
  // `u` is the step's place in an unrolled group (a constant byte offset).
  const step = (u: number) => {
    for (let v = 0; v < vectors; v++) {
      f.localGet(bp).v128Load(u * kind.nr * kind.bytes + 16 * v).localSet(b[v]);
    }
    for (let r = 0; r < kind.mr; r++) {
      f.localGet(ap);
      if (direct && r > 0) f.localGet(rowOffset[r]).i32Add();
      const offset = direct ? u * kind.bytes : (u * kind.mr + r) * kind.bytes;
      if (kind.bytes === 8) f.v128Load64Splat(offset);
      else f.v128Load32Splat(offset);
      f.localSet(a);
      for (let v = 0; v < vectors; v++) {
        if (fused) {
          f.localGet(a).localGet(b[v]).localGet(acc[r][v]);
          if (kind.bytes === 8) f.f64x2RelaxedMadd();
          else f.f32x4RelaxedMadd();
        } else {
          f.localGet(acc[r][v]).localGet(a).localGet(b[v]);
          if (kind.bytes === 8) f.f64x2Mul().f64x2Add();
          else f.f32x4Mul().f32x4Add();
        }
        f.localSet(acc[r][v]);
      }
    }
  };
  // kc = UNROLL·groups + rest: a loop over groups of UNROLL steps, then one over the rest.
  const count = f.local("i32");
  const loopOver = (steps: number) => {
    f.localGet(count).if().loop();
    for (let u = 0; u < steps; u++) step(u);
    f.localGet(ap).i32Const(steps * aStep).i32Add().localSet(ap);
    f.localGet(bp).i32Const(steps * kind.nr * kind.bytes).i32Add().localSet(bp);
    f.localGet(count).i32Const(1).i32Sub().localTee(count).brIf(0);
    f.end().end();
  };
  f.localGet(kc).i32Const(Math.log2(UNROLL)).i32ShrU().localSet(count);
  loopOver(UNROLL);
  f.localGet(kc).i32Const(UNROLL - 1).i32And().localSet(count);
  loopOver(1);
  eachRow((r) => {
    for (let v = 0; v < vectors; v++) f.localGet(row).localGet(acc[r][v]).v128Store(16 * v);
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

/** Emits a scalar load (`kind`'s element) from the address on the stack. */
function loadElement(f: FunctionBuilder, kind: ElementKind, offset = 0) {
  if (kind.bytes === 8) f.f64Load(offset);
  else f.f32Load(offset);
}

/** Emits a scalar store (`kind`'s element): address and value on the stack. */
function storeElement(f: FunctionBuilder, kind: ElementKind, offset = 0) {
  if (kind.bytes === 8) f.f64Store(offset);
  else f.f32Store(offset);
}

/**
 * packB: every k-block of B, panel after panel, each panel row after row (NR elements a
 * row). A panel that lies wholly inside B is copied without bounds tests, as 16-byte vectors
 * when B's rows are contiguous (B not transposed); the last panel, past n, is zero-padded.
 * Panels start `panelBytes` apart, or, if it is 0, right after one another. A nonzero
 * `panelBytes` (with k ≤ KC) packs some rows of a k-block into their places in its panels:
 * how the rows of one block are shared out as pack tasks.
 */
function packB(kind: ElementKind): FunctionBuilder {
  const f = new FunctionBuilder(new Array(8).fill("i32"), []);
  const [offB, rs, cs, k, n, panels, w, panelBytes] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [p0, kEnd, jp, p, col, j, rowAddr, stride, blockStart] = new Array(9).fill(0).map(() =>
    f.local("i32")
  );
  const value = f.local(kind.bytes === 8 ? "f64" : "f32");
  const E = kind.bytes;
  const vectors = (kind.nr * E) / 16;
  forLoop(f, p0, constant(0), get(k), constant(KC), () => {
    // kEnd = min(p0 + KC, k)
    f.localGet(p0).i32Const(KC).i32Add().localTee(kEnd).localGet(k).localGet(kEnd)
      .localGet(k).i32LtS().select().localSet(kEnd);
    // stride = panelBytes || (kEnd − p0)·NR·E
    f.localGet(panelBytes).localGet(kEnd).localGet(p0).i32Sub().i32Const(kind.nr * E).i32Mul()
      .localGet(panelBytes).select().localSet(stride);
    f.localGet(w).localSet(blockStart);
    forLoop(f, jp, constant(0), get(panels), constant(1), () => {
      f.localGet(blockStart).localGet(jp).localGet(stride).i32Mul().i32Add().localSet(w);
      f.localGet(jp).i32Const(kind.nr).i32Mul().localSet(j);
      // rowAddr = offB + p0·rs + j·cs: B[p0, j], the panel's first element.
      f.localGet(offB).localGet(p0).localGet(rs).i32Mul().i32Add().localGet(j).localGet(cs)
        .i32Mul().i32Add().localSet(rowAddr);
      // if (j + NR <= n)
      f.localGet(j).i32Const(kind.nr).i32Add().localGet(n).i32LeS().if();
      {
        f.localGet(cs).i32Const(E).i32Eq().if();
        forLoop(f, p, get(p0), get(kEnd), constant(1), () => {
          for (let v = 0; v < vectors; v++) {
            f.localGet(w).localGet(rowAddr).v128Load(16 * v).v128Store(16 * v);
          }
          f.localGet(w).i32Const(kind.nr * E).i32Add().localSet(w);
          f.localGet(rowAddr).localGet(rs).i32Add().localSet(rowAddr);
        });
        f.else();
        forLoop(f, p, get(p0), get(kEnd), constant(1), () => {
          f.localGet(rowAddr).localSet(col);
          for (let c = 0; c < kind.nr; c++) {
            f.localGet(w).localGet(col);
            loadElement(f, kind);
            storeElement(f, kind, c * E);
            if (c < kind.nr - 1) f.localGet(col).localGet(cs).i32Add().localSet(col);
          }
          f.localGet(w).i32Const(kind.nr * E).i32Add().localSet(w);
          f.localGet(rowAddr).localGet(rs).i32Add().localSet(rowAddr);
        });
        f.end();
      }
      f.else();
      // The last panel: columns from n on are zeros.
      forLoop(f, p, get(p0), get(kEnd), constant(1), () => {
        forLoop(f, col, constant(0), constant(kind.nr), constant(1), () => {
          f.localGet(w);
          loadOrZero(
            f,
            kind,
            value,
            () => f.localGet(j).localGet(col).i32Add().localGet(n).i32LtS(),
            () => f.localGet(rowAddr).localGet(col).localGet(cs).i32Mul().i32Add(),
          );
          f.localGet(value);
          storeElement(f, kind);
          f.localGet(w).i32Const(E).i32Add().localSet(w);
        });
        f.localGet(rowAddr).localGet(rs).i32Add().localSet(rowAddr);
      });
      f.end();
    });
    f.localGet(blockStart).localGet(panels).localGet(stride).i32Mul().i32Add().localSet(w);
  });
  return f;
}

/**
 * packA: rows i0 … i1 − 1, columns p0 … p0 + kc − 1 of A into strips of MR rows, each
 * strip column after column. A strip wholly inside A is copied without bounds tests, and
 * when A's column is contiguous (A stored transposed: the strip's column is MR adjacent
 * elements) as whole vectors (then 8- or 4-byte pieces); the last strip, past m, is
 * zero-padded.
 */
function packA(kind: ElementKind): FunctionBuilder {
  const f = new FunctionBuilder(new Array(9).fill("i32"), []);
  const [offA, rs, cs, m, p0, kc, i0, i1, w] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [i, p, r, strip, x, rowIndex] = new Array(6).fill(0).map(() => f.local("i32"));
  const value = f.local(kind.bytes === 8 ? "f64" : "f32");
  const E = kind.bytes;
  forLoop(f, i, get(i0), get(i1), constant(kind.mr), () => {
    // strip = offA + i·rs + p0·cs: A[i, p0], the strip's first element.
    f.localGet(offA).localGet(i).localGet(rs).i32Mul().i32Add().localGet(p0).localGet(cs)
      .i32Mul().i32Add().localSet(strip);
    // if (i + MR <= m)
    f.localGet(i).i32Const(kind.mr).i32Add().localGet(m).i32LeS().if();
    f.localGet(rs).i32Const(E).i32Eq().if();
    forLoop(f, p, constant(0), get(kc), constant(1), () => {
      // The column's MR·E contiguous bytes: 16 at a time, then 8, then 4.
      let at = 0;
      for (; at + 16 <= kind.mr * E; at += 16) {
        f.localGet(w).localGet(strip).v128Load(at).v128Store(at);
      }
      if (at + 8 <= kind.mr * E) {
        f.localGet(w).localGet(strip).f64Load(at).f64Store(at);
        at += 8;
      }
      if (at < kind.mr * E) f.localGet(w).localGet(strip).f32Load(at).f32Store(at);
      f.localGet(w).i32Const(kind.mr * E).i32Add().localSet(w);
      f.localGet(strip).localGet(cs).i32Add().localSet(strip);
    });
    f.else();
    forLoop(f, p, constant(0), get(kc), constant(1), () => {
      f.localGet(strip).localSet(x);
      for (let row = 0; row < kind.mr; row++) {
        f.localGet(w).localGet(x);
        loadElement(f, kind);
        storeElement(f, kind, row * E);
        if (row < kind.mr - 1) f.localGet(x).localGet(rs).i32Add().localSet(x);
      }
      f.localGet(w).i32Const(kind.mr * E).i32Add().localSet(w);
      f.localGet(strip).localGet(cs).i32Add().localSet(strip);
    });
    f.end();
    f.else();
    // The last strip: rows from m on are zeros.
    forLoop(f, p, constant(0), get(kc), constant(1), () => {
      forLoop(f, r, constant(0), constant(kind.mr), constant(1), () => {
        f.localGet(i).localGet(r).i32Add().localSet(rowIndex);
        f.localGet(w);
        loadOrZero(
          f,
          kind,
          value,
          () => f.localGet(rowIndex).localGet(m).i32LtS(),
          () => f.localGet(strip).localGet(r).localGet(rs).i32Mul().i32Add(),
        );
        f.localGet(value);
        storeElement(f, kind);
        f.localGet(w).i32Const(E).i32Add().localSet(w);
      });
      f.localGet(strip).localGet(cs).i32Add().localSet(strip);
    });
    f.end();
  });
  return f;
}

/**
 * chunk: rows i0 … i1 − 1 of C (a multiple of MR of them), every column. Per k-block, the
 * chunk's rows of A are packed once into the thread's scratch at offAp; then for each panel
 * of B, each strip of the chunk meets it in the micro-kernel. The panel (KC·NR elements) stays
 * in L1 while the chunk's strips pass over it, and the packed strips stay in L2 while the
 * panels pass: packed B is read straight through, so no column blocking is needed. An A
 * whose rows are contiguous (not stored transposed) is not packed: its whole strips are read
 * in place by `microRows` (a strip's kc·MR elements stay in L1 as well), and only a last
 * strip past m is packed, zero-padded. The first k-block starts each row of C as `start`
 * says (0: zero; 1: C's contents, the product accumulating onto them; 2: the row of ldc
 * values at offBias), the later ones from C.
 */
function chunk(kind: ElementKind): FunctionBuilder {
  const f = new FunctionBuilder(new Array(14).fill("i32"), []);
  const [offA, rs, cs, offBp, offC, ldc, m, k, panels, start, offBias, i0, i1, offAp] = [
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
  ];
  const [p0, kc, jp, s, bBlock, blockStart, panel, cBlock, panelBias, packFrom, row] = new Array(
    11,
  ).fill(0).map(() => f.local("i32"));
  const E = kind.bytes;
  // packFrom: the first row packed. With rows read in place, the last strip if it passes m
  // (i1 > m: only the product's last chunk), else none; otherwise every row from i0.
  f.localGet(i0);
  f.localGet(i1).i32Const(kind.mr).i32Sub().localGet(i1).localGet(i1).localGet(m).i32GtS()
    .select();
  f.localGet(cs).i32Const(E).i32Ne().select().localSet(packFrom);
  forLoop(f, p0, constant(0), get(k), constant(KC), () => {
    // kc = min(KC, k − p0)
    f.i32Const(KC).localGet(k).localGet(p0).i32Sub().localTee(kc).localGet(kc).i32Const(KC)
      .i32GtS().select().localSet(kc);
    f.localGet(packFrom).localGet(i1).i32LtS().if();
    f.localGet(offA).localGet(rs).localGet(cs).localGet(m).localGet(p0).localGet(kc);
    f.localGet(packFrom).localGet(i1).localGet(offAp).call(PACK_A_INDEX);
    f.end();
    // blockStart = p0 === 0 ? start : 1: later k-blocks fold onto what the earlier left in C.
    f.localGet(start).i32Const(1).localGet(p0).i32Eqz().select().localSet(blockStart);
    // This k-block of packed B starts at offBp + p0 · panels · NR · E.
    f.localGet(offBp).localGet(p0).localGet(panels).i32Mul().i32Const(kind.nr * E).i32Mul()
      .i32Add().localSet(bBlock);
    forLoop(f, jp, constant(0), get(panels), constant(1), () => {
      // panel = bBlock + jp·kc·NR·E; cBlock = offC + i0·ldc + jp·NR·E; panelBias = offBias +
      // jp·NR·E
      f.localGet(bBlock).localGet(jp).localGet(kc).i32Mul().i32Const(kind.nr * E).i32Mul()
        .i32Add().localSet(panel);
      f.localGet(jp).i32Const(kind.nr * E).i32Mul().localTee(panelBias).localGet(offC).i32Add()
        .localGet(i0).localGet(ldc).i32Mul().i32Add().localSet(cBlock);
      f.localGet(panelBias).localGet(offBias).i32Add().localSet(panelBias);
      forLoop(
        f,
        s,
        constant(0),
        (g) => g.localGet(i1).localGet(i0).i32Sub(),
        constant(kind.mr),
        () => {
          f.localGet(i0).localGet(s).i32Add().localTee(row).localGet(packFrom).i32LtS().if();
          // microRows(offA + row·rs + p0·E, panel, cBlock + s·ldc, ldc, kc, blockStart,
          // panelBias, rs)
          f.localGet(offA).localGet(row).localGet(rs).i32Mul().i32Add().localGet(p0)
            .i32Const(E).i32Mul().i32Add();
          f.localGet(panel);
          f.localGet(cBlock).localGet(s).localGet(ldc).i32Mul().i32Add();
          f.localGet(ldc).localGet(kc).localGet(blockStart).localGet(panelBias).localGet(rs)
            .call(MICRO_ROWS_INDEX);
          f.else();
          // micro(offAp + (row − packFrom)·kc·E, panel, cBlock + s·ldc, ldc, kc, blockStart,
          // panelBias)
          f.localGet(offAp).localGet(row).localGet(packFrom).i32Sub().localGet(kc).i32Mul()
            .i32Const(E).i32Mul().i32Add();
          f.localGet(panel);
          f.localGet(cBlock).localGet(s).localGet(ldc).i32Mul().i32Add();
          f.localGet(ldc).localGet(kc).localGet(blockStart).localGet(panelBias).call(MICRO_INDEX);
          f.end();
        },
      );
    });
  });
  return f;
}
