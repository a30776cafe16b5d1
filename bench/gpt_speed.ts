/**
 * ms per training iteration of nanoGPT's CPU Shakespeare GPT on our engine, after warm-up:
 * the iteration of examples/shakespeare.ts (batch, forward, loss, backward, clipping, AdamW)
 * without its evaluations and checkpoints, so that a CPU profile shows the step alone.
 * Prints one JSON line.
 *
 *   deno run -A bench/gpt_speed.ts --iters 20 --warmup 3 --dtype float32
 *
 * @module
 */

import { parseArgs } from "node:util";
import { GPT } from "../lib/lm/gpt.ts";
import { AdamW } from "../lib/nn/optim.ts";
import { clipGradNorm } from "../lib/nn/clip.ts";
import { Tensor } from "../lib/tensor/tensor.ts";
import { Random } from "../lib/util/random.ts";
import { CharTokenizer } from "../lib/text/char_tokenizer.ts";
import { splitProse } from "../lib/text/splits.ts";
import { sampleWindows } from "../lib/text/batches.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    iters: { type: "string", default: "20" },
    warmup: { type: "string", default: "3" },
    dtype: { type: "string", default: "float64" },
  },
});
const iters = Number(values.iters);
const warmup = Number(values.warmup);
const dtype = values.dtype as "float64" | "float32";
const text = Deno.readTextFileSync(new URL("../data/shakespeare.txt", import.meta.url));
const tokenizer = CharTokenizer.fromText(text, { boundary: null });
const train = Int32Array.from(tokenizer.encode(splitProse(text).train));
const [batchSize, blockSize] = [12, 64];
const model = new GPT({
  vocabSize: tokenizer.vocabSize,
  blockSize,
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  seed: 1337,
  dtype,
});
const parameters = model.parameters();
const optimizer = new AdamW(parameters, {
  learningRate: 1e-3,
  beta2: 0.99,
  weightDecay: 0.1,
  decays: (p) => p instanceof Tensor && p.rank >= 2,
});
const random = new Random(1337);
const times: number[] = [];
for (let iter = 0; iter < warmup + iters; iter++) {
  const started = performance.now();
  const batch = sampleWindows(train, { batchSize, blockSize, random });
  const shape = [batchSize, blockSize];
  const x = new Tensor(Float64Array.from(batch.inputs), shape);
  const y = new Tensor(Float64Array.from(batch.targets), shape);
  const { loss } = model.forward(x, { targets: y });
  optimizer.zeroGrad();
  loss!.backward(undefined, { intermediateGrads: false });
  clipGradNorm(parameters, 1);
  optimizer.step();
  if (iter >= warmup) times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  engine: "dcslm",
  model: "gpt",
  dtype,
  iters,
  warmup,
  msPerIter: times.reduce((a, b) => a + b, 0) / times.length,
  medianMs: times[Math.floor(times.length / 2)],
}));
