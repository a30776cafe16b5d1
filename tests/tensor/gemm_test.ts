import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { matmulAccumulateKernel } from "../../lib/tensor/_matmul.ts";
import type { FloatArray } from "../../lib/tensor/_dtype.ts";
import {
  gemm,
  gemmThreads,
  gemmUsesFusedMultiplyAdd,
  gemmWorkerChunks,
  setGemmThreads,
  stopGemmWorkers,
} from "../../lib/tensor/kernels/gemm.ts";
import {
  type ElementKind,
  FLOAT32,
  FLOAT64,
  gemmModuleBytes,
  KC,
  MAX_PAGES,
} from "../../lib/tensor/kernels/_gemm_module.ts";
import { product, SMALL_PRODUCT } from "../../lib/tensor/kernels/_product.ts";
import {
  Control,
  CONTROL_BYTES,
  MAX_WORKERS,
  PARAM_COUNT,
} from "../../lib/tensor/kernels/_pool_worker.ts";
import { signedLeb128, unsignedLeb128 } from "../../lib/tensor/kernels/_wasm_encoder.ts";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";
import { linear, randn } from "../../lib/tensor/tensor.ts";

const SEED = 20261128;
const gemmThreadsDefault = gemmThreads();
console.log(`gemm_test: fast-check seed ${SEED}`);

function transposed(x: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return t;
}

// Σ_p |a[i,p]·b[p,j]| for every output: the scale of a dot product's rounding error.
function absoluteProducts(a: Float64Array, b: Float64Array, m: number, k: number, n: number) {
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += Math.abs(a[i * k + p] * b[p * n + j]);
      scale[i * n + j] = s;
    }
  }
  return scale;
}

// A dot product of k terms, summed in any order, with or without fused multiply-adds, is
// within γ_k·Σ|aᵢbᵢ| + k·η of the exact value (γ_k = k·u / (1 − k·u), u the unit roundoff,
// η the smallest subnormal, for products that underflow); two such computations are within
// twice that of each other.
function bound(k: number, u: number, eta: number, scale: number): number {
  return ((k * u) / (1 - k * u)) * scale + k * eta;
}

const U64 = 2 ** -53, ETA64 = 2 ** -1074;
const U32 = 2 ** -24, ETA32 = 2 ** -149;

const productCase = fc.record({
  m: fc.integer({ min: 1, max: 37 }),
  k: fc.oneof(fc.integer({ min: 1, max: 37 }), fc.integer({ min: KC - 3, max: KC + 40 })),
  n: fc.integer({ min: 1, max: 37 }),
  transposeA: fc.boolean(),
  transposeB: fc.boolean(),
  // How each output's fold starts: from 0, from out's previous value, or from its column's bias.
  start: fc.constantFrom("zero" as const, "accumulate" as const, "bias" as const),
  offset: fc.integer({ min: 0, max: 3 }),
});

function values(length: number): fc.Arbitrary<Float64Array> {
  return fc.array(fc.double({ min: -2, max: 2, noNaN: true }), {
    minLength: length,
    maxLength: length,
  }).map((xs) => Float64Array.from(xs));
}

// Draws a product, runs `gemm` on it in `dtype`, and compares each output with the plain
// TypeScript kernel's (float64) result within `tolerance(k, Σ|ab|)`.
function checkAgainstReference(
  dtype: "float64" | "float32",
  exact: boolean,
  tolerance: (k: number, scale: number) => number,
) {
  const Type = dtype === "float64" ? Float64Array : Float32Array;
  fc.assert(
    fc.property(
      productCase.chain((c) =>
        fc.tuple(
          fc.constant(c),
          values(c.m * c.k),
          values(c.k * c.n),
          values(c.m * c.n),
          values(c.n),
        )
      ),
      ([{ m, k, n, transposeA, transposeB, start: from, offset }, a0, b0, start0, bias0]) => {
        // The float32 kernel sees float32 inputs; the reference, the same values in float64.
        const a = Float64Array.from(Type.from(a0));
        const b = Float64Array.from(Type.from(b0));
        const accumulate = from === "accumulate";
        const bias = Float64Array.from(Type.from(bias0));
        // What each output's fold starts from: out's old value, its bias, or 0.
        const start = accumulate
          ? Float64Array.from(Type.from(start0))
          : from === "bias"
          ? Float64Array.from({ length: m * n }, (_, i) => bias[i % n])
          : new Float64Array(m * n);
        const reference = start.slice();
        matmulAccumulateKernel(a, b, reference, m, k, n);
        const pad = (x: Float64Array) => {
          const padded = new Type(offset + x.length);
          padded.set(x, offset);
          return padded;
        };
        const out: FloatArray = accumulate ? pad(start) : pad(new Float64Array(m * n).fill(NaN));
        gemm(
          { data: pad(transposeA ? transposed(a, m, k) : a), offset, transposed: transposeA },
          { data: pad(transposeB ? transposed(b, k, n) : b), offset, transposed: transposeB },
          out,
          offset,
          m,
          k,
          n,
          accumulate,
          exact,
          from === "bias" ? Type.from(bias) : null,
        );
        const scale = absoluteProducts(a, b, m, k, n);
        for (let i = 0; i < m * n; i++) {
          const got = out[offset + i];
          const bound = tolerance(k, scale[i] + Math.abs(start[i]));
          assert.ok(
            Math.abs(got - reference[i]) <= bound,
            `${dtype} ${m}×${k}×${n} tA=${transposeA} tB=${transposeB} start=${from}: ` +
              `out[${i}] = ${got}, reference ${reference[i]}, bound ${bound}`,
          );
        }
        for (let i = 0; i < offset; i++) assert.equal(out[i], 0); // nothing before the block
      },
    ),
    { seed: SEED, numRuns: 120 },
  );
}

Deno.test("wasm encoder: LEB128 integers as the specification's examples", () => {
  assert.deepEqual(unsignedLeb128(0), [0]);
  assert.deepEqual(unsignedLeb128(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(unsignedLeb128(0x105), [0x85, 0x02]);
  assert.deepEqual(signedLeb128(-123456), [0xc0, 0xbb, 0x78]);
  assert.deepEqual(signedLeb128(63), [0x3f]);
  assert.deepEqual(signedLeb128(64), [0xc0, 0x00]);
  assert.deepEqual(signedLeb128(-64), [0x40]);
});

Deno.test("the pool's control words do not overlap and fit their bytes", () => {
  // Each word its own, the job's parameters and the worker slots being runs of words.
  const owner = new Map<number, string>();
  for (const [name, index] of Object.entries(Control)) {
    const length = name === "PARAMS" ? PARAM_COUNT : name === "SLOTS" ? MAX_WORKERS : 1;
    for (let word = index; word < index + length; word++) {
      assert.ok(!owner.has(word), `${name} and ${owner.get(word)} share word ${word}`);
      assert.ok(word < CONTROL_BYTES / 4, `${name} word ${word} is past the control bytes`);
      owner.set(word, name);
    }
  }
});

Deno.test("gemm modules validate in every variant", () => {
  for (const kind of [FLOAT64, FLOAT32]) {
    assert.ok(WebAssembly.validate(gemmModuleBytes(kind, { fused: false })));
  }
  // Relaxed SIMD is used exactly when this runtime accepts it.
  assert.equal(
    WebAssembly.validate(gemmModuleBytes(FLOAT64, { fused: true })),
    gemmUsesFusedMultiplyAdd,
  );
});

Deno.test("gemm float64 agrees with the TypeScript kernel on random shapes", () => {
  setGemmThreads({ workers: 0 });
  try {
    // Fused multiply-adds: within the dot-product error bound of both computations.
    checkAgainstReference(
      "float64",
      false,
      (k, scale) => gemmUsesFusedMultiplyAdd ? 2 * bound(k + 1, U64, ETA64, scale) : 0,
    );
    // Exact: separate multiply and add, the same fold as the reference, bit for bit.
    checkAgainstReference("float64", true, () => 0);
  } finally {
    setGemmThreads({ workers: gemmThreadsDefault.workers });
  }
});

Deno.test("gemm float32 agrees with the float64 reference within float32's error bound", () => {
  setGemmThreads({ workers: 0 });
  try {
    // float32 accumulation error, plus the float64 reference's own (negligible) error.
    checkAgainstReference(
      "float32",
      false,
      (k, scale) => bound(k + 1, U32, ETA32, scale) + bound(k + 1, U64, ETA64, scale),
    );
  } finally {
    setGemmThreads({ workers: gemmThreadsDefault.workers });
  }
});

// The product A·B (A m×k, B k×n, either stored transposed) through a module of `kind`'s shape,
// called directly: packB, then `chunk` over chunks of `chunkStrips` strips. Exact variant
// (separate multiply and add), so the result is the left fold bit for bit, from 0, from
// `start` (m×n: accumulating) or from `bias` (n values, every row).
function moduleProduct(
  kind: ElementKind,
  a: FloatArray,
  b: FloatArray,
  sizes: { m: number; k: number; n: number; tA: boolean; tB: boolean; chunkStrips: number },
  start: FloatArray | null,
  bias: FloatArray | null,
): FloatArray {
  const { m, k, n, tA, tB, chunkStrips } = sizes;
  const E = kind.bytes;
  const Type = E === 8 ? Float64Array : Float32Array;
  const memory = new WebAssembly.Memory({ initial: 64, maximum: MAX_PAGES, shared: true });
  const exports = new WebAssembly.Instance(
    new WebAssembly.Module(gemmModuleBytes(kind, { fused: false })),
    { env: { memory } },
  ).exports as Record<string, (...args: number[]) => void>;
  const panels = Math.ceil(n / kind.nr), ldc = panels * kind.nr + 1 * kind.nr;
  const rows = Math.ceil(m / kind.mr) * kind.mr, chunkRows = chunkStrips * kind.mr;
  const offA = chunkRows * KC * E, offB = offA + m * k * E, offBp = offB + k * n * E;
  const offBias = offBp + Math.ceil(k / KC) * KC * ldc * E, offC = offBias + ldc * E;
  const view: FloatArray = E === 8
    ? new Float64Array(memory.buffer)
    : new Float32Array(memory.buffer);
  view.fill(NaN, offC / E); // without accumulate, C's old contents must not be read
  view.set(a, offA / E);
  view.set(b, offB / E);
  view.fill(0, offBias / E, offC / E);
  if (bias !== null) view.set(bias, offBias / E);
  if (start !== null) {
    view.fill(0, offC / E);
    for (let i = 0; i < m; i++) view.set(start.subarray(i * n, (i + 1) * n), offC / E + i * ldc);
  }
  const [aRow, aCol] = tA ? [E, m * E] : [k * E, E];
  const [bRow, bCol] = tB ? [E, k * E] : [n * E, E];
  exports.packB(offB, bRow, bCol, k, n, panels, offBp, 0);
  for (let i0 = 0; i0 < rows; i0 += chunkRows) {
    const from = start !== null ? 1 : bias !== null ? 2 : 0;
    const params = [offA, aRow, aCol, offBp, offC, ldc * E, m, k, panels, from, offBias];
    exports.chunk(...params, i0, Math.min(rows, i0 + chunkRows), 0);
  }
  const out = new Type(m * n);
  for (let i = 0; i < m; i++) {
    out.set(view.subarray(offC / E + i * ldc, offC / E + i * ldc + n), i * n);
  }
  return out;
}

Deno.test("every micro-kernel shape gives the left fold bit for bit", () => {
  // The shapes bench/gemm_micro.ts measures: (rows, 16-byte vectors a row) in either type.
  const shapes = [[6, 2], [5, 2], [4, 2], [3, 3], [4, 3], [2, 4], [12, 1], [8, 1]];
  const sizes = fc.record({
    m: fc.integer({ min: 1, max: 30 }),
    k: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: KC - 2, max: KC + 9 })),
    n: fc.integer({ min: 1, max: 30 }),
    tA: fc.boolean(),
    tB: fc.boolean(),
    chunkStrips: fc.integer({ min: 1, max: 3 }),
    from: fc.constantFrom("zero", "accumulate", "bias"),
    shape: fc.constantFrom(...shapes),
    bytes: fc.constantFrom(4 as const, 8 as const),
    seed: fc.integer({ min: 1, max: 1000 }),
  });
  fc.assert(
    fc.property(sizes, ({ m, k, n, tA, tB, chunkStrips, from, shape, bytes, seed }) => {
      const kind: ElementKind = { bytes, mr: shape[0], nr: (shape[1] * 16) / bytes };
      const round = bytes === 8 ? (x: number) => x : Math.fround;
      const Type = bytes === 8 ? Float64Array : Float32Array;
      const a = Type.from(randn([m * k], { seed }).data);
      const b = Type.from(randn([k * n], { seed: seed + 1 }).data);
      const start = from === "accumulate"
        ? Type.from(randn([m * n], { seed: seed + 2 }).data)
        : null;
      const bias = from === "bias" ? Type.from(randn([n], { seed: seed + 3 }).data) : null;
      const got = moduleProduct(
        kind,
        tA ? Type.from(transposed(Float64Array.from(a), m, k)) : a,
        tB ? Type.from(transposed(Float64Array.from(b), k, n)) : b,
        { m, k, n, tA, tB, chunkStrips },
        start,
        bias,
      );
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          // The fold in the element type: each product and each sum rounded to it.
          let c = start !== null ? start[i * n + j] : bias !== null ? bias[j] : 0;
          for (let p = 0; p < k; p++) c = round(c + round(a[i * k + p] * b[p * n + j]));
          const where = `${bytes * 8}-bit ${shape} ${m}×${k}×${n} ${from} (${i},${j})`;
          assert.equal(got[i * n + j], c, where);
        }
      }
    }),
    { seed: SEED, numRuns: 100 },
  );
});

// A product A·B (A m×k row-major, B k×n, stored transposed with `tB`) into a new array.
function productRun(
  a: FloatArray,
  b: FloatArray,
  m: number,
  k: number,
  n: number,
  tB = false,
): () => FloatArray {
  return () => {
    const out = a instanceof Float32Array ? new Float32Array(m * n) : new Float64Array(m * n);
    gemm(
      { data: a, offset: 0, transposed: false },
      { data: b, offset: 0, transposed: tB },
      out,
      0,
      m,
      k,
      n,
      false,
    );
    return out;
  };
}

// Runs `run` with the pool until the worker, once started, has taken part (or 5 s have
// passed), checking every result against `expected`; fails if the worker never took part.
function runOnPool(run: () => FloatArray, expected: FloatArray): void {
  const before = gemmWorkerChunks();
  const deadline = performance.now() + 5000;
  let runs = 0;
  while ((gemmWorkerChunks() === before || runs < 20) && performance.now() < deadline) {
    assert.deepEqual(run(), expected);
    runs++;
  }
  assert.ok(gemmWorkerChunks() > before, "the worker thread computed no chunk");
}

Deno.test("gemm on worker threads gives the same bits as on one thread", () => {
  const m = 150, k = 70, n = 45;
  const a = randn([m * k], { seed: 1 }).data;
  const b = randn([k * n], { seed: 2 }).data;
  // B stored transposed, then row-major: packed from either storage.
  for (const tB of [true, false]) {
    const run = productRun(a, b, m, k, n, tB);
    try {
      setGemmThreads({ workers: 0 });
      const single = run();
      setGemmThreads({ workers: 1, parallelThreshold: 0 });
      runOnPool(run, single);
    } finally {
      setGemmThreads(gemmThreadsDefault);
      stopGemmWorkers();
    }
  }
});

Deno.test("the pool packs each piece of B only once it is copied in", () => {
  // Two Bs taken in turn into the same kernel memory: a piece packed before the calling
  // thread has copied it in would hold the other B's rows. Large enough that the packing
  // of B is shared out in pieces (over 512 KiB), several of them per thread.
  const m = 48, k = KC, n = 300;
  const a = Float32Array.from(randn([m * k], { seed: 21 }).data);
  const bs = [22, 23].map((seed) => Float32Array.from(randn([k * n], { seed }).data));
  const runs = bs.map((b) => productRun(a, b, m, k, n));
  try {
    setGemmThreads({ workers: 0 });
    const single = runs.map((run) => run());
    setGemmThreads({ workers: 1, parallelThreshold: 0 });
    runOnPool(runs[0], single[0]); // until the worker, once started, takes part
    // At least 200 products, and on until the worker has taken part in them too (a busy
    // machine may leave it without a core for a while).
    const before = gemmWorkerChunks();
    const deadline = performance.now() + 5000;
    for (
      let i = 0;
      i < 200 || (gemmWorkerChunks() === before && performance.now() < deadline);
      i++
    ) {
      assert.deepEqual(runs[i % 2](), single[i % 2], `product ${i}`);
    }
    assert.ok(gemmWorkerChunks() > before, "the worker thread computed no chunk");
  } finally {
    setGemmThreads(gemmThreadsDefault);
    stopGemmWorkers();
  }
});

Deno.test("the pool, stopped, starts again on the next parallel product", () => {
  const m = 40, k = 30, n = 20;
  const a = Float32Array.from(randn([m * k], { seed: 21 }).data);
  const b = Float32Array.from(randn([k * n], { seed: 22 }).data);
  const run = productRun(a, b, m, k, n);
  try {
    setGemmThreads({ workers: 0 });
    const single = run();
    // Waiting threads that sleep at once, then that spin first (read at every wait).
    for (const spinMicroseconds of [0, 0, 300]) {
      setGemmThreads({ workers: 1, parallelThreshold: 0, spinMicroseconds });
      assert.equal(gemmThreads().spinMicroseconds, spinMicroseconds);
      runOnPool(run, single);
      stopGemmWorkers();
    }
  } finally {
    setGemmThreads(gemmThreadsDefault);
    stopGemmWorkers();
  }
});

Deno.test("gemm exact, on one thread and with the pool, is the left fold in float32 bit for bit", () => {
  // Several chunks of rows, two k-blocks, starting from 0, from out or from a bias (passed
  // to the workers among the job's parameters), A and B read transposed or not; the
  // second shape's B (over 512 KiB) is packed in parts by the pool, the last panel ragged.
  for (const [m, k, n] of [[67, KC + 13, 29], [25, KC + 13, 501]]) {
    exactLeftFoldOnBothPaths(m, k, n);
  }
});

function exactLeftFoldOnBothPaths(m: number, k: number, n: number): void {
  const a = Float32Array.from(randn([m * k], { seed: 11 }).data);
  const b = Float32Array.from(randn([k * n], { seed: 12 }).data);
  const start = Float32Array.from(randn([m * n], { seed: 13 }).data);
  const bias = Float32Array.from(randn([n], { seed: 14 }).data);
  const bt = Float32Array.from(transposed(Float64Array.from(b), k, n));
  const at = Float32Array.from(transposed(Float64Array.from(a), m, k));
  try {
    for (const workers of [0, 1]) {
      setGemmThreads({ workers, parallelThreshold: 0 });
      for (const from of ["zero", "accumulate", "bias"]) {
        const accumulate = from === "accumulate";
        for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]]) {
          const out = accumulate ? start.slice() : new Float32Array(m * n).fill(NaN);
          const bOperand = { data: tB ? bt : b, offset: 0, transposed: tB };
          gemm(
            { data: tA ? at : a, offset: 0, transposed: tA },
            bOperand,
            out,
            0,
            m,
            k,
            n,
            accumulate,
            true,
            from === "bias" ? bias : null,
          );
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let c = accumulate ? start[i * n + j] : from === "bias" ? bias[j] : 0;
              for (let p = 0; p < k; p++) {
                c = Math.fround(c + Math.fround(a[i * k + p] * b[p * n + j]));
              }
              assert.equal(
                out[i * n + j],
                c,
                `${m}×${k}×${n} workers=${workers} ${from} tA=${tA} tB=${tB} (${i},${j})`,
              );
            }
          }
        }
      }
    }
  } finally {
    setGemmThreads(gemmThreadsDefault);
    stopGemmWorkers();
  }
}

Deno.test("gemm refuses mixed element types and short arrays", () => {
  const f64 = new Float64Array(4), f32 = new Float32Array(4);
  const op = (data: FloatArray) => ({ data, offset: 0, transposed: false });
  assert.throws(
    () => gemm(op(f64), op(f32), f64, 0, 2, 2, 2, false),
    /must all be Float64Array or all Float32Array/,
  );
  assert.throws(
    () => gemm(op(f64), op(f64), f64, 1, 2, 2, 2, false),
    /out needs 4 elements from offset 1/,
  );
  assert.throws(
    () => gemm(op(f64), op(f64), f64, 0, 2, 2, 2, true, false, new Float64Array(2)),
    /^RangeError: gemm: takes accumulate or a bias, not both$/,
  );
  assert.throws(
    () => gemm(op(f64), op(f64), f64, 0, 2, 2, 2, false, false, new Float32Array(2)),
    /^RangeError: gemm: bias must have out's element type$/,
  );
  assert.throws(
    () => gemm(op(f64), op(f64), f64, 0, 2, 2, 2, false, false, new Float64Array(1)),
    /bias needs 2 elements from offset 0, has 1/,
  );
  assert.throws(
    () => product(op(f64), op(f64), f64, 0, 2, 2, 2, true, false, new Float64Array(2)),
    /^RangeError: product: takes accumulate or a bias, not both$/,
  );
  assert.throws(() => setGemmThreads({ workers: -1 }), /workers must be a non-negative integer/);
  assert.throws(
    () => setGemmThreads({ spinMicroseconds: 0.5 }),
    /spinMicroseconds must be an integer in \[0, 1e6\], got 0\.5/,
  );
  assert.throws(() => setGemmThreads({ spinMicroseconds: -1 }), /got -1/);
});

Deno.test("product: the small loop and gemm agree on either side of the threshold", () => {
  for (const [m, k, n] of [[3, 5, 7], [16, 16, 16], [17, 16, 16]]) {
    assert.equal(m * k * n >= SMALL_PRODUCT, m === 17 || m === 16);
    const a = randn([m * k], { seed: m }).data;
    const b = randn([n * k], { seed: n }).data; // stored as Bᵀ
    const bias = randn([n], { seed: k + 1 }).data;
    // Accumulating onto ones, and starting from the bias (exact: the fold bit for bit).
    for (const withBias of [false, true]) {
      const out = new Float64Array(m * n).fill(withBias ? NaN : 1);
      product(
        { data: a, offset: 0, transposed: false },
        { data: b, offset: 0, transposed: true },
        out,
        0,
        m,
        k,
        n,
        !withBias,
        withBias,
        withBias ? bias : null,
      );
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = withBias ? bias[j] : 1;
          for (let p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
          if (withBias) assert.equal(out[i * n + j], s);
          else assert.ok(Math.abs(out[i * n + j] - s) <= 1e-13 * (1 + Math.abs(s)));
        }
      }
    }
  }
});

Deno.test("matmul and linear on the SIMD path pass the gradient check", () => {
  // Large enough that forward and both backward products run on gemm; B's batch broadcasts.
  const a = randn([2, 9, 21], { seed: 3 });
  const b = randn([21, 23], { seed: 4 });
  assert.ok(9 * 21 * 23 >= SMALL_PRODUCT);
  assert.ok(gradcheckTensor((x, y) => x.matmul(y), [a, b]).passed);
  const x = randn([30, 20], { seed: 5 });
  const w = randn([11, 20], { seed: 6 });
  const bias = randn([11], { seed: 7 });
  assert.ok(30 * 20 * 11 >= SMALL_PRODUCT);
  assert.ok(gradcheckTensor((x, w, bias) => linear(x, w, bias), [x, w, bias]).passed);
});
