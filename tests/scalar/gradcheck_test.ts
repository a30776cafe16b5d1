import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import {
  DEFAULT_GRADCHECK_TOLERANCES,
  gradcheck,
  GradcheckError,
  type GradcheckReport,
  PYTORCH_GRADCHECK_TOLERANCES,
  Value,
} from "../../mod.ts";

/** x·y + sin(x): ∂/∂x = y + cos x, ∂/∂y = x. */
function product(x: Value, y: Value): Value {
  return x.mul(y).add(x.sin());
}

/** A function whose engine gradient for x is off by `delta` (x·delta is hidden from the graph). */
function offBy(delta: number): (x: Value) => Value {
  return (x) => x.mul(x).add(new Value(x.data * delta));
}

Deno.test("gradcheck: a correct gradient passes and the report says why", () => {
  const report = gradcheck(product, [0.7, -1.3]);
  assert.equal(report.passed, true);
  assert.deepEqual(report.inputs, [0.7, -1.3]);
  assert.equal(report.output, 0.7 * -1.3 + Math.sin(0.7));
  assert.deepEqual(report.analytic, [-1.3 + Math.cos(0.7), 0.7]);
  for (let i = 0; i < 2; i++) {
    // Extrapolated differences: the numeric gradient is good to far better than 1e-10.
    assert.ok(Math.abs(report.numeric[i] - report.analytic[i]) < 1e-12, `numeric ${i}`);
    assert.equal(report.errors[i], Math.abs(report.analytic[i] - report.numeric[i]));
    assert.ok(report.allowances[i] > 0 && report.allowances[i] < 1e-10, `allowance ${i}`);
    assert.equal(
      report.tolerances[i],
      1e-10 + 1e-7 * Math.abs(report.numeric[i]) + report.allowances[i],
    );
  }
});

Deno.test("gradcheck: the report's inputs are a copy", () => {
  const inputs = [1, 2];
  const report = gradcheck(product, inputs);
  inputs[0] = 99;
  assert.deepEqual(report.inputs, [1, 2]);
});

Deno.test("gradcheck: agrees with hand-derived gradients on random points", () => {
  fc.assert(
    fc.property(
      fc.double({ min: -4, max: 4, noNaN: true }),
      fc.double({ min: -4, max: 4, noNaN: true }),
      (x, y) => {
        const report = gradcheck(product, [x, y]);
        // === rather than Object.is: a gradient of -0 and one of 0 are the same gradient.
        assert.ok(report.analytic[0] === y + Math.cos(x), `∂/∂x at ${x}, ${y}`);
        assert.ok(report.analytic[1] === x, `∂/∂y at ${x}, ${y}`);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("gradcheck: a wrong gradient throws a GradcheckError that explains itself", () => {
  assert.throws(
    () => gradcheck(offBy(0.5), [2]),
    (error: unknown) => {
      assert.ok(error instanceof GradcheckError);
      assert.equal(error.name, "GradcheckError");
      assert.match(
        error.message,
        /^gradcheck: gradient of input 0 \(x0 = 2\) disagrees: analytic 4, numeric 4\.(5|49)\d*, error 0\.(5|49)\d* > tolerance 4\.5\d*e-7 \(atol 1e-10 \+ rtol 1e-7·\|numeric\| \+ allowance \d(\.\d+)?e-1\d\)/,
      );
      assert.equal(error.report.passed, false);
      assert.equal(error.report.analytic[0], 4);
      return true;
    },
  );
});

Deno.test("gradcheck: the message names the first failing input and counts the others", () => {
  const wrongInBoth = (x: Value, y: Value, z: Value) =>
    x.add(y).add(z).add(new Value(y.data + z.data));
  assert.throws(
    () => gradcheck(wrongInBoth, [1, 2, 3]),
    /input 1 \(x1 = 2\).*\(and 1 more input\)/,
  );
  const wrongInAll = (x: Value, y: Value, z: Value) =>
    x.add(y).add(z).add(new Value(x.data + y.data + z.data));
  assert.throws(() => gradcheck(wrongInAll, [1, 2, 3]), /input 0 .*\(and 2 more inputs\)/);
});

Deno.test("gradcheck: raise false returns the failed report instead", () => {
  const report: GradcheckReport = gradcheck(offBy(0.5), [2], { raise: false });
  assert.equal(report.passed, false);
  assert.ok(report.errors[0] > report.tolerances[0]);
  assert.equal(gradcheck(offBy(0), [2], { raise: false }).passed, true);
});

Deno.test("gradcheck: the tolerance is atol + rtol·|numeric|, inclusive", async (t) => {
  // f = x² + hidden·x at x = 1: analytic 2, numeric 2 + delta.
  await t.step("an error just inside the tolerance passes", () => {
    assert.equal(gradcheck(offBy(0.9e-3), [1], { atol: 0, rtol: 0.5e-3 }).passed, true);
  });
  await t.step("an error just outside fails", () => {
    assert.throws(() => gradcheck(offBy(1.1e-3), [1], { atol: 0, rtol: 0.5e-3 }), GradcheckError);
  });
  await t.step("atol alone", () => {
    assert.equal(gradcheck(offBy(1e-3), [1], { atol: 2e-3, rtol: 0 }).passed, true);
    assert.equal(gradcheck(offBy(3e-3), [1], { atol: 2e-3, rtol: 0, raise: false }).passed, false);
  });
  await t.step("the default tolerance catches an error of 1e-4, and of 2e-6, at gradient 2", () => {
    assert.equal(gradcheck(offBy(1e-4), [1], { raise: false }).passed, false);
    assert.equal(gradcheck(offBy(2e-6), [1], { raise: false }).passed, false); // 1e-6 relative
    assert.equal(gradcheck(offBy(0), [1], { raise: false }).passed, true);
  });
  await t.step("PyTorch's tolerances pass an error of 1e-4 at gradient 2, not 3e-3", () => {
    assert.deepEqual(PYTORCH_GRADCHECK_TOLERANCES, { atol: 1e-5, rtol: 1e-3 });
    assert.equal(gradcheck(offBy(1e-4), [1], PYTORCH_GRADCHECK_TOLERANCES).passed, true);
    const lenient = { ...PYTORCH_GRADCHECK_TOLERANCES, raise: false };
    assert.equal(gradcheck(offBy(3e-3), [1], lenient).passed, false);
  });
  await t.step("the defaults are atol 1e-10 and rtol 1e-7", () => {
    assert.deepEqual(DEFAULT_GRADCHECK_TOLERANCES, { atol: 1e-10, rtol: 1e-7 });
    const report = gradcheck(offBy(0), [1]);
    assert.equal(report.tolerances[0], 1e-10 + 1e-7 * report.numeric[0] + report.allowances[0]);
  });
});

Deno.test("gradcheck: step sets the coarsest half-width, relative to max(1, |x|)", () => {
  // For x⁷ the central difference is 7x⁶ + 35x⁴h² + 21x²h⁴ + h⁶: extrapolating h, h/2 and
  // h/4 cancels the h² and h⁴ terms and leaves (64/4⁶ − 20/2⁶ + 1)/45 · h⁶ = h⁶/64.
  const seventh = (x: Value) => x.pow(7);
  const atOne = gradcheck(seventh, [1], { step: 0.5, raise: false });
  assert.ok(Math.abs(atOne.numeric[0] - (7 + 0.5 ** 6 / 64)) < 1e-12);
  // At x = 2 a step of 0.25 is a half-width of 0.5 again.
  const atTwo = gradcheck(seventh, [2], { step: 0.25, raise: false });
  assert.ok(Math.abs(atTwo.numeric[0] - (7 * 64 + 0.5 ** 6 / 64)) < 1e-10);
  // Near 0 the half-width is the step itself: at x = 0.01 the same h as at 1.
  const nearZero = gradcheck(seventh, [0.01], { step: 0.5, raise: false });
  assert.ok(Math.abs(nearZero.numeric[0] - (7 * 0.01 ** 6 + 0.5 ** 6 / 64)) < 1e-12);
  // The computed allowance (twice the gap to the O(h⁴) estimate) covers the h⁶/64 it missed.
  assert.ok(atOne.passed && atOne.allowances[0] >= atOne.errors[0]);
});

Deno.test("gradcheck: the numeric gradient of smooth functions is good to 1e-10", () => {
  fc.assert(
    fc.property(fc.double({ min: -4, max: 4, noNaN: true }), (x) => {
      const report = gradcheck((v) => v.mul(v.sin()).add(v.exp()), [x]);
      const exact = Math.sin(x) + x * Math.cos(x) + Math.exp(x);
      assert.ok(Math.abs(report.numeric[0] - exact) <= 1e-10 * (1 + Math.abs(exact)), `${x}`);
      assert.ok(report.allowances[0] <= 1e-9 * (1 + Math.abs(exact)), `${x}`);
    }),
    { numRuns: 200 },
  );
});

Deno.test("gradcheck: near a kink the allowance is computed, and grows", () => {
  // |x| at 2e-4 with the default half-width 1e-3: the coarse differences straddle the kink.
  const near = gradcheck((x) => x.abs(), [2e-4], { raise: false });
  const far = gradcheck((x) => x.abs(), [0.5], { raise: false });
  assert.ok(far.allowances[0] < 1e-10);
  assert.ok(near.allowances[0] > 1e-2, `allowance ${near.allowances[0]}`);
  // The allowance covers the numeric error: the check passes, honestly uncertain.
  assert.ok(near.passed && Math.abs(near.numeric[0] - 1) <= near.allowances[0]);
  // A step below the distance to the kink makes it exact again.
  assert.ok(gradcheck((x) => x.abs(), [2e-4], { step: 1e-4 }).allowances[0] < 1e-10);
});

Deno.test("gradcheck: an input that does not reach the output has gradient 0", () => {
  const report = gradcheck((x, _unused) => x.exp(), [0.5, 3]);
  assert.deepEqual(report.analytic.slice(1), [0]);
  assert.equal(report.numeric[1], 0);
});

Deno.test("gradcheck: each evaluation uses fresh leaves", () => {
  const seen = new Set<Value>();
  gradcheck((x, y) => {
    assert.ok(!seen.has(x) && !seen.has(y));
    seen.add(x);
    seen.add(y);
    return x.mul(y);
  }, [1, 2]);
  // One analytic pass; two per half-width (three of them) per input.
  assert.equal(seen.size, 2 * (1 + 2 * 3 * 2));
});

Deno.test("gradcheck: refuses invalid options naming the option and value", async (t) => {
  const square = (x: Value) => x.mul(x);
  for (const step of [0, -1e-6, NaN, Infinity]) {
    await t.step(`step ${step}`, () => {
      assert.throws(
        () => gradcheck(square, [1], { step }),
        new RangeError(`gradcheck: step must be a finite number > 0, got ${step}`),
      );
    });
  }
  for (const name of ["atol", "rtol"] as const) {
    for (const value of [-1, NaN, Infinity]) {
      await t.step(`${name} ${value}`, () => {
        assert.throws(
          () => gradcheck(square, [1], { [name]: value }),
          new RangeError(`gradcheck: ${name} must be a finite number ≥ 0, got ${value}`),
        );
      });
    }
  }
  await t.step("a non-number tolerance", () => {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => gradcheck(square, [1], { atol: "0.1" as any }), /atol .* got 0\.1/);
  });
  await t.step("raise that is not a boolean", () => {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => gradcheck(square, [1], { raise: 0 as any }),
      new TypeError("gradcheck: raise must be a boolean, got number 0"),
    );
  });
});

Deno.test("gradcheck: refuses invalid inputs and functions", async (t) => {
  const square = (x: Value) => x.mul(x);
  await t.step("no inputs", () => {
    assert.throws(() => gradcheck(square, []), /gradcheck: inputs must be a non-empty array/);
  });
  await t.step("not an array", () => {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => gradcheck(square, 3 as any), /non-empty array of numbers, got 3/);
  });
  for (const bad of [NaN, Infinity, "1"]) {
    await t.step(`input ${String(bad)}`, () => {
      assert.throws(
        // deno-lint-ignore no-explicit-any
        () => gradcheck(square, [0, bad as any]),
        new RangeError(`gradcheck: input 1 must be a finite number, got ${String(bad)}`),
      );
    });
  }
  await t.step("fn not a function", () => {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => gradcheck(42 as any, [1]),
      new TypeError("gradcheck: fn must be a function, got number"),
    );
  });
  await t.step("fn returning a number or a string", () => {
    // deno-lint-ignore no-explicit-any
    const returnsNumber = ((x: Value) => x.data * 2) as any;
    assert.throws(
      () => gradcheck(returnsNumber, [1]),
      new TypeError("gradcheck: fn must return a Value, got number 2"),
    );
    // deno-lint-ignore no-explicit-any
    const returnsString = (() => "y") as any;
    assert.throws(
      () => gradcheck(returnsString, [1]),
      new TypeError('gradcheck: fn must return a Value, got string "y"'),
    );
  });
  await t.step("fn that returns a Value only at the unperturbed point", () => {
    // deno-lint-ignore no-explicit-any
    const sometimes = ((x: Value) => (x.data === 1 ? x : undefined)) as any;
    assert.throws(() => gradcheck(sometimes, [1]), /must return a Value, got undefined/);
  });
  await t.step("fn evaluated outside its domain: the engine's error, unchanged", () => {
    assert.throws(() => gradcheck((x) => x.log(), [0]), /log: log\(0\) is -Infinity/);
    assert.throws(() => gradcheck((x) => x.log(), [1e-7]), /log: log\(-0\.000999\d*\) is NaN/);
  });
});

Deno.test("gradcheck: catches a derivative scaled by 1.001, by 1 + 1e-5, or biased by 1e-6", async (t) => {
  // sin(x)·(1 + e) + b·x with the e·sin(x) + b·x part hidden from the graph: the engine says
  // cos x, the function's derivative is (1 + e)·cos x + b.
  const wrong = (e: number, b: number) => (x: Value) =>
    x.sin().add(new Value(e * Math.sin(x.data) + b * x.data));
  const cases: [string, number, number][] = [
    ["× 1.001", 1e-3, 0],
    ["× (1 + 1e-5)", 1e-5, 0],
    ["+ 1e-6", 0, 1e-6],
  ];
  for (const [label, e, b] of cases) {
    await t.step(label, () => {
      fc.assert(
        fc.property(fc.double({ min: -3, max: 3, noNaN: true }), (x) => {
          // Where cos x is tiny a relative error is tiny too: keep to |cos x| > 0.05.
          fc.pre(b !== 0 || Math.abs(Math.cos(x)) > 0.05);
          assert.equal(gradcheck(wrong(e, b), [x], { raise: false }).passed, false, `at ${x}`);
          assert.equal(gradcheck(wrong(0, 0), [x], { raise: false }).passed, true, `at ${x}`);
        }),
        { numRuns: 100 },
      );
    });
  }
});
