import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { Value } from "../../mod.ts";

type Fn = (...xs: Value[]) => Value;

/** Value and gradients of `fn` at `inputs`, from one backward on fresh leaves. */
function evaluate(fn: Fn, inputs: readonly number[]): { value: number; grads: number[] } {
  const leaves = inputs.map((x) => new Value(x));
  const out = fn(...leaves);
  out.backward();
  return { value: out.data, grads: leaves.map((leaf) => leaf.grad) };
}

/**
 * Asserts that two formulations of one function agree in value and in every gradient, to
 * `tolerance` relative to 1 + the magnitude (0: bit for bit, up to the sign of zero).
 */
function sameFunction(f: Fn, g: Fn, inputs: readonly number[], tolerance = 0): void {
  const left = evaluate(f, inputs);
  const right = evaluate(g, inputs);
  const close = (p: number, q: number) => Math.abs(p - q) <= tolerance * (1 + Math.abs(q));
  assert.ok(close(left.value, right.value), `value ${left.value} vs ${right.value} at ${inputs}`);
  left.grads.forEach((grad, i) =>
    assert.ok(close(grad, right.grads[i]), `grad ${i}: ${grad} vs ${right.grads[i]} at ${inputs}`)
  );
}

const real = fc.double({ min: -5, max: 5, noNaN: true });
const positive = fc.double({ min: 0.05, max: 5, noNaN: true });
const awayFromZero = real.filter((x) => Math.abs(x) >= 0.2);
const numRuns = 200;

/** Runs `check` on draws of one number per arbitrary. */
function holds(arbitraries: fc.Arbitrary<number>[], check: (...xs: number[]) => void): void {
  fc.assert(fc.property(fc.tuple(...arbitraries), (xs) => check(...xs)), { numRuns });
}

Deno.test("identities of values and gradients", async (t) => {
  await t.step("x − x is 0 with gradient 0", () => {
    holds([real], (x) => {
      const { value, grads } = evaluate((v) => v.sub(v), [x]);
      assert.ok(value === 0 && grads[0] === 0, `at ${x}`);
    });
  });
  await t.step("x·2 = x + x, gradient 2", () => {
    holds([real], (x) => {
      sameFunction((v) => v.mul(2), (v) => v.add(v), [x]);
      assert.equal(evaluate((v) => v.add(v), [x]).grads[0], 2);
    });
  });
  await t.step("x.pow(2) = x·x", () => {
    holds([real], (x) => sameFunction((v) => v.pow(2), (v) => v.mul(v), [x], 1e-15));
  });
  await t.step("x.pow(3) = x·x·x", () => {
    holds([real], (x) => sameFunction((v) => v.pow(3), (v) => v.mul(v).mul(v), [x], 1e-14));
  });
  await t.step("exp(log x) = x with gradient 1", () => {
    holds([positive], (x) => {
      sameFunction((v) => v.log().exp(), (v) => v, [x], 1e-15);
      assert.ok(Math.abs(evaluate((v) => v.log().exp(), [x]).grads[0] - 1) < 1e-15);
    });
  });
  await t.step("log(exp x) = x with gradient 1", () => {
    holds([real], (x) => sameFunction((v) => v.exp().log(), (v) => v.mul(1), [x], 1e-15));
  });
  await t.step("sub(a, b) = add(a, neg b)", () => {
    holds(
      [real, real],
      (a, b) => sameFunction((p, q) => p.sub(q), (p, q) => p.add(q.neg()), [a, b]),
    );
  });
  await t.step("neg(neg x) = x", () => {
    holds([real], (x) => sameFunction((v) => v.neg().neg(), (v) => v.mul(1), [x]));
  });
  await t.step("div(a, b) = mul(a, b.pow(−1)) away from 0", () => {
    holds(
      [real, awayFromZero],
      (a, b) => sameFunction((p, q) => p.div(q), (p, q) => p.mul(q.pow(-1)), [a, b], 1e-14),
    );
  });
  await t.step("a.pow(b) = exp(b·log a) for a Value exponent", () => {
    holds(
      [positive, fc.double({ min: -3, max: 3, noNaN: true })],
      (a, b) => sameFunction((p, q) => p.pow(q), (p, q) => q.mul(p.log()).exp(), [a, b], 1e-13),
    );
  });
  await t.step("sqrt(x) = x.pow(0.5)", () => {
    holds([positive], (x) => sameFunction((v) => v.sqrt(), (v) => v.pow(0.5), [x], 1e-15));
  });
  await t.step("sigmoid(x) = 1 / (1 + exp(−x))", () => {
    holds(
      [fc.double({ min: -10, max: 10, noNaN: true })],
      (x) => sameFunction((v) => v.sigmoid(), (v) => v.neg().exp().add(1).pow(-1), [x], 1e-15),
    );
  });
  await t.step("softplus' = sigmoid", () => {
    holds([fc.double({ min: -30, max: 30, noNaN: true })], (x) => {
      const slope = evaluate((v) => v.softplus(), [x]).grads[0];
      assert.equal(slope, new Value(x).sigmoid().data);
    });
  });
  await t.step("softplus(x) = log(1 + exp x)", () => {
    holds(
      [real],
      (x) => sameFunction((v) => v.softplus(), (v) => v.exp().add(1).log(), [x], 1e-15),
    );
  });
  await t.step("softplus(x) − softplus(−x) = x", () => {
    holds(
      [real],
      (x) => sameFunction((v) => v.softplus().sub(v.neg().softplus()), (v) => v.mul(1), [x], 1e-14),
    );
  });
  await t.step("tanh(x) = 2·sigmoid(2x) − 1", () => {
    holds(
      [real],
      (x) => sameFunction((v) => v.tanh(), (v) => v.mul(2).sigmoid().mul(2).sub(1), [x], 1e-15),
    );
  });
  await t.step("sin² + cos² = 1 with gradient 0", () => {
    holds([real], (x) => {
      const { value, grads } = evaluate((v) => v.sin().pow(2).add(v.cos().pow(2)), [x]);
      assert.ok(Math.abs(value - 1) < 1e-15 && Math.abs(grads[0]) < 1e-15, `at ${x}`);
    });
  });
  await t.step("cos(x) = sin(x + π/2)", () => {
    holds([real], (x) => sameFunction((v) => v.cos(), (v) => v.add(Math.PI / 2).sin(), [x], 1e-15));
  });
  await t.step("abs(x) = sqrt(x·x) away from 0", () => {
    holds([awayFromZero], (x) => sameFunction((v) => v.abs(), (v) => v.mul(v).sqrt(), [x], 1e-15));
  });
  await t.step("relu(x) = (x + |x|) / 2 away from 0", () => {
    holds(
      [awayFromZero],
      (x) => sameFunction((v) => v.relu(), (v) => v.add(v.abs()).mul(0.5), [x], 1e-15),
    );
  });
  await t.step("log(a·b) = log a + log b", () => {
    holds(
      [positive, positive],
      (a, b) =>
        sameFunction((p, q) => p.mul(q).log(), (p, q) => p.log().add(q.log()), [a, b], 1e-14),
    );
  });
  await t.step("exp(a + b) = exp a · exp b", () => {
    holds(
      [real, real],
      (a, b) =>
        sameFunction((p, q) => p.add(q).exp(), (p, q) => p.exp().mul(q.exp()), [a, b], 1e-14),
    );
  });
  await t.step("(a + b)² = a² + 2ab + b²", () => {
    holds([real, real], (a, b) =>
      sameFunction(
        (p, q) => p.add(q).pow(2),
        (p, q) => p.mul(p).add(p.mul(q).mul(2)).add(q.mul(q)),
        [a, b],
        1e-13,
      ));
  });
});

Deno.test("sameFunction notices two different functions", () => {
  assert.throws(() => sameFunction((v) => v.sin(), (v) => v.cos(), [1], 1e-6), /value/);
  // Same value, different gradient: x·x against the constant x·(x's value).
  assert.throws(
    () => sameFunction((v) => v.mul(v), (v) => v.mul(v.data), [1.5], 1e-6),
    /grad 0: 3 vs 1\.5/,
  );
});
