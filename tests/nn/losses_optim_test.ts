import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { gradcheck, gradientDescentStep, Value } from "../../mod.ts";
import { mse } from "../../lib/scalar/mod.ts";

const real = fc.double({ min: -5, max: 5, noNaN: true });

Deno.test("mse: value and gradient", async (t) => {
  await t.step("a worked example", () => {
    const p = [new Value(3), new Value(-1), new Value(0.5)];
    const loss = mse(p, [1, 1, new Value(0.5)]);
    assert.equal(loss.data, (4 + 4 + 0) / 3);
    loss.backward();
    // ∂/∂pᵢ = 2(pᵢ − tᵢ)/n
    assert.deepEqual(p.map((v) => v.grad), [4 / 3, -4 / 3, 0]);
  });
  await t.step("numbers are accepted as predictions", () => {
    assert.equal(mse([2, 4], [0, 0]).data, 10);
  });
  await t.step("on random lists: the formula, and gradients by finite differences", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(real, real), { minLength: 1, maxLength: 6 }),
        (pairs) => {
          const n = pairs.length;
          const expected = pairs.reduce((s, [p, q]) => s + (p - q) ** 2, 0) / n;
          const loss = mse(pairs.map(([p]) => new Value(p)), pairs.map(([, q]) => q));
          assert.ok(Math.abs(loss.data - expected) <= 1e-12 * (1 + expected));
          // Both predictions and targets receive gradients when they are Values.
          gradcheck(
            (...xs) => mse(xs.slice(0, n), xs.slice(n)),
            [...pairs.map(([p]) => p), ...pairs.map(([, q]) => q)],
          );
        },
      ),
      { numRuns: 100 },
    );
  });
});

Deno.test("mse: bad input is refused", async (t) => {
  await t.step("length mismatch", () => {
    assert.throws(() => mse([1, 2], [1]), new RangeError("mse: 2 predictions but 1 targets"));
  });
  await t.step("empty lists", () => {
    assert.throws(() => mse([], []), new RangeError("mse: no predictions"));
  });
  await t.step("a prediction that is not a number or a Value", () => {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => mse(["3" as any], [1]),
      new TypeError("mse: expected a Value or a number, got string 3"),
    );
  });
  await t.step("a non-finite prediction or target", () => {
    assert.throws(() => mse([NaN], [1]), /Value: data must be finite, got NaN/);
    assert.throws(() => mse([1], [Infinity]), /sub: operand must be finite, got Infinity/);
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => mse([1], [null as any]),
      /sub: operand must be a number .* got object null/,
    );
  });
});

Deno.test("gradientDescentStep: p ← p − lr·grad, then grad ← 0", async (t) => {
  await t.step("every parameter moves against its gradient", () => {
    const a = new Value(1);
    const b = new Value(-2);
    const loss = a.mul(b).add(b.mul(b)); // ∂a = b = −2, ∂b = a + 2b = −3
    loss.backward();
    gradientDescentStep([a, b], { learningRate: 0.5 });
    assert.deepEqual([a.data, b.data, a.grad, b.grad], [2, -0.5, 0, 0]);
  });
  await t.step("on random parameters", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(real, real), { minLength: 1, maxLength: 5 }),
        fc.double({ min: 1e-6, max: 10, noNaN: true }),
        (pairs, learningRate) => {
          const params = pairs.map(([d, g]) => {
            const v = new Value(d);
            v.grad = g;
            return v;
          });
          gradientDescentStep(params, { learningRate });
          params.forEach((p, i) => {
            assert.equal(p.data, pairs[i][0] - learningRate * pairs[i][1]);
            assert.equal(p.grad, 0);
          });
        },
      ),
      { numRuns: 100 },
    );
  });
  await t.step("no parameters, no options or an unknown option is refused", () => {
    assert.throws(
      () => gradientDescentStep([], { learningRate: 0.1 }),
      /^RangeError: gradientDescentStep: no parameters to train \(an empty list\)/,
    );
    const w = new Value(1);
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => gradientDescentStep([w], { lr: 0.1 } as any),
      /^TypeError: gradientDescentStep: unknown option "lr" \(did you mean learningRate\?\)/,
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => gradientDescentStep([w], undefined as any),
      /^TypeError: gradientDescentStep: options are required/,
    );
    assert.equal(w.data, 1); // nothing moved
  });
});

Deno.test("gradientDescentStep: a bad step changes nothing", async (t) => {
  function params(): Value[] {
    const a = new Value(1.5);
    a.grad = 0.25;
    const b = new Value(-3);
    b.grad = 2;
    return [a, b];
  }
  const snapshot = (ps: Value[]) => ps.map((p) => [p.data, p.grad]);
  for (const learningRate of [0, -1, NaN, Infinity, -Infinity]) {
    await t.step(`learning rate ${learningRate}`, () => {
      const ps = params();
      const before = snapshot(ps);
      assert.throws(
        () => gradientDescentStep(ps, { learningRate }),
        new RangeError(
          `gradientDescentStep: learning rate must be a finite number > 0, got ${learningRate}`,
        ),
      );
      assert.deepEqual(snapshot(ps), before);
    });
  }
  await t.step("a learning rate that is not a number", () => {
    const ps = params();
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => gradientDescentStep(ps, { learningRate: "0.1" as any }),
      /learning rate must be a finite number > 0, got 0\.1/,
    );
  });
  await t.step("an update that would overflow, in the last parameter", () => {
    const ps = params();
    const big = new Value(1e308);
    big.grad = -1e308;
    ps.push(big);
    const before = snapshot(ps);
    assert.throws(
      () => gradientDescentStep(ps, { learningRate: 10 }),
      new RangeError(
        "gradientDescentStep: parameter 2 (data 1e+308, grad -1e+308) would become Infinity",
      ),
    );
    assert.deepEqual(snapshot(ps), before);
  });
  await t.step("a NaN gradient set by hand", () => {
    const ps = params();
    ps[0].grad = NaN;
    const before = snapshot(ps);
    assert.throws(() => gradientDescentStep(ps, { learningRate: 0.1 }), /parameter 0 .* NaN/);
    assert.deepEqual(snapshot(ps), before);
  });
});
