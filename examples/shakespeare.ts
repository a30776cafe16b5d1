/**
 * nanoGPT's character-level Shakespeare run on DCSLM: train a GPT on data/shakespeare.txt
 * (first 90% train, last 10% validation), keep the best checkpoint by validation loss, and
 * sample from it. Flags mirror nanoGPT's configuration names.
 *
 *     deno run -A examples/shakespeare.ts                       # the reference run
 *     deno run -A examples/shakespeare.ts --sample-only --start "HAMLET." --max-new-tokens 500
 *     deno run -A examples/shakespeare.ts --eval some.txt       # loss, perplexity, bits/char
 *     deno run -A examples/shakespeare.ts --dtype float32       # train in float32, as PyTorch
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
import { CharTokenizer } from "../lib/text/char_tokenizer.ts";
import { BpeTokenizer } from "../lib/text/bpe_tokenizer.ts";
import { splitProse } from "../lib/text/splits.ts";
import { sampleWindows } from "../lib/text/batches.ts";
import { loadCorpus } from "../data/corpora.ts";
import { loadCheckpoint, loadParametersInto, saveCheckpoint } from "../lib/lm/checkpoint.ts";
import { sampleToken } from "../lib/lm/sample.ts";
import { Progress } from "../lib/util/progress.ts";
import { lossCurveSvg } from "../lib/util/svg_plot.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    "dataset": { type: "string", default: "shakespeare" },
    "tokenizer": { type: "string", default: "char" },
    "vocab-size": { type: "string", default: "512" },
    "input-file": { type: "string" },
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
    "dtype": { type: "string", default: "float64" },
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
  await sampleOnly();
} else if (flags.eval !== undefined) {
  await evaluateFile(flags.eval);
} else {
  await train();
}

/** What the run needs of a tokenizer: characters (nanoGPT's) or our byte-level BPE. */
type Tokenizer = CharTokenizer | BpeTokenizer;

function tokenizerJson(tokenizer: Tokenizer): Record<string, unknown> {
  return tokenizer instanceof CharTokenizer
    ? { kind: "char", vocab: tokenizer.vocab }
    : { kind: "bpe", file: tokenizer.toJSON() };
}

// deno-lint-ignore no-explicit-any
function tokenizerFromJson(saved: any): Tokenizer {
  return saved.kind === "char"
    ? new CharTokenizer(saved.vocab, null)
    : BpeTokenizer.fromJSON(saved.file);
}

/** Text of token ids as they stream in: a BPE token may end inside a character. */
function streamDecoder(tokenizer: Tokenizer): (id: number) => string {
  if (tokenizer instanceof CharTokenizer) return (id) => tokenizer.decode([id]);
  const utf8 = new TextDecoder("utf-8");
  return (id) => utf8.decode(tokenizer.decodeBytes([id]), { stream: true });
}

/** The checkpoint's model and tokenizer (its config holds both). */
async function loadModel(): Promise<{ model: GPT; chars: Tokenizer }> {
  const checkpoint = await loadCheckpoint(checkpointPath);
  const { model: config, tokenizer } = checkpoint.config as {
    model: GPTConfig;
    tokenizer: unknown;
  };
  const model = new GPT(config);
  loadParametersInto(model.namedParameters(), checkpoint, "gpt");
  return { model, chars: tokenizerFromJson(tokenizer) };
}

/** The training text: `--input-file`, else `--dataset` (shakespeare from data/, or a corpus). */
async function trainingText(): Promise<string> {
  const file = flags["input-file"];
  if (file !== undefined) return Deno.readTextFileSync(file);
  const dataset = flags.dataset!;
  if (dataset === "shakespeare") {
    return Deno.readTextFileSync(new URL("../data/shakespeare.txt", import.meta.url));
  }
  return await loadCorpus(dataset);
}

/** The tokens of a batch as the `[B, T]` tensors the model takes. */
function batchOf(tokens: Int32Array, batchSize: number, blockSize: number, random: Random) {
  const batch = sampleWindows(tokens, { batchSize, blockSize, random });
  const shape = [batchSize, blockSize];
  return [
    new Tensor(Float64Array.from(batch.inputs), shape),
    new Tensor(Float64Array.from(batch.targets), shape),
  ] as const;
}

async function sampleOnly(): Promise<void> {
  const { model, chars } = await loadModel();
  const random = new Random(num("seed"));
  const sampling = { random, temperature: num("temperature"), topK: num("top-k") };
  const pick = (logits: Float64Array) => sampleToken(logits, sampling);
  const prompt = Array.from(chars.encode(flags.start!));
  const encoder = new TextEncoder();
  Deno.stdout.writeSync(encoder.encode(flags.start!));
  const decodeNext = streamDecoder(chars);
  const started = performance.now();
  let count = 0;
  for (
    const token of generate(model, prompt, {
      maxNewTokens: num("max-new-tokens"),
      pick,
      cache: !flags["no-cache"],
    })
  ) {
    Deno.stdout.writeSync(encoder.encode(decodeNext(token)));
    count++;
  }
  const seconds = (performance.now() - started) / 1000;
  console.error(
    `\n[${count} tokens in ${seconds.toFixed(2)} s: ${(count / seconds).toFixed(1)} tokens/s]`,
  );
}

async function evaluateFile(path: string): Promise<void> {
  const { model, chars } = await loadModel();
  const text = Deno.readTextFileSync(path);
  const data = Int32Array.from(chars.encode(text));
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
  // Every character but those of the first token is predicted.
  const characters = [...text].length - [...chars.decode([data[0]])].length;
  console.log(
    `${path}: ${predicted} tokens (${characters} characters) predicted, loss ` +
      `${loss.toFixed(4)} nats/token, perplexity ${Math.exp(loss).toFixed(3)}, ` +
      `${(nats / characters / Math.LN2).toFixed(4)} bits/char`,
  );
}

async function train(): Promise<void> {
  const text = await trainingText();
  // nanoGPT's character vocabulary comes from the whole text; a BPE vocabulary is learned
  // from the training split alone, so that validation text is unseen by the tokenizer too.
  const textSplit = splitProse(text);
  let chars: Tokenizer;
  if (flags.tokenizer === "char") {
    chars = CharTokenizer.fromText(text, { boundary: null });
  } else if (flags.tokenizer === "bpe") {
    const t0 = performance.now();
    chars = BpeTokenizer.train(textSplit.train, num("vocab-size"), { pattern: "gpt2" });
    console.log(
      `BPE: ${chars.vocabSize} tokens learned in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } else {
    throw new RangeError(`--tokenizer must be char or bpe, got ${flags.tokenizer}`);
  }
  const splits = {
    train: Int32Array.from(chars.encode(textSplit.train)),
    val: Int32Array.from(chars.encode(textSplit.val)),
  };
  // Losses per token become bits per character through the validation text's ratio.
  const charsPerToken = [...textSplit.val].length / splits.val.length;
  const config: GPTConfig = {
    vocabSize: chars.vocabSize,
    blockSize: num("block-size"),
    nLayer: num("n-layer"),
    nHead: num("n-head"),
    nEmbd: num("n-embd"),
    dropout: num("dropout"),
    seed: num("seed"),
    dtype: flags.dtype as GPTConfig["dtype"],
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
          const [x, y] = batchOf(splits[split], batchSize, config.blockSize, random);
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
  const allStepMs: number[] = [];
  const progress = new Progress({ total: maxIters, every: logInterval });
  for (let iter = 0; iter <= maxIters; iter++) {
    if (iter % evalInterval === 0 || iter === maxIters) {
      const losses = estimateLoss();
      const seconds = (performance.now() - started) / 1000;
      evals.push({ iter, ...losses, seconds });
      const line = `step ${iter}: train loss ${losses.train.toFixed(4)}, ` +
        `val loss ${losses.val.toFixed(4)} (${
          (losses.val / Math.LN2 / charsPerToken).toFixed(4)
        } bits/char) (${seconds.toFixed(0)} s)`;
      if (losses.val < best) {
        best = losses.val;
        await saveCheckpoint(checkpointPath, {
          type: "gpt",
          config: { model: config, tokenizer: tokenizerJson(chars) },
          parameters: model.namedParameters(),
          training: { iter, valLoss: losses.val, trainLoss: losses.train },
        });
        progress.log(`${line}, saved ${checkpointPath}`);
      } else {
        progress.log(line);
      }
      Deno.writeTextFileSync(
        `${outDir}/log.json`,
        JSON.stringify({ config, charsPerToken, evals, trainLosses }, null, 1),
      );
      Deno.writeTextFileSync(
        `${outDir}/loss.svg`,
        lossCurveSvg({
          title: `GPT ${config.nLayer}×${config.nEmbd}, ${flags.tokenizer} tokens`,
          series: [
            { name: "train (batch)", points: trainLosses.map((l, i) => [i + 1, l]) },
            { name: "train", points: evals.map((e) => [e.iter, e.train]) },
            { name: "val", points: evals.map((e) => [e.iter, e.val]) },
          ],
        }),
      );
    }
    if (iter === maxIters) break;
    const t0 = performance.now();
    const [x, y] = batchOf(splits.train, batchSize, config.blockSize, random);
    const { loss } = model.forward(x, { targets: y });
    optimizer.zeroGrad();
    loss!.backward(undefined, { intermediateGrads: false });
    clipGradNorm(parameters, gradClip);
    const lr = optimizer.learningRateAt(optimizer.stepCount);
    optimizer.step();
    const ms = performance.now() - t0;
    allStepMs.push(ms);
    trainLosses.push(loss!.item());
    progress.update(iter + 1, { loss: loss!.item(), "lr×1e3": lr * 1e3 });
  }
  progress.done();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `done: ${maxIters} iterations in ${seconds.toFixed(0)} s, best val loss ${best.toFixed(4)}`,
  );
  const sorted = allStepMs.sort((a, b) => a - b);
  console.log(JSON.stringify({
    engine: "dcslm",
    iters: maxIters,
    seconds: Math.round(seconds * 10) / 10,
    median_step_ms: Math.round(sorted[Math.floor(sorted.length / 2)] * 10) / 10,
    best_val: best,
    evals,
  }));
}
