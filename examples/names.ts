/**
 * makemore on our engine: trains a character-level model of `data/names.txt` and samples new
 * names from it.
 *
 * ```sh
 * deno run -A examples/names.ts --type gru --max-steps 5000
 * deno run -A examples/names.ts --type gru --sample-only --temperature 0.8 --top-k 10
 * ```
 *
 * Flags mirror makemore's (`--type`, `--n-layer`, `--n-head`, `--n-embd`, `--n-embd2`,
 * `--batch-size`, `--learning-rate`, `--weight-decay`, `--max-steps`, `--seed`,
 * `--sample-only`), with AdamW betas 0.9/0.99 and eps 1e-8, and the block size the longest
 * name + 1. Train and test loss are evaluated every `--eval-interval` steps (and after the
 * last) on fixed sets (the whole 1,000-name test set; the first 1,000 training names); the
 * best model by test loss is kept in `<out-dir>/best.safetensors`, the latest state (for
 * `--resume`) in `<out-dir>/last.safetensors`, the loss curves in `<out-dir>/loss.svg`, and a
 * summary in `<out-dir>/summary.json`. The batch of step s is drawn from a generator seeded
 * by (seed, s), so a resumed run sees exactly the batches an uninterrupted one would.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Tensor } from "../lib/tensor/mod.ts";
import { lossCurveSvg, Progress, Random } from "../lib/util/mod.ts";
import {
  CharTokenizer,
  linesOf,
  sampleWordBatch,
  splitWords,
  type WordExamples,
  wordExamples,
} from "../lib/text/mod.ts";
import {
  type Checkpoint,
  CheckpointError,
  createModel,
  type Evaluation,
  type LanguageModel,
  loadCheckpoint,
  loadParametersInto,
  meanLoss,
  MODEL_TYPES,
  type ModelConfig,
  parameterCount,
  sampleSequences,
  saveCheckpoint,
  sequenceLoss,
  TensorAdamW,
  trainLoop,
} from "../lib/lm/mod.ts";

/** Everything the command line sets. */
export interface NamesOptions {
  type: string;
  inputFile: string;
  outDir: string;
  maxSteps: number;
  seed: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nEmbd2: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  evalInterval: number;
  sampleOnly: boolean;
  resume: boolean;
  temperature: number;
  topK?: number;
  topP?: number;
  numSamples: number;
  quiet: boolean;
}

/** Reads the flags; `--help` prints them. */
export function parseNamesArgs(args: readonly string[]): NamesOptions {
  const { values } = parseArgs({
    args: [...args],
    options: {
      type: { type: "string", default: "transformer" },
      "input-file": { type: "string", short: "i", default: "data/names.txt" },
      "out-dir": { type: "string", short: "o" },
      "max-steps": { type: "string", default: "5000" },
      seed: { type: "string", default: "3407" },
      "n-layer": { type: "string", default: "4" },
      "n-head": { type: "string", default: "4" },
      "n-embd": { type: "string", default: "64" },
      "n-embd2": { type: "string", default: "64" },
      "batch-size": { type: "string", short: "b", default: "32" },
      "learning-rate": { type: "string", short: "l", default: "5e-4" },
      "weight-decay": { type: "string", short: "w", default: "0.01" },
      "eval-interval": { type: "string", default: "500" },
      "sample-only": { type: "boolean", default: false },
      resume: { type: "boolean", default: false },
      temperature: { type: "string", default: "1" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      "num-samples": { type: "string", default: "50" },
      quiet: { type: "boolean", default: false },
    },
    strict: true,
  });
  const number = (name: string, integer: boolean, min: number): number => {
    const text = values[name as keyof typeof values] as string;
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
      throw new RangeError(
        `--${name}: expected ${integer ? "a whole number" : "a number"} ≥ ${min}, got "${text}"`,
      );
    }
    return n;
  };
  const type = values.type as string;
  return {
    type,
    inputFile: values["input-file"] as string,
    outDir: (values["out-dir"] as string | undefined) ?? `out/names-${type}`,
    maxSteps: number("max-steps", true, 0),
    seed: number("seed", true, 0),
    nLayer: number("n-layer", true, 1),
    nHead: number("n-head", true, 1),
    nEmbd: number("n-embd", true, 1),
    nEmbd2: number("n-embd2", true, 1),
    batchSize: number("batch-size", true, 1),
    learningRate: number("learning-rate", false, Number.MIN_VALUE),
    weightDecay: number("weight-decay", false, 0),
    evalInterval: number("eval-interval", true, 1),
    sampleOnly: values["sample-only"] as boolean,
    resume: values.resume as boolean,
    temperature: number("temperature", false, Number.MIN_VALUE),
    topK: values["top-k"] === undefined ? undefined : number("top-k", true, 1),
    topP: values["top-p"] === undefined ? undefined : number("top-p", false, Number.MIN_VALUE),
    numSamples: number("num-samples", true, 1),
    quiet: values.quiet as boolean,
  };
}

/** The names, their split and tokenizer, and the padded examples of both sets. */
export interface NamesData {
  readonly train: readonly string[];
  readonly test: readonly string[];
  readonly tokenizer: CharTokenizer;
  readonly trainExamples: WordExamples;
  readonly testExamples: WordExamples;
  readonly blockSize: number;
}

/**
 * Reads a file of one name a line, splits it as makemore does (1,000 test names, seeded
 * shuffle) and encodes both sets with a block size of the longest name + 1.
 */
export function namesData(text: string, seed = 3407): NamesData {
  const words = linesOf(text);
  if (words.length < 2) throw new RangeError("names: the input needs at least 2 names");
  const tokenizer = CharTokenizer.fromText(words.join(""));
  const { train, test } = splitWords(words, { seed });
  const blockSize = Math.max(...words.map((w) => [...w].length)) + 1;
  const encode = (list: readonly string[]) =>
    wordExamples(list.map((w) => tokenizer.encode(w)), blockSize);
  return {
    train,
    test,
    tokenizer,
    trainExamples: encode(train),
    testExamples: encode(test),
    blockSize,
  };
}

/** Rows `start..end` of examples as `[rows, blockSize]` id tensors. */
function rowsOf(examples: WordExamples, start: number, end: number): { x: Tensor; y: Tensor } {
  const t = examples.blockSize;
  const n = end - start;
  return {
    x: new Tensor(Float64Array.from(examples.inputs.subarray(start * t, end * t)), [n, t]),
    y: new Tensor(Float64Array.from(examples.targets.subarray(start * t, end * t)), [n, t]),
  };
}

/** Mean loss per counted target over the first `limit` examples, 100 rows at a time. */
export function evaluateExamples(
  model: LanguageModel,
  examples: WordExamples,
  limit = examples.count,
): number {
  const chunks: [number, number][] = [];
  for (let start = 0; start < Math.min(limit, examples.count); start += 100) {
    chunks.push([start, Math.min(start + 100, limit, examples.count)]);
  }
  return meanLoss(chunks, ([start, end]) => {
    const { x, y } = rowsOf(examples, start, end);
    let count = 0;
    for (const v of y.data) if (v !== -1) count++;
    return { loss: sequenceLoss(model, x, y).item(), count };
  });
}

/** The batch of step `step`: a pure function of (seed, step). */
export function batchAt(
  examples: WordExamples,
  batchSize: number,
  seed: number,
  step: number,
): { x: Tensor; y: Tensor } {
  // An odd multiplier spreads consecutive steps over the generator's seeds.
  const random = new Random((Math.imul(seed + 1, 0x9e3779b1) + step) >>> 0);
  const batch = sampleWordBatch(examples, { batchSize, random });
  const shape = [batchSize, examples.blockSize];
  return {
    x: new Tensor(Float64Array.from(batch.inputs), shape),
    y: new Tensor(Float64Array.from(batch.targets), shape),
  };
}

/** Samples names from a model: generated from the boundary token, cut at the first boundary. */
export function sampleNames(
  model: LanguageModel,
  data: NamesData,
  options: { count: number; seed: number; temperature: number; topK?: number; topP?: number },
): string[] {
  const sequences = sampleSequences((ids) => model.forward(ids), Array(options.count).fill([0]), {
    maxNewTokens: data.blockSize - 1,
    blockSize: data.blockSize,
    random: new Random(options.seed),
    temperature: options.temperature,
    topK: options.topK,
    topP: options.topP,
  });
  return sequences.map((s) => {
    const body = s.slice(1);
    const end = body.indexOf(0);
    return data.tokenizer.decode(end === -1 ? body : body.slice(0, end));
  });
}

/** makemore's grouping of samples: those in the training set, in the test set, and new. */
export function groupSamples(
  samples: readonly string[],
  data: NamesData,
): { train: string[]; test: string[]; fresh: string[] } {
  const train = new Set(data.train);
  const test = new Set(data.test);
  return {
    train: samples.filter((s) => train.has(s)),
    test: samples.filter((s) => !train.has(s) && test.has(s)),
    fresh: samples.filter((s) => !train.has(s) && !test.has(s)),
  };
}

function printSamples(groups: { train: string[]; test: string[]; fresh: string[] }): void {
  const line = "-".repeat(80);
  console.log(line);
  for (
    const [list, what] of [[groups.train, "in train"], [groups.test, "in test"], [
      groups.fresh,
      "new",
    ]] as const
  ) {
    console.log(`${list.length} samples that are ${what}:`);
    for (const name of list) console.log(name);
  }
  console.log(line);
}

/** The model config of `options` (its sizes) for the corpus `data` (its vocabulary and block). */
export function configOf(options: NamesOptions, data: NamesData): ModelConfig {
  return {
    vocabSize: data.tokenizer.vocabSize,
    blockSize: data.blockSize,
    nLayer: options.nLayer,
    nHead: options.nHead,
    nEmbd: options.nEmbd,
    nEmbd2: options.nEmbd2,
  };
}

/** Training state kept in a checkpoint beside the weights. */
interface TrainingState {
  readonly step: number;
  readonly best: Evaluation | null;
  readonly evaluations: readonly Evaluation[];
  readonly seed: number;
  readonly batchSize: number;
  readonly learningRate: number;
}

/** Trains (or samples, with `--sample-only`) as the options say; returns the summary. */
export async function runNames(options: NamesOptions): Promise<Record<string, unknown>> {
  const text = await Deno.readTextFile(options.inputFile).catch((error) => {
    throw new Error(`names: cannot read --input-file ${options.inputFile}: ${error.message}`);
  });
  const data = namesData(text, options.seed);
  const config = configOf(options, data);
  const model = createModel(options.type, config, { seed: options.seed });
  const best = `${options.outDir}/best.safetensors`;
  const last = `${options.outDir}/last.safetensors`;
  const log = options.quiet ? () => {} : console.log;
  const sample = () =>
    groupSamples(
      sampleNames(model, data, {
        count: options.numSamples,
        seed: options.seed,
        temperature: options.temperature,
        topK: options.topK,
        topP: options.topP,
      }),
      data,
    );

  if (options.sampleOnly) {
    const checkpoint = await loadCheckpoint(best);
    loadParametersInto(model.namedParameters(), checkpoint, options.type);
    const groups = sample();
    if (!options.quiet) printSamples(groups);
    return { type: options.type, samples: groups };
  }

  await Deno.mkdir(options.outDir, { recursive: true });
  log(
    `${options.type}: ${parameterCount(model)} parameters; ${data.train.length} training and ` +
      `${data.test.length} test names; vocabulary ${config.vocabSize}, block size ${config.blockSize}`,
  );
  const optimizer = new TensorAdamW(model.namedParameters(), {
    learningRate: options.learningRate,
    weightDecay: options.weightDecay,
    beta1: 0.9,
    beta2: 0.99,
    eps: 1e-8,
  });
  let state: TrainingState = {
    step: 0,
    best: null,
    evaluations: [],
    seed: options.seed,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
  };
  if (options.resume) {
    const checkpoint = await loadCheckpoint(last);
    loadParametersInto(model.namedParameters(), checkpoint, options.type);
    if (checkpoint.optimizer === undefined || checkpoint.training === undefined) {
      throw new CheckpointError(`${last}: no optimizer or training state to resume from`);
    }
    optimizer.loadState(checkpoint.optimizer);
    state = checkpoint.training as unknown as TrainingState;
    for (const key of ["seed", "batchSize", "learningRate"] as const) {
      if (state[key] !== options[key]) {
        throw new RangeError(
          `--resume: the run was made with ${key} ${state[key]}, this command has ${options[key]}`,
        );
      }
    }
    log(`resumed from ${last} at step ${optimizer.stepCount}`);
  }
  const evaluations = [...state.evaluations];
  const checkpointOf = (training: TrainingState): Checkpoint => ({
    type: model.type,
    config: { ...config },
    parameters: model.namedParameters(),
    optimizer: optimizer.state(),
    training: training as unknown as Record<string, unknown>,
  });
  const progress = options.quiet
    ? undefined
    : new Progress({ total: options.maxSteps, start: optimizer.stepCount, every: 100 });
  const result = await trainLoop({
    optimizer,
    maxSteps: options.maxSteps,
    lossAt: (step) => {
      const { x, y } = batchAt(data.trainExamples, options.batchSize, options.seed, step);
      return sequenceLoss(model, x, y);
    },
    evalInterval: options.evalInterval,
    evaluate: () => ({
      train: evaluateExamples(model, data.trainExamples, 1000),
      test: evaluateExamples(model, data.testExamples),
    }),
    best: state.best,
    progress,
    onEvaluation: async (evaluation, isBest) => {
      evaluations.push(evaluation);
      state = {
        ...state,
        step: evaluation.step,
        evaluations,
        best: isBest ? evaluation : state.best,
      };
      if (isBest) await saveCheckpoint(best, checkpointOf(state));
      await saveCheckpoint(last, checkpointOf(state));
      await Deno.writeTextFile(
        `${options.outDir}/loss.svg`,
        lossCurveSvg({
          title: `names: ${options.type}, ${parameterCount(model)} parameters`,
          series: ["train", "test"].map((name) => ({
            name,
            points: evaluations.map((e) => [e.step, e.losses[name]] as [number, number]),
          })),
        }),
      );
    },
  });
  const groups = sample();
  if (!options.quiet) printSamples(groups);
  const summary = {
    type: options.type,
    parameters: parameterCount(model),
    steps: result.steps,
    batchSize: options.batchSize,
    seed: options.seed,
    msPerStep: result.msPerStep,
    best: result.best,
    evaluations,
    samples: groups,
  };
  await Deno.writeTextFile(
    `${options.outDir}/summary.json`,
    JSON.stringify(summary, null, 2) + "\n",
  );
  log(
    `best test loss ${result.best?.losses.test.toFixed(4)} at step ${result.best?.step}; ` +
      `${result.msPerStep.toFixed(1)} ms/step; wrote ${options.outDir}/`,
  );
  return summary;
}

if (import.meta.main) {
  try {
    await runNames(parseNamesArgs(Deno.args));
  } catch (error) {
    if (error instanceof RangeError || error instanceof CheckpointError) {
      console.error(`error: ${error.message}\n(model types: ${MODEL_TYPES.join(", ")})`);
      Deno.exit(2);
    }
    throw error;
  }
}
