/**
 * micrograd's famous demo, reproduced on this library: an MLP 2 → 16 → 16 → 1 learns to
 * separate two interleaving moons (100 points, noise 0.1) with a max-margin loss, L2 1e-4
 * and 100 full-batch SGD steps of rate 1.0 − 0.9·k/100. Data and initial weights are those
 * of benchmark workload W1, so every run prints the same numbers, bit for bit.
 *
 *     deno run --allow-write examples/moons.ts [picture.svg] [neuron.dot]
 *
 * Writes the learned decision boundary (default docs/moons.svg) and the computational graph
 * of one trained neuron in Graphviz DOT (default docs/neuron.dot; render it with
 * `dot -Tsvg docs/neuron.dot -o docs/neuron.svg && deno fmt docs/neuron.svg`). Without
 * --allow-write it still trains and prints, and says what it could not write.
 *
 * @module
 */

import { twoMoons } from "../lib/util/datasets.ts";
import { toDot } from "../lib/scalar/dot.ts";
import { hinge, l2Penalty } from "../lib/scalar/losses.ts";
import { MLP } from "../lib/nn/mlp.ts";
import { SGD } from "../lib/nn/optim.ts";
import { Lcg32 } from "../lib/util/random.ts";
import { linearDecay } from "../lib/nn/schedules.ts";
import { decisionBoundarySvg } from "../lib/util/svg_plot.ts";
import { Value } from "../lib/scalar/value.ts";

const STEPS = 100;
const pictureUrl = Deno.args[0] ?? new URL("../docs/moons.svg", import.meta.url);
const dotUrl = Deno.args[1] ?? new URL("../docs/neuron.dot", import.meta.url);

const { points, labels } = twoMoons({ samples: 100, noise: 0.1, seed: 1337 });
const model = new MLP(2, [16, 16, 1], { init: "uniform", source: new Lcg32(42) });
const parameters = model.parameters();
const optimizer = new SGD(parameters, {
  learningRate: linearDecay({ initial: 1.0, final: 0.1, steps: STEPS }),
});
console.log(`${model}, ${points.length} points`);

/** Full-batch loss (max-margin + L2) and accuracy of the model as it is now. */
function evaluate(): { loss: Value; accuracy: number } {
  const scores = points.map(([x, y]) => model.forwardScalar([x, y]));
  const loss = hinge(scores, labels).add(l2Penalty(parameters, 1e-4));
  const correct = scores.filter((s, j) => (s.data > 0) === (labels[j] > 0)).length;
  return { loss, accuracy: correct / points.length };
}

const terminal = Deno.stdout.isTerminal();
const encoder = new TextEncoder();
const start = performance.now();
for (let k = 0; k < STEPS; k++) {
  const { loss, accuracy } = evaluate();
  optimizer.zeroGrad();
  loss.backward();
  const lr = optimizer.learningRateAt(k);
  optimizer.step();
  const line = `step ${String(k).padStart(2)}  loss ${loss.data.toFixed(6)}  ` +
    `accuracy ${(accuracy * 100).toFixed(0).padStart(3)}%  lr ${lr.toFixed(3)}`;
  if (terminal) {
    const filled = Math.round(((k + 1) / STEPS) * 30);
    const bar = "#".repeat(filled) + ".".repeat(30 - filled);
    Deno.stdout.writeSync(encoder.encode(`\r[${bar}] ${line}`));
    if (k === STEPS - 1) console.log();
  } else if (k % 10 === 0 || k === STEPS - 1) {
    console.log(line);
  }
}
const seconds = (performance.now() - start) / 1000;
const final = evaluate();
console.log(
  `trained in ${seconds.toFixed(2)} s (${((seconds * 1000) / STEPS).toFixed(1)} ms a step); ` +
    `final loss ${final.loss.data.toFixed(6)}, training accuracy ${final.accuracy * 100}%`,
);

const picture = decisionBoundarySvg({
  score: (x, y) => model.forwardScalar([x, y]).data,
  points,
  labels,
  title: `MLP 2-16-16-1 on two moons: ${final.accuracy * 100}% after ${STEPS} steps`,
});

// The first neuron of the first layer that is active (relu > 0) on the first data point,
// with the gradients of its output: a graph small enough to read.
const inputs = points[0].map((x, i) => new Value(x, { label: `x${i}` }));
const firstLayer = model.layers[0].neurons;
const neuron = firstLayer.find((n) => n.forward(inputs).data > 0) ?? firstLayer[0];
const output = neuron.forward(inputs);
output.label = "out";
model.zeroGrad();
output.backward();
const neuronDot = toDot(output);
model.zeroGrad();

write(pictureUrl, picture, "decision boundary");
write(dotUrl, neuronDot, "graph of one neuron");

/** Writes `text` to `target` if allowed to, and says what happened either way. */
function write(target: string | URL, text: string, what: string): void {
  const path = target instanceof URL ? target.pathname : target;
  const allowed = Deno.permissions.querySync({ name: "write", path }).state === "granted";
  if (!allowed) {
    console.log(`could not write the ${what} to ${path}: run with --allow-write`);
    return;
  }
  try {
    Deno.writeTextFileSync(target, text);
    console.log(`wrote the ${what} to ${path}`);
  } catch (error) {
    console.log(`could not write the ${what} to ${path}: ${(error as Error).message}`);
  }
}
