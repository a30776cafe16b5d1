import assert from "node:assert/strict";
import { isGradEnabled, noGrad, ops, tensor, Value } from "../../mod.ts";
import { noGrad as scalarNoGrad } from "../../lib/scalar/mod.ts";
import { noGrad as tensorNoGrad } from "../../lib/tensor/mod.ts";

Deno.test("detach: a new leaf with the same data and no history", async (t) => {
  await t.step("of a leaf and of an op's result", () => {
    const x = new Value(1.5, { label: "x" });
    const y = x.mul(x).add(1);
    for (const v of [x, y]) {
      const d = v.detach();
      assert.notEqual(d, v);
      assert.equal(d.data, v.data);
      assert.equal(d.grad, 0);
      assert.equal(d.op, null);
      assert.equal(d.a, null);
      assert.equal(d.b, null);
      assert.equal(d.label, "");
    }
  });
  await t.step("gradients stop at it", () => {
    const x = new Value(3);
    const y = x.mul(x.detach()); // d/dx (x · c) with c = 3 held constant
    y.backward();
    assert.equal(x.grad, 3);
    const z = x.tanh().detach().mul(x);
    x.grad = 0;
    z.backward();
    assert.equal(x.grad, Math.tanh(3));
  });
  await t.step("later changes to the original's data do not reach it", () => {
    const w = new Value(2);
    const d = w.detach();
    w.data = 5;
    assert.equal(d.data, 2);
  });
});

Deno.test("noGrad: scalar ops inside record no graph", async (t) => {
  await t.step("every op returns a leaf holding the right number", () => {
    const x = new Value(0.7);
    const w = new Value(-1.2);
    const made = noGrad(() => [
      x.add(w),
      x.sub(2),
      x.mul(w),
      x.div(w),
      x.pow(2),
      x.pow(new Value(1.5)),
      x.exp(),
      x.tanh(),
      x.relu(),
    ]);
    const expected = [0.7 + -1.2, 0.7 - 2, 0.7 * -1.2, 0.7 / -1.2, 0.7 ** 2, 0.7 ** 1.5];
    expected.push(Math.exp(0.7), Math.tanh(0.7), 0.7);
    made.forEach((v, i) => {
      assert.equal(v.data, expected[i]);
      assert.ok(v.op === null && v.a === null && v.b === null && v.constant === 0, `${i}`);
    });
  });
  await t.step("a result made inside is a constant for what is built outside", () => {
    const x = new Value(2);
    const scale = noGrad(() => x.mul(3));
    const y = x.mul(scale); // 6x with the 6 fixed
    y.backward();
    assert.equal(x.grad, 6);
  });
  await t.step("checks still run inside", () => {
    assert.throws(() => noGrad(() => new Value(-1).log()), /^RangeError: log: log\(-1\) is NaN/);
  });
  await t.step("scopes nest, return fn's value, and end even by a throw", () => {
    const x = new Value(2);
    assert.equal(isGradEnabled(), true);
    const inner = noGrad(() => {
      const v = noGrad(() => x.mul(2));
      assert.equal(isGradEnabled(), false); // the inner scope's end does not switch it on
      return v.add(x);
    });
    assert.equal(inner.op, null);
    assert.equal(isGradEnabled(), true);
    assert.equal(x.mul(2).op, ops.mul);
    assert.throws(() =>
      noGrad(() => {
        throw new Error("inside");
      }), /inside/);
    assert.equal(isGradEnabled(), true);
    assert.equal(x.mul(2).op, ops.mul);
  });
});

Deno.test("noGrad: one switch for both engines", async (t) => {
  await t.step("the root, /scalar and /tensor export the same function", () => {
    assert.equal(scalarNoGrad, noGrad);
    assert.equal(tensorNoGrad, noGrad);
  });
  await t.step("one scope turns off recording for Values and Tensors alike", () => {
    const x = new Value(2);
    const w = tensor([1, 2], { requiresGrad: true });
    const [v, t2] = noGrad(() => [x.mul(x), w.mul(w)] as const);
    assert.equal(v.op, null);
    assert.equal(t2.requiresGrad, false);
    assert.equal(t2.op, null);
    assert.equal(x.mul(x).op, ops.mul);
    assert.equal(w.mul(w).requiresGrad, true);
  });
});
