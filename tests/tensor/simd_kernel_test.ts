// The SIMD kernels (lib/tensor/kernels/_simd_module.ts, called through kernels/simd.ts)
// against their plain TypeScript references, on random lengths: 0 to 3 and lengths that are
// not multiples of the vector width among them. Kernels that do the reference's IEEE
// operations in the reference's order must agree bit for bit; those with their own exp, to
// the number of units in the last place stated beside each.

import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { hotLoops } from "../../lib/tensor/kernels/_elementwise.ts";
import {
  firstNonFinite,
  setSimdMode,
  SimdAdamMoments,
  simdKernels,
  type SimdMode,
  simdMode,
} from "../../lib/tensor/kernels/simd.ts";
import {
  EXP2_TAYLOR_32,
  GELU32_FAST_K,
  GELU32_ULPS,
  MAX_PAGES,
  simdModuleBytes,
} from "../../lib/tensor/kernels/_simd_module.ts";
import { tensorOps } from "../../lib/tensor/ops.ts";
import { TensorAdamW } from "../../lib/lm/adamw.ts";
import { Adam, AdamW } from "../../lib/nn/optim.ts";
import { Tensor } from "../../lib/tensor/tensor.ts";
import type { FloatArray } from "../../lib/tensor/_dtype.ts";

type DType = "float64" | "float32";

/** Units in the last place between a and b in `dtype` (0 for two NaNs or equal values). */
function ulps(a: number, b: number, dtype: DType): number {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return 0;
  if (Number.isNaN(a) || Number.isNaN(b)) return Infinity;
  if (dtype === "float32") {
    const bits = new Int32Array(new Float32Array([a, b]).buffer);
    const ordered = (i: number) => (i < 0 ? -(i & 0x7fffffff) : i);
    return Math.abs(ordered(bits[0]) - ordered(bits[1]));
  }
  const bits = new BigInt64Array(new Float64Array([a, b]).buffer);
  const ordered = (i: bigint) => (i < 0n ? -(i & 0x7fffffffffffffffn) : i);
  return Math.abs(Number(ordered(bits[0]) - ordered(bits[1])));
}

function maxUlps(got: ArrayLike<number>, want: ArrayLike<number>, dtype: DType): number {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, ulps(got[i], want[i], dtype));
  return worst;
}

function allocate(dtype: DType, length: number): FloatArray {
  return dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
}

/** Values spread over `range` (uniform, then scaled by a random power of ten ≤ 1). */
const values = (length: number, range: number) =>
  fc.array(
    fc.tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.integer({ min: -6, max: 0 })),
    { minLength: length, maxLength: length },
  ).map((pairs) => pairs.map(([u, e]) => u * range * 10 ** e));

const length = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 67 }));
const dtype = fc.constantFrom<DType>("float64", "float32");

Deno.test("SIMD add, sub and mul equal the TypeScript loops bit for bit", () => {
  const call = fc.record({ n: length, dtype, kinds: fc.tuple(fc.nat(2), fc.nat(2)) }).chain((
    { n, dtype, kinds },
  ) => {
    // Periods: the whole result, 1 (a scalar) or a divisor of n (a row).
    const divisors = Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
    const period = (kind: number) =>
      n === 0
        ? fc.constant(0)
        : kind === 0
        ? fc.constant(n)
        : kind === 1
        ? fc.constant(1)
        : fc.constantFrom(...divisors);
    return fc.tuple(period(kinds[0]), period(kinds[1])).chain(([px, py]) =>
      fc.record({
        dtype: fc.constant(dtype),
        n: fc.constant(n),
        px: fc.constant(px),
        py: fc.constant(py),
        x: values(px, 1e3),
        y: values(py, 1e3),
      })
    );
  });
  fc.assert(
    fc.property(call, ({ dtype, n, px, py, x, y }) => {
      const xs = dtype === "float32" ? Float32Array.from(x) : Float64Array.from(x);
      const ys = dtype === "float32" ? Float32Array.from(y) : Float64Array.from(y);
      for (const op of ["add", "sub", "mul"] as const) {
        const [got, want] = [allocate(dtype, n), allocate(dtype, n)];
        simdKernels.binary(op, xs, Math.max(px, 1), ys, Math.max(py, 1), got);
        hotLoops.binary[op].forward(xs, Math.max(px, 1), ys, Math.max(py, 1), want);
        assert.deepEqual(got, want, `${op} ${dtype}`);
      }
    }),
    { numRuns: 150 },
  );
});

Deno.test("SIMD exp, tanh and GELU are within 2, 5 and 4 float64 ulps (1 float32 ulp)", async (t) => {
  const bounds = { exp: 2, tanh: 5, gelu: 4 } as const;
  const ranges = { exp: 750, tanh: 25, gelu: 40 } as const;
  for (const op of ["exp", "tanh", "gelu"] as const) {
    await t.step(op, () => {
      fc.assert(
        fc.property(
          dtype,
          length.chain((n) => values(n, ranges[op])),
          fc.boolean(),
          (dtype, x, specials) => {
            if (specials && x.length > 0) {
              // Special values at random places: ±0, ±∞, NaN, and the edges of exp's range.
              const special = [0, -0, Infinity, -Infinity, NaN, 709.78, -745.1, 1e-300];
              x[x.length - 1] = special[x.length % special.length];
              x[0] = special[(x.length * 3) % special.length];
            }
            const xs = dtype === "float32" ? Float32Array.from(x) : Float64Array.from(x);
            const [got, want] = [allocate(dtype, x.length), allocate(dtype, x.length)];
            simdKernels.unary(op, xs, got);
            hotLoops.unary[op].forward(xs, want);
            const bound = dtype === "float32" ? 1 : bounds[op];
            const worst = maxUlps(got, want, dtype);
            assert.ok(worst <= bound, `${op} ${dtype}: ${worst} ulps > ${bound}`);
          },
        ),
        { numRuns: 200 },
      );
    });
  }
  await t.step("the bound is not loose: exp of 1 is e to the float64", () => {
    const got = new Float64Array(1);
    simdKernels.unary("exp", new Float64Array([1]), got);
    assert.ok(ulps(got[0], Math.E, "float64") <= 1);
  });
});

// GELU of float32 arrays, four lanes a vector (`gelu32`): within GELU32_ULPS float32 ulps of
// the reference, a bound derived in _simd_module.ts from float32's unit roundoff u = 2⁻²⁴.

/** x of GELU's edges: ±0, ±∞, NaN, float32's extremes, subnormal inputs and results, the
 * float32 kernel's fast/float64 boundary (k = GELU32_FAST_K near x = −9.8), the results
 * that reach float32's subnormals (x ≈ −10.1 … −10.9) and 0 (≈ −11), the lowest exponent
 * (v = −126, x ≈ 9.9), float64 exp's overflow (u ≈ 709.8, x ≈ −21.5). */
const GELU_EDGES = [
  0,
  -0,
  Infinity,
  -Infinity,
  NaN,
  3.4e38,
  -3.4e38,
  1e-45,
  -1e-45,
  1e-40,
  -1e-40,
  1.2e-38,
  -9.75,
  -9.8,
  -9.85,
  -10.1,
  -10.3,
  -10.6,
  -10.9,
  -11,
  -13.5,
  9.85,
  9.9,
  9.95,
  30,
  -21.4,
  -21.5,
  -21.6,
  -1000,
  1e-8,
  -1e-8,
];

/** Float32 values: random in ±range scaled by powers of ten, some replaced by edges. */
const gelu32Inputs = (n: number) =>
  fc.tuple(values(n, 14), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...GELU_EDGES))))
    .map(([x, edges]) => {
      const data = Float32Array.from(x);
      for (const [at, edge] of edges) if (n > 0) data[at % n] = edge;
      return data;
    });

/** The kernels of the module without relaxed SIMD's multiply-add, on a fresh memory each. */
function unfusedKernels(): Record<string, (...args: number[]) => void> & {
  memory: WebAssembly.Memory;
} {
  const memory = new WebAssembly.Memory({ initial: 8, maximum: MAX_PAGES, shared: true });
  const exports = new WebAssembly.Instance(
    new WebAssembly.Module(simdModuleBytes({ fused: false })),
    { env: { memory } },
  ).exports as Record<string, (...args: number[]) => void>;
  return Object.assign({}, exports, { memory });
}

/** The unfused module's gelu32 on the float32 x (at address 16 of its memory). */
function unfusedGelu32(x: Float32Array): Float32Array {
  const kernels = unfusedKernels();
  if (kernels.memory.buffer.byteLength < 64 + 8 * x.length) {
    kernels.memory.grow(Math.ceil((64 + 8 * x.length) / 65536));
  }
  const heap = new Float32Array(kernels.memory.buffer);
  const out = 16 + 16 * Math.ceil(x.length / 4) + 16;
  heap.set(x, 4);
  kernels.gelu32(16, out, x.length);
  return heap.slice(out / 4, out / 4 + x.length);
}

Deno.test("SIMD GELU of float32 arrays (four lanes) is within GELU32_ULPS float32 ulps", async (t) => {
  const reference = (x: Float32Array) => {
    const want = new Float32Array(x.length);
    hotLoops.unary.gelu.forward(x, want);
    return want;
  };
  await t.step("random lengths 0–67, values up to saturation and GELU's edges", () => {
    fc.assert(
      fc.property(length.chain(gelu32Inputs), (x) => {
        const got = new Float32Array(x.length);
        simdKernels.gelu32(x, got);
        const worst = maxUlps(got, reference(x), "float32");
        assert.ok(worst <= GELU32_ULPS, `gelu32 of ${x.length}: ${worst} ulps`);
      }),
      { numRuns: 300 },
    );
  });
  await t.step("every edge in every lane, and sweeps across the boundaries", () => {
    const x = Float32Array.from(
      [
        ...GELU_EDGES.flatMap((e) => [e, e, e, e, 1, e, 2, e]),
        ...Array.from({ length: 4001 }, (_, i) => -12 + (i * 24) / 4000),
        ...Array.from({ length: 801 }, (_, i) => -9.6 - (i * 1.5) / 800),
      ],
    );
    for (const [module, fused] of [["this machine's", true], ["unfused", false]] as const) {
      const got = fused
        ? (() => {
          const out = new Float32Array(x.length);
          simdKernels.gelu32(x, out);
          return out;
        })()
        : unfusedGelu32(x);
      const want = reference(x);
      const worst = maxUlps(got, want, "float32");
      assert.ok(worst <= GELU32_ULPS, `gelu32 (${module} module): ${worst} ulps`);
      for (let i = 0; i < x.length; i++) {
        if (Number.isNaN(want[i]) || !Number.isFinite(want[i]) || want[i] === 0) {
          assert.ok(Object.is(got[i], want[i]), `gelu32(${x[i]}) = ${got[i]}, want ${want[i]}`);
        }
      }
    }
  });
  await t.step("long arrays, in chunks", () => {
    let seed = 11;
    const x = Float32Array.from({ length: 3 * 8192 + 5 }, () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return (seed / 2 ** 32 - 0.5) * 24;
    });
    const got = new Float32Array(x.length);
    simdKernels.gelu32(x, got);
    assert.ok(maxUlps(got, reference(x), "float32") <= GELU32_ULPS);
  });
  await t.step("the bound: 2ᶠ's error, evaluated, gives GELU32_ULPS", () => {
    // As _simd_module.ts derives it, in units of u = 2⁻²⁴ relative to 2ᶠ, maximised over f.
    const c = [...EXP2_TAYLOR_32].reverse(); // c[j] = (ln 2)ʲ/j! in float32
    const u = 2 ** -24;
    let worst = 0;
    for (let i = 0; i <= 20000; i++) {
      const f = -0.5 + i / 20000, a = Math.abs(f);
      const exact: number[] = [];
      for (let j = 0, term = 1; j <= 7; j++, term *= Math.LN2 / j) exact.push(term);
      const partial: number[] = [];
      partial[7] = exact[7];
      for (let j = 6; j >= 0; j--) partial[j] = exact[j] + f * partial[j + 1];
      let steps = 0, products = 0, coefficients = 0;
      for (let j = 0; j <= 6; j++) {
        steps += a ** j * Math.abs(partial[j]);
        products += a ** (j + 1) * Math.abs(partial[j + 1]);
      }
      for (let j = 1; j <= 7; j++) {
        assert.ok(Math.abs(c[j] - exact[j]) <= u * exact[j]);
        coefficients += a ** j * exact[j];
      }
      const y = a * Math.LN2;
      const remainder = (y ** 8 / 40320) * Math.exp(y) / u;
      const unfused = (steps + products + coefficients + remainder) / 2 ** f + Math.LN2 * a;
      worst = Math.max(worst, unfused);
    }
    assert.ok(worst <= 3.11, `2ᶠ: ${worst}u`);
    // + 1 + eᵘ and the quotient (one rounding each), + half an ulp for the reference.
    assert.equal(GELU32_ULPS, Math.floor(3.11 + 2 + 0.01 + 0.5));
  });
  await t.step("the float64 path is taken beyond GELU32_FAST_K and agrees at the boundary", () => {
    // k = nearest(u·log₂e) crosses GELU32_FAST_K between these two x; either side is within
    // the bound and the float64 side within 1 ulp.
    const kOf = (x: number) =>
      Math.round(-2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3) * Math.LOG2E);
    assert.ok(kOf(-9.75) <= GELU32_FAST_K && kOf(-9.85) > GELU32_FAST_K);
    const x = Float32Array.from([-9.85, -9.85, -9.85, -9.85]);
    const got = new Float32Array(4);
    simdKernels.gelu32(x, got);
    assert.ok(maxUlps(got, reference(x), "float32") <= 1);
  });
});

/** Runs `run` with the SIMD kernels in `mode` ("always": at any size; "never": none). */
function inMode<T>(mode: SimdMode, run: () => T): T {
  setSimdMode(mode);
  try {
    return run();
  } finally {
    setSimdMode("measured");
  }
}

const rowsAndWidth = fc.record({
  rows: fc.integer({ min: 0, max: 4 }),
  width: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 41 })),
  dtype,
});

// Softmax's bound follows from exp's: each e is within 2 ulps (≤ 2ε relative), so is their
// sum (added in the reference's order: a weighted mean of the e's errors), and e / sum within
// about 4ε relative, which is up to 8 ulps for a quotient at the bottom of its binade.
const SOFTMAX_ULPS = 8;

Deno.test("SIMD softmax over the last axis is within 8 float64 ulps per output", () => {
  fc.assert(
    fc.property(
      rowsAndWidth.chain((s) => fc.record({ s: fc.constant(s), x: values(s.rows * s.width, 50) })),
      ({ s: { rows, width, dtype }, x }) => {
        const xs = dtype === "float32" ? Float32Array.from(x) : Float64Array.from(x);
        const got = new Float64Array(xs.length);
        simdKernels.softmax(xs, got, rows, width);
        const want = inMode(
          "never",
          () => tensorOps.softmax.forward([{ data: xs, shape: [rows, width] }], { axis: -1 }).data,
        );
        const worst = maxUlps(got, want, "float64");
        assert.ok(worst <= SOFTMAX_ULPS, `softmax ${dtype} ${rows}×${width}: ${worst} ulps`);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("SIMD layer norm forward and backward equal the TypeScript loops bit for bit", () => {
  fc.assert(
    fc.property(
      rowsAndWidth.chain((s) =>
        fc.record({
          s: fc.constant(s),
          x: values(s.rows * s.width, 10),
          w: values(s.width, 2),
          b: values(s.width, 2),
          g: values(s.rows * s.width, 1),
          needs: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
          eps: fc.constantFrom(1e-5, 0.1),
        })
      ),
      ({ s: { rows, width, dtype }, x, w, b, g, needs, eps }) => {
        const make = (v: number[]) =>
          dtype === "float32" ? Float32Array.from(v) : Float64Array.from(v);
        const inputs = [
          { data: make(x), shape: [rows, width] },
          { data: make(w), shape: [width] },
          { data: make(b), shape: [width] },
        ];
        const forward = inMode("always", () => tensorOps.layerNorm.forward(inputs, { eps }));
        const reference = inMode("never", () => tensorOps.layerNorm.forward(inputs, { eps }));
        assert.deepEqual(forward, reference);
        const grad = Float64Array.from(g);
        const backward = (saved: unknown) =>
          tensorOps.layerNorm.backward(
            {
              grad,
              inputs,
              out: { data: forward.data, shape: forward.shape },
              saved,
              needs,
              params: { eps },
            } as Parameters<typeof tensorOps.layerNorm.backward>[0],
          );
        const got = inMode("always", () => backward(forward.saved));
        const want = inMode("never", () => backward(reference.saved));
        assert.deepEqual(got, want);
        if (dtype === "float32") {
          // The float32 gradient's kernel (grad, x and ∂x float32).
          const backward32 = (saved: unknown) =>
            tensorOps.layerNorm.backwardFloat32!(
              {
                grad: Float32Array.from(g),
                inputs,
                out: { data: forward.data, shape: forward.shape },
                saved,
                needs,
                params: { eps },
              } as Parameters<NonNullable<typeof tensorOps.layerNorm.backwardFloat32>>[0],
            );
          const got32 = inMode("always", () => backward32(forward.saved));
          const want32 = inMode("never", () => backward32(reference.saved));
          assert.deepEqual(got32, want32);
        }
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("SIMD Adam updates equal the TypeScript loops bit for bit", async (t) => {
  const run = fc.record({
    n: length,
    dtype,
    weightDecay: fc.constantFrom(0, 0.1),
    steps: fc.integer({ min: 1, max: 3 }),
    seed: fc.integer({ min: 1, max: 1e6 }),
  });
  const draw = (seed: number, n: number, scale: number) => {
    let s = seed >>> 0;
    return Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return (s / 2 ** 32 - 0.5) * scale;
    });
  };
  await t.step("TensorAdamW (float32 and float64 parameters)", () => {
    fc.assert(
      fc.property(run, ({ n, dtype, weightDecay, steps, seed }) => {
        const trained = (simd: boolean) => {
          setSimdMode(simd ? "always" : "never");
          try {
            const w = new Tensor(Float64Array.from(draw(seed, n, 2)), [n], {
              requiresGrad: true,
              dtype,
            });
            const unused = new Tensor(Float64Array.from(draw(seed + 7, 3, 2)), [3], {
              requiresGrad: true,
              dtype,
            });
            const optimizer = new TensorAdamW(new Map([["w", w], ["u", unused]]), {
              learningRate: 0.01,
              weightDecay,
            });
            for (let s = 0; s < steps; s++) {
              optimizer.zeroGrad();
              w.mul(w).sum().backward();
              optimizer.step();
            }
            return [...w.data, ...unused.data];
          } finally {
            setSimdMode("measured");
          }
        };
        assert.deepEqual(trained(true), trained(false));
      }),
      { numRuns: 60 },
    );
  });
  await t.step("nn's Adam and AdamW (per-parameter weight decay)", () => {
    fc.assert(
      fc.property(run, fc.boolean(), ({ n, weightDecay, steps, seed }, decoupled) => {
        const trained = (simd: boolean) => {
          setSimdMode(simd ? "always" : "never");
          try {
            const a = new Tensor(Float64Array.from(draw(seed, n, 2)), [n], { requiresGrad: true });
            const bias = new Tensor(Float64Array.from(draw(seed + 1, 5, 2)), [5], {
              requiresGrad: true,
            });
            const optimizer = new (decoupled ? AdamW : Adam)([a, bias], {
              learningRate: 0.01,
              weightDecay,
              decays: (p) => p !== bias,
            });
            for (let s = 0; s < steps; s++) {
              optimizer.zeroGrad();
              a.mul(a).sum().add(bias.mul(a.sum()).sum()).backward();
              optimizer.step();
            }
            return [...a.data, ...bias.data];
          } finally {
            setSimdMode("measured");
          }
        };
        assert.deepEqual(trained(true), trained(false));
      }),
      { numRuns: 60 },
    );
  });
});

Deno.test("long arrays go through the kernels in chunks with the same results", async (t) => {
  // Lengths about the chunk (8192 elements) and beyond, and rows that do not divide it.
  const draw = (n: number, seed: number) => {
    let s = seed >>> 0;
    return Float64Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return (s / 2 ** 32 - 0.5) * 8;
    });
  };
  await t.step("add, sub, mul with whole, scalar and row operands", () => {
    for (
      const [n, py] of [[8191, 8191], [8193, 1], [16421, 16421], [48 * 400, 48], [64 * 300, 64]]
    ) {
      const x = draw(n, n);
      const y = draw(py, n + 1);
      for (const op of ["add", "sub", "mul"] as const) {
        const [got, want] = [new Float64Array(n), new Float64Array(n)];
        simdKernels.binary(op, x, n, y, py, got);
        hotLoops.binary[op].forward(x, n, y, py, want);
        assert.deepEqual(got, want, `${op} n=${n} py=${py}`);
      }
    }
  });
  await t.step(
    "add, sub, mul of float32 arrays (the float32 kernels), magnitudes 10⁻⁴⁵ to 10³⁸",
    () => {
      const wide = (n: number, seed: number) =>
        Float32Array.from(draw(n, seed), (u, i) => u * 10 ** ((i * 7919 + seed) % 84 - 45));
      for (const [n, py] of [[8191, 8191], [8193, 1], [16421, 16421], [64 * 300, 64]]) {
        const x = wide(n, n);
        const y = wide(py, n + 1);
        for (const op of ["add", "sub", "mul"] as const) {
          const [got, want] = [new Float32Array(n), new Float32Array(n)];
          simdKernels.binary(op, x, n, y, py, got);
          hotLoops.binary[op].forward(x, n, y, py, want);
          assert.deepEqual(got, want, `${op} float32 n=${n} py=${py}`);
        }
      }
    },
  );
  await t.step("exp", () => {
    const x = draw(20001, 3);
    const [got, want] = [new Float64Array(x.length), new Float64Array(x.length)];
    simdKernels.unary("exp", x, got);
    hotLoops.unary.exp.forward(x, want);
    assert.ok(maxUlps(got, want, "float64") <= 2);
  });
  await t.step("Adam", () => {
    const n = 20001;
    const settings = {
      beta1: 0.9,
      beta2: 0.99,
      correction1: 0.1,
      correction2: 0.01,
      lr: 0.01,
      lambda: 0.1,
      eps: 1e-8,
      mode: 1,
    } as const;
    const [theta, grad] = [draw(n, 5), draw(n, 6)];
    const [m, v] = [draw(n, 7), draw(n, 8).map(Math.abs)];
    const want = [theta.slice(), m.slice(), v.slice()];
    for (let i = 0; i < n; i++) {
      const g = grad[i];
      want[1][i] = 0.9 * m[i] + (1 - 0.9) * g;
      want[2][i] = 0.99 * v[i] + (1 - 0.99) * g * g;
      const decayed = theta[i] - 0.01 * 0.1 * theta[i];
      want[0][i] = decayed - 0.01 * (want[1][i] / 0.1) / (Math.sqrt(want[2][i] / 0.01) + 1e-8);
    }
    simdKernels.adam(theta, grad, m, v, settings);
    assert.deepEqual([theta, m, v], want);
    // float32 θ and g (the float32 kernel): the same float64 arithmetic, θ rounded once.
    const [theta32, grad32] = [Float32Array.from(draw(n, 9)), Float32Array.from(draw(n, 10))];
    const [m32, v32] = [draw(n, 11), draw(n, 12).map(Math.abs)];
    const want32 = [theta32.slice(), m32.slice(), v32.slice()] as const;
    for (let i = 0; i < n; i++) {
      const g = grad32[i];
      want32[1][i] = 0.9 * m32[i] + (1 - 0.9) * g;
      want32[2][i] = 0.99 * v32[i] + (1 - 0.99) * g * g;
      const decayed = theta32[i] - 0.01 * 0.1 * theta32[i];
      want32[0][i] = decayed -
        0.01 * (want32[1][i] / 0.1) / (Math.sqrt(want32[2][i] / 0.01) + 1e-8);
    }
    simdKernels.adam(theta32, grad32, m32, v32, settings);
    assert.deepEqual([theta32, m32, v32], want32);
  });
});

Deno.test("SIMD finiteness test finds the first ±∞ or NaN as the loop does", () => {
  const reference = (x: FloatArray) => {
    for (let e = 0; e < x.length; e++) if (!Number.isFinite(x[e])) return e;
    return -1;
  };
  fc.assert(
    fc.property(
      dtype,
      fc.oneof(length, fc.integer({ min: 8190, max: 2 * 8192 + 5 })),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(NaN, Infinity, -Infinity))),
      fc.constantFrom(0, 1, 1e-45, 3.4e38, -3.4e38, 1.7e308),
      (dtype, n, bad, fill) => {
        const x = allocate(dtype, n).fill(fill);
        for (const [at, value] of bad) if (n > 0) x[at % n] = value;
        assert.equal(simdKernels.firstNonFinite(x), reference(x), `${dtype} n=${n}`);
        assert.equal(firstNonFinite(x), reference(x));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("SIMD finiteness test finds one culprit at every place of a group of vectors and of a chunk", () => {
  for (const dtype of ["float32", "float64"] as const) {
    const n = 2 * 8192 + 21; // two chunks and part of a third, not a whole group of vectors
    const x = allocate(dtype, n).fill(1.5);
    const places = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 8191, 8192, 8193, 16384, n - 2, n - 1];
    for (const at of places) {
      for (const value of [NaN, Infinity, -Infinity]) {
        x[at] = value;
        assert.equal(simdKernels.firstNonFinite(x), at, `${dtype}[${at}] = ${value}`);
        x[at] = 1.5;
      }
    }
    assert.equal(simdKernels.firstNonFinite(x), -1);
  }
});

Deno.test("SimdAdamMoments: TensorAdamW's moments in the kernels' memory, in chunks, as the loop", () => {
  for (const dtype of ["float32", "float64"] as const) {
    const trained = (mode: SimdMode) =>
      inMode(mode, () => {
        const n = 2 * 8192 + 7;
        const w = new Tensor(Float64Array.from({ length: n }, (_, i) => Math.sin(i)), [n], {
          requiresGrad: true,
          dtype,
        });
        const b = new Tensor(new Float64Array(5).fill(0.5), [5], { requiresGrad: true, dtype });
        const optimizer = new TensorAdamW(new Map([["w", w], ["b", b]]), {
          learningRate: 0.01,
          weightDecay: 0.1,
        });
        for (let s = 0; s < 3; s++) {
          optimizer.zeroGrad();
          w.mul(w).sum().add(b.sum()).backward();
          optimizer.step();
        }
        const state = optimizer.state();
        return [[...w.data], [...b.data], [...state.slots.get("m")!.get("w")!.data]];
      });
    assert.deepEqual(trained("always"), trained("never"), dtype);
  }
  // Beyond 256 MiB of moments the optimizer keeps plain arrays (nothing is allocated here).
  assert.equal(SimdAdamMoments.create([2 ** 25]), null);
  assert.notEqual(SimdAdamMoments.create([2 ** 20]), null);
});

Deno.test("the module without fused multiply-add (machines without relaxed SIMD) is as accurate", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const kernels = new WebAssembly.Instance(
    new WebAssembly.Module(simdModuleBytes({ fused: false })),
    { env: { memory } },
  ).exports as Record<string, (...args: number[]) => void>;
  const heap = new Float64Array(memory.buffer);
  const n = 4001; // odd: the last vector runs past the end
  const bounds = { exp: 2, tanh: 5, gelu: 4 } as const;
  for (const op of ["exp", "tanh", "gelu"] as const) {
    for (let i = 0; i < n; i++) heap[i] = (i / n - 0.5) * 60;
    const want = new Float64Array(n);
    hotLoops.unary[op].forward(heap.subarray(0, n), want);
    kernels[op](0, 8 * (n + 1), n);
    const got = heap.subarray(n + 1, 2 * n + 1);
    const worst = maxUlps(got, want, "float64");
    assert.ok(worst <= bounds[op], `${op}: ${worst} ulps`);
  }
});

Deno.test("a softmax larger than the kernels' memory grows it", () => {
  const [rows, width] = [40, 5001]; // 2 × 1.6 MB against 1 MB to start with
  const x = Float64Array.from({ length: rows * width }, (_, i) => Math.sin(i) * 30);
  const got = new Float64Array(x.length);
  simdKernels.softmax(x, got, rows, width);
  const want = inMode(
    "never",
    () => tensorOps.softmax.forward([{ data: x, shape: [rows, width] }], { axis: -1 }).data,
  );
  assert.ok(maxUlps(got, want, "float64") <= SOFTMAX_ULPS);
});

Deno.test("setSimdMode refuses an unknown mode with a TypeError naming it", () => {
  assert.throws(() => setSimdMode("sometimes" as SimdMode), /TypeError: setSimdMode.*sometimes/);
  assert.equal(simdMode(), "measured");
});
