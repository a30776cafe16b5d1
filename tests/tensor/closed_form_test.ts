import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { crossEntropy, layerNorm, Tensor, tensor } from "../../lib/tensor/tensor.ts";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";

// Gradients against closed forms written from Math alone: none of these references calls
// the library's forward or backward, so a backward that is uniformly a little wrong (a
// factor of 1.001, a dropped 1/n) cannot agree with them by sharing code.

/** Within a few units in the last place of `expected`. */
function assertClose(got: ArrayLike<number>, expected: readonly number[], what: string): void {
  assert.equal(got.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 1e-14 * Math.max(1, Math.abs(expected[i]));
    assert.ok(
      Math.abs(got[i] - expected[i]) <= tolerance,
      `${what}[${i}]: got ${got[i]}, expected ${expected[i]}`,
    );
  }
}

/** softmax of one row, from Math. */
function softmaxRow(row: readonly number[]): number[] {
  const top = Math.max(...row);
  const e = row.map((v) => Math.exp(v - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

const real = fc.double({ min: -3, max: 3, noNaN: true });

/** rows × cols values, rows and cols in [1, 4]. */
const matrix = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).chain((
  [rows, cols],
) =>
  fc.array(real, { minLength: rows * cols, maxLength: rows * cols }).map((data) => ({
    rows,
    cols,
    data,
  }))
);

function leaf(data: readonly number[], shape: number[]): Tensor {
  return new Tensor(Float64Array.from(data), shape, { requiresGrad: true });
}

Deno.test("crossEntropy backward = (softmax − onehot) / rows × upstream", () => {
  fc.assert(
    fc.property(
      matrix.chain((m) =>
        fc.tuple(
          fc.constant(m),
          fc.array(fc.nat(m.cols - 1), { minLength: m.rows, maxLength: m.rows }),
          fc.double({ min: -4, max: 4, noNaN: true }),
        )
      ),
      ([{ rows, cols, data }, targets, upstream]) => {
        const logits = leaf(data, [rows, cols]);
        crossEntropy(logits, targets).mul(upstream).backward();
        const expected: number[] = [];
        for (let r = 0; r < rows; r++) {
          const p = softmaxRow(data.slice(r * cols, (r + 1) * cols));
          p.forEach((v, c) => expected.push((v - (c === targets[r] ? 1 : 0)) / rows * upstream));
        }
        assertClose(logits.grad!.data, expected, "∂loss/∂logits");
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("layerNorm: ∂/∂weight and ∂/∂bias are column sums of g·x̂ and of g", () => {
  fc.assert(
    fc.property(
      matrix.chain((m) =>
        fc.tuple(
          fc.constant(m),
          fc.array(real, { minLength: 3 * m.cols, maxLength: 3 * m.cols }),
          fc.array(real, { minLength: m.rows * m.cols, maxLength: m.rows * m.cols }),
        )
      ),
      ([{ rows, cols, data }, params, upstream]) => {
        const eps = 1e-5;
        const x = leaf(data, [rows, cols]);
        const weight = leaf(params.slice(0, cols), [cols]);
        const bias = leaf(params.slice(cols, 2 * cols), [cols]);
        const g = new Tensor(Float64Array.from(upstream), [rows, cols]);
        layerNorm(x, weight, bias, { eps }).mul(g).sum().backward();
        const weightGrad = new Array<number>(cols).fill(0);
        const biasGrad = new Array<number>(cols).fill(0);
        for (let r = 0; r < rows; r++) {
          const row = data.slice(r * cols, (r + 1) * cols);
          const mean = row.reduce((a, b) => a + b, 0) / cols;
          const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / cols;
          for (let j = 0; j < cols; j++) {
            weightGrad[j] += upstream[r * cols + j] * (row[j] - mean) / Math.sqrt(variance + eps);
            biasGrad[j] += upstream[r * cols + j];
          }
        }
        // x̂ is computed in another order here, so allow for its rounding, scaled by |g|.
        const scale = upstream.reduce((a, b) => a + Math.abs(b), 0);
        weight.grad!.data.forEach((v, j) =>
          assert.ok(Math.abs(v - weightGrad[j]) <= 1e-12 * (1 + scale), `weight ${j}`)
        );
        assertClose(bias.grad!.data, biasGrad, "∂/∂bias");
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("mean: every element receives 1/n of the upstream gradient", () => {
  fc.assert(
    fc.property(matrix, fc.boolean(), ({ rows, cols, data }, byRow) => {
      const x = leaf(data, [rows, cols]);
      const upstream = data.map((_, i) => Math.cos(i + 0.5)); // any fixed numbers
      if (byRow) {
        const g = new Tensor(Float64Array.from(upstream.slice(0, rows)), [rows]);
        x.mean({ axis: 1 }).backward(g);
        const expected = data.map((_, i) => upstream[Math.floor(i / cols)] / cols);
        assertClose(x.grad!.data, expected, "∂mean(axis 1)/∂x");
      } else {
        x.mean().mul(upstream[0]).backward();
        assertClose(x.grad!.data, data.map(() => upstream[0] / (rows * cols)), "∂mean/∂x");
      }
    }),
    { numRuns: 100 },
  );
});

Deno.test("logSoftmax backward = u − softmax(x)·Σu, row by row", () => {
  fc.assert(
    fc.property(
      matrix.chain((m) =>
        fc.tuple(
          fc.constant(m),
          fc.array(real, { minLength: m.data.length, maxLength: m.data.length }),
        )
      ),
      ([{ rows, cols, data }, upstream]) => {
        const x = leaf(data, [rows, cols]);
        x.logSoftmax().backward(new Tensor(Float64Array.from(upstream), [rows, cols]));
        const expected: number[] = [];
        for (let r = 0; r < rows; r++) {
          const p = softmaxRow(data.slice(r * cols, (r + 1) * cols));
          const u = upstream.slice(r * cols, (r + 1) * cols);
          const total = u.reduce((a, b) => a + b, 0);
          p.forEach((v, c) => expected.push(u[c] - v * total));
        }
        const scale = upstream.reduce((a, b) => a + Math.abs(b), 0);
        x.grad!.data.forEach((v, i) =>
          assert.ok(Math.abs(v - expected[i]) <= 1e-14 * (1 + scale), `element ${i}`)
        );
      },
    ),
    { numRuns: 100 },
  );
});

/** Causal self-attention of one head from the engine's ops: softmax(q·kᵀ·s + mask)·v. */
function attention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const scale = 1 / Math.sqrt(q.shape[q.rank - 1]);
  const scores = q.matmul(k.transpose()).mul(scale).tril({ fill: -1e9 });
  return scores.softmax().matmul(v);
}

Deno.test("attention: gradients of a hand-worked two-token case", () => {
  // One feature (d = 1, scale 1), two tokens. Token 1 sees only itself: out₁ = v₁. Token 2
  // weighs v₁ by p = σ(z), z = q₂·(k₁ − k₂), and v₂ by 1 − p: out₂ = v₂ + p·(v₁ − v₂). With
  // loss a·out₁ + b·out₂ and σ' = p(1 − p):
  //   ∂/∂v₁ = a + b·p        ∂/∂v₂ = b·(1 − p)
  //   ∂/∂q₁ = 0              ∂/∂q₂ = b·(v₁ − v₂)·p(1 − p)·(k₁ − k₂)
  //   ∂/∂k₁ = b·(v₁ − v₂)·p(1 − p)·q₂ = −∂/∂k₂
  const [q1, q2, k1, k2, v1, v2, a, b] = [0.5, 1.25, 0.75, -0.5, 2, -1, 0.3, -1.7];
  const q = leaf([q1, q2], [2, 1]);
  const k = leaf([k1, k2], [2, 1]);
  const v = leaf([v1, v2], [2, 1]);
  const out = attention(q, k, v);
  const p = 1 / (1 + Math.exp(-q2 * (k1 - k2)));
  assertClose(out.data, [v1, v2 + p * (v1 - v2)], "out");
  out.backward(tensor([[a], [b]]));
  const spread = b * (v1 - v2) * p * (1 - p);
  assertClose(v.grad!.data, [a + b * p, b * (1 - p)], "∂/∂v");
  assertClose(q.grad!.data, [0, spread * (k1 - k2)], "∂/∂q");
  assertClose(k.grad!.data, [spread * q2, -spread * q2], "∂/∂k");
});

Deno.test("attention: a three-token, two-feature head against central differences", () => {
  const q = tensor([[0.3, -0.8], [1.1, 0.4], [-0.6, 0.9]]);
  const k = tensor([[0.5, 0.2], [-1.2, 0.7], [0.1, -0.4]]);
  const v = tensor([[1.5, -0.3], [0.2, 0.8], [-0.9, 1.1]]);
  const report = gradcheckTensor(attention, [q, k, v]);
  assert.ok(report.passed);
  // Token 1 attends to itself alone (its weight is exactly 1 whatever q₁ is): q₁'s gradient
  // is exactly 0.
  assert.deepEqual(Array.from(report.analytic[0].slice(0, 2)), [0, 0]);
});
