/**
 * Benchmark workload W1 ("moons MLP", ../shared/bench/WORKLOADS.md): micrograd's demo made
 * deterministic, trained with this library's own MLP, losses and optimizer.
 *
 *     deno run bench/w1_moons.ts
 *
 * Prints one JSON object on its last line. No warm-up: step 0 is timed, JIT and all.
 *
 * @module
 */

import { hinge, l2Penalty } from "../lib/scalar/losses.ts";
import { MLP } from "../lib/nn/mlp.ts";
import { SGD } from "../lib/nn/optim.ts";
import { Lcg32 } from "../lib/util/random.ts";
import { linearDecay } from "../lib/nn/schedules.ts";
import { twoMoons } from "../lib/util/datasets.ts";
import { topologicalOrder, Value } from "../lib/scalar/value.ts";

const STEPS = 100;
const LOSS_FIRST = 1.506192971829493;
const LOSS_LAST = 0.0241514567434098;

const { points, labels } = twoMoons({ seed: 1337 });
const model = new MLP(2, [16, 16, 1], { init: "uniform", source: new Lcg32(42) });
const parameters = model.parameters();
const optimizer = new SGD(parameters, {
  learningRate: linearDecay({ initial: 1.0, final: 0.1, steps: STEPS }),
});

function loss(): { total: Value; accuracy: number } {
  const scores = points.map((point) =>
    model.forwardScalar([new Value(point[0]), new Value(point[1])])
  );
  const total = hinge(scores, labels).add(l2Penalty(parameters, 1e-4));
  let correct = 0;
  for (let j = 0; j < scores.length; j++) {
    if ((labels[j] > 0) === (scores[j].data > 0)) correct++;
  }
  return { total, accuracy: correct / scores.length };
}

const stepMs: number[] = [];
let lossFirst = NaN;
let lossLast = NaN;
let accLastStep = NaN;
const start = performance.now();
for (let k = 0; k < STEPS; k++) {
  const stepStart = performance.now();
  const { total, accuracy } = loss();
  optimizer.zeroGrad();
  total.backward();
  optimizer.step();
  stepMs.push(performance.now() - stepStart);
  if (k === 0) lossFirst = total.data;
  lossLast = total.data;
  accLastStep = accuracy;
}
const trainMs = performance.now() - start;

const after = loss();
const nodesPerStep = topologicalOrder(after.total).length;
const sorted = stepMs.slice().sort((a, b) => a - b);
const median = (sorted[STEPS / 2 - 1] + sorted[STEPS / 2]) / 2;
const referenceOk = Math.abs(lossFirst - LOSS_FIRST) <= 1e-12 &&
  Math.abs(lossLast - LOSS_LAST) <= 1e-12 && accLastStep === 0.99 && after.accuracy === 0.99;

console.log(JSON.stringify({
  workload: "W1",
  engine: "dcslm",
  train_ms: trainMs,
  step_ms_mean: trainMs / STEPS,
  step_ms_median: median,
  loss_first: lossFirst,
  loss_last: lossLast,
  acc_last_step: accLastStep,
  acc_after_training: after.accuracy,
  nodes_per_step: nodesPerStep,
  reference_ok: referenceOk,
}));
