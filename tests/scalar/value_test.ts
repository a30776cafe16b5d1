import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { DEFAULT_EPS, gradcheck, ops, topologicalOrder, Value } from "../../mod.ts";
import { buildDag, dagArbitrary, type DagCase, type DagPlan, planDag } from "./_arbitraries.ts";

const plannedDag: fc.Arbitrary<{ dag: DagCase; plan: DagPlan }> = dagArbitrary()
  .map((dag) => ({ dag, plan: planDag(dag) }))
  .filter((x): x is { dag: DagCase; plan: DagPlan } => x.plan !== null);

/** Every node `root` depends on, found by plain recursion (graphs in these tests are small). */
function reachable(root: Value, found = new Set<Value>()): Set<Value> {
  if (found.has(root)) return found;
  found.add(root);
  if (root.a !== null) reachable(root.a, found);
  if (root.b !== null) reachable(root.b, found);
  return found;
}

/** A diamond whose middle nodes are reused: s = x·y, t = s + x, u = s·t, root = u + t·s. */
function diamond(x0: number, y0: number) {
  const x = new Value(x0, { label: "x" });
  const y = new Value(y0, { label: "y" });
  const s = x.mul(y);
  const t = s.add(x);
  const u = s.mul(t);
  const root = u.add(t.mul(s));
  return { x, y, s, t, u, root };
}

Deno.test("Value: a leaf", async (t) => {
  await t.step("holds its data, no gradient, no op and no inputs", () => {
    const v = new Value(2.5);
    assert.equal(v.data, 2.5);
    assert.equal(v.grad, 0);
    assert.equal(v.op, null);
    assert.equal(v.a, null);
    assert.equal(v.b, null);
    assert.equal(v.label, "");
  });
  await t.step("labels: from the options or set later", () => {
    const v = new Value(1, { label: "w" });
    assert.equal(v.label, "w");
    v.label = "bias";
    assert.equal(v.label, "bias");
    const u = new Value(1);
    u.label = "u";
    assert.equal(u.label, "u");
    assert.equal(new Value(1).label, "");
  });
  await t.step("an op's result records the op and its inputs", () => {
    const x = new Value(2);
    const y = new Value(3);
    const z = x.mul(y);
    assert.equal(z.data, 6);
    assert.equal(z.op, ops.mul);
    assert.equal(z.a, x);
    assert.equal(z.b, y);
    const e = x.exp();
    assert.equal(e.op, ops.exp);
    assert.equal(e.a, x);
    assert.equal(e.b, null);
    const lifted = x.add(4);
    assert.ok(lifted.b instanceof Value && lifted.b.data === 4 && lifted.b.op === null);
  });
});

Deno.test("Value: toString and inspection", () => {
  const x = new Value(2, { label: "x" });
  const y = x.mul(3);
  y.backward();
  assert.equal(String(x), "Value(x, data=2, grad=3)");
  assert.equal(String(y), "Value(data=6, grad=1, op=mul)");
  y.label = "y";
  assert.equal(y.toString(), "Value(y, data=6, grad=1, op=mul)");
  assert.equal(Deno.inspect(y), "Value(y, data=6, grad=1, op=mul)");
  assert.equal(String(new Value(-0.5).pow(2)), "Value(data=0.25, grad=0, op=pow)");
});

Deno.test("backward: a chain of 1,000,000 nodes does not overflow the stack", () => {
  const x = new Value(1);
  let y = x;
  for (let i = 0; i < 1_000_000; i++) y = y.mul(1.000001);
  y.backward();
  // ∂y/∂x is the product of the million factors, which is y itself.
  assert.equal(x.grad, y.data);
  assert.ok(Math.abs(x.grad - Math.E) < 1e-5, `grad ${x.grad}`);
  const order = topologicalOrder(y);
  assert.equal(order.length, 2_000_001); // x, a constant per step, and each product
  assert.equal(order[0], x);
  assert.equal(order.at(-1), y);
});

Deno.test("backward: gradients accumulate where a node is reused", async (t) => {
  await t.step("x·x", () => {
    const x = new Value(3);
    x.mul(x).backward();
    assert.equal(x.grad, 6);
  });
  await t.step("x + x + x", () => {
    const x = new Value(-1.5);
    x.add(x).add(x).backward();
    assert.equal(x.grad, 3);
  });
  await t.step("the diamond: against hand-derived gradients", () => {
    const { x, y, s, t: tt, u, root } = diamond(1.5, -0.5);
    root.backward();
    // root = s·t + t·s = 2st with t = s + x: ∂root/∂s = 2t + 2s, ∂root/∂t = 2s.
    const sv = 1.5 * -0.5;
    const tv = sv + 1.5;
    assert.equal(u.grad, 1);
    assert.equal(tt.grad, 2 * sv);
    assert.equal(s.grad, 2 * tv + 2 * sv);
    assert.equal(x.grad, (2 * tv + 2 * sv) * -0.5 + 2 * sv);
    assert.equal(y.grad, (2 * tv + 2 * sv) * 1.5);
  });
});

Deno.test("backward: leaves accumulate across calls; everything else is this pass's", async (t) => {
  await t.step("two calls give every leaf exactly twice the gradient (diamond)", () => {
    const { x, y, s, t: tt, u, root } = diamond(0.7, 1.9);
    root.backward();
    const once = [x.grad, y.grad];
    const interior = [s.grad, tt.grad, u.grad, root.grad];
    root.backward();
    // Double-counting interior gradients (micrograd's flaw) would give leaves more than 2×.
    assert.deepEqual([x.grad, y.grad], [2 * once[0], 2 * once[1]]);
    assert.deepEqual([s.grad, tt.grad, u.grad, root.grad], interior);
  });
  await t.step("the same on random DAGs", () => {
    fc.assert(
      fc.property(plannedDag, ({ dag, plan }) => {
        const leaves = dag.inputs.map((x) => new Value(x));
        const pool = buildDag(plan, leaves);
        const root = pool.at(-1)!;
        root.backward();
        const first = pool.map((node) => node.grad);
        root.backward();
        pool.forEach((node, i) => {
          const expected = node.op === null ? 2 * first[i] : first[i];
          assert.ok(node.grad === expected, `node ${i}: ${node.grad} vs ${expected}`);
        });
      }),
      { numRuns: 300 },
    );
  });
  await t.step("an interior node shared by two roots holds the last pass's gradient", () => {
    const x = new Value(2);
    const z = x.mul(x);
    const r1 = z.add(1);
    const r2 = z.mul(3);
    r1.backward();
    assert.equal(z.grad, 1);
    assert.equal(x.grad, 4);
    r2.backward();
    assert.equal(z.grad, 3);
    assert.equal(x.grad, 4 + 12);
  });
  await t.step("zeroing a leaf's gradient starts it afresh", () => {
    const x = new Value(2);
    const y = x.mul(5);
    y.backward();
    x.grad = 0;
    y.backward();
    assert.equal(x.grad, 5);
  });
  await t.step("backward from an interior node reaches only what it depends on", () => {
    const x = new Value(2);
    const w = new Value(7);
    const z = x.mul(3);
    z.mul(w); // a consumer outside z's subgraph
    z.backward();
    assert.equal(x.grad, 3);
    assert.equal(w.grad, 0);
  });
});

Deno.test("backward on a leaf", () => {
  const x = new Value(4);
  x.backward();
  assert.equal(x.grad, 1);
  x.backward();
  assert.equal(x.grad, 2);
});

Deno.test("div keeps the denominator's magnitude at least eps", async (t) => {
  await t.step("default eps is DEFAULT_EPS; 0 counts as positive; the sign is kept", () => {
    assert.equal(DEFAULT_EPS, 1e-12);
    assert.equal(new Value(1).div(0).data, 1 / DEFAULT_EPS);
    assert.equal(new Value(1).div(-0).data, 1 / DEFAULT_EPS);
    assert.equal(new Value(1).div(1e-13).data, 1 / DEFAULT_EPS);
    assert.equal(new Value(1).div(-1e-13).data, -1 / DEFAULT_EPS);
    assert.equal(new Value(3).div(new Value(-4e-13)).data, -3 / DEFAULT_EPS);
  });
  await t.step("at and beyond eps the denominator is used as it is", () => {
    assert.equal(new Value(1).div(DEFAULT_EPS).data, 1 / DEFAULT_EPS);
    assert.equal(new Value(1).div(-2e-12).data, -5e11);
    const b = new Value(0.25);
    const q = new Value(1).div(b);
    assert.equal(q.b, b);
  });
  await t.step("eps can be set per call", () => {
    assert.equal(new Value(1).div(0.1, { eps: 0.5 }).data, 2);
    assert.equal(new Value(1).div(-0.1, { eps: 0.5 }).data, -2);
    assert.equal(new Value(1).div(0.1, { eps: 0.01 }).data, 10);
    assert.equal(new Value(1).div(0.1).data, 10);
  });
  await t.step("eps 0 divides exactly, and dividing by 0 is then refused", () => {
    assert.equal(new Value(1).div(1e-300, { eps: 0 }).data, 1 / 1e-300);
    assert.throws(
      () => new Value(1).div(0, { eps: 0 }),
      /^RangeError: div: div\(1, 0\) is Infinity, not a finite number$/,
    );
  });
  await t.step("a bad eps is refused", () => {
    for (const eps of [-1, NaN, Infinity, -Infinity]) {
      assert.throws(
        () => new Value(1).div(2, { eps }),
        new RangeError(`div: eps must be a finite number ≥ 0, got ${eps}`),
      );
    }
  });
  await t.step("in the clamped region the denominator gets no gradient", () => {
    const a = new Value(3);
    const b = new Value(0.2);
    const q = a.div(b, { eps: 0.5 });
    q.backward();
    assert.equal(q.data, 6);
    assert.equal(a.grad, 2);
    assert.equal(b.grad, 0);
  });
  await t.step("gradcheck agrees with backward in the clamped region", () => {
    const clamped = fc.double({ min: -0.49, max: 0.49, noNaN: true }).filter((b) =>
      Math.abs(b) >= 0.01
    );
    fc.assert(
      fc.property(fc.double({ min: -5, max: 5, noNaN: true }), clamped, (a, b) => {
        const report = gradcheck((p, q) => p.div(q, { eps: 0.5 }), [a, b]);
        assert.equal(report.analytic[1], 0);
        assert.equal(report.analytic[0], b < 0 ? -2 : 2);
      }),
      { numRuns: 200 },
    );
  });
  await t.step("gradcheck agrees outside the clamped region too", () => {
    const free = fc.double({ min: -5, max: 5, noNaN: true }).filter((b) => Math.abs(b) >= 0.51);
    fc.assert(
      fc.property(fc.double({ min: -5, max: 5, noNaN: true }), free, (a, b) => {
        gradcheck((p, q) => p.div(q, { eps: 0.5 }), [a, b]);
      }),
      { numRuns: 200 },
    );
  });
});

Deno.test("bad input is refused with an error naming the op and the value", async (t) => {
  const cases: [string, () => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    ["new Value(NaN)", () => new Value(NaN), RangeError, /^Value: data must be finite, got NaN$/],
    [
      "new Value(Infinity)",
      () => new Value(Infinity),
      RangeError,
      /^Value: data must be finite, got Infinity$/,
    ],
    [
      'new Value("3")',
      // deno-lint-ignore no-explicit-any
      () => new Value("3" as any),
      TypeError,
      /^Value: data must be a number, got string "3"$/,
    ],
    [
      "new Value(new Value(3))",
      // deno-lint-ignore no-explicit-any
      () => new Value(new Value(3) as any),
      TypeError,
      /^Value: data must be a number, got object Value\(data=3, grad=0\)$/,
    ],
    [
      "new Value(undefined)",
      // deno-lint-ignore no-explicit-any
      () => new Value(undefined as any),
      TypeError,
      /^Value: data must be .* got undefined undefined$/,
    ],
    ["log(0)", () => new Value(0).log(), RangeError, /^log: log\(0\) is -Infinity, not a finite/],
    ["log(-1)", () => new Value(-1).log(), RangeError, /^log: log\(-1\) is NaN, not a finite/],
    ["sqrt(-1)", () => new Value(-1).sqrt(), RangeError, /^sqrt: sqrt\(-1\) is NaN/],
    [
      "(-8) ** (1/3)",
      () => new Value(-8).pow(1 / 3),
      RangeError,
      /^pow: pow\(-8, 0\.333+\d*\) is NaN/,
    ],
    ["(-2) ** 0.5", () => new Value(-2).pow(0.5), RangeError, /^pow: pow\(-2, 0\.5\) is NaN/],
    ["0 ** -1", () => new Value(0).pow(-1), RangeError, /^pow: pow\(0, -1\) is Infinity/],
    [
      "a Value exponent of a negative base",
      () => new Value(-2).pow(new Value(2)),
      RangeError,
      /^pow: a Value exponent needs a positive base .* got base -2$/,
    ],
    [
      "a Value exponent of base 0",
      () => new Value(0).pow(new Value(2)),
      RangeError,
      /got base 0$/,
    ],
    ["exp(1000)", () => new Value(1000).exp(), RangeError, /^exp: exp\(1000\) is Infinity/],
    [
      "an overflowing product",
      () => new Value(1e200).mul(1e200),
      RangeError,
      /^mul: mul\(1e\+200, 1e\+200\) is Infinity/,
    ],
    [
      "an operand NaN",
      () => new Value(1).add(NaN),
      RangeError,
      /^add: operand must be finite, got NaN$/,
    ],
    [
      "an operand -Infinity",
      () => new Value(1).mul(-Infinity),
      RangeError,
      /^mul: operand must be finite, got -Infinity$/,
    ],
    [
      "an operand string",
      // deno-lint-ignore no-explicit-any
      () => new Value(1).sub("2" as any),
      TypeError,
      /^sub: operand must be a number or a Value, got string "2"$/,
    ],
    [
      "a divisor object",
      // deno-lint-ignore no-explicit-any
      () => new Value(1).div({} as any),
      TypeError,
      /^div: operand must be a number or a Value, got object \[object Object\]$/,
    ],
    [
      "an exponent NaN",
      () => new Value(2).pow(NaN),
      RangeError,
      /^pow: operand must be finite, got NaN$/,
    ],
  ];
  for (const [name, act, type, message] of cases) {
    await t.step(name, () => {
      assert.throws(act, (error: unknown) => {
        assert.ok(error instanceof type, `${name}: ${error}`);
        assert.match((error as Error).message, message);
        return true;
      });
    });
  }
});

Deno.test("backward refuses a gradient that is not finite", async (t) => {
  await t.step("sqrt(0): infinite slope", () => {
    const x = new Value(0);
    const y = x.sqrt();
    assert.equal(y.data, 0);
    assert.throws(
      () => y.backward(),
      new RangeError("sqrt: the gradient at sqrt(0) is Infinity"),
    );
  });
  await t.step("log near 0 times a large upstream gradient", () => {
    const x = new Value(1e-300);
    assert.throws(
      () => x.log().mul(1e10).backward(),
      /^RangeError: log: the gradient at log\(1e-300\) is Infinity$/,
    );
  });
  await t.step("the second input's gradient: div(1e290, 1e-11)", () => {
    assert.throws(
      () => new Value(1e290).div(1e-11).backward(),
      new RangeError("div: the gradient at div(1e+290, 1e-11) is -Infinity"),
    );
  });
  await t.step("finite shares that sum to Infinity at an interior node", () => {
    const n = new Value(-0.5).neg();
    const root = n.mul(1e308).add(n.mul(1e308));
    assert.throws(
      () => root.backward(),
      new RangeError(
        "mul: at mul(0.5, 1e+308) the gradient share 1e+308 makes an input's sum Infinity",
      ),
    );
  });
});

Deno.test("a failed backward leaves no gradient half-updated", async (t) => {
  await t.step("leaves keep their gradients, interior nodes are cleared", () => {
    const x = new Value(2, { label: "x" });
    const z = new Value(0, { label: "z" });
    const w = new Value(-1, { label: "w" });
    const h = x.mul(w).tanh();
    const root = h.mul(x).add(z.sqrt()).add(w.exp());
    // A successful pass first, so that every node holds a non-zero gradient.
    x.mul(w).tanh().mul(x).add(w.exp()).backward();
    z.grad = 0.25;
    h.grad = 7;
    const leavesBefore = [x.grad, z.grad, w.grad];
    assert.ok(leavesBefore.every((g) => g !== 0));
    assert.throws(() => root.backward(), /sqrt: the gradient at sqrt\(0\) is Infinity/);
    assert.deepEqual([x.grad, z.grad, w.grad], leavesBefore);
    for (const node of topologicalOrder(root)) {
      if (node.op !== null) assert.equal(node.grad, 0, `${node}`);
    }
  });
  await t.step("the same for a failure deep in a random DAG", () => {
    fc.assert(
      fc.property(plannedDag, fc.double({ min: -3, max: 3, noNaN: true }), ({ dag, plan }, g) => {
        const leaves = dag.inputs.map((x) => new Value(x));
        const pool = buildDag(plan, leaves);
        leaves.forEach((leaf, i) => (leaf.grad = g + i));
        // sqrt(0)'s infinite slope, reached through the whole DAG.
        const poisoned = pool.at(-1)!.add(new Value(0).mul(pool.at(-1)!).sqrt());
        assert.throws(() => poisoned.backward(), RangeError);
        leaves.forEach((leaf, i) => assert.equal(leaf.grad, g + i));
        for (const node of pool) if (node.op !== null) assert.equal(node.grad, 0);
      }),
      { numRuns: 100 },
    );
  });
});

Deno.test("topologicalOrder: inputs first, each node once, the root last", () => {
  fc.assert(
    fc.property(plannedDag, ({ dag, plan }) => {
      const pool = buildDag(plan, dag.inputs.map((x) => new Value(x)));
      const root = pool.at(-1)!;
      const order = topologicalOrder(root);
      const position = new Map(order.map((node, i) => [node, i]));
      assert.equal(position.size, order.length, "a node appears twice");
      assert.deepEqual(new Set(order), reachable(root));
      assert.equal(order.at(-1), root);
      for (const [i, node] of order.entries()) {
        if (node.a !== null) assert.ok(position.get(node.a)! < i, "a after its consumer");
        if (node.b !== null) assert.ok(position.get(node.b)! < i, "b after its consumer");
      }
      // A second walk (new stamps) gives the same order.
      assert.deepEqual(topologicalOrder(root), order);
    }),
    { numRuns: 300 },
  );
});

Deno.test("topologicalOrder of a leaf is the leaf", () => {
  const x = new Value(1);
  assert.deepEqual(topologicalOrder(x), [x]);
});

// Leaves are never popped by backward's second pass, so the sums reaching them are checked
// separately: finite shares that add up to ±Infinity must be refused like any other.
Deno.test("backward refuses a leaf gradient that sums to Infinity within one pass", () => {
  const a = new Value(0.5);
  const root = a.mul(1e308).add(a.mul(1e308));
  assert.throws(() => root.backward(), /mul: at mul\(0.5, 1e\+308\) .* sum Infinity/);
  assert.equal(a.grad, 0);
});

Deno.test("backward refuses a leaf gradient that overflows across calls", () => {
  const b = new Value(1);
  const root = b.mul(1e308);
  root.backward();
  assert.throws(() => root.backward(), /would become Infinity/);
  assert.equal(b.grad, 1e308);
  assert.equal(root.grad, 0, "interior nodes are cleared after a failed pass");
});
