/**
 * Linear regression, three ways of looking at it:
 *
 * 1. the seed's training loop, fitting `w` so that `w · 2 = 8`, one step at a time;
 * 2. fitting a line `y = a·x + b` to noisy points by mean squared error and gradient descent;
 * 3. the computational graph of one loss of part 1, in Graphviz DOT.
 *
 * Run: `deno run examples/linreg.ts` (no permissions: the DOT text is printed).
 * `deno run --allow-write examples/linreg.ts graph.dot` writes the DOT to `graph.dot` instead;
 * `dot -Tsvg graph.dot -o graph.svg` renders it.
 *
 * @module
 */

import { Random, toDot, Value } from "../mod.ts";
import { gradientDescentStep, mse } from "../lib/scalar/mod.ts";

/** One row of the seed's training log. */
export interface SeedStep {
  /** Step number, from 0. */
  step: number;
  /** The loss `(w·x − y_true)²` computed at this step, before the update. */
  loss: number;
  /** `w` after this step's update. */
  w: number;
}

/**
 * The seed's loop: w = 0, x = 2, y_true = 8, loss (w·x − y_true)², `steps` steps of gradient
 * descent with learning rate `learningRate`, zeroing `w.grad` after each update by hand.
 */
export function trainSeed(steps = 50, learningRate = 0.1): SeedStep[] {
  const w = new Value(0, { label: "w" });
  const x = new Value(2, { label: "x" });
  const yTrue = new Value(8, { label: "y_true" });
  const log: SeedStep[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = w.mul(x).sub(yTrue).pow(2);
    loss.backward();
    w.data -= learningRate * w.grad;
    w.grad = 0;
    log.push({ step, loss: loss.data, w: w.data });
  }
  return log;
}

/** The graph of the seed's loss at `w`, after `backward`, labelled for drawing. */
export function seedLossGraph(w0 = 0): Value {
  const w = new Value(w0, { label: "w" });
  const x = new Value(2, { label: "x" });
  const yTrue = new Value(8, { label: "y_true" });
  const prediction = w.mul(x);
  prediction.label = "w·x";
  const error = prediction.sub(yTrue);
  error.label = "error";
  const loss = error.pow(2);
  loss.label = "loss";
  loss.backward();
  return loss;
}

/** What {@linkcode makeLineData} draws from. */
export interface LineSpec {
  /** True slope. */
  a: number;
  /** True intercept. */
  b: number;
  /** Standard deviation of the Gaussian noise added to each y. */
  noise: number;
  /** How many points. */
  count: number;
  /** Seed of the `Random` generator. */
  seed: number;
}

/** The line the example fits: y = 2.5·x − 1 plus N(0, 0.3²) noise, 40 points, x in [−2, 2). */
export const DEFAULT_LINE: LineSpec = { a: 2.5, b: -1, noise: 0.3, count: 40, seed: 2024 };

/** Noisy points of a line. */
export interface LineData {
  xs: number[];
  ys: number[];
}

/** `spec.count` points with x uniform in [−2, 2) and y = a·x + b + noise, from a fixed seed. */
export function makeLineData(spec: LineSpec): LineData {
  const random = new Random(spec.seed);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < spec.count; i++) {
    const x = random.uniform(-2, 2);
    xs.push(x);
    ys.push(spec.a * x + spec.b + spec.noise * random.normal());
  }
  return { xs, ys };
}

/** Progress of {@linkcode fitLine}, reported every `reportEvery` steps and at the last. */
export interface FitProgress {
  step: number;
  loss: number;
  a: number;
  b: number;
}

/** Options of {@linkcode fitLine}. */
export interface FitOptions {
  steps?: number;
  learningRate?: number;
  reportEvery?: number;
  onProgress?: (progress: FitProgress) => void;
}

/** The fitted line and its mean squared error on the data. */
export interface FitResult {
  a: number;
  b: number;
  loss: number;
}

/**
 * Fits y = a·x + b to `data` from a = b = 0 by full-batch gradient descent on the mean squared
 * error, the loss graph built anew each step from the library's `mse`.
 */
export function fitLine(data: LineData, options: FitOptions = {}): FitResult {
  const steps = options.steps ?? 100;
  const learningRate = options.learningRate ?? 0.1;
  const reportEvery = options.reportEvery ?? 10;
  const a = new Value(0, { label: "a" });
  const b = new Value(0, { label: "b" });
  for (let step = 0; step < steps; step++) {
    const predictions = data.xs.map((x) => a.mul(x).add(b));
    const loss = mse(predictions, data.ys);
    loss.backward();
    if (step % reportEvery === 0 || step === steps - 1) {
      options.onProgress?.({ step, loss: loss.data, a: a.data, b: b.data });
    }
    gradientDescentStep([a, b], { learningRate });
  }
  const finalLoss = mse(data.xs.map((x) => a.mul(x).add(b)), data.ys).data;
  return { a: a.data, b: b.data, loss: finalLoss };
}

/** A table with right-aligned columns under a header and a rule. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("   ");
  const rule = widths.map((w) => "─".repeat(w)).join("   ");
  return [line(header), rule, ...rows.map(line)].map((l) => "  " + l).join("\n");
}

function scientific(x: number): string {
  return x === 0 ? "0" : x.toExponential(4);
}

function signed(x: number, digits: number): string {
  return (x < 0 ? "" : " ") + x.toFixed(digits);
}

/**
 * Writes `dot` to `path` when the process may, and returns whether it did. Without write
 * permission it says which flag is needed (instead of an uncaught `NotCapable`), and the
 * caller prints the graph instead.
 */
export function writeGraph(
  path: string,
  dot: string,
  say: (line: string) => void = console.log,
): boolean {
  if (Deno.permissions.querySync({ name: "write", path }).state !== "granted") {
    say(
      `could not write the graph to ${path}: run with --allow-write ` +
        `(deno run --allow-write examples/linreg.ts ${path}); printing it instead\n`,
    );
    return false;
  }
  Deno.writeTextFileSync(path, dot);
  return true;
}

function main(args: string[]): void {
  console.log("Part 1: the seed. w = 0, x = 2, y_true = 8, loss = (w·x − y_true)², lr = 0.1\n");
  const log = trainSeed();
  const shown = log.filter((s) => s.step < 10 || s.step % 10 === 9);
  console.log(table(
    ["step", "loss", "w after step"],
    shown.map((s) => [String(s.step), scientific(s.loss), s.w.toFixed(12)]),
  ));
  console.log(`\n  w = ${log[log.length - 1].w} after ${log.length} steps (exact answer 4)\n`);

  const spec = DEFAULT_LINE;
  console.log(
    `Part 2: fit y = a·x + b by MSE to ${spec.count} points, x ~ U[−2, 2), ` +
      `y = ${spec.a}·x ${spec.b < 0 ? "−" : "+"} ${Math.abs(spec.b)} + N(0, ${spec.noise}²), ` +
      `Random seed ${spec.seed}\n`,
  );
  const rows: string[][] = [];
  const fit = fitLine(makeLineData(spec), {
    onProgress: (p) =>
      rows.push([String(p.step), p.loss.toFixed(6), signed(p.a, 6), signed(p.b, 6)]),
  });
  console.log(table(["step", "mse", "a", "b"], rows));
  console.log();
  console.log(table(["", "fitted", "true"], [
    ["a", signed(fit.a, 6), signed(spec.a, 6)],
    ["b", signed(fit.b, 6), signed(spec.b, 6)],
  ]));
  console.log(
    `\n  final mse ${fit.loss.toFixed(6)} (the noise variance is ${spec.noise ** 2})\n`,
  );

  const dot = toDot(seedLossGraph());
  if (args.length > 0 && writeGraph(args[0], dot)) {
    console.log(`Part 3: the graph of the seed's first loss, written to ${args[0]}`);
    console.log(`  render it with: dot -Tsvg ${args[0]} -o graph.svg`);
  } else {
    console.log("Part 3: the graph of the seed's first loss, in Graphviz DOT");
    console.log("  (pass a file path and --allow-write to write it to a file)\n");
    console.log(dot);
  }
}

if (import.meta.main) main(Deno.args);
