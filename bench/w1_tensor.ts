/**
 * Workload W1 ("moons MLP", ../shared/bench/WORKLOADS.md) in tensor form: the whole batch of
 * 100 points goes through each layer as one `linear` op ([100, nin] · Wᵀ + b), so a step is
 * a few dozen tensor ops instead of W1's ~66,000 scalar nodes. Same data, initial weights,
 * loss, schedule and reference values as the scalar form (bench/w1_moons.ts).
 *
 *     deno run --allow-env --allow-read bench/w1_tensor.ts
 *
 * Bit-level agreement with the scalar reference comes from evaluating in W1's order: each
 * neuron is the left fold b + w₀x₀ + w₁x₁ + … (`linear`), the hinge sum a left fold over the
 * points, and the L2 penalty a left fold over all 337 parameters in the order layer, neuron,
 * weights, bias (the parameters are laid out that way with concat before squaring).
 *
 * Runs on the tensor engine (lib/tensor/tensor.ts): `Tensor` leaves for the parameters,
 * `backward` for the gradients, plain SGD on `data`.
 *
 * Prints one JSON object on its last line. No warm-up: step 0 is timed.
 *
 * @module
 */

import { concat, linear, Tensor, tensorTopologicalOrder } from "../lib/tensor/tensor.ts";
import { median, W1_REFERENCE, W1_STEPS, w1Problem } from "./_w1_data.ts";

const problem = await w1Problem();
const samples = problem.y.length;
const x = new Tensor(problem.x, [samples, 2]);
const negY = new Tensor(problem.y.map((v) => -v), [samples, 1]);
// W [nout, nin] neuron-major, exactly W1's generation order (and linear's layout), b [nout].
const layers = problem.layers.map(({ nin, nout, weights, biases }) => ({
  w: new Tensor(weights.slice(), [nout, nin], { requiresGrad: true }),
  b: new Tensor(biases.slice(), [nout], { requiresGrad: true }),
}));
const parameters = layers.flatMap(({ w, b }) => [w, b]);

function loss(): { total: Tensor; scores: Float64Array } {
  let h = x;
  layers.forEach(({ w, b }, l) => {
    const act = linear(h, w, b);
    h = l < layers.length - 1 ? act.relu() : act;
  });
  const margins = negY.mul(h).add(1).relu(); // relu(1 + (-y)·score); + commutes exactly
  const dataLoss = margins.sum().mul(1.0 / samples);
  // [w_j0 … w_j(nin-1), b_j] for each neuron j of each layer, flattened: W1's parameter order.
  const flat = concat(layers.map(({ w, b }) => {
    const row = concat([w, b.reshape([b.shape[0], 1])], 1);
    return row.reshape([row.size]);
  }));
  const regLoss = flat.mul(flat).sum().mul(1e-4);
  return { total: dataLoss.add(regLoss), scores: h.data as Float64Array }; // float64 tensors
}

function accuracyOf(scores: Float64Array): number {
  let correct = 0;
  for (let j = 0; j < samples; j++) if ((problem.y[j] > 0) === (scores[j] > 0)) correct++;
  return correct / samples;
}

const stepMs: number[] = [];
let lossFirst = NaN;
let lossLast = NaN;
let accLastStep = NaN;
const start = performance.now();
for (let k = 0; k < W1_STEPS; k++) {
  const stepStart = performance.now();
  const { total, scores } = loss();
  for (const p of parameters) p.zeroGrad();
  total.backward();
  const lr = 1.0 - 0.9 * k / 100;
  for (const p of parameters) {
    const data = p.data, grad = p.grad!.data;
    for (let i = 0; i < data.length; i++) data[i] = data[i] - lr * grad[i];
  }
  stepMs.push(performance.now() - stepStart);
  if (k === 0) lossFirst = total.item();
  lossLast = total.item();
  accLastStep = accuracyOf(scores);
}
const trainMs = performance.now() - start;

const after = loss();
const accAfterTraining = accuracyOf(after.scores);
const referenceOk = lossFirst === W1_REFERENCE.lossFirst &&
  Math.abs(lossLast - W1_REFERENCE.lossLast) <= W1_REFERENCE.lossLastTolerance &&
  accLastStep === W1_REFERENCE.accuracy && accAfterTraining === W1_REFERENCE.accuracy;

console.log(JSON.stringify({
  workload: "W1",
  engine: "dcslm Tensor (float64)",
  train_ms: trainMs,
  step_ms_mean: trainMs / W1_STEPS,
  step_ms_median: median(stepMs),
  loss_first: lossFirst,
  loss_last: lossLast,
  acc_last_step: accLastStep,
  acc_after_training: accAfterTraining,
  ops_per_step: tensorTopologicalOrder(after.total).filter((t) => t.op !== null).length,
  reference_ok: referenceOk,
}));
