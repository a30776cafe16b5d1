/**
 * The moons classifier of examples/moons.ts in tensor form, trained beside its scalar twin.
 *
 * Both runs train micrograd's MLP 2 → 16 → 16 → 1 on the same 100 points from the same
 * initial weights (benchmark workload W1: moons from `twoMoons({ seed: 1337 })`, weights `2u − 1` from
 * `Lcg32(42)`), with the max-margin loss, L2 1e-4 and 100 full-batch SGD steps of rate
 * 1.0 − 0.9·k/100. The scalar run builds ~65,000 `Value` nodes a step; the tensor run builds
 * a few dozen tensor ops. Their losses agree to ~1e-12 (the order of floating-point sums
 * differs only in gradient accumulation), and so do their accuracies.
 *
 *     deno run examples/moons_tensor.ts
 *
 * @module
 */

import { twoMoons } from "../lib/util/datasets.ts";
import { hinge, l2Penalty } from "../lib/scalar/losses.ts";
import { MLP } from "../lib/nn/mlp.ts";
import { SGD } from "../lib/nn/optim.ts";
import { Lcg32 } from "../lib/util/random.ts";
import { Linear, Sequential } from "../lib/nn/modules.ts";
import { noGrad, type Tensor, tensor } from "../lib/tensor/tensor.ts";

const STEPS = 100;
const learningRate = (k: number) => 1.0 - 0.9 * k / STEPS;
const { points, labels } = twoMoons({ samples: 100, noise: 0.1, seed: 1337 });

interface Run {
  readonly losses: number[];
  readonly accuracy: number;
  readonly msPerStep: number;
}

function accuracyOf(scores: ArrayLike<number>): number {
  return labels.filter((y, j) => (scores[j] > 0) === (y > 0)).length / labels.length;
}

function trainScalar(): Run {
  const model = new MLP(2, [16, 16, 1], { init: "uniform", source: new Lcg32(42) });
  const parameters = model.parameters();
  const optimizer = new SGD(parameters, { learningRate });
  const losses: number[] = [];
  const start = performance.now();
  for (let k = 0; k < STEPS; k++) {
    const scores = points.map(([x, y]) => model.forwardScalar([x, y]));
    const loss = hinge(scores, labels).add(l2Penalty(parameters, 1e-4));
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    losses.push(loss.data);
  }
  const msPerStep = (performance.now() - start) / STEPS;
  const scores = points.map(([x, y]) => model.forwardScalar([x, y]).data);
  return { losses, accuracy: accuracyOf(scores), msPerStep };
}

function trainTensor(): Run {
  const source = new Lcg32(42); // one generator for all layers, in layer order, as W1
  const model = new Sequential(
    new Linear(2, 16, { init: "uniform", source }),
    (x) => x.relu(),
    new Linear(16, 16, { init: "uniform", source }),
    (x) => x.relu(),
    new Linear(16, 1, { init: "uniform", source }),
  );
  const parameters = model.parameters();
  const optimizer = new SGD(parameters, { learningRate });
  const x = tensor(points.map(([a, b]) => [a, b]));
  const negativeLabels = tensor(labels.map((y) => -y));
  const lossOf = (scores: Tensor): Tensor => {
    const margins = negativeLabels.mul(scores.reshape([-1])).add(1).relu();
    let penalty: Tensor = tensor(0);
    for (const p of parameters) penalty = penalty.add(p.mul(p).sum());
    return margins.sum().mul(1 / labels.length).add(penalty.mul(1e-4));
  };
  const losses: number[] = [];
  const start = performance.now();
  for (let k = 0; k < STEPS; k++) {
    const loss = lossOf(model.forward(x));
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    losses.push(loss.item());
  }
  const msPerStep = (performance.now() - start) / STEPS;
  const scores = noGrad(() => model.forward(x)).data;
  return { losses, accuracy: accuracyOf(scores), msPerStep };
}

const scalar = trainScalar();
const tensorRun = trainTensor();
for (const k of [0, 10, 50, STEPS - 1]) {
  console.log(
    `step ${String(k).padStart(2)}  scalar loss ${scalar.losses[k].toFixed(12)}  ` +
      `tensor loss ${tensorRun.losses[k].toFixed(12)}`,
  );
}
const gap = Math.max(...scalar.losses.map((l, k) => Math.abs(l - tensorRun.losses[k])));
console.log(`largest loss difference over ${STEPS} steps: ${gap.toExponential(2)}`);
console.log(
  `accuracy after training: scalar ${scalar.accuracy * 100}%, tensor ${tensorRun.accuracy * 100}%`,
);
console.log(
  `time per step: scalar ${scalar.msPerStep.toFixed(2)} ms, tensor ` +
    `${tensorRun.msPerStep.toFixed(3)} ms (${
      (scalar.msPerStep / tensorRun.msPerStep).toFixed(0)
    }× ` +
    `faster; one run each, first steps included)`,
);
