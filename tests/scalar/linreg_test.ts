import assert from "node:assert/strict";
import { gradientDescentStep, mse, Value } from "../../lib/scalar/mod.ts";

// The seed's linear regression: fit w in w·x ≈ y with x = 2, y = 8, w₀ = 0, learning rate 0.1
// and loss (w·x − y)². The gradient is 2x(wx − y) = 8w − 32, so one step maps w to
// 0.2w + 3.2, whose solution is w_t = 4·(1 − 0.2^t) and loss_t = (2w_t − 8)² = 64·0.04^t.
const steps = 20;

function closeTo(actual: number, expected: number, relative: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= relative * Math.abs(expected),
    `${what}: ${actual}, expected ${expected}`,
  );
}

Deno.test("linear regression by hand follows w_t = 4·(1 − 0.2^t) step by step", () => {
  const w = new Value(0);
  const x = new Value(2);
  const y = new Value(8);
  let previousLoss = Infinity;
  for (let t = 0; t < steps; t++) {
    closeTo(w.data, 4 * (1 - 0.2 ** t), 1e-12, `w after ${t} steps`);
    const loss = w.mul(x).sub(y).pow(2);
    assert.equal(loss.data, Math.pow(w.data * 2 - 8, 2));
    // Later losses are a difference of nearly equal numbers, squared: only the first
    // steps can be held to the closed form at this precision.
    if (t <= 8) closeTo(loss.data, 64 * 0.04 ** t, 1e-9, `loss after ${t} steps`);
    assert.ok(loss.data < previousLoss, `loss rose at step ${t}`);
    previousLoss = loss.data;
    loss.backward();
    closeTo(w.grad, 8 * w.data - 32, 1e-12, `gradient at step ${t}`);
    // x and y are leaves too: ∂loss/∂x = 2w(wx − y), ∂loss/∂y = −2(wx − y).
    closeTo(y.grad, -2 * (w.data * 2 - 8), 1e-12, `∂loss/∂y at step ${t}`);
    w.data -= 0.1 * w.grad;
    w.grad = 0;
    x.grad = 0;
    y.grad = 0;
  }
  closeTo(w.data, 4 * (1 - 0.2 ** steps), 1e-12, "final w");
});

Deno.test("linear regression with mse and gradientDescentStep takes the same path", () => {
  const w = new Value(0);
  for (let t = 1; t <= steps; t++) {
    const loss = mse([w.mul(2)], [8]);
    loss.backward();
    gradientDescentStep([w], { learningRate: 0.1 });
    assert.equal(w.grad, 0);
    closeTo(w.data, 4 * (1 - 0.2 ** t), 1e-12, `w after ${t} steps`);
  }
});
