import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { gradcheck, Value } from "../../mod.ts";
import {
  buildDag,
  dagArbitrary,
  type DagCase,
  dagMagnitudeLimit,
  type DagPlan,
  graphDepth,
  planDag,
} from "./_arbitraries.ts";

const numRuns = 1000;

/** Every planned DAG that stays tame, with its plan. */
const plannedDag: fc.Arbitrary<{ dag: DagCase; plan: DagPlan }> = dagArbitrary()
  .map((dag) => ({ dag, plan: planDag(dag) }))
  .filter((x): x is { dag: DagCase; plan: DagPlan } => x.plan !== null);

/** How many times each pool node is used as an operand by the plan. */
function operandUses(plan: DagPlan, poolSize: number): number[] {
  const uses = new Array<number>(poolSize).fill(0);
  for (const { left, right } of plan.steps) {
    uses[left]++;
    uses[right]++;
  }
  return uses;
}

Deno.test("random expression DAGs: backward agrees with central differences", () => {
  fc.assert(
    fc.property(plannedDag, ({ dag, plan }) => {
      gradcheck((...xs) => buildDag(plan, xs).at(-1)!, dag.inputs);
    }),
    { numRuns },
  );
});

Deno.test("random expression DAGs: the sum of every node, so each subexpression counts", () => {
  fc.assert(
    fc.property(plannedDag, ({ dag, plan }) => {
      gradcheck((...xs) => {
        const pool = buildDag(plan, xs);
        return pool.reduce((total, node) => total.add(node));
      }, dag.inputs);
    }),
    { numRuns: numRuns / 2 },
  );
});

Deno.test("the DAG generator exercises reuse, depth and every input count", () => {
  const samples = fc.sample(plannedDag, { numRuns: 500, seed: 1 });
  let reused = 0;
  let deep = 0;
  const inputCounts = new Set<number>();
  for (const { dag, plan } of samples) {
    inputCounts.add(dag.inputs.length);
    const uses = operandUses(plan, dag.inputs.length + plan.steps.length);
    if (uses.some((n) => n >= 2)) reused++;
    const leaves = dag.inputs.map((x) => new Value(x));
    const pool = buildDag(plan, leaves);
    if (graphDepth(pool.at(-1)!) >= 8) deep++;
    for (const node of pool) assert.ok(Math.abs(node.data) <= dagMagnitudeLimit);
  }
  assert.deepEqual([...inputCounts].sort(), [1, 2, 3, 4]);
  assert.ok(reused > samples.length / 2, `only ${reused} of ${samples.length} reuse a node`);
  assert.ok(deep > samples.length / 10, `only ${deep} of ${samples.length} reach depth 8`);
});

Deno.test("reuse: x used several times accumulates every path's gradient", async (t) => {
  await t.step("x·x + x·3 + sin(x): 2x + 3 + cos x", () => {
    fc.assert(
      fc.property(fc.double({ min: -3, max: 3, noNaN: true }), (x0) => {
        const f = (x: Value) => x.mul(x).add(x.mul(3)).add(x.sin());
        const report = gradcheck(f, [x0]);
        assert.ok(Math.abs(report.analytic[0] - (2 * x0 + 3 + Math.cos(x0))) < 1e-12);
      }),
      { numRuns: 100 },
    );
  });
  await t.step("a shared subexpression feeding itself: s = x·y, (s + s)·s", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -2, max: 2, noNaN: true }),
        fc.double({ min: -2, max: 2, noNaN: true }),
        (x0, y0) => {
          const f = (x: Value, y: Value) => {
            const s = x.mul(y);
            return s.add(s).mul(s);
          };
          // (2s)·s = 2s², so ∂/∂x = 4s·y and ∂/∂y = 4s·x.
          const report = gradcheck(f, [x0, y0]);
          const s = x0 * y0;
          assert.ok(Math.abs(report.analytic[0] - 4 * s * y0) <= 1e-12 * (1 + Math.abs(s)));
          assert.ok(Math.abs(report.analytic[1] - 4 * s * x0) <= 1e-12 * (1 + Math.abs(s)));
        },
      ),
      { numRuns: 100 },
    );
  });
});
