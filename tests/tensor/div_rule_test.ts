import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { DEFAULT_EPS, Value } from "../../lib/scalar/value.ts";
import { tensor } from "../../lib/tensor/tensor.ts";

// One division rule for both engines: the denominator's magnitude is kept at least eps
// (default DEFAULT_EPS, sign kept, 0 counts as positive), and the gradient is that of what is
// computed. The same inputs must give the same quotient and the same two gradients.

const denominators = fc.oneof(
  fc.constantFrom(0, -0, DEFAULT_EPS, -DEFAULT_EPS, DEFAULT_EPS / 2, -DEFAULT_EPS / 2, 1e-300),
  fc.double({ min: -1, max: 1, noNaN: true }),
  fc.double({ min: -1e-11, max: 1e-11, noNaN: true }),
);
const epsilons = fc.constantFrom(undefined, 0.5, 1e-3, DEFAULT_EPS, 0);

Deno.test("Value.div and Tensor.div follow the same epsilon rule, forward and backward", () => {
  fc.assert(
    fc.property(
      fc.double({ min: -5, max: 5, noNaN: true }),
      denominators,
      epsilons,
      (a, b, eps) => {
        const options = eps === undefined ? undefined : { eps };
        const va = new Value(a);
        const vb = new Value(b);
        let scalar: Value;
        try {
          scalar = va.div(vb, options);
          scalar.backward();
        } catch (error) {
          // Only a quotient or gradient beyond float64 is refused (e.g. eps 0 and a subnormal
          // b), and by both engines.
          assert.ok(error instanceof RangeError);
          assert.throws(() => {
            const tb = tensor([b], { requiresGrad: true });
            tensor([a]).div(tb, options).sum().backward();
          }, RangeError);
          return;
        }
        const ta = tensor([a], { requiresGrad: true });
        const tb = tensor([b], { requiresGrad: true });
        const quotient = ta.div(tb, options);
        quotient.sum().backward();
        // Compared with ===: a scalar leaf adds its gradient to 0, which turns −0 into 0.
        assert.ok(quotient.data[0] === scalar.data, `${quotient.data[0]} vs ${scalar.data}`);
        assert.ok(ta.grad!.data[0] === va.grad, `∂/∂a ${ta.grad!.data[0]} vs ${va.grad}`);
        assert.ok(tb.grad!.data[0] === vb.grad, `∂/∂b ${tb.grad!.data[0]} vs ${vb.grad}`);
      },
    ),
    { numRuns: 1000, seed: 7 },
  );
});

Deno.test("the rule at a glance: 1/0 is 1/eps and the denominator gets no gradient there", () => {
  const b = tensor([0, 0.25, -1e-13], { requiresGrad: true });
  const q = tensor([1, 1, 1]).div(b);
  q.sum().backward();
  assert.deepEqual(Array.from(q.data), [1 / DEFAULT_EPS, 4, -1 / DEFAULT_EPS]);
  assert.deepEqual(Array.from(b.grad!.data), [0, -16, 0]);
  const v = new Value(0);
  new Value(1).div(v).backward();
  assert.equal(v.grad, 0);
  assert.throws(
    () => tensor([1]).div(2, { eps: -1 }),
    /^RangeError: div: eps must be a finite number ≥ 0, got -1$/,
  );
});
