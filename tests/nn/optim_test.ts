import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import {
  Adam,
  type AdamOptions,
  AdamW,
  type FlatParameter,
  type Optimizer,
  SGD,
  type SGDOptions,
} from "../../lib/nn/optim.ts";
import { cosineWithWarmup, linearDecay } from "../../lib/nn/schedules.ts";
import { gradientDescentStep } from "../../lib/scalar/gradient_descent.ts";
import { Value } from "../../lib/scalar/value.ts";

/** A FlatParameter over Float64Arrays, as a tensor will implement it. */
class ArrayParameter implements FlatParameter {
  data: Float64Array;
  grad: Float64Array;
  constructor(values: number[], grads: number[] = values.map(() => 0)) {
    this.data = new Float64Array(values);
    this.grad = new Float64Array(grads);
  }
  get size(): number {
    return this.data.length;
  }
  readValues(into: Float64Array, offset: number): void {
    into.set(this.data, offset);
  }
  readGrads(into: Float64Array, offset: number): void {
    into.set(this.grad, offset);
  }
  writeValues(from: Float64Array, offset: number): void {
    this.data.set(from.subarray(offset, offset + this.size));
  }
  zeroGrad(): void {
    this.grad.fill(0);
  }
}

/** Runs `steps` steps on one Value with the gradients given, returning the values after each. */
function trajectory(make: (p: Value[]) => Optimizer, start: number, grads: number[]): number[] {
  const w = new Value(start);
  const optimizer = make([w]);
  return grads.map((g) => {
    w.grad = g;
    optimizer.step();
    return w.data;
  });
}

Deno.test("SGD: hand-computed steps", async (t) => {
  await t.step("plain: θ ← θ − η·g, exactly", () => {
    assert.deepEqual(
      trajectory((p) => new SGD(p, { learningRate: 0.1 }), 1, [2, -4]),
      [1 - 0.1 * 2, (1 - 0.1 * 2) - 0.1 * -4],
    );
  });
  await t.step("momentum: b ← μb + g, θ ← θ − ηb", () => {
    const mu = 0.9, lr = 0.1;
    const b1 = 1, th1 = 1 - lr * b1;
    const b2 = mu * b1 + 2, th2 = th1 - lr * b2;
    const b3 = mu * b2 + -1, th3 = th2 - lr * b3;
    assert.deepEqual(
      trajectory((p) => new SGD(p, { learningRate: lr, momentum: mu }), 1, [1, 2, -1]),
      [th1, th2, th3],
    );
  });
  await t.step("Nesterov: b ← μb + g, θ ← θ − η(g + μb)", () => {
    const mu = 0.5, lr = 0.2;
    const b1 = 3, th1 = 2 - lr * (3 + mu * b1);
    const b2 = mu * b1 + 1, th2 = th1 - lr * (1 + mu * b2);
    assert.deepEqual(
      trajectory((p) => new SGD(p, { learningRate: lr, momentum: mu, nesterov: true }), 2, [3, 1]),
      [th1, th2],
    );
  });
  await t.step("weight decay: g ← g + λθ first", () => {
    const lr = 0.1, lambda = 0.01;
    const th1 = 5 - lr * (1 + lambda * 5);
    const b1 = 1 + lambda * 5;
    const g2 = -2 + lambda * th1;
    const th2 = th1 - lr * (0.9 * b1 + g2);
    assert.deepEqual(
      trajectory((p) => new SGD(p, { learningRate: lr, weightDecay: lambda }), 5, [1]),
      [th1],
    );
    assert.deepEqual(
      trajectory(
        (p) => new SGD(p, { learningRate: lr, weightDecay: lambda, momentum: 0.9 }),
        5,
        [1, -2],
      ),
      [th1, th2],
    );
  });
});

Deno.test("Adam: the first steps from the formula with bias correction", async (t) => {
  const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  await t.step("two steps", () => {
    const [g1, g2] = [0.5, -2];
    // t = 1
    const m1 = (1 - b1) * g1, v1 = (1 - b2) * g1 * g1;
    const th1 = 1 - lr * (m1 / (1 - b1)) / (Math.sqrt(v1 / (1 - b2)) + eps);
    // t = 2
    const m2 = b1 * m1 + (1 - b1) * g2, v2 = b2 * v1 + (1 - b2) * g2 * g2;
    const th2 = th1 - lr * (m2 / (1 - b1 ** 2)) / (Math.sqrt(v2 / (1 - b2 ** 2)) + eps);
    const got = trajectory((p) => new Adam(p, { learningRate: lr }), 1, [g1, g2]);
    assert.ok(Math.abs(got[0] - th1) < 1e-15, `step 1: ${got[0]} vs ${th1}`);
    assert.ok(Math.abs(got[1] - th2) < 1e-15, `step 2: ${got[1]} vs ${th2}`);
    // The first step is η·sign(g) to within ε: Adam's scale invariance.
    assert.ok(Math.abs(got[0] - (1 - lr)) < 1e-9);
  });
  await t.step("custom betas and eps, L2 weight decay through the moments", () => {
    const [c1, c2, e, lambda] = [0.5, 0.75, 0.1, 0.2];
    const g1 = 1 + lambda * 3;
    const m1 = (1 - c1) * g1, v1 = (1 - c2) * g1 * g1;
    const th1 = 3 - lr * (m1 / (1 - c1)) / (Math.sqrt(v1 / (1 - c2)) + e);
    const g2 = 1 + lambda * th1;
    const m2 = c1 * m1 + (1 - c1) * g2, v2 = c2 * v1 + (1 - c2) * g2 * g2;
    const th2 = th1 - lr * (m2 / (1 - c1 ** 2)) / (Math.sqrt(v2 / (1 - c2 ** 2)) + e);
    const got = trajectory(
      (p) => new Adam(p, { learningRate: lr, beta1: c1, beta2: c2, eps: e, weightDecay: lambda }),
      3,
      [1, 1],
    );
    assert.ok(Math.abs(got[0] - th1) < 1e-15 && Math.abs(got[1] - th2) < 1e-15, String(got));
  });
});

Deno.test("AdamW: decoupled decay θ ← θ − ηλθ beside Adam's step", () => {
  const lr = 0.1, lambda = 0.5, eps = 1e-8;
  const g = 4;
  const m1 = 0.1 * g, v1 = 0.001 * g * g;
  const adamStep = lr * (m1 / 0.1) / (Math.sqrt(v1 / 0.001) + eps);
  const th1 = (2 - lr * lambda * 2) - adamStep;
  const got = trajectory((p) => new AdamW(p, { learningRate: lr, weightDecay: lambda }), 2, [g]);
  assert.ok(Math.abs(got[0] - th1) < 1e-15, `${got[0]} vs ${th1}`);
  // Unlike Adam's L2 term, the decay does not pass through m and v: Adam with the same λ
  // moves by about η only.
  const coupled = trajectory((p) => new Adam(p, { learningRate: lr, weightDecay: lambda }), 2, [g]);
  assert.ok(Math.abs(coupled[0] - (2 - lr)) < 1e-8);
  assert.ok(Math.abs(got[0] - coupled[0]) > 0.09);
  // Default λ of AdamW is 0.01; of Adam, 0.
  const w = new Value(1);
  const adamw = new AdamW([w], { learningRate: 0.1 });
  assert.equal(adamw.weightDecay, 0.01);
  assert.equal(adamw.name, "AdamW");
  assert.equal(new Adam([w], { learningRate: 0.1 }).weightDecay, 0);
  adamw.step(); // zero gradient: only the decay
  assert.equal(w.data, 1 - 0.1 * 0.01 * 1);
});

Deno.test("optimizers: FlatParameters and Values form one flat vector", () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 6, maxLength: 6 }),
      fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 6, maxLength: 6 }),
      fc.constantFrom("sgd", "nesterov", "adam", "adamw"),
      (values, grads, kind) => {
        const make = (p: readonly (Value | FlatParameter)[]): Optimizer =>
          kind === "sgd"
            ? new SGD(p, { learningRate: 0.1, weightDecay: 0.1 })
            : kind === "nesterov"
            ? new SGD(p, { learningRate: 0.1, momentum: 0.8, nesterov: true })
            : kind === "adam"
            ? new Adam(p, { learningRate: 0.1 })
            : new AdamW(p, { learningRate: 0.1 });
        // [scalar, flat of 3, scalar, flat of 1] against six scalars.
        const a = new Value(values[0]);
        const flat = new ArrayParameter(values.slice(1, 4), grads.slice(1, 4));
        const c = new Value(values[4]);
        const single = new ArrayParameter([values[5]], [grads[5]]);
        const empty = new ArrayParameter([]);
        const mixed = make([a, flat, empty, c, single]);
        const scalars = values.map((v) => new Value(v));
        const reference = make(scalars);
        assert.equal(mixed.size, 6);
        for (let step = 0; step < 3; step++) {
          a.grad = grads[0];
          c.grad = grads[4];
          scalars.forEach((s, i) => (s.grad = grads[i]));
          mixed.step();
          reference.step();
        }
        const got = [a.data, ...flat.data, c.data, single.data[0]];
        assert.deepEqual(got, scalars.map((s) => s.data));
        mixed.zeroGrad();
        assert.ok(a.grad === 0 && c.grad === 0 && flat.grad.every((g) => g === 0));
        assert.equal(single.grad[0], 0);
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("optimizers: a step with a non-finite gradient or result changes nothing", async (t) => {
  const makers: [string, (p: readonly (Value | FlatParameter)[]) => Optimizer][] = [
    ["SGD", (p) => new SGD(p, { learningRate: 0.1, momentum: 0.9 })],
    ["Adam", (p) => new Adam(p, { learningRate: 0.1 })],
    ["AdamW", (p) => new AdamW(p, { learningRate: 0.1 })],
  ];
  for (const [name, make] of makers) {
    await t.step(name, () => {
      const w = new Value(1);
      const flat = new ArrayParameter([2, 3], [0.5, 0.25]);
      const optimizer = make([w, flat]);
      w.grad = 1;
      optimizer.step();
      const before = [w.data, ...flat.data];
      w.grad = 0.5;
      flat.grad[1] = NaN;
      assert.throws(() => optimizer.step(), {
        name: "RangeError",
        message: `${name}: step 2 refused, nothing changed: parameter 1, entry 1 has gradient NaN`,
      });
      flat.grad[1] = 0.25;
      w.grad = -Infinity;
      assert.throws(() => optimizer.step(), {
        name: "RangeError",
        message: `${name}: step 2 refused, nothing changed: parameter 0 has gradient -Infinity`,
      });
      assert.deepEqual([w.data, ...flat.data], before);
      assert.equal(optimizer.stepCount, 1);
      // The state did not move either: the next good step equals that of a twin that never
      // saw the refused ones.
      const twinW = new Value(1);
      const twinFlat = new ArrayParameter([2, 3], [0.5, 0.25]);
      const twin = make([twinW, twinFlat]);
      twinW.grad = 1;
      twin.step();
      w.grad = twinW.grad = 0.5;
      optimizer.step();
      twin.step();
      assert.deepEqual([w.data, ...flat.data], [twinW.data, ...twinFlat.data]);
    });
  }
  await t.step("an update that overflows", () => {
    const w = new Value(1e308);
    const x = new Value(0);
    const sgd = new SGD([x, w], { learningRate: 10 });
    w.grad = -1e308;
    x.grad = 1;
    assert.throws(() => sgd.step(), {
      name: "RangeError",
      message: "SGD: step 1 refused, nothing changed: parameter 1 would become Infinity",
    });
    assert.equal(w.data, 1e308);
    assert.equal(x.data, 0);
  });
});

Deno.test("optimizers: hyperparameters are validated, naming optimizer and value", () => {
  const w = [new Value(1)];
  const flatMethods = {
    readValues() {},
    readGrads() {},
    writeValues() {},
    zeroGrad() {},
  };
  const bad: [() => unknown, string, string][] = [];
  for (const lr of [0, -1, NaN, Infinity, -Infinity]) {
    for (
      const [name, make] of [
        ["SGD", () => new SGD(w, { learningRate: lr })],
        ["Adam", () => new Adam(w, { learningRate: lr })],
        ["AdamW", () => new AdamW(w, { learningRate: lr })],
      ] as const
    ) {
      bad.push([
        make,
        "RangeError",
        `${name}: learning rate must be a finite number > 0, got ${lr}`,
      ]);
    }
  }
  bad.push(
    [
      () => new SGD(w, { learningRate: "0.1" as unknown as number }),
      "TypeError",
      "SGD: learning rate must be a number or a schedule function, got string",
    ],
    [
      () => new SGD(w, { learningRate: 0.1, momentum: 1 }),
      "RangeError",
      "SGD: momentum must be a number in [0, 1), got 1",
    ],
    [
      () => new SGD(w, { learningRate: 0.1, momentum: -0.5 }),
      "RangeError",
      "SGD: momentum must be a number in [0, 1), got -0.5",
    ],
    [
      () => new SGD(w, { learningRate: 0.1, nesterov: true }),
      "RangeError",
      "SGD: Nesterov momentum needs momentum > 0, got 0",
    ],
    [
      () => new SGD(w, { learningRate: 0.1, weightDecay: -1 }),
      "RangeError",
      "SGD: weight decay must be a finite number ≥ 0, got -1",
    ],
    [
      () => new Adam(w, { learningRate: 0.1, beta1: 1 }),
      "RangeError",
      "Adam: beta1 must be a number in [0, 1), got 1",
    ],
    [
      () => new Adam(w, { learningRate: 0.1, beta2: NaN }),
      "RangeError",
      "Adam: beta2 must be a number in [0, 1), got NaN",
    ],
    [
      () => new AdamW(w, { learningRate: 0.1, eps: 0 }),
      "RangeError",
      "AdamW: eps must be a finite number > 0, got 0",
    ],
    [
      () => new AdamW(w, { learningRate: 0.1, weightDecay: Infinity }),
      "RangeError",
      "AdamW: weight decay must be a finite number ≥ 0, got Infinity",
    ],
    [
      () => new SGD([w[0], w[0]], { learningRate: 0.1 }),
      "RangeError",
      "SGD: parameter 1 is listed twice",
    ],
    [
      () => new Adam([w[0], 3 as unknown as Value], { learningRate: 0.1 }),
      "TypeError",
      "Adam: parameter 1 is neither a Value nor a FlatParameter",
    ],
    [
      () => new Adam([{ size: 1 } as unknown as Value], { learningRate: 0.1 }),
      "TypeError",
      "Adam: parameter 0 is neither a Value nor a FlatParameter",
    ],
    [
      () => new SGD([{ ...flatMethods, size: 1.5 }], { learningRate: 0.1 }),
      "RangeError",
      "SGD: parameter 0 has size 1.5, not a whole number",
    ],
    [
      () => new SGD(w[0] as unknown as Value[], { learningRate: 0.1 }),
      "TypeError",
      "SGD: parameters must be an array, got object",
    ],
    [
      () => new Adam([], { learningRate: 0.1 }),
      "RangeError",
      "Adam: no parameters to train (an empty list); pass e.g. model.parameters()",
    ],
    [
      () => new SGD(w, { lr: 0.1 } as unknown as SGDOptions),
      "TypeError",
      'SGD: unknown option "lr" (did you mean learningRate?); known options: learningRate, ' +
      "momentum, nesterov, weightDecay",
    ],
    [
      () => new AdamW(w, { learningRate: 0.1, beta: 0.9 } as unknown as AdamOptions),
      "TypeError",
      'AdamW: unknown option "beta" (did you mean beta1?); known options: learningRate, ' +
      "beta1, beta2, eps, weightDecay, decays",
    ],
    [
      () => new SGD(w, undefined as unknown as SGDOptions),
      "TypeError",
      "SGD: options are required (an object with learningRate, momentum, nesterov, " +
      "weightDecay), got undefined",
    ],
  );
  for (const [make, name, message] of bad) assert.throws(make, { name, message });
});

Deno.test("optimizers: a schedule sets each step's rate, and a bad rate is refused", () => {
  const w = new Value(0);
  const rates: number[] = [];
  const sgd = new SGD([w], {
    learningRate: (k) => {
      rates.push(k);
      return 1 / (k + 1);
    },
  });
  for (let k = 0; k < 3; k++) {
    w.grad = 1;
    sgd.step();
  }
  assert.deepEqual(rates, [0, 1, 2]);
  assert.equal(w.data, ((0 - 1) - 1 / 2) - 1 / 3);
  assert.equal(sgd.learningRateAt(9), 0.1);

  const short = new Adam([w], {
    learningRate: cosineWithWarmup({ peak: 0.1, warmupSteps: 0, totalSteps: 2 }),
  });
  short.step();
  short.step();
  const before = w.data;
  assert.throws(() => short.step(), {
    name: "RangeError",
    message: "Adam (step 2): learning rate must be a finite number > 0, got 0",
  });
  assert.equal(w.data, before);
  const broken = new SGD([w], { learningRate: () => NaN });
  assert.throws(() => broken.step(), {
    name: "RangeError",
    message: /^SGD \(step 0\): learning rate .* got NaN$/,
  });
});

Deno.test("gradientDescentStep keeps its behaviour", () => {
  const w = new Value(0);
  w.mul(2).sub(8).pow(2).backward();
  gradientDescentStep([w], { learningRate: 0.1 });
  assert.equal(w.data, 3.2);
  assert.equal(w.grad, 0);
});

Deno.test("schedules: linearDecay", () => {
  const lr = linearDecay({ initial: 1.0, final: 0.1, steps: 100 });
  // micrograd's demo, lr = 1.0 − 0.9·k/100, to the bit.
  for (let k = 0; k < 100; k++) assert.equal(lr(k), 1.0 - 0.9 * k / 100, `k = ${k}`);
  assert.equal(lr(100), 0.1);
  assert.equal(lr(1000), 0.1);
  const toZero = linearDecay({ initial: 2, final: 0, steps: 4 });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(toZero), [2, 1.5, 1, 0.5, 0, 0]);
  for (const k of [-1, 0.5, NaN]) {
    assert.throws(() => lr(k), {
      name: "RangeError",
      message: `linearDecay: step must be a whole number ≥ 0, got ${k}`,
    });
  }
  const bad: [Parameters<typeof linearDecay>[0], string][] = [
    [{ initial: 0, final: 0, steps: 1 }, "linearDecay: initial must be a finite number > 0, got 0"],
    [{ initial: 1, final: -1, steps: 1 }, "linearDecay: final must be a finite number ≥ 0, got -1"],
    [
      { initial: 1, final: Infinity, steps: 1 },
      "linearDecay: final must be a finite number ≥ 0, got Infinity",
    ],
    [{ initial: 1, final: 0, steps: 0 }, "linearDecay: steps must be a whole number ≥ 1, got 0"],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => linearDecay(options), { name: "RangeError", message });
  }
});

Deno.test("schedules: cosineWithWarmup", () => {
  const lr = cosineWithWarmup({ peak: 1, warmupSteps: 4, totalSteps: 12, final: 0.1 });
  assert.deepEqual([0, 1, 2, 3].map(lr), [0.25, 0.5, 0.75, 1]);
  assert.equal(lr(4), 1);
  // Halfway through the decay: final + (peak − final)/2.
  assert.ok(Math.abs(lr(8) - 0.55) < 1e-15);
  assert.ok(Math.abs(lr(6) - (0.1 + 0.9 * (1 + Math.SQRT1_2) / 2)) < 1e-15);
  assert.equal(lr(12), 0.1);
  assert.equal(lr(50), 0.1);
  for (let k = 4; k < 12; k++) assert.ok(lr(k + 1) < lr(k), `decreasing at ${k}`);
  const noWarmup = cosineWithWarmup({ peak: 0.5, warmupSteps: 0, totalSteps: 3 });
  assert.equal(noWarmup(0), 0.5);
  assert.ok(noWarmup(2) > 0);
  assert.equal(noWarmup(3), 0);
  assert.throws(() => lr(-2), {
    name: "RangeError",
    message: "cosineWithWarmup: step must be a whole number ≥ 0, got -2",
  });
  const bad: [Parameters<typeof cosineWithWarmup>[0], string][] = [
    [
      { peak: -1, warmupSteps: 0, totalSteps: 1 },
      "cosineWithWarmup: peak must be a finite number > 0, got -1",
    ],
    [
      { peak: 1, warmupSteps: 0, totalSteps: 1, final: NaN },
      "cosineWithWarmup: final must be a finite number ≥ 0, got NaN",
    ],
    [
      { peak: 1, warmupSteps: 0, totalSteps: 1, final: 2 },
      "cosineWithWarmup: final (2) must not exceed peak (1)",
    ],
    [
      { peak: 1, warmupSteps: 0, totalSteps: 0 },
      "cosineWithWarmup: totalSteps must be a whole number ≥ 1, got 0",
    ],
    [
      { peak: 1, warmupSteps: -1, totalSteps: 5 },
      "cosineWithWarmup: warmupSteps must be a whole number ≥ 0, got -1",
    ],
    [
      { peak: 1, warmupSteps: 5, totalSteps: 5 },
      "cosineWithWarmup: warmupSteps (5) must be less than totalSteps (5)",
    ],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => cosineWithWarmup(options), { name: "RangeError", message });
  }
});
