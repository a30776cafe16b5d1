import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { Adam, AdamW, type FlatParameter, SGD } from "../../lib/nn/optim.ts";
import { twoMoons } from "../../lib/util/datasets.ts";
import { Lcg32 } from "../../lib/util/random.ts";
import { Value } from "../../lib/scalar/value.ts";
import {
  Dropout,
  Embedding,
  LayerNorm,
  Linear,
  Sequential,
  type SequentialLayer,
} from "../../lib/nn/modules.ts";
import { layerNorm, type Tensor, tensor } from "../../lib/tensor/tensor.ts";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";

// ---------------------------------------------------------------------------------------
// The same MLP in both engines
// ---------------------------------------------------------------------------------------

/** A scalar 2 → h → h → 1 ReLU MLP built from Values by hand (neuron = bias-first fold). */
class ScalarMlp {
  readonly layers: { w: Value[][]; b: Value[] }[];
  constructor(sizes: readonly number[], source: Lcg32) {
    this.layers = [];
    for (let l = 1; l < sizes.length; l++) {
      const w: Value[][] = [];
      for (let j = 0; j < sizes[l]; j++) {
        w.push(Array.from({ length: sizes[l - 1] }, () => new Value(2 * source.next() - 1)));
      }
      this.layers.push({ w, b: Array.from({ length: sizes[l] }, () => new Value(0)) });
    }
  }
  forward(x: readonly number[]): Value {
    let inputs: Value[] = x.map((v) => new Value(v));
    this.layers.forEach(({ w, b }, l) => {
      inputs = w.map((row, j) => {
        let act = b[j];
        for (let i = 0; i < row.length; i++) act = act.add(row[i].mul(inputs[i]));
        return l < this.layers.length - 1 ? act.relu() : act;
      });
    });
    return inputs[0];
  }
  /** Weights row by row then the bias, layer by layer: the tensor model's order. */
  parameters(): Value[] {
    return this.layers.flatMap(({ w, b }) => [...w.flat(), ...b]);
  }
}

function tensorMlp(sizes: readonly number[], source: Lcg32): Sequential {
  const layers: (Linear | ((x: Tensor) => Tensor))[] = [];
  for (let l = 1; l < sizes.length; l++) {
    layers.push(new Linear(sizes[l - 1], sizes[l], { init: "uniform", source }));
    if (l < sizes.length - 1) layers.push((x) => x.relu());
  }
  return new Sequential(...layers);
}

interface Data {
  readonly xs: number[][];
  readonly ys: number[];
}

/** W1's loss in scalar form: mean hinge margin plus 1e-4 · Σ p². */
function scalarLoss(model: ScalarMlp, { xs, ys }: Data): Value {
  let data = new Value(0);
  xs.forEach((x, j) => {
    data = data.add(new Value(-ys[j]).mul(model.forward(x)).add(1).relu());
  });
  let reg = new Value(0);
  for (const p of model.parameters()) reg = reg.add(p.mul(p));
  return data.mul(1 / xs.length).add(reg.mul(1e-4));
}

function tensorLoss(model: Sequential, { xs, ys }: Data): Tensor {
  const scores = model.forward(tensor(xs)).reshape([-1]);
  const margins = tensor(ys.map((y) => -y)).mul(scores).add(1).relu();
  let reg: Tensor = tensor(0);
  for (const p of model.parameters()) reg = reg.add(p.mul(p).sum());
  return margins.sum().mul(1 / xs.length).add(reg.mul(1e-4));
}

function flatGrads(params: readonly FlatParameter[]): Float64Array {
  const size = params.reduce((n, p) => n + p.size, 0);
  const out = new Float64Array(size);
  let at = 0;
  for (const p of params) {
    p.readGrads(out, at);
    at += p.size;
  }
  return out;
}

const dataArbitrary = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.record({
    xs: fc.array(
      fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 2, maxLength: 2 }),
      { minLength: n, maxLength: n },
    ),
    ys: fc.array(fc.constantFrom(-1, 1), { minLength: n, maxLength: n }),
  })
);

Deno.test("cross-engine: the same MLP as Values and as Tensors gives the same loss and gradients", () => {
  fc.assert(
    fc.property(dataArbitrary, fc.nat(1000), fc.integer({ min: 1, max: 6 }), (data, seed, h) => {
      const sizes = [2, h, h, 1];
      const scalar = new ScalarMlp(sizes, new Lcg32(seed));
      const model = tensorMlp(sizes, new Lcg32(seed));
      const lossV = scalarLoss(scalar, data);
      const lossT = tensorLoss(model, data);
      // The forward folds happen in the same order: the losses agree to rounding of Σp².
      assert.ok(Math.abs(lossV.data - lossT.item()) <= 1e-12, `${lossV.data} ${lossT.item()}`);
      lossV.backward();
      lossT.backward();
      const gradsV = scalar.parameters().map((p) => p.grad);
      const gradsT = flatGrads(model.parameters());
      assert.equal(gradsT.length, gradsV.length);
      gradsV.forEach((g, i) => assert.ok(Math.abs(g - gradsT[i]) <= 1e-12, `param ${i}`));
    }),
    { numRuns: 40 },
  );
});

Deno.test("W1 in tensor form: 100 SGD steps reproduce the workload's reference losses", () => {
  // ../shared/bench/WORKLOADS.md: moons data, LCG32(42) weights as 2u − 1 neuron by neuron,
  // hinge loss plus 1e-4·Σp², lr = 1 − 0.9k/100.
  const moons = twoMoons({ seed: 1337 });
  const data: Data = { xs: moons.points.map((p) => [...p]), ys: [...moons.labels] };
  const model = tensorMlp([2, 16, 16, 1], new Lcg32(42));
  const sgd = new SGD(model.parameters(), { learningRate: (k) => 1 - 0.9 * k / 100 });
  let first = NaN;
  let last = NaN;
  for (let k = 0; k < 100; k++) {
    sgd.zeroGrad();
    const loss = tensorLoss(model, data);
    loss.backward();
    sgd.step();
    if (k === 0) first = loss.item();
    last = loss.item();
  }
  assert.ok(Math.abs(first - 1.506192971829493) <= 1e-12, `loss_first ${first}`);
  assert.ok(Math.abs(last - 0.0241514567434098) <= 1e-12, `loss_last ${last}`);
  const scores = model.forward(tensor(data.xs)).data;
  const correct = data.ys.filter((y, j) => (y > 0) === (scores[j] > 0)).length;
  assert.equal(correct / 100, 0.99);
});

// ---------------------------------------------------------------------------------------
// Modules
// ---------------------------------------------------------------------------------------

Deno.test("Linear: y = x·Wᵀ + b, bias-first folds, and W1's micrograd initialisation", () => {
  const layer = new Linear(3, 2, { seed: 5 });
  const x = tensor([[1, -2, 0.5], [0, 1, 3]]);
  layer.bias!.data.set([0.25, -1]);
  const y = layer.forward(x);
  const w = layer.weight.data;
  for (let r = 0; r < 2; r++) {
    for (let j = 0; j < 2; j++) {
      let act = layer.bias!.data[j];
      for (let i = 0; i < 3; i++) act = act + w[j * 3 + i] * x.data[r * 3 + i];
      assert.equal(y.data[r * 2 + j], act); // bit for bit
    }
  }
  // Default init: uniform in ±1/√in; "uniform": 2u − 1 in draw order.
  assert.ok(layer.weight.data.every((v) => Math.abs(v) <= 1 / Math.sqrt(3)));
  const w1 = new Linear(2, 16, { init: "uniform", source: new Lcg32(42) });
  assert.equal(w1.weight.data[0], -0.49530965043231845);
  assert.equal(w1.weight.data[1], -0.8237499091774225);
  assert.equal(String(w1), "Linear(2 → 16)");
  const noBias = new Linear(2, 2, { bias: false, seed: 4 });
  assert.equal(noBias.parameters().length, 1);
  assert.equal(String(noBias), "Linear(2 → 2, no bias)");
  gradcheckTensor((xx) => noBias.forward(xx), [tensor([[1, 2]])]);
  assert.throws(() => new Linear(0, 2), /Linear: inFeatures must be a positive integer, got 0/);
  // One seeding policy: every source of randomness needs a seed or a source.
  assert.throws(() => new Linear(2, 2), /^RangeError: Linear: give a seed or a source/);
  assert.throws(() => new Embedding(2, 2), /^RangeError: Embedding: give a seed or a source/);
  assert.throws(() => new Dropout(0.1), /^RangeError: Dropout: give a seed or a source/);
  assert.throws(() => new Linear(2, 1.5), /outFeatures must be a positive integer, got 1.5/);
  // @ts-expect-error: an unknown init is refused at run time too
  assert.throws(() => new Linear(2, 2, { init: "xavier" }), /init must be "default" or "uniform"/);
  assert.throws(
    () => layer.forward(tensor([[1, 2]])),
    /linear: x \[1,2\] · weightᵀ \[2,3\]: input sizes 2 and 3 differ/,
  );
});

Deno.test("Embedding: rows by index, gradient scattered back, seeded normal table", () => {
  const embed = new Embedding(5, 3, { seed: 2 });
  const again = new Embedding(5, 3, { seed: 2 });
  assert.deepEqual(Array.from(embed.weight.data), Array.from(again.weight.data));
  const mean = Array.from(embed.weight.data).reduce((a, b) => a + b, 0) / 15;
  assert.ok(Math.abs(mean) < 1.5);
  const ids = tensor([[1, 4], [1, 0]]);
  const out = embed.forward(ids);
  assert.deepEqual(out.shape, [2, 2, 3]);
  assert.deepEqual(Array.from(out.data.slice(0, 3)), Array.from(embed.weight.data.slice(3, 6)));
  out.sum().backward();
  assert.deepEqual(
    Array.from(embed.weight.grad!.data),
    [1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1],
  );
  assert.equal(String(embed), "Embedding(5 × 3)");
  assert.equal(embed.parameters()[0], embed.weight);
  assert.throws(() => embed.forward([5]), /gather: index 5 at position 0 is out of range \[0, 5\)/);
  assert.throws(() => new Embedding(3, 0), /Embedding: dim must be a positive integer/);
});

Deno.test("LayerNorm module: unit rows at init, learned scale and shift, gradchecked", () => {
  const norm = new LayerNorm(4, { eps: 1e-5 });
  const x = tensor([[1, 2, 3, 5], [-1, 0, 0, 4]]);
  const y = norm.forward(x);
  for (let r = 0; r < 2; r++) {
    const row = Array.from(y.data.slice(4 * r, 4 * r + 4));
    const mean = row.reduce((a, b) => a + b, 0) / 4;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
    assert.ok(Math.abs(mean) < 1e-12 && Math.abs(variance - 1) < 1e-4);
  }
  norm.weight.data.set([1, 2, 3, 4]);
  norm.bias.data.set([0, 1, 0, 1]);
  // Closed forms, from Math alone: ∂/∂weight is the column sum of g·x̂, ∂/∂bias that of g.
  const g = tensor([[1, -2, 0.5, 3], [0, 1, -1, 2]]);
  norm.forward(x).mul(g).sum().backward();
  const weightGrad = [0, 0, 0, 0];
  const biasGrad = [0, 0, 0, 0];
  for (let r = 0; r < 2; r++) {
    const row = Array.from(x.data.slice(4 * r, 4 * r + 4));
    const mean = row.reduce((a, b) => a + b, 0) / 4;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
    for (let j = 0; j < 4; j++) {
      weightGrad[j] += g.data[4 * r + j] * (row[j] - mean) / Math.sqrt(variance + 1e-5);
      biasGrad[j] += g.data[4 * r + j];
    }
  }
  norm.weight.grad!.data.forEach((v, j) => assert.ok(Math.abs(v - weightGrad[j]) < 1e-14));
  assert.deepEqual(Array.from(norm.bias.grad!.data), biasGrad);
  // And the module's x gradient against central differences.
  const xLeaf = tensor([[1, 2, 3, 5], [-1, 0, 0, 4]], { requiresGrad: true });
  norm.forward(xLeaf).mul(g).sum().backward();
  const numeric = gradcheckTensor(
    (xx) => layerNorm(xx, norm.weight, norm.bias, { eps: 1e-5 }).mul(g).sum(),
    [x],
  ).numeric[0];
  const xGrad = xLeaf.grad!.data;
  numeric.forEach((v, i) => assert.ok(Math.abs(xGrad[i] - v) < 1e-9 * (1 + Math.abs(v)), `${i}`));
  assert.equal(String(norm), "LayerNorm(4)");
  assert.equal(norm.parameters().length, 2);
  assert.throws(() => new LayerNorm(3, { eps: 0 }), /LayerNorm: eps must be a finite number > 0/);
  assert.throws(
    () => norm.forward(tensor([[1, 2, 3]])),
    /layerNorm: weight \[4\] and bias \[4\] must both be \[3\] for x \[1,3\]/,
  );
});

Deno.test("Dropout module: seeded masks while training, identity in eval mode", () => {
  const drop = new Dropout(0.25, { seed: 9 });
  const x = tensor(Array.from({ length: 4000 }, () => 1));
  const first = drop.forward(x);
  const second = drop.forward(x);
  assert.notDeepEqual(Array.from(first.data), Array.from(second.data)); // a fresh mask each call
  const kept = first.data.filter((v) => v !== 0);
  assert.ok(kept.every((v) => v === 1 / 0.75));
  assert.ok(Math.abs(kept.length / 4000 - 0.75) < 0.03);
  const replay = new Dropout(0.25, { seed: 9 }).forward(x);
  assert.deepEqual(Array.from(replay.data), Array.from(first.data));
  assert.equal(drop.eval(), drop); // chainable, as in PyTorch
  assert.equal(drop.training, false);
  assert.equal(drop.forward(x), x);
  assert.notEqual(drop.train().forward(x), x);
  assert.deepEqual(drop.parameters(), []);
  assert.equal(String(drop), "Dropout(0.25)");
  assert.throws(() => new Dropout(1), /Dropout: p must be a probability in \[0, 1\), got 1/);
});

Deno.test("Sequential: layers in order, parameters in order, bad layers refused", () => {
  const a = new Linear(2, 3, { seed: 1 });
  const b = new Linear(3, 1, { seed: 2 });
  const model = new Sequential(a, (x) => x.tanh(), b);
  const x = tensor([[0.5, -1]]);
  assert.deepEqual(
    Array.from(model.forward(x).data),
    Array.from(b.forward(a.forward(x).tanh()).data),
  );
  assert.deepEqual(model.parameters(), [a.weight, a.bias, b.weight, b.bias]);
  assert.equal(String(model), "Sequential(Linear(2 → 3), fn, Linear(3 → 1))");
  const notALayer = 3 as unknown as SequentialLayer;
  assert.throws(
    () => new Sequential(a, notALayer),
    /Sequential: layer 1 is neither a module nor a function/,
  );
});

Deno.test("train and eval reach every module of a container, and dropout obeys them", () => {
  const drop = new Dropout(0.5, { seed: 1 });
  const inner = new Sequential(new Linear(2, 2, { seed: 1 }), drop);
  const model = new Sequential(inner, (x) => x.relu(), new LayerNorm(2));
  const x = tensor([[1, 2], [3, 4]]);
  model.eval();
  for (const m of [model, inner, drop, inner.layers[0] as Linear]) assert.equal(m.training, false);
  assert.deepEqual(model.forward(x).toArray(), model.forward(x).toArray()); // deterministic
  model.train();
  assert.equal(drop.training, true);
  inner.training = false; // assigning is train(false), children included
  assert.equal(drop.training, false);
  model.train();
  const masks = new Set(
    Array.from({ length: 8 }, () => JSON.stringify(inner.forward(tensor([[5, 5]])).toArray())),
  );
  assert.ok(masks.size > 1, "dropout active again in training mode");
  assert.throws(
    () => model.train("no" as unknown as boolean),
    /^TypeError: train: mode must be a boolean, got string no$/,
  );
});

Deno.test("stateDict and loadStateDict: named copies, and names and shapes checked", () => {
  const make = (seed: number) =>
    new Sequential(
      new Embedding(5, 3, { seed }),
      new LayerNorm(3),
      (x) => x.relu(),
      new Linear(3, 2, { seed: seed + 1 }),
    );
  const a = make(1);
  const b = make(7);
  assert.deepEqual(Object.keys(a.stateDict()), [
    "0.weight",
    "1.weight",
    "1.bias",
    "3.weight",
    "3.bias",
  ]);
  assert.deepEqual(a.namedParameters().map(([, p]) => p), a.parameters());
  const state = a.stateDict();
  assert.notEqual(state["0.weight"].data, (a.layers[0] as Embedding).weight.data); // a copy
  b.loadStateDict(state);
  const ids = tensor([[0, 4, 2]]);
  assert.deepEqual(b.forward(ids).toArray(), a.forward(ids).toArray());
  // A copy: training b further does not change a's state.
  (b.layers[0] as Embedding).weight.data[0] += 1;
  assert.notEqual(a.stateDict()["0.weight"].data[0], b.stateDict()["0.weight"].data[0]);

  const before = JSON.stringify(b.stateDict());
  const wrongShape = { ...state, "3.weight": tensor([[1, 2], [3, 4]]) };
  assert.throws(
    () => b.loadStateDict(wrongShape),
    /parameter "3.weight" has shape \[2,3\], the state gives shape \[2,2\]$/,
  );
  const { "1.bias": _dropped, ...missing } = state;
  assert.throws(
    () => b.loadStateDict(missing),
    /parameter "1.bias" \(shape \[3\]\) is missing from the state$/,
  );
  assert.throws(
    () => b.loadStateDict({ ...state, "4.weight": tensor([1]) }),
    /unexpected "4.weight" in the state; the parameters are "0.weight", "1.weight", "1.bias", "3.weight", "3.bias"$/,
  );
  assert.equal(JSON.stringify(b.stateDict()), before); // refused states wrote nothing
  const lone = new Linear(2, 1, { seed: 3, bias: false });
  assert.throws(
    () => lone.loadStateDict({ bias: tensor([0]) }),
    /^RangeError: loadStateDict \(Linear\(2 → 1, no bias\)\): unexpected "bias"/,
  );
});

// ---------------------------------------------------------------------------------------
// The optimizers of optim.ts train tensors as flat parameters
// ---------------------------------------------------------------------------------------

function xorData() {
  return { x: tensor([[0, 0], [0, 1], [1, 0], [1, 1]]), targets: [0, 1, 1, 0] };
}

function trainXor(make: (params: Tensor[]) => SGD | Adam | AdamW, steps: number): number[] {
  const model = new Sequential(
    new Linear(2, 8, { seed: 3 }),
    (x) => x.tanh(),
    new Linear(8, 2, { seed: 4 }),
  );
  const optimizer = make(model.parameters());
  const { x, targets } = xorData();
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    optimizer.zeroGrad();
    const loss = model.forward(x).crossEntropy(targets);
    loss.backward();
    optimizer.step();
    losses.push(loss.item());
  }
  const predictions = model.forward(x).argmax({ axis: 1 });
  assert.deepEqual(Array.from(predictions.data), targets);
  return losses;
}

Deno.test("optimizers: SGD, Adam and AdamW train a tensor model (XOR) unchanged", () => {
  for (
    const make of [
      (p: Tensor[]) => new SGD(p, { learningRate: 0.5, momentum: 0.9 }),
      (p: Tensor[]) => new Adam(p, { learningRate: 0.05 }),
      (p: Tensor[]) => new AdamW(p, { learningRate: 0.05 }),
    ]
  ) {
    const losses = trainXor(make, 300);
    assert.ok(losses[losses.length - 1] < 0.05 * losses[0], `${losses[0]} → ${losses.at(-1)}`);
  }
});

Deno.test("Tensor as FlatParameter: read and write values and grads, zeros before backward", () => {
  const p = tensor([1, 2, 3], { requiresGrad: true });
  const into = new Float64Array(5).fill(9);
  p.readGrads(into, 1);
  assert.deepEqual(Array.from(into), [9, 0, 0, 0, 9]);
  p.mul(tensor([1, 2, 3])).sum().backward();
  p.readGrads(into, 2);
  assert.deepEqual(Array.from(into), [9, 0, 1, 2, 3]);
  p.readValues(into, 0);
  assert.deepEqual(Array.from(into), [1, 2, 3, 2, 3]);
  p.writeValues(new Float64Array([7, 8, 9, 10]), 1);
  assert.deepEqual(Array.from(p.data), [8, 9, 10]);
  assert.throws(
    () => p.writeValues(new Float64Array([1, NaN, 2]), 0),
    /writeValues: new value at \[1\] is NaN/,
  );
  assert.deepEqual(Array.from(p.data), [8, 9, 10]); // nothing half-written
  assert.throws(() => p.writeValues(new Float64Array(2), 0), /needs 3 values from offset 0/);
  p.zeroGrad();
  assert.equal(p.grad, null);
  const sgd = new SGD([p], { learningRate: 0.5 });
  p.sum().backward();
  sgd.step();
  assert.deepEqual(Array.from(p.data), [7.5, 8.5, 9.5]);
});

Deno.test("modules in float32: the float64 draws rounded, float32 results", () => {
  const wide = new Linear(3, 2, { seed: 4 });
  const narrow = new Linear(3, 2, { seed: 4, dtype: "float32" });
  assert.equal(narrow.weight.dtype, "float32");
  assert.equal(narrow.bias!.dtype, "float32");
  assert.deepEqual(Array.from(narrow.weight.data), Array.from(wide.weight.data).map(Math.fround));
  const table = new Embedding(4, 3, { seed: 5, dtype: "float32" });
  assert.deepEqual(
    Array.from(table.weight.data),
    Array.from(new Embedding(4, 3, { seed: 5 }).weight.data).map(Math.fround),
  );
  const norm = new LayerNorm(2, { dtype: "float32" });
  assert.equal(norm.weight.dtype, "float32");
  assert.equal(norm.bias.dtype, "float32");
  const x = tensor([[1, 2, 3]], { dtype: "float32" });
  assert.equal(norm.forward(narrow.forward(x)).dtype, "float32");
  assert.equal(table.forward([1, 2]).dtype, "float32");
});
