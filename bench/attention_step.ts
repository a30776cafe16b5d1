/**
 * The batched SIMD attention kernel against the reference path (one matrix-product call per
 * product per head), in one process, alternating: the makemore transformer's training step
 * (examples/names.ts's step: batch, forward, loss, backward, AdamW) run step by step with the
 * kernel on and off, in ABBA order, and the median of the per-pair ratios; then selfAttention
 * alone (forward and backward of the step's [32, 16, 192] projection, 4 heads) the same way,
 * and with `--grid`, selfAttention alone on [8, T, 3·4·d] for T and d of 16, 32, 64 (where the
 * kernel is routed). Prints JSON lines.
 *
 *   deno run -A bench/attention_step.ts --dtype float32 --pairs 40 --warmup 10 [--grid]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { sequenceLoss, TensorAdamW, Transformer } from "../lib/lm/mod.ts";
import { randn, selfAttention } from "../lib/tensor/tensor.ts";
import { setSimdAttention } from "../lib/tensor/kernels/simd.ts";
import { batchAt, configOf, namesData, parseNamesArgs } from "../examples/names.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pairs: { type: "string", default: "40" },
    warmup: { type: "string", default: "10" },
    "input-file": { type: "string", default: "data/names.txt" },
    dtype: { type: "string", default: "float32" },
    grid: { type: "boolean", default: false },
  },
});
const pairs = Number(values.pairs);
const warmup = Number(values.warmup);
const dtype = values.dtype as "float64" | "float32";
const data = namesData(await Deno.readTextFile(values["input-file"] as string));
// makemore's default sizes, as examples/names.ts runs without flags.
const config = configOf(parseNamesArgs([]), data);
const model = new Transformer(config, { seed: 3407, dtype });
const optimizer = new TensorAdamW(model.namedParameters(), {
  learningRate: 5e-4,
  weightDecay: 0.01,
  beta2: 0.99,
});
let step = 0;
function trainingStep(): void {
  const { x, y } = batchAt(data.trainExamples, 32, 3407, step++);
  optimizer.zeroGrad();
  sequenceLoss(model, x, y).backward(undefined, { intermediateGrads: false });
  optimizer.step();
}

let qkv = randn([32, config.blockSize, 3 * config.nEmbd], {
  seed: 1,
  requiresGrad: true,
  dtype,
});
let heads = config.nHead;
function attentionAlone(): void {
  qkv.zeroGrad();
  selfAttention(qkv, { heads }).sum().backward();
}

/** Median over pairs of (time with the kernel) / (time without), ABBA order. */
function medianRatio(run: () => void, count: number): { ratio: number; kernelMs: number } {
  const timed = (kernel: boolean) => {
    setSimdAttention(kernel);
    const started = performance.now();
    run();
    return performance.now() - started;
  };
  for (let i = 0; i < warmup; i++) [true, false].forEach(timed);
  const ratios: number[] = [];
  const kernelTimes: number[] = [];
  for (let i = 0; i < count; i++) {
    const order = i % 2 === 0 ? [true, false] : [false, true];
    const [first, second] = order.map(timed);
    const [on, off] = order[0] ? [first, second] : [second, first];
    ratios.push(on / off);
    kernelTimes.push(on);
  }
  setSimdAttention(true);
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { ratio: median(ratios), kernelMs: median(kernelTimes) };
}

const stepResult = medianRatio(trainingStep, pairs);
const aloneResult = medianRatio(attentionAlone, pairs);
console.log(JSON.stringify({
  dtype,
  pairs,
  stepKernelOverReference: stepResult.ratio,
  stepKernelMs: stepResult.kernelMs,
  selfAttentionKernelOverReference: aloneResult.ratio,
  selfAttentionKernelMs: aloneResult.kernelMs,
}));

if (values.grid) {
  heads = 4;
  for (const time of [16, 32, 64]) {
    for (const d of [16, 32, 64]) {
      qkv = randn([8, time, 3 * heads * d], { seed: 2, requiresGrad: true, dtype });
      const { ratio, kernelMs } = medianRatio(attentionAlone, Math.max(5, pairs >> 1));
      console.log(JSON.stringify({ dtype, time, d, kernelOverReference: ratio, kernelMs }));
    }
  }
}
