import assert from "node:assert/strict";
import fc from "fast-check";
import { Value } from "../mod.ts";

Deno.test("Value: the seed's linear regression converges to w = 4", () => {
  const w = new Value(0);
  for (let step = 0; step < 50; step++) {
    const loss = w.mul(2).sub(8).pow(2);
    loss.backward();
    w.data -= 0.1 * w.grad;
    w.grad = 0;
  }
  assert.ok(Math.abs(w.data - 4) < 1e-9);
});

Deno.test("fast-check is importable", () => {
  fc.assert(fc.property(fc.double({ min: -5, max: 5, noNaN: true }), (x) => {
    const v = new Value(x);
    v.add(v).backward();
    return v.grad === 2;
  }));
});
