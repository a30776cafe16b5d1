// The finiteness check (lib/tensor/kernels/_finite.ts): its SIMD screen against the
// TypeScript loops it replaces, and both against Number.isFinite, on random lengths (short
// ones that are not multiples of a vector or of the loop's step, and long ones that span
// several of the screen's chunks), with finite values of every magnitude and NaN or
// ±Infinity put at random places.

import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import {
  allFiniteSimd,
  FINITE_SIMD_FROM,
  firstNonFinite,
  firstNonFiniteByLoop,
} from "../../lib/tensor/kernels/_finite.ts";

const SPECIALS = [NaN, Infinity, -Infinity];

/** Finite values of every binade of the type (subnormals, ±0 and the largest included). */
function fill(data: Float32Array | Float64Array, seed: number): void {
  const [low, high] = data instanceof Float32Array ? [-149, 127] : [-1074, 1023];
  const largest = data instanceof Float32Array ? 3.4028234663852886e38 : Number.MAX_VALUE;
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  for (let i = 0; i < data.length; i++) {
    const exponent = low + Math.floor(next() * (high - low + 1));
    const value = (next() < 0.5 ? -1 : 1) * (1 + next()) * 2 ** exponent;
    data[i] = value;
    // Rounded past the largest finite value of the type: that value stands in.
    if (!Number.isFinite(data[i])) data[i] = Math.sign(value) * largest;
    if (next() < 0.01) data[i] = next() < 0.5 ? 0 : -0;
  }
}

Deno.test("finiteness check", async (t) => {
  await t.step("the SIMD screen and the loops agree with Number.isFinite", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("float32", "float64"),
        fc.oneof(fc.integer({ min: 0, max: 67 }), fc.integer({ min: 0, max: 40_000 })),
        fc.array(fc.record({ at: fc.nat(), value: fc.constantFrom(...SPECIALS) }), {
          maxLength: 3,
        }),
        fc.integer(),
        (dtype, length, injected, seed) => {
          const data = dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
          fill(data, seed);
          for (const { at, value } of injected) if (length > 0) data[at % length] = value;
          const want = data.findIndex((x) => !Number.isFinite(x));
          assert.equal(firstNonFiniteByLoop(data), want);
          assert.equal(allFiniteSimd(data), want === -1);
          assert.equal(firstNonFinite(data), want);
        },
      ),
      { numRuns: 300 },
    );
  });

  await t.step("a single culprit is found at every place of a vector and of a chunk", () => {
    for (const Type of [Float32Array, Float64Array]) {
      const length = 16384 + 37; // a chunk and a partial one
      const data = new Type(length).fill(1.5);
      for (const at of [0, 1, 2, 3, 15, 16, 16383, 16384, 16385, length - 1]) {
        for (const value of SPECIALS) {
          data[at] = value;
          assert.equal(allFiniteSimd(data), false, `${Type.name}[${at}] = ${value}`);
          assert.equal(firstNonFinite(data), at);
          data[at] = 1.5;
        }
      }
      assert.equal(allFiniteSimd(data), true);
      assert.equal(firstNonFinite(data), -1);
    }
  });

  await t.step("arrays shorter than the screen's threshold go to the loop alone", () => {
    const length = FINITE_SIMD_FROM.float32 - 1;
    const data = new Float32Array(length).fill(2);
    data[length - 1] = -Infinity;
    assert.equal(firstNonFinite(data), length - 1);
  });
});
