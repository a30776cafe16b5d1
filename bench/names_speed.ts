/**
 * ms per training step of one names model on our engine, after warm-up: the same step as
 * examples/names.ts (batch of the step, forward, loss, backward, AdamW), timed alone.
 * Prints one JSON line. Run beside the PyTorch twin by bench/names_speed.sh.
 *
 *   deno run -A bench/names_speed.ts --type gru --steps 100 --warmup 10
 *   deno run -A bench/names_speed.ts --type transformer --dtype float32
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createModel, sequenceLoss, TensorAdamW, Transformer } from "../lib/lm/mod.ts";
import { batchAt, configOf, namesData, parseNamesArgs } from "../examples/names.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    type: { type: "string", default: "gru" },
    steps: { type: "string", default: "100" },
    warmup: { type: "string", default: "10" },
    "input-file": { type: "string", default: "data/names.txt" },
    dtype: { type: "string", default: "float64" },
  },
});
const type = values.type as string;
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const data = namesData(await Deno.readTextFile(values["input-file"] as string));
// makemore's default sizes, as examples/names.ts runs without flags.
const config = configOf(parseNamesArgs([]), data);
const dtype = values.dtype as "float64" | "float32";
// The transformer trains in float32 too, as PyTorch does; the other models in float64 only.
const model = type === "transformer"
  ? new Transformer(config, { seed: 3407, dtype })
  : createModel(type, config, { seed: 3407 });
if (dtype !== "float64" && type !== "transformer") {
  throw new RangeError(`--dtype ${dtype}: only the transformer has a float32 option`);
}
const optimizer = new TensorAdamW(model.namedParameters(), {
  learningRate: 5e-4,
  weightDecay: 0.01,
  beta2: 0.99,
});
const times: number[] = [];
for (let step = 0; step < warmup + steps; step++) {
  const started = performance.now();
  const { x, y } = batchAt(data.trainExamples, 32, 3407, step);
  optimizer.zeroGrad();
  sequenceLoss(model, x, y).backward(undefined, { intermediateGrads: false });
  optimizer.step();
  if (step >= warmup) times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
const mean = times.reduce((a, b) => a + b, 0) / times.length;
console.log(JSON.stringify({
  engine: "dcslm",
  type,
  dtype,
  steps,
  warmup,
  msPerStep: mean,
  medianMs: times[Math.floor(times.length / 2)],
}));
