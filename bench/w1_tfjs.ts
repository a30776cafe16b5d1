/**
 * Workload W1 ("moons MLP", ../shared/bench/WORKLOADS.md) on TensorFlow.js's pure-JavaScript
 * CPU backend (`@tensorflow/tfjs` with `tf.setBackend("cpu")`, float32): the same
 * data, initial weights, loss, schedule and step count as the scalar and tensor forms, as a
 * peer to compare their step times against.
 *
 *     deno run --allow-env --allow-read bench/w1_tfjs.ts
 *
 * Prints one JSON object on its last line. No warm-up: step 0 is timed. Each step reads the
 * loss and scores back (`dataSync`), as the other forms have them after every step.
 *
 * @module
 */

// The full package: tfjs-core's own Node bundle registers no gradient functions.
// The full specifier here, not in deno.json: tensorflow.js (~270 MB) is fetched only when a
// tfjs benchmark runs. These files are excluded from `deno check .` for the same reason;
// check them with `deno task bench:check`.
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
import { median, W1_REFERENCE, W1_STEPS, w1Problem } from "./_w1_data.ts";

await tf.setBackend("cpu");
await tf.ready();

const problem = await w1Problem();
const samples = problem.y.length;
const x = tf.tensor2d(Float32Array.from(problem.x), [samples, 2], "float32");
const y = tf.tensor2d(Float32Array.from(problem.y), [samples, 1], "float32");
const negY = tf.neg(y);
// tfjs multiplies h·W with W as nin × nout; W1 generates weights neuron-major (nout × nin).
const layers = tf.tidy(() =>
  problem.layers.map(({ nin, nout, weights, biases }) => ({
    w: tf.variable(tf.transpose(tf.tensor2d(Float32Array.from(weights), [nout, nin], "float32"))),
    b: tf.variable(tf.tensor1d(Float32Array.from(biases), "float32")),
  }))
);
const variables = layers.flatMap(({ w, b }) => [w, b]);

function forward(): tf.Tensor {
  let h: tf.Tensor = x;
  layers.forEach(({ w, b }, l) => {
    const act = tf.add(tf.matMul(h, w), b);
    h = l < layers.length - 1 ? tf.relu(act) : act;
  });
  return h;
}

function totalLoss(scores: tf.Tensor): tf.Scalar {
  const margins = tf.relu(tf.add(1, tf.mul(negY, scores)));
  const dataLoss = tf.mul(tf.sum(margins), 1 / samples);
  const squares = variables.map((p) => tf.sum(tf.square(p)));
  const regLoss = tf.mul(1e-4, tf.addN(squares));
  return tf.add(dataLoss, regLoss) as tf.Scalar;
}

function accuracyOf(scores: Float32Array | Int32Array | Uint8Array): number {
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
  let scores: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    scores = tf.keep(forward());
    return totalLoss(scores);
  }, variables);
  const lr = 1.0 - 0.9 * k / 100;
  tf.tidy(() => {
    for (const p of variables) p.assign(tf.sub(p, tf.mul(grads[p.name], lr)));
  });
  const loss = value.dataSync()[0];
  accLastStep = accuracyOf(scores!.dataSync());
  tf.dispose([value, scores!, ...Object.values(grads)]);
  stepMs.push(performance.now() - stepStart);
  if (k === 0) lossFirst = loss;
  lossLast = loss;
}
const trainMs = performance.now() - start;

const accAfterTraining = tf.tidy(() => accuracyOf(forward().dataSync()));
const float32Tolerance = 1e-5;
const referenceOk = Math.abs(lossFirst - W1_REFERENCE.lossFirst) <= float32Tolerance &&
  Math.abs(lossLast - W1_REFERENCE.lossLast) <= float32Tolerance &&
  accLastStep === W1_REFERENCE.accuracy && accAfterTraining === W1_REFERENCE.accuracy;

console.log(JSON.stringify({
  workload: "W1",
  engine: `tfjs ${tf.version.tfjs} cpu backend (float32)`,
  train_ms: trainMs,
  step_ms_mean: trainMs / W1_STEPS,
  step_ms_median: median(stepMs),
  loss_first: lossFirst,
  loss_last: lossLast,
  acc_last_step: accLastStep,
  acc_after_training: accAfterTraining,
  reference_tolerance: float32Tolerance,
  reference_ok: referenceOk,
  tensors_alive: tf.memory().numTensors,
}));
