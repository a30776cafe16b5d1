import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import {
  gradcheck,
  GradcheckError,
  type InputDomain,
  type OpName,
  ops,
  type OpSpec,
  Value,
} from "../../mod.ts";
import { checkStep, domainArbitrary, domainTupleArbitrary, inDomain } from "./_arbitraries.ts";

/**
 * How the Value API calls each registry op. Typed over every OpName, so an op added to the
 * registry without a way to call it fails `deno check`; the test below fails at run time too.
 */
const viaValueApi: Record<OpName, (a: Value, b: Value | number) => Value> = {
  add: (a, b) => a.add(b),
  sub: (a, b) => a.sub(b),
  mul: (a, b) => a.mul(b),
  div: (a, b) => a.div(b),
  pow: (a, b) => a.pow(b as Value),
  powConst: (a, b) => a.pow(b as number),
  neg: (a) => a.neg(),
  exp: (a) => a.exp(),
  log: (a) => a.log(),
  sqrt: (a) => a.sqrt(),
  abs: (a) => a.abs(),
  tanh: (a) => a.tanh(),
  relu: (a) => a.relu(),
  sigmoid: (a) => a.sigmoid(),
  softplus: (a) => a.softplus(),
  gelu: (a) => a.gelu(),
  sin: (a) => a.sin(),
  cos: (a) => a.cos(),
  max: (a, b) => a.max(b),
  min: (a, b) => a.min(b),
};

const opNames = Object.keys(ops) as OpName[];
const runsPerDomain = 150;

/**
 * A node made by `spec` directly, bypassing the Value methods: backward then uses exactly
 * the spec's gradA and gradB, so gradcheck tests the registry entry itself.
 */
function applySpec(spec: OpSpec, a: Value, b: Value | number | null): Value {
  const second = typeof b === "number" ? new Value(b) : b;
  const node = new Value(spec.forward(a.data, second === null ? 0 : second.data));
  node.op = spec;
  node.a = a;
  node.b = second;
  return node;
}

/**
 * The function gradcheck differentiates for `spec` at `point`: every input that receives a
 * gradient is an argument; a constant second input (e.g. the exponent of `x ** 3`) is fixed.
 */
function checkedFunction(
  spec: OpSpec,
  point: readonly number[],
  apply: (a: Value, b: Value | number | null) => Value,
): { fn: (...xs: Value[]) => Value; inputs: number[] } {
  if (spec.arity === 1) return { fn: (a) => apply(a, null), inputs: [point[0]] };
  if (spec.constantB) {
    const b = point[1];
    return { fn: (a) => apply(a, b), inputs: [point[0]] };
  }
  return { fn: (a, b) => apply(a, b), inputs: [point[0], point[1]] };
}

/** Property: the spec's derivatives agree with central differences of its forward. */
function specAgreesWithFiniteDifferences(
  spec: OpSpec,
  domain: readonly InputDomain[],
): fc.IPropertyWithHooks<[number[]]> {
  return fc.property(domainTupleArbitrary(domain), (point) => {
    const { fn, inputs } = checkedFunction(spec, point, (a, b) => applySpec(spec, a, b));
    // Throws a GradcheckError, whose message fast-check prints.
    gradcheck(fn, inputs, { step: checkStep(domain) });
  });
}

Deno.test("ops registry: every op is declared completely", async (t) => {
  await t.step("every op has a Value API mapping and at least one domain", () => {
    for (const name of opNames) {
      assert.equal(typeof viaValueApi[name], "function", `op ${name} has no Value API mapping`);
      assert.ok(ops[name].domains.length > 0, `op ${name} has no input domain`);
    }
    assert.deepEqual(Object.keys(viaValueApi).sort(), [...opNames].sort());
  });

  await t.step("each domain has one well-formed interval per input", () => {
    for (const name of opNames) {
      const spec = ops[name];
      for (const domain of spec.domains) {
        assert.equal(domain.length, spec.arity, `op ${name}: domain arity`);
        for (const d of domain) {
          assert.ok(Number.isFinite(d.min) && Number.isFinite(d.max) && d.min < d.max, name);
          assert.ok(d.clearance === undefined || d.clearance > 1e-6, `${name}: clearance`);
        }
      }
    }
  });

  await t.step("unary ops have no second input; only powConst holds one constant", () => {
    for (const name of opNames) {
      const spec = ops[name];
      if (spec.arity === 1) assert.equal(spec.constantB, false, name);
      assert.equal(spec.constantB, name === "powConst", name);
    }
  });
});

Deno.test("domain arbitraries draw only inside their domain", () => {
  for (const name of opNames) {
    for (const domain of ops[name].domains) {
      for (const d of domain) {
        fc.assert(fc.property(domainArbitrary(d), (x) => inDomain(d, x)), { numRuns: 200 });
      }
    }
  }
});

Deno.test("every op through the Value API agrees with central differences", async (t) => {
  for (const name of opNames) {
    const spec = ops[name];
    for (const [k, domain] of spec.domains.entries()) {
      await t.step(`${name}, domain ${k}`, () => {
        fc.assert(
          fc.property(domainTupleArbitrary(domain), (point) => {
            const method = viaValueApi[name];
            const { fn, inputs } = checkedFunction(spec, point, (a, b) => {
              const out = method(a, b ?? 0);
              // The method must really apply this registry op to these inputs.
              assert.equal(out.op, spec, `${name}: made by ${out.op?.name}`);
              assert.equal(out.a, a);
              return out;
            });
            const report = gradcheck(fn, inputs, { step: checkStep(domain) });
            assert.equal(report.output, spec.forward(point[0], point[1] ?? 0));
          }),
          { numRuns: runsPerDomain },
        );
      });
    }
  }
});

Deno.test("every registry entry's gradA and gradB agree with central differences", async (t) => {
  for (const name of opNames) {
    for (const [k, domain] of ops[name].domains.entries()) {
      await t.step(`${name}, domain ${k}`, () => {
        fc.assert(specAgreesWithFiniteDifferences(ops[name], domain), {
          numRuns: runsPerDomain,
        });
      });
    }
  }
});

Deno.test("a constant input of an op receives no gradient", () => {
  const x = new Value(-2);
  const three = new Value(3);
  const y = x.pow(3);
  y.backward();
  assert.equal(x.grad, 12);
  assert.equal(y.b?.grad, 0);
  // A Value exponent is an input like any other and is differentiated.
  const z = new Value(2).pow(three);
  assert.equal(z.op, ops.pow);
  z.backward();
  assert.equal(three.grad, 8 * Math.log(2));
});

/**
 * Wrong derivatives the checker must catch in every op: gross ones, and ones as small as a
 * derivative off by 0.1%, by 1e-5 or 1e-6 relative, or by 1e-6 absolute.
 */
const derivativeMutants: readonly [string, (g: number) => number][] = [
  ["negated", (g) => -g],
  ["scaled by 1.001", (g) => g * 1.001],
  ["scaled by 1 + 1e-5", (g) => g * (1 + 1e-5)],
  ["scaled by 1 + 1e-6", (g) => g * (1 + 1e-6)],
  ["biased by 1e-6", (g) => g + 1e-6],
];

Deno.test("the same checker catches a wrong derivative in any op", async (t) => {
  for (const name of opNames) {
    const spec = ops[name];
    for (const [label, mutate] of derivativeMutants) {
      await t.step(`${name} with gradA ${label}`, () => {
        const wrong: OpSpec = { ...spec, gradA: (a, b, out) => mutate(spec.gradA(a, b, out)) };
        const failures = spec.domains.map((domain) =>
          fc.check(specAgreesWithFiniteDifferences(wrong, domain), { numRuns: runsPerDomain })
        );
        const failure = failures.find((r) => r.failed);
        assert.ok(failure, `${name}: gradA ${label} went unnoticed`);
        // The counterexample is reported with gradcheck's message, naming the input.
        assert.match(String(failure.errorInstance), /gradcheck: gradient of input 0 \(x0 = /);
      });
      if (spec.arity === 2 && !spec.constantB) {
        await t.step(`${name} with gradB ${label}`, () => {
          const wrong: OpSpec = {
            ...spec,
            gradB: (a, b, out) => mutate(spec.gradB(a, b, out)),
          };
          const failed = spec.domains.some((domain) =>
            fc.check(specAgreesWithFiniteDifferences(wrong, domain), { numRuns: runsPerDomain })
              .failed
          );
          assert.ok(failed, `${name}: gradB ${label} went unnoticed`);
        });
      }
    }
  }
});

Deno.test("fc.assert reports a wrong derivative with its seed and counterexample", () => {
  const wrong: OpSpec = { ...ops.sin, gradA: (a) => Math.cos(a) + 1e-3 };
  assert.throws(
    () => fc.assert(specAgreesWithFiniteDifferences(wrong, ops.sin.domains[0]), { seed: 7 }),
    (error: Error) => {
      assert.match(error.message, /seed: 7/);
      assert.match(error.message, /Counterexample: \[\[/);
      // Deno prints the cause under the report: gradcheck's own explanation.
      assert.ok(error.cause instanceof GradcheckError);
      assert.match(error.cause.message, /input 0 .* analytic .* numeric .* error .* > tolerance/);
      return true;
    },
  );
});

Deno.test("at a kink the derivative is taken as 0, as PyTorch does", () => {
  for (const name of ["abs", "relu"] as const) {
    const x = new Value(0);
    const y = viaValueApi[name](x, 0);
    assert.equal(y.data, 0);
    y.backward();
    assert.equal(x.grad, 0, name);
  }
  const below = new Value(-0.5);
  below.abs().backward();
  assert.equal(below.grad, -1);
  const negative = new Value(-0.5);
  negative.relu().backward();
  assert.equal(negative.grad, 0);
});

Deno.test("gradB is 0 for unary ops and for a constant second input", () => {
  for (const name of opNames) {
    const spec = ops[name];
    if (spec.arity === 2 && !spec.constantB) continue;
    fc.assert(
      fc.property(domainTupleArbitrary(spec.domains[0]), (point) => {
        const out = spec.forward(point[0], point[1] ?? 0);
        assert.equal(spec.gradB(point[0], point[1] ?? 0, out), 0, name);
      }),
      { numRuns: 20 },
    );
  }
});

Deno.test("max, min and clamp: values, the tie rule and the gradient of a clamp", () => {
  for (
    const [x, low, high, expected, grad] of [
      [0.5, -1, 1, 0.5, 1],
      [-3, -1, 1, -1, 0],
      [3, -1, 1, 1, 0],
      [1, -1, 1, 1, 1], // on a bound the gradient passes, as in PyTorch
      [2, 2, 2, 2, 1],
    ] as const
  ) {
    const v = new Value(x);
    const y = v.clamp(low, high);
    y.backward();
    assert.equal(y.data, expected, `clamp(${x}, ${low}, ${high})`);
    assert.equal(v.grad, grad, `clamp'(${x}, ${low}, ${high})`);
  }
  const a = new Value(2);
  const b = new Value(2);
  a.max(b).add(a.min(b)).backward();
  assert.deepEqual([a.grad, b.grad], [2, 0]); // a tie hands the whole gradient to `this`
  assert.throws(
    () => new Value(0).clamp(1, -1),
    /^RangeError: clamp: low 1 is greater than high -1$/,
  );
  assert.throws(
    () => new Value(0).clamp(NaN, 1),
    /^RangeError: clamp: low must be finite, got NaN$/,
  );
});
