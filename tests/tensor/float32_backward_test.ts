import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { type LayerNormParams, tensorOps, type TensorOpSpec } from "../../lib/tensor/ops.ts";
import { applyOp, layerNorm, linear, randn, Tensor, tensor } from "../../lib/tensor/tensor.ts";
import type { FloatArray } from "../../lib/tensor/_dtype.ts";
import { setSimdMode } from "../../lib/tensor/kernels/simd.ts";

// An op's float32 backward must give, for each input, what its float64 backward gives on the
// same gradient widened: a float32 gradient rounded once from it (bit for bit), or the very
// same float64 gradient.
function assertFloat32Backward<P>(
  what: string,
  op: TensorOpSpec<P>,
  inputs: Tensor[],
  params: P,
  seed: number,
): void {
  assert.ok(op.backwardFloat32 !== undefined, `${op.name} has a float32 backward`);
  const out = applyOp(op, inputs, params);
  assert.ok(out.data instanceof Float32Array);
  const grad = randn(out.shape, { seed, dtype: "float32" }).data as Float32Array;
  const context = {
    inputs,
    out,
    saved: out.saved,
    params,
    needs: inputs.map(() => true),
  };
  const narrow = op.backwardFloat32({ ...context, grad }).map((g) => g!.slice());
  const wide = op.backward({ ...context, grad: Float64Array.from(grad) }).map((g) => g!.slice());
  narrow.forEach((g, i) => {
    const want: FloatArray = g instanceof Float32Array ? Float32Array.from(wide[i]) : wide[i];
    assert.equal(g.length, inputs[i].size, `${what}: input ${i}'s gradient has its size`);
    for (let e = 0; e < g.length; e++) {
      assert.ok(
        Object.is(g[e], want[e]),
        `${what}: input ${i} element ${e}: float32 backward ${g[e]}, float64's ${wide[i][e]}`,
      );
    }
  });
  // A float32 gradient (the whole point) for an operand of the result's size whose slope
  // reads operands of that size only (add's and sub's first operand's slope is 1); layer
  // norm's ∂x. Sums over repetitions (a repeated operand, ∂weight, ∂bias) stay float64.
  const whole = inputs.every((x) => x.size === out.size);
  inputs.forEach((x, i) => {
    const slopeOne = op.name === "add" || (op.name === "sub" && i === 0);
    const float32 = op.name === "layerNorm" ? i === 0 : x.size === out.size && (whole || slopeOne);
    assert.equal(narrow[i] instanceof Float32Array, float32, `${what}: input ${i}'s type`);
  });
}

// Leaves that require a gradient, so that applyOp keeps what forward saved for backward.
const float32 = (shape: number[], seed: number) =>
  randn(shape, { seed, dtype: "float32", requiresGrad: true });

Deno.test("backwardFloat32 of add, sub, mul: float64's gradient rounded once, equal and repeated operands", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("add", "sub", "mul"),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 70 }),
      fc.constantFrom("same", "row", "scalar", "left row"),
      fc.nat(1000),
      (name, rows, width, layout, seed) => {
        const a = float32(layout === "left row" ? [width] : [rows, width], seed);
        const b = float32(
          layout === "same" || layout === "left row"
            ? [rows, width]
            : layout === "row"
            ? [width]
            : [],
          seed + 1,
        );
        const op = tensorOps[name as "add" | "sub" | "mul"];
        assertFloat32Backward(`${name} ${layout} ${rows}×${width}`, op, [a, b], undefined, seed);
      },
    ),
  );
});

Deno.test("backwardFloat32 of gelu, tanh, exp: float64's gradient rounded once", () => {
  for (const mode of ["never", "always"] as const) {
    setSimdMode(mode); // the forward's kernel decides the saved result backward reads
    try {
      fc.assert(
        fc.property(
          fc.constantFrom("gelu", "tanh", "exp"),
          fc.integer({ min: 1, max: 300 }),
          fc.nat(1000),
          (name, n, seed) => {
            const op = tensorOps[name as "gelu" | "tanh" | "exp"];
            assertFloat32Backward(
              `${name} ${n} (${mode})`,
              op,
              [float32([n], seed)],
              undefined,
              seed,
            );
          },
        ),
      );
    } finally {
      setSimdMode("measured");
    }
  }
});

Deno.test("backwardFloat32 of layerNorm: ∂x rounded once from float64's, ∂weight and ∂bias float64's", () => {
  // Below and above the size from which the backward runs its SIMD kernel (1024), and with
  // the kernel forced either way.
  for (const mode of ["measured", "never", "always"] as const) {
    setSimdMode(mode);
    try {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 40 }),
          fc.constantFrom(1, 5, 64),
          fc.nat(1000),
          (rows, width, seed) => {
            const params: LayerNormParams = { eps: 1e-5 };
            const inputs = [
              float32([rows, width], seed),
              float32([width], seed + 1),
              float32([width], seed + 2),
            ];
            assertFloat32Backward(
              `layerNorm ${rows}×${width} (${mode})`,
              tensorOps.layerNorm,
              inputs,
              params,
              seed,
            );
          },
        ),
        { numRuns: 30 },
      );
    } finally {
      setSimdMode("measured");
    }
  }
});

Deno.test("backward: float32 gradients stay float32 through a transformer block's layer norm, linear, GELU and residual adds", () => {
  const leaf = (shape: number[], seed: number) =>
    randn(shape, { seed, dtype: "float32", requiresGrad: true });
  const x = leaf([2, 3, 8], 1);
  const [lw, lb] = [leaf([8], 2), leaf([8], 3)];
  const [w1, b1, w2, b2] = [leaf([32, 8], 4), leaf([32], 5), leaf([8, 32], 6), leaf([8], 7)];
  const head = leaf([5, 8], 8);
  const normed = layerNorm(x, lw, lb);
  const hidden = linear(normed, w1, b1);
  const activated = hidden.gelu();
  const projected = linear(activated, w2, b2);
  const residual = x.add(projected);
  const logits = linear(residual, head);
  logits.backward(randn(logits.shape, { seed: 9, dtype: "float32" }), { intermediateGrads: true });
  for (const [name, t] of Object.entries({ normed, hidden, activated, projected, residual, x })) {
    assert.ok(t.grad!.data instanceof Float32Array, `${name}'s gradient is float32`);
  }
  // The residual add hands its gradient on as it is: equal to the sum's.
  assert.deepEqual(Array.from(projected.grad!.data), Array.from(residual.grad!.data));
});

Deno.test("backward: a float32 gradient beyond float32's range is refused, never made Infinity", () => {
  type Dtype = "float32" | "float64";
  // Each: a result, the leaf whose gradient overflows float32, and the seed of backward.
  const cases: [string, (dtype: Dtype) => [Tensor, Tensor, number[][]], RegExp][] = [
    [
      "mul",
      (dtype) => {
        const a = tensor([[2]], { dtype, requiresGrad: true });
        return [a.mul(tensor([[1e38]], { dtype })), a, [[1e38]]];
      },
      /^RangeError: backward: the gradient reaching input 0 of mul \(shape \[1,1\]\) is Infinity at \[0,0\]$/,
    ],
    [
      "gelu",
      (dtype) => {
        const a = tensor([[1]], { dtype, requiresGrad: true });
        return [a.gelu(), a, [[3.3e38]]];
      },
      /^RangeError: backward: the gradient reaching input 0 of gelu \(shape \[1,1\]\) is Infinity at \[0,0\]$/,
    ],
    [
      "layerNorm",
      (dtype) => {
        // Rows that vary little have a large 1/σ: ∂x is about 1/σ times the upstream
        // gradient times the weight, which forward's finite result does not bound.
        const a = tensor([[1, 1.001, 1.003]], { dtype, requiresGrad: true });
        const w = tensor([1e18, 1, 1], { dtype });
        const b = tensor([0, 0, 0], { dtype });
        return [layerNorm(a, w, b, { eps: 1e-12 }), a, [[5e18, 0, 0]]];
      },
      /^RangeError: backward: the gradient reaching input 0 of layerNorm \(shape \[1,3\]\) is -?Infinity at \[0,\d\]$/,
    ],
  ];
  for (const [name, build, message] of cases) {
    const [wide, wideLeaf, seed] = build("float64");
    wide.backward(tensor(seed));
    assert.ok(
      Array.from(wideLeaf.grad!.data).some((g) => Math.abs(g) > 3.5e38),
      `${name}: in float64 the gradient is finite and beyond float32's range`,
    );
    const [narrow, narrowLeaf] = build("float32");
    assert.throws(() => narrow.backward(tensor(seed, { dtype: "float32" })), message, name);
    assert.equal(narrowLeaf.grad, null, `${name}: nothing changed`);
  }
});

Deno.test("finiteness check: NaN, ±Infinity and other NaNs refused at every position and lane, finite extremes kept", () => {
  // NaNs of several bit patterns (quiet, signalling payload, negative), written as bits.
  const bad64 = (words: Int32Array, at: number, which: number) => {
    const values: [number, number][] = [
      [0x7ff80000, 0], // NaN
      [0x7ff00000, 0], // +Infinity
      [0xfff00000 | 0, 0], // −Infinity
      [0x7ff00000, 1], // NaN, smallest payload
      [0xfff80000 | 0, 5], // negative NaN
    ];
    const [high, low] = values[which];
    const little = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
    words[2 * at + (little ? 1 : 0)] = high;
    words[2 * at + (little ? 0 : 1)] = low;
  };
  const bad32 = [0x7fc00000, 0x7f800000, 0xff800000 | 0, 0x7f800001, 0xffc00003 | 0];
  const finite64 = [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -0, 0, -1.5, 2 ** 1023];
  const finite32 = [3.4028234663852886e38, -3.4028234663852886e38, 2 ** -149, -0, 1, 2 ** 127];
  for (let n = 1; n <= 41; n += n < 20 ? 1 : 7) {
    for (const offset of [0, 1, 3]) {
      // Views that start `offset` elements into their buffer, filled with finite extremes.
      const store64 = new Float64Array(n + offset + 1);
      const store32 = new Float32Array(n + offset + 1);
      for (let i = 0; i < store64.length; i++) store64[i] = finite64[i % finite64.length];
      for (let i = 0; i < store32.length; i++) store32[i] = finite32[i % finite32.length];
      store64[n + offset] = NaN; // past the view's end: must not be seen
      store32[n + offset] = NaN;
      const view64 = store64.subarray(offset, offset + n);
      const view32 = store32.subarray(offset, offset + n);
      assert.equal(new Tensor(view64, [n]).size, n);
      assert.equal(new Tensor(view32, [n]).size, n);
      for (let at = 0; at < n; at++) {
        for (let which = 0; which < 5; which++) {
          const data64 = view64.slice();
          bad64(new Int32Array(data64.buffer), at, which);
          const copy64 = store64.slice();
          copy64.set(data64, offset);
          const data32 = view32.slice();
          new Int32Array(data32.buffer)[at] = bad32[which];
          const copy32 = store32.slice();
          copy32.set(data32, offset);
          for (
            const data of [
              data64,
              data32,
              copy64.subarray(offset, offset + n),
              copy32.subarray(offset, offset + n),
            ]
          ) {
            assert.throws(
              () => new Tensor(data, [n]),
              new RegExp(
                `^RangeError: Tensor: data at \\[${at}\\] is -?(NaN|Infinity), not a finite number$`,
              ),
              `n ${n}, offset ${offset}, position ${at}, pattern ${which}, ${data.constructor.name}`,
            );
          }
        }
      }
    }
  }
});
