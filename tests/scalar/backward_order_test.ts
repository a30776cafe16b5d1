import assert from "node:assert/strict";
import { ops, topologicalOrder, Value } from "../../mod.ts";

/** Makes `count` nodes that no graph uses, so that what is made next is far behind. */
function makeMany(count: number): void {
  let v = new Value(1);
  for (let i = 0; i < count; i++) v = v.add(1);
}

Deno.test("a number operand is kept on the node, not made a node", async (t) => {
  await t.step("x·2, x + 2, x − 2, x / 2, x ** 2", () => {
    const x = new Value(3);
    const made = [x.mul(2), x.add(2), x.sub(2), x.div(2), x.pow(2)];
    assert.deepEqual(made.map((v) => v.data), [6, 5, 1, 1.5, 9]);
    for (const v of made) {
      assert.equal(v.a, x);
      assert.equal(v.b, null);
      assert.equal(v.constant, 2);
      assert.equal(topologicalOrder(v).length, 2); // x and the result
    }
    const grads = made.map((v) => {
      x.grad = 0;
      v.backward();
      return x.grad;
    });
    assert.deepEqual(grads, [2, 1, 1, 0.5, 6]);
  });
  await t.step("a clamped denominator is kept as the constant ±eps", () => {
    const b = new Value(-1e-13);
    const q = new Value(1).div(b);
    assert.equal(q.b, null);
    assert.equal(q.constant, -1e-12);
    q.backward();
    assert.equal(b.grad, 0);
  });
  await t.step("W2's chain: 3 nodes a step, not 5", () => {
    const x = new Value(0.5);
    let y = x;
    for (let i = 0; i < 1000; i++) y = y.mul(1.0001).add(0.01).tanh();
    assert.equal(topologicalOrder(y).length, 3 * 1000 + 1);
    y.backward();
    assert.equal(y.data, 0.3050708627851931);
    assert.equal(x.grad, 1.3661767652399879e-43);
  });
  await t.step("a unary op's result has constant 0", () => {
    assert.equal(new Value(1).exp().constant, 0);
  });
});

Deno.test("backward orders graphs that creation order does not", async (t) => {
  await t.step("a node wired by hand to an input made after it", () => {
    const early = new Value(0); // becomes an op's result below
    const x = new Value(3);
    const y = x.mul(x); // made after `early`
    early.op = ops.mul;
    early.a = y;
    early.constant = 4;
    early.data = y.data * 4;
    early.backward();
    assert.equal(x.grad, 24); // d/dx 4x² at 3
    assert.equal(y.grad, 4);
    early.backward();
    assert.equal(x.grad, 48);
  });
  await t.step("an op's result made long before the rest of the graph", () => {
    const x = new Value(0.5);
    const e = x.exp(); // made first ...
    makeMany(70_000); // ... then much else
    const w = new Value(2);
    const root = e.mul(w).add(w.mul(x));
    root.backward();
    assert.equal(x.grad, Math.exp(0.5) * 2 + 2);
    assert.equal(w.grad, Math.exp(0.5) + 0.5);
    assert.equal(e.grad, 2);
  });
  await t.step("leaves made long before (a model's parameters)", () => {
    const w = new Value(3);
    const b = new Value(-1);
    makeMany(70_000);
    const loss = w.mul(w).add(b.mul(w)).add(b);
    loss.backward();
    assert.equal(w.grad, 2 * 3 - 1);
    assert.equal(b.grad, 3 + 1);
    loss.backward();
    assert.equal(w.grad, 2 * (2 * 3 - 1));
    assert.equal(b.grad, 2 * (3 + 1));
  });
  await t.step("two results sharing one number (as after the count wraps)", () => {
    // Leaves reached by one pass carry that pass's number; made op results by hand, they
    // share it.
    const p = new Value(2);
    const q = new Value(5);
    p.add(q).backward();
    assert.equal(p.stamp, q.stamp);
    const x = new Value(3);
    for (const node of [p, q]) {
      node.op = ops.mul;
      node.a = x;
      node.constant = node === p ? 2 : 5;
      node.data = 3 * node.constant;
      node.grad = 0;
    }
    x.grad = 0;
    const root = p.add(q);
    root.backward();
    assert.equal(x.grad, 7);
  });
  await t.step("a cycle is refused, and the gradients are put back", () => {
    const x = new Value(1);
    const y = x.mul(2);
    const w = new Value(4);
    w.grad = 0.5;
    const root = y.mul(w);
    x.op = ops.neg; // x = −y: x is now its own input, two steps back
    x.a = y;
    assert.throws(() => root.backward(), /^RangeError: backward: the graph has a cycle/);
    assert.equal(w.grad, 0.5);
    assert.equal(y.grad, 0);
    assert.equal(root.grad, 0);
  });
});

Deno.test("backward failures put every gradient back, whatever the order", async (t) => {
  await t.step("shares to a leaf made long before sum to Infinity", () => {
    const w = new Value(0.5);
    w.grad = 0.25;
    makeMany(70_000);
    const product = w.mul(1e308);
    const root = product.add(w.mul(1e308));
    assert.throws(() => root.backward(), /^RangeError: mul: .* makes an input's sum Infinity$/);
    assert.equal(w.grad, 0.25);
    assert.equal(product.grad, 0);
  });
  await t.step("a leaf's old gradient plus this pass's overflows", () => {
    const w = new Value(0.5);
    w.grad = 1e308;
    makeMany(70_000);
    assert.throws(() => w.mul(1e308).backward(), /^RangeError: backward: the gradient of a leaf/);
    assert.equal(w.grad, 1e308);
  });
  await t.step("a failure in a graph ordered by search", () => {
    const early = new Value(0);
    const x = new Value(0);
    x.grad = -3;
    const s = x.sqrt(); // infinite slope at 0
    early.op = ops.mul;
    early.a = s;
    early.constant = 2;
    assert.throws(
      () => early.backward(),
      /^RangeError: sqrt: the gradient at sqrt\(0\) is Infinity$/,
    );
    assert.equal(x.grad, -3);
    assert.equal(s.grad, 0);
    assert.equal(early.grad, 0);
  });
});
