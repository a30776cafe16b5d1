/**
 * nanoGPT's character-level Shakespeare run on DCSLM: train a GPT on data/shakespeare.txt
 * (first 90% train, last 10% validation), keep the best checkpoint by validation loss, and
 * sample from it. Flags mirror nanoGPT's configuration names.
 *
 *     deno run -A examples/shakespeare.ts                       # the reference run
 *     deno run -A examples/shakespeare.ts --sample-only --start "HAMLET." --max-new-tokens 500
 *     deno run -A examples/shakespeare.ts --eval some.txt       # loss, perplexity, bits/char
 *
 * The defaults are nanoGPT's CPU configuration for shakespeare_char: block 64, batch 12,
 * 4 layers, 4 heads, 128 wide, 2,000 iterations, learning rate 1e-3 warmed up over 100
 * iterations and decayed by a cosine to 1e-4 at 2,000, AdamW (β₂ 0.99, weight decay 0.1 on
 * matrices only), gradients clipped at norm 1, dropout 0, evaluation every 250 iterations
 * over 20 batches of each split.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { generate, GPT, type GPTConfig } from "../lib/lm/gpt.ts";
import { AdamW } from "../lib/nn/optim.ts";
import { clipGradNorm } from "../lib/nn/clip.ts";
import { cosineWithWarmup } from "../lib/nn/schedules.ts";
import { noGrad, Tensor } from "../lib/tensor/tensor.ts";
import { Random } from "../lib/util/random.ts";
import {
  Chars,
  loadSafetensors,
  randomBatch,
  readMetadata,
  sampler,
  saveSafetensors,
} from "./_gpt_interim.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    "input-file": { type: "string", default: "data/shakespeare.txt" },
    "out-dir": { type: "string", default: "out/shakespeare-char" },
    "n-layer": { type: "string", default: "4" },
    "n-head": { type: "string", default: "4" },
    "n-embd": { type: "string", default: "128" },
    "block-size": { type: "string", default: "64" },
    "batch-size": { type: "string", default: "12" },
    "max-iters": { type: "string", default: "2000" },
    "lr-decay-iters": { type: "string", default: "2000" },
    "learning-rate": { type: "string", default: "1e-3" },
    "min-lr": { type: "string", default: "1e-4" },
    "warmup-iters": { type: "string", default: "100" },
    "weight-decay": { type: "string", default: "0.1" },
    "beta1": { type: "string", default: "0.9" },
    "beta2": { type: "string", default: "0.99" },
    "grad-clip": { type: "string", default: "1.0" },
    "dropout": { type: "string", default: "0" },
    "eval-interval": { type: "string", default: "250" },
    "eval-iters": { type: "string", default: "20" },
    "log-interval": { type: "string", default: "10" },
    "seed": { type: "string", default: "1337" },
    "sample-only": { type: "boolean", default: false },
    "start": { type: "string", default: "\n" },
    "max-new-tokens": { type: "string", default: "500" },
    "temperature": { type: "string", default: "0.8" },
    "top-k": { type: "string", default: "200" },
    "no-cache": { type: "boolean", default: false },
    "eval": { type: "string" },
  },
});

function num(name: keyof typeof flags): number {
  const raw = flags[name];
  const value = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(value)) {
    throw new RangeError(`--${name} must be a number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const outDir = flags["out-dir"]!;
const checkpointPath = `${outDir}/ckpt.safetensors`;

if (flags["sample-only"]) {
  sampleOnly();
} else if (flags.eval !== undefined) {
  evaluateFile(flags.eval);
} else {
  train();
}

function loadModel(): { model: GPT; chars: Chars } {
  const meta = readMetadata(checkpointPath);
  const model = new GPT(JSON.parse(meta.config) as GPTConfig);
  loadSafetensors(checkpointPath, model);
  return { model, chars: new Chars(JSON.parse(meta.chars)) };
}

function sampleOnly(): void {
  const { model, chars } = loadModel();
  const random = new Random(num("seed"));
  const pick = sampler(random, num("temperature"), num("top-k"));
  const prompt = Array.from(chars.encode(flags.start!));
  const encoder = new TextEncoder();
  Deno.stdout.writeSync(encoder.encode(flags.start!));
  const started = performance.now();
  let count = 0;
  for (
    const token of generate(model, prompt, {
      maxNewTokens: num("max-new-tokens"),
      pick,
      cache: !flags["no-cache"],
    })
  ) {
    Deno.stdout.writeSync(encoder.encode(chars.decode([token])));
    count++;
  }
  const seconds = (performance.now() - started) / 1000;
  console.error(
    `\n[${count} tokens in ${seconds.toFixed(2)} s: ${(count / seconds).toFixed(1)} tokens/s]`,
  );
}

function evaluateFile(path: string): void {
  const { model, chars } = loadModel();
  const data = chars.encode(Deno.readTextFileSync(path));
  const block = model.config.blockSize;
  model.train(false);
  let nats = 0;
  let predicted = 0;
  noGrad(() => {
    for (let start = 0; start + 1 < data.length; start += block) {
      const end = Math.min(start + block, data.length - 1);
      const x = Array.from(data.subarray(start, end));
      const y = Array.from(data.subarray(start + 1, end + 1));
      const { loss } = model.forward([x], { targets: [y] });
      nats += loss!.item() * x.length;
      predicted += x.length;
    }
  });
  const loss = nats / predicted;
  console.log(
    `${path}: ${predicted} characters predicted, loss ${loss.toFixed(4)} nats/char, ` +
      `perplexity ${Math.exp(loss).toFixed(3)}, ${(loss / Math.LN2).toFixed(4)} bits/char`,
  );
}

function train(): void {
  const text = Deno.readTextFileSync(flags["input-file"]!);
  const chars = Chars.fromText(text);
  const data = chars.encode(text);
  const cut = Math.floor(0.9 * data.length);
  const splits = { train: data.subarray(0, cut), val: data.subarray(cut) };
  const config: GPTConfig = {
    vocabSize: chars.vocabSize,
    blockSize: num("block-size"),
    nLayer: num("n-layer"),
    nHead: num("n-head"),
    nEmbd: num("n-embd"),
    dropout: num("dropout"),
    seed: num("seed"),
  };
  const model = new GPT(config);
  const maxIters = num("max-iters");
  const batchSize = num("batch-size");
  const evalInterval = num("eval-interval");
  const evalIters = num("eval-iters");
  const logInterval = num("log-interval");
  const gradClip = num("grad-clip");
  const schedule = cosineWithWarmup({
    peak: num("learning-rate"),
    final: num("min-lr"),
    warmupSteps: num("warmup-iters"),
    totalSteps: num("lr-decay-iters"),
  });
  const parameters = model.parameters();
  const optimizer = new AdamW(parameters, {
    learningRate: schedule,
    beta1: num("beta1"),
    beta2: num("beta2"),
    weightDecay: num("weight-decay"),
    decays: (p) => p instanceof Tensor && p.rank >= 2,
  });
  const random = new Random(num("seed"));
  Deno.mkdirSync(outDir, { recursive: true });
  console.log(
    `GPT: ${model.parameterCount()} parameters, vocabulary ${chars.vocabSize}, ` +
      `train ${splits.train.length} / val ${splits.val.length} tokens; ` +
      `config ${JSON.stringify(config)}`,
  );

  const estimateLoss = (): { train: number; val: number } => {
    model.train(false);
    const out = { train: 0, val: 0 };
    noGrad(() => {
      for (const split of ["train", "val"] as const) {
        let total = 0;
        for (let k = 0; k < evalIters; k++) {
          const [x, y] = randomBatch(splits[split], batchSize, config.blockSize, random);
          total += model.forward(x, { targets: y }).loss!.item();
        }
        out[split] = total / evalIters;
      }
    });
    model.train(true);
    return out;
  };

  const evals: { iter: number; train: number; val: number; seconds: number }[] = [];
  const trainLosses: number[] = [];
  let best = Infinity;
  const started = performance.now();
  let stepMs = 0;
  const tty = Deno.stdout.isTerminal();
  for (let iter = 0; iter <= maxIters; iter++) {
    if (iter % evalInterval === 0 || iter === maxIters) {
      const losses = estimateLoss();
      const seconds = (performance.now() - started) / 1000;
      evals.push({ iter, ...losses, seconds });
      const line = `step ${iter}: train loss ${losses.train.toFixed(4)}, ` +
        `val loss ${losses.val.toFixed(4)} (${seconds.toFixed(0)} s)`;
      if (losses.val < best) {
        best = losses.val;
        saveSafetensors(checkpointPath, model, {
          config: JSON.stringify(config),
          chars: JSON.stringify(chars.chars),
          iter: String(iter),
          val_loss: String(losses.val),
        });
        console.log(`${tty ? "\r\x1b[K" : ""}${line}, saved ${checkpointPath}`);
      } else {
        console.log(`${tty ? "\r\x1b[K" : ""}${line}`);
      }
      Deno.writeTextFileSync(
        `${outDir}/log.json`,
        JSON.stringify({ config, evals, trainLosses }, null, 1),
      );
      Deno.writeTextFileSync(`${outDir}/loss.svg`, lossCurveSvg(trainLosses, evals));
    }
    if (iter === maxIters) break;
    const t0 = performance.now();
    const [x, y] = randomBatch(splits.train, batchSize, config.blockSize, random);
    const { loss } = model.forward(x, { targets: y });
    optimizer.zeroGrad();
    loss!.backward();
    clipGradNorm(parameters, gradClip);
    const lr = optimizer.learningRateAt(optimizer.stepCount);
    optimizer.step();
    const ms = performance.now() - t0;
    stepMs = stepMs === 0 ? ms : 0.9 * stepMs + 0.1 * ms;
    trainLosses.push(loss!.item());
    if ((iter + 1) % logInterval === 0) {
      const eta = formatSeconds((maxIters - iter - 1) * stepMs / 1000);
      const line = `iter ${iter + 1}/${maxIters}: loss ${loss!.item().toFixed(4)}, ` +
        `lr ${lr.toExponential(2)}, ${ms.toFixed(0)} ms/iter, ETA ${eta}`;
      if (tty) Deno.stdout.writeSync(new TextEncoder().encode(`\r\x1b[K${line}`));
      else console.log(line);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `done: ${maxIters} iterations in ${seconds.toFixed(0)} s, best val loss ${best.toFixed(4)}`,
  );
}

function formatSeconds(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

/** Train loss per iteration (faint) and the evaluated train/val losses, as an SVG chart. */
function lossCurveSvg(
  trainLosses: readonly number[],
  evals: readonly { iter: number; train: number; val: number }[],
): string {
  const width = 640;
  const height = 400;
  const pad = 50;
  const maxIter = Math.max(1, trainLosses.length, ...evals.map((e) => e.iter));
  const all = [...trainLosses, ...evals.flatMap((e) => [e.train, e.val])];
  const top = Math.max(...all);
  const bottom = Math.min(...all);
  const sx = (i: number) => pad + (width - 2 * pad) * i / maxIter;
  const sy = (l: number) => height - pad - (height - 2 * pad) * (l - bottom) / (top - bottom || 1);
  const line = (points: [number, number][], color: string, opacity = 1) =>
    `<polyline fill="none" stroke="${color}" stroke-opacity="${opacity}" stroke-width="1.5" ` +
    `points="${points.map(([i, l]) => `${sx(i).toFixed(1)},${sy(l).toFixed(1)}`).join(" ")}"/>`;
  const ticks = [bottom, (bottom + top) / 2, top].map((l) =>
    `<text x="${pad - 6}" y="${sy(l).toFixed(1)}" text-anchor="end" font-size="11">${
      l.toFixed(2)
    }</text>`
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${
      height - pad
    }" stroke="black"/>`,
    `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="black"/>`,
    ...ticks,
    `<text x="${width / 2}" y="${
      height - 15
    }" text-anchor="middle" font-size="12">iteration (0–${maxIter})</text>`,
    line(trainLosses.map((l, i) => [i + 1, l]), "#888", 0.5),
    line(evals.map((e) => [e.iter, e.train]), "#1f77b4"),
    line(evals.map((e) => [e.iter, e.val]), "#d62728"),
    `<text x="${
      width - pad
    }" y="${pad}" text-anchor="end" font-size="12" fill="#1f77b4">train</text>`,
    `<text x="${width - pad}" y="${
      pad + 16
    }" text-anchor="end" font-size="12" fill="#d62728">val</text>`,
    `</svg>`,
  ].join("\n");
}
