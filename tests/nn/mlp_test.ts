import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { DEFAULT_GRADCHECK_TOLERANCES, gradcheck } from "../../lib/scalar/gradcheck.ts";
import {
  type DerivativeEstimate,
  extrapolatedDerivative,
  halfWidthFor,
} from "../../lib/scalar/_finite_difference.ts";
import { binaryCrossEntropyWithLogits, crossEntropy, hinge, mse } from "../../lib/scalar/losses.ts";
import { type Activation, Layer, MLP, type Module, Neuron } from "../../lib/nn/mlp.ts";
import { Adam } from "../../lib/nn/optim.ts";
import { Lcg32, Random } from "../../lib/util/random.ts";
import { topologicalOrder, Value } from "../../lib/scalar/value.ts";

const ACTIVATIONS: Activation[] = ["relu", "tanh", "sigmoid", "linear"];

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}
function std(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
}

Deno.test("Neuron: act = b + w₀x₀ + w₁x₁ + … as a left fold, then the activation", async (t) => {
  await t.step("the fold's order, bit for bit", () => {
    const n = new Neuron(3, { seed: 1, activation: "linear" });
    n.bias.data = 1e16;
    [1, 1, -1e16].forEach((w, i) => (n.weights[i].data = w));
    // ((1e16 + 1) + 1) − 1e16 rounds each 1 away; a sum in another order would give 2.
    assert.equal(n.forward([1, 1, 1]).data, ((1e16 + 1) + 1) - 1e16);
    assert.equal(n.forward([1, 1, 1]).data, 0);
  });
  await t.step("each activation applied to the sum", () => {
    const apply: Record<Activation, (v: number) => number> = {
      relu: (v) => Math.max(v, 0),
      tanh: Math.tanh,
      sigmoid: (v) => 1 / (1 + Math.exp(-v)),
      linear: (v) => v,
    };
    for (const activation of ACTIVATIONS) {
      const n = new Neuron(2, { seed: 3, activation });
      n.bias.data = 0.25;
      for (const x of [[0.5, -2], [-1.5, 0.75]]) {
        const act = 0.25 + n.weights[0].data * x[0] + n.weights[1].data * x[1];
        const out = n.forward(x).data;
        assert.ok(Math.abs(out - apply[activation](act)) < 1e-15, `${activation}(${act}) = ${out}`);
      }
    }
  });
  await t.step("inputs that are Values receive gradients w", () => {
    const n = new Neuron(2, { seed: 5, activation: "linear" });
    const x = [new Value(2), new Value(-3)];
    n.forward(x).backward();
    assert.deepEqual(x.map((v) => v.grad), n.weights.map((w) => w.data));
    assert.equal(n.bias.grad, 1);
  });
  await t.step("parameters: weights then bias, labelled", () => {
    const n = new Neuron(3, { seed: 9 });
    assert.deepEqual(n.parameters(), [...n.weights, n.bias]);
    assert.deepEqual(n.parameters().map((p) => p.label), ["w0", "w1", "w2", "b"]);
    assert.equal(n.bias.data, 0);
    assert.equal(n.nin, 3);
    assert.equal(String(n), "Neuron(3 inputs, relu)");
  });
});

Deno.test("Layer and MLP: shapes, parameter order and descriptions", () => {
  const layer = new Layer(3, 4, { seed: 2, activation: "tanh" });
  assert.equal(layer.nin, 3);
  assert.equal(layer.nout, 4);
  assert.equal(layer.parameters().length, 16);
  assert.deepEqual(layer.parameters(), layer.neurons.flatMap((n) => [...n.weights, n.bias]));
  assert.equal(String(layer), "Layer(3 → 4, tanh)");
  assert.equal(layer.forward([1, 2, 3]).length, 4);

  const model = new MLP(3, [4, 5, 2], { seed: 2, activations: ["tanh", "sigmoid", "linear"] });
  assert.equal(model.nin, 3);
  assert.equal(model.nout, 2);
  assert.equal(model.parameters().length, 4 * 4 + 5 * 5 + 2 * 6);
  assert.deepEqual(model.parameters(), model.layers.flatMap((l) => l.parameters()));
  assert.notEqual(model.parameters(), model.parameters(), "a fresh list each call");
  assert.equal(String(model), "MLP(3 → 4 tanh → 5 sigmoid → 2 linear; 53 parameters)");
  assert.deepEqual(model.layers.map((l) => l.name), ["layer 1", "layer 2", "layer 3"]);
  // Numbers become one leaf each, shared by every neuron of the first layer.
  const out = model.forward([0.5, -1, 2]);
  assert.equal(out.length, 2);
  const leaves = topologicalOrder(out[0]).filter((v) => v.op === null);
  assert.equal(leaves.length, 3 + 4 * 4 + 5 * 5 + 6, "3 inputs + parameters reaching output 0");
  // The default activations: relu inside, linear at the end.
  const plain = new MLP(2, [3, 3, 1], { seed: 1 });
  assert.deepEqual(plain.layers.map((l) => l.activation), ["relu", "relu", "linear"]);
});

Deno.test("Module.zeroGrad clears every parameter's gradient", () => {
  const modules: Module[] = [
    new Neuron(2, { seed: 1 }),
    new Layer(2, 3, { seed: 1, activation: "tanh" }),
    new MLP(2, [3, 1], { seed: 1, activations: ["tanh", "linear"] }),
  ];
  for (const module of modules) {
    for (const p of module.parameters()) p.grad = 0.5;
    module.zeroGrad();
    assert.ok(module.parameters().every((p) => p.grad === 0), String(module));
  }
});

Deno.test("initialisation: seeded, reproducible, and of the stated scale", async (t) => {
  await t.step("same seed, same weights; another seed, others", () => {
    const a = new MLP(4, [8, 1], { seed: 11 }).parameters().map((p) => p.data);
    const b = new MLP(4, [8, 1], { seed: 11 }).parameters().map((p) => p.data);
    const c = new MLP(4, [8, 1], { seed: 12 }).parameters().map((p) => p.data);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
  await t.step("uniform: 2u − 1 from the source, in order layer, neuron, input", () => {
    const model = new MLP(2, [3, 2], { init: "uniform", source: new Lcg32(42) });
    const g = new Lcg32(42);
    const weights = model.layers.flatMap((l) => l.neurons.flatMap((n) => n.weights));
    assert.deepEqual(weights.map((w) => w.data), weights.map(() => 2.0 * g.next() - 1.0));
    assert.equal(weights[0].data, -0.49530965043231845);
  });
  await t.step("kaiming: normal with std √2/√fanIn for relu, 5/3/√fanIn for tanh", () => {
    for (const [activation, gain] of [["relu", Math.SQRT2], ["tanh", 5 / 3]] as const) {
      const layer = new Layer(200, 50, { seed: 4, init: "kaiming", activation });
      const w = layer.neurons.flatMap((n) => n.weights.map((v) => v.data));
      const expected = gain / Math.sqrt(200);
      assert.ok(Math.abs(std(w) / expected - 1) < 0.03, `${activation}: std ${std(w)}`);
      assert.ok(Math.abs(mean(w)) < 0.05 * expected);
      assert.ok(Math.max(...w.map(Math.abs)) > 3 * expected, "a normal has tails");
    }
  });
  await t.step("kaiming from a plain uniform source uses Box–Muller", () => {
    const layer = new Layer(100, 100, { source: new Lcg32(1), init: "kaiming" });
    const w = layer.neurons.flatMap((n) => n.weights.map((v) => v.data));
    assert.ok(Math.abs(std(w) / (Math.SQRT2 / 10) - 1) < 0.03, `std ${std(w)}`);
  });
  await t.step("xavier: uniform within ±gain·√(6/(fanIn+fanOut))", () => {
    const layer = new Layer(60, 40, { seed: 4, init: "xavier", activation: "sigmoid" });
    const w = layer.neurons.flatMap((n) => n.weights.map((v) => v.data));
    const bound = Math.sqrt(6 / 100);
    assert.ok(w.every((x) => Math.abs(x) <= bound));
    assert.ok(Math.max(...w.map(Math.abs)) > 0.99 * bound);
    assert.ok(Math.abs(std(w) / (bound / Math.sqrt(3)) - 1) < 0.03);
  });
  await t.step("auto: kaiming for relu neurons, xavier for the others", () => {
    const data = (m: Module) => m.parameters().map((p) => p.data);
    assert.deepEqual(
      data(new Layer(5, 3, { seed: 8 })),
      data(new Layer(5, 3, { seed: 8, init: "kaiming" })),
    );
    for (const activation of ["tanh", "sigmoid", "linear"] as const) {
      assert.deepEqual(
        data(new Layer(5, 3, { seed: 8, activation })),
        data(new Layer(5, 3, { seed: 8, activation, init: "xavier" })),
      );
    }
  });
  await t.step("a seed is a fresh Random of that seed; a seed and a source are refused", () => {
    const a = new Neuron(4, { source: new Random(2) }).parameters().map((p) => p.data);
    const b = new Neuron(4, { seed: 2 }).parameters().map((p) => p.data);
    assert.deepEqual(a, b);
    assert.throws(
      () => new MLP(2, [2], { seed: 1, source: new Random(2) }),
      /^RangeError: MLP: give a seed or a source, not both$/,
    );
  });
});

Deno.test("nn: wrong inputs give errors naming the layer and the sizes", () => {
  const model = new MLP(2, [16, 16, 1], { seed: 1 });
  assert.throws(() => model.forward([1, 2, 3]), {
    name: "RangeError",
    message: "layer 1 (2 → 16, relu): expected 2 inputs, got 3",
  });
  assert.throws(() => model.forwardScalar([1]), {
    name: "RangeError",
    message: "layer 1 (2 → 16, relu): expected 2 inputs, got 1",
  });
  assert.throws(() => model.forward([1, "2" as unknown as number]), {
    name: "TypeError",
    message: 'layer 1 (2 → 16, relu): input 1 must be a number or a Value, got string "2"',
  });
  assert.throws(() => model.forward([null as unknown as number, 1]), {
    name: "TypeError",
    message: "layer 1 (2 → 16, relu): input 0 must be a number or a Value, got object null",
  });
  assert.throws(() => model.forward([NaN, 1]), {
    name: "RangeError",
    message: "layer 1 (2 → 16, relu): input 0 must be finite, got NaN",
  });
  assert.throws(() => model.forward(5 as unknown as number[]), {
    name: "TypeError",
    message: "layer 1 (2 → 16, relu): inputs must be an array, got number 5",
  });
  assert.throws(() => new Layer(3, 2, { seed: 1 }).forward([1, 2]), {
    name: "RangeError",
    message: "Layer(3 → 2, relu): expected 3 inputs, got 2",
  });
  assert.throws(() => new Neuron(3, { seed: 1 }).forward([1, 2, 3, 4]), {
    name: "RangeError",
    message: "Neuron(3 inputs, relu): expected 3 inputs, got 4",
  });
  assert.throws(() => new MLP(2, [3, 2], { seed: 1 }).forwardScalar([1, 2]), {
    name: "RangeError",
    message: "MLP(2 → 3 relu → 2 linear; 17 parameters): forwardScalar needs 1 output, " +
      "this network has 2",
  });
});

Deno.test("nn: bad construction options are refused, naming them", () => {
  const cases: [() => unknown, string, RegExp][] = [
    [
      () => new Neuron(0, { seed: 1 }),
      "RangeError",
      /^Neuron: number of inputs must be a positive integer, got 0$/,
    ],
    [() => new Neuron(2, { seed: 1, fanOut: 1.5 }), "RangeError", /^Neuron: fanOut must be/],
    [() => new Neuron(2), "RangeError", /^Neuron: give a seed or a source/],
    [() => new Neuron(2, { seed: -1 }), "RangeError", /^Random: seed must be/],
    [
      () => new Neuron(2, { seed: 1, activation: "gelu" as Activation }),
      "TypeError",
      /^Neuron: unknown activation "gelu"; expected one of relu, tanh, sigmoid, linear$/,
    ],
    [
      () => new Neuron(2, { seed: 1, init: "he" as "kaiming" }),
      "TypeError",
      /^Neuron: unknown init "he"; expected one of auto, kaiming, xavier, uniform$/,
    ],
    [() => new Layer(2, 0, { seed: 1 }), "RangeError", /^Layer: number of outputs must be/],
    [
      () => new Layer(2, 2, { seed: 1, name: "head", activation: "x" as Activation }),
      "TypeError",
      /^head: unknown activation/,
    ],
    [() => new MLP(2.5, [1], { seed: 1 }), "RangeError", /^MLP: number of inputs must be/],
    [() => new MLP(2, [], { seed: 1 }), "RangeError", /^MLP: sizes must be a non-empty list/],
    [
      () => new MLP(2, [3, -1], { seed: 1 }),
      "RangeError",
      /^layer 2: number of outputs must be a positive integer, got -1$/,
    ],
    [
      () => new MLP(2, [3, 1], { seed: 1, activations: ["relu"] }),
      "RangeError",
      /^MLP: 1 activations given for 2 layers$/,
    ],
    [() => new MLP(2, [3, 1], {}), "RangeError", /^MLP: give a seed/],
  ];
  for (const [make, name, message] of cases) assert.throws(make, { name, message });
});

/**
 * The parameters' gradients of `loss()`, one at a time, by gradcheck's extrapolated central
 * differences (half-widths 1e-3·max(1, |p|), a half and a quarter of it).
 */
function numericGradients(parameters: readonly Value[], loss: () => Value): DerivativeEstimate[] {
  return parameters.map((p) => {
    const x = p.data;
    const estimate = extrapolatedDerivative((h) => {
      p.data = x + h;
      const plus = loss().data;
      p.data = x - h;
      const minus = loss().data;
      p.data = x;
      return {
        delta: plus - minus,
        width: (x + h) - (x - h),
        magnitude: Math.max(Math.abs(plus), Math.abs(minus)),
      };
    }, halfWidthFor(x, 1e-3));
    p.data = x;
    return estimate;
  });
}

/** True when no relu in the graph of `root` has an input within `clearance` of its kink. */
function awayFromKinks(root: Value, clearance: number): boolean {
  return topologicalOrder(root).every((v) =>
    v.op?.name !== "relu" || Math.abs((v.a as Value).data) > clearance
  );
}

Deno.test("gradcheck: a whole MLP's loss against central differences over every parameter", () => {
  const architecture = fc.record({
    nin: fc.integer({ min: 1, max: 3 }),
    layers: fc.array(
      fc.record({
        size: fc.integer({ min: 1, max: 4 }),
        activation: fc.constantFrom(...ACTIVATIONS),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    seed: fc.nat({ max: 2 ** 32 - 1 }),
    init: fc.constantFrom("auto", "kaiming", "xavier", "uniform"),
    loss: fc.constantFrom("mse", "hinge", "bce", "crossEntropy"),
  });
  const batch = fc.array(
    fc.array(fc.double({ min: -2, max: 2, noNaN: true }), {
      minLength: 3,
      maxLength: 3,
    }),
    { minLength: 1, maxLength: 3 },
  );
  fc.assert(
    fc.property(architecture, batch, (arch, rows) => {
      const sizes = arch.layers.map((l) => l.size);
      const model = new MLP(arch.nin, sizes, {
        seed: arch.seed,
        init: arch.init as "auto",
        activations: arch.layers.map((l) => l.activation),
      });
      const inputs = rows.map((row) => row.slice(0, arch.nin));
      const nout = model.nout;
      const loss = (): Value => {
        const outputs = inputs.map((x) => model.forward(x));
        switch (arch.loss) {
          case "mse":
            return mse(outputs.flat(), outputs.flat().map((_, i) => (i % 3) - 1));
          case "hinge":
            return hinge(outputs.map((o) => o[0]), outputs.map((_, j) => (j % 2 ? 1 : -1)));
          case "bce":
            return binaryCrossEntropyWithLogits(
              outputs.flat(),
              outputs.flat().map((_, i) => (i % 2)),
            );
          default:
            return outputs.map((o, j) => crossEntropy(o, j % nout)).reduce((a, b) => a.add(b));
        }
      };
      const root = loss();
      // Clear of relu's kink by more than a step moves any relu input.
      fc.pre(awayFromKinks(root, 1e-2));
      const parameters = model.parameters();
      model.zeroGrad();
      root.backward();
      const analytic = parameters.map((p) => p.grad);
      const numeric = numericGradients(parameters, loss);
      const { atol, rtol } = DEFAULT_GRADCHECK_TOLERANCES;
      analytic.forEach((a, i) => {
        const { value, allowance } = numeric[i];
        const tolerance = atol + rtol * Math.abs(value) + allowance;
        assert.ok(
          Math.abs(a - value) <= tolerance,
          `parameter ${i} of ${model} (${arch.loss}): analytic ${a}, numeric ${value} ± ${allowance}`,
        );
      });
      // And with respect to the inputs, through the shared gradcheck on fresh leaves.
      const first = inputs[0];
      const f = (...x: Value[]) => model.forward(x).reduce((a, b) => a.add(b.mul(b)));
      if (awayFromKinks(f(...first.map((v) => new Value(v))), 1e-2)) gradcheck(f, first);
    }),
    { numRuns: 100 },
  );
});

Deno.test("gradcheck helper: a wrong derivative is caught", () => {
  // The check above would be worthless if it could not fail: hide one weight from the graph.
  const model = new MLP(2, [3, 1], { seed: 3, activations: ["tanh", "linear"] });
  const parameters = model.parameters();
  const w = parameters[0];
  const loss = () => {
    const detached = new Value(w.data);
    const out = model.forwardScalar([0.5, -0.25]);
    return out.add(detached.mul(0.5)); // depends on w, but backward never reaches w here
  };
  loss().backward();
  const numeric = numericGradients(parameters, loss);
  assert.ok(Math.abs(w.grad - numeric[0].value) > 0.4);
});

Deno.test("training: an MLP learns XOR to loss < 0.01 in 150 Adam steps", () => {
  const inputs = [[0, 0], [0, 1], [1, 0], [1, 1]];
  const targets = [0, 1, 1, 0];
  const model = new MLP(2, [8, 1], { seed: 3, activations: ["tanh", "linear"] });
  const optimizer = new Adam(model.parameters(), { learningRate: 0.05 });
  let loss = Infinity;
  for (let step = 0; step < 150; step++) {
    const out = mse(inputs.map((x) => model.forwardScalar(x)), targets);
    optimizer.zeroGrad();
    out.backward();
    optimizer.step();
    loss = out.data;
  }
  assert.ok(loss < 0.01, `XOR loss after 150 steps: ${loss}`);
  inputs.forEach((x, i) => {
    assert.equal(model.forwardScalar(x).data > 0.5, targets[i] === 1, `XOR(${x})`);
  });
});

Deno.test("MLP: namedParameters, stateDict and loadStateDict with name checks", () => {
  const a = new MLP(2, [3, 1], { seed: 1 });
  const b = new MLP(2, [3, 1], { seed: 2 });
  const names = a.namedParameters().map(([name]) => name);
  assert.deepEqual(names.slice(0, 4), ["0.0.w0", "0.0.w1", "0.0.b", "0.1.w0"]);
  assert.equal(names.at(-1), "1.0.b");
  assert.deepEqual(a.namedParameters().map(([, p]) => p), a.parameters());
  b.loadStateDict(a.stateDict());
  assert.equal(b.forwardScalar([0.5, -1]).data, a.forwardScalar([0.5, -1]).data);
  const state = a.stateDict();
  const before = JSON.stringify(b.stateDict());
  const { "0.2.b": _gone, ...missing } = state;
  assert.throws(
    () => b.loadStateDict(missing),
    /: parameter "0.2.b" is missing from the state$/,
  );
  assert.throws(
    () => b.loadStateDict({ ...state, "2.0.b": 1 }),
    /unexpected "2.0.b" in the state; the parameters are named .* from "0.0.w0" to "1.0.b"$/,
  );
  assert.throws(
    () => b.loadStateDict({ ...state, "1.0.w2": NaN }),
    /parameter "1.0.w2" must be a finite number, got NaN$/,
  );
  assert.equal(JSON.stringify(b.stateDict()), before);
});
