/**
 * `deno task bench`: every speed figure of the project in one run, printed as one table.
 *
 * The rows: matmul against PyTorch and against one thread; W1 on tensors against tensorflow.js;
 * the training step of the names transformer (makemore's default config) and of the Shakespeare
 * GPT (nanoGPT's CPU config), ours in float32 against the PyTorch twin with 2 and with 1 thread;
 * W1 on scalar `Value`s; then the scalar engine's W2 and W3 against the engine of `--scalar-base`.
 *
 * The machine is shared and noisy, so every comparison is made side by side: the DCSLM
 * script and its PyTorch twin (or tfjs counterpart) run one after the other, alternating,
 * for `--rounds` rounds, and each ratio is the median over rounds of the per-round ratio.
 * PyTorch runs where some `python3` on the path (or `/usr/bin/python3`, Debian's
 * `python3-torch`) imports torch; otherwise its rows say why they are skipped. The scalar
 * engine's workloads (`bench/run_scalar.sh`) run last unless `--no-scalar` is given; their
 * summary is printed as it comes.
 *
 *     deno run -A bench/run_all.ts [--rounds 3] [--sizes 64,128,256,512] [--steps 30]
 *       [--scalar-base eacadcb] [--no-scalar]
 *
 * `--scalar-base` names the git revision whose scalar engine W2 and W3 are compared with (by
 * default eacadcb, the engine issue 11 set its targets against); an empty value compares none.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    sizes: { type: "string", default: "64,128,256,512" },
    steps: { type: "string", default: "30" },
    "scalar-base": { type: "string", default: "eacadcb" },
    "no-scalar": { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const root = new URL("..", import.meta.url).pathname;

type Json = Record<string, unknown>;

async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Json | { error: string }> {
  const output = await new Deno.Command(command, {
    args,
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    return {
      error: `${command} ${args.join(" ")}: exit ${output.code}: ${
        new TextDecoder().decode(output.stderr).slice(-400)
      }`,
    };
  }
  return JSON.parse(text.split("\n").at(-1)!);
}

async function findTorchPython(): Promise<string | null> {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const status = await new Deno.Command(python, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (status.success) return python;
    } catch {
      // not installed
    }
  }
  return null;
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const python = await findTorchPython();
const dcslm: Json[] = [], torch: Json[] = [], w1: Json[] = [], tfjs: Json[] = [];
const w1Scalar: Json[] = [];
// The language models' steps: ours (float32) and the twins with 2 and with 1 thread.
const names: Record<string, Json[]> = { ours: [], "2t": [], "1t": [] };
const gpt: Record<string, Json[]> = { ours: [], "2t": [], "1t": [] };
const errors: string[] = [];
const keep = (list: Json[], result: Json | { error: string }) => {
  if ("error" in result) errors.push(String(result.error));
  else list.push(result);
};
for (let round = 1; round <= rounds; round++) {
  console.error(`run_all: round ${round} of ${rounds}`);
  keep(dcslm, await run("deno", ["run", "bench/matmul_speed.ts", "--sizes", values.sizes]));
  if (python !== null) {
    keep(torch, await run(python, ["bench/pytorch/matmul.py", "--sizes", values.sizes]));
  }
  keep(w1, await run("deno", ["run", "--allow-env", "--allow-read", "bench/w1_tensor.ts"]));
  keep(
    tfjs,
    await run("deno", ["run", "--no-lock", "--allow-env", "--allow-read", "bench/w1_tfjs.ts"]),
  );
  keep(w1Scalar, await run("deno", ["run", "--allow-env", "--allow-read", "bench/w1_moons.ts"]));
  const namesSteps = [
    "--type",
    "transformer",
    "--steps",
    String(steps),
    "--warmup",
    "10",
    "--dtype",
    "float32",
  ];
  keep(names.ours, await run("deno", ["run", "-A", "bench/names_speed.ts", ...namesSteps]));
  const gptIters = ["--iters", String(steps), "--warmup", "3", "--dtype", "float32"];
  keep(gpt.ours, await run("deno", ["run", "-A", "bench/gpt_speed.ts", ...gptIters]));
  if (python !== null) {
    for (const threads of ["2", "1"]) {
      // One thread for OpenBLAS's own pool too: torch.set_num_threads does not reach it.
      const env: Record<string, string> = threads === "1"
        ? { OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1" }
        : {};
      keep(
        names[`${threads}t`],
        await run(python, [
          "bench/pytorch/names.py",
          ...["--type", "transformer", "--max-steps", String(steps + 10), "--warmup", "10"],
          ...["--eval-interval", "1000000", "--threads", threads],
        ], env),
      );
      keep(
        gpt[`${threads}t`],
        await run(python, [
          "bench/pytorch/shakespeare_gpt.py",
          ...["--max-iters", String(steps), "--eval-interval", "100000", "--eval-iters", "1"],
          ...["--dtype", "float32", "--threads", threads],
        ], env),
      );
    }
  }
}

// One figure of every round of `list`: gflops[size][key].
const gflops = (list: Json[], size: number, key: string, field = "gflops") =>
  list.map((r) => ((r[field] as Record<string, Record<string, number>>)?.[size] ?? {})[key] ?? NaN);
const perRound = (xs: number[], ys: number[]) => xs.map((x, i) => x / ys[i]);
const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "—");
const list = (xs: number[], digits = 1) => xs.map((x) => fmt(x, digits)).join(", ");

interface Row {
  figure: string;
  ours: number[];
  reference: number[];
  ratio: number[];
  target: string;
}
const rows: Row[] = [];
const largest = Math.max(...values.sizes.split(",").map(Number));
const torchMissing = python === null ? "PyTorch not found (apt-get install python3-torch)" : "";
for (const [dtype, label] of [["f32", "float32"], ["f64", "float64"]]) {
  for (const [ours, theirs, threads] of [["pool", "2t", "2 threads"], ["1t", "1t", "1 thread"]]) {
    const a = gflops(dcslm, largest, `wasm_${dtype}_${ours}`);
    const b = gflops(torch, largest, `torch_${dtype}_${theirs}`);
    rows.push({
      figure: `matmul ${largest}, ${label}, ${threads}: GFLOP/s vs PyTorch${
        torchMissing ? ` (${torchMissing})` : ""
      }`,
      ours: a,
      reference: b,
      ratio: perRound(a, b),
      target: dtype === "f32" && ours === "pool" ? "≥ 0.5" : "",
    });
  }
}
{
  // The best of each round's products: what each engine does when the machine lets it.
  const a = gflops(dcslm, largest, "wasm_f32_pool", "gflops_best");
  const b = gflops(torch, largest, "torch_f32_2t", "gflops_best");
  rows.push({
    figure: `matmul ${largest}, float32, 2 threads, best product of each round: vs PyTorch`,
    ours: a,
    reference: b,
    ratio: perRound(a, b),
    target: "≥ 0.5",
  });
  const pool = gflops(dcslm, largest, "wasm_f32_pool", "gflops_best");
  const single = gflops(dcslm, largest, "wasm_f32_1t", "gflops_best");
  rows.push({
    figure: `matmul ${largest}, float32, best product of each round: pool vs one thread`,
    ours: pool,
    reference: single,
    ratio: perRound(pool, single),
    target: "≥ 1.7",
  });
}
for (const dtype of ["f32", "f64"]) {
  const pool = gflops(dcslm, largest, `wasm_${dtype}_pool`);
  const single = gflops(dcslm, largest, `wasm_${dtype}_1t`);
  rows.push({
    figure: `matmul ${largest}, ${
      dtype === "f32" ? "float32" : "float64"
    }: pool vs one thread (scaling)`,
    ours: pool,
    reference: single,
    ratio: perRound(pool, single),
    target: "≥ 1.7",
  });
}
{
  const simd = gflops(dcslm, largest, "wasm_f64_1t");
  const plain = gflops(dcslm, largest, "ts_f64_1t");
  rows.push({
    figure: `matmul ${largest}, float64, 1 thread: SIMD kernel vs plain TypeScript kernel`,
    ours: simd,
    reference: plain,
    ratio: perRound(simd, plain),
    target: "",
  });
}
for (const size of values.sizes.split(",").map(Number)) {
  const pool = gflops(dcslm, size, "wasm_f32_pool");
  const single = gflops(dcslm, size, "wasm_f32_1t");
  rows.push({
    figure: `  crossover: matmul ${size}, float32, pool vs one thread`,
    ours: pool,
    reference: single,
    ratio: perRound(pool, single),
    target: "",
  });
}
{
  const ours = w1.map((r) => r.step_ms_median as number);
  const theirs = tfjs.map((r) => r.step_ms_median as number);
  rows.push({
    figure: "W1 tensor ms/step vs tfjs CPU (ratio: tfjs / ours)",
    ours,
    reference: theirs,
    ratio: perRound(theirs, ours),
    target: "≥ 3",
  });
}

// ms a step: `medianMs` (names scripts), `median_step_ms` (GPT scripts), `step_ms_median` (W1).
const stepMs = (list: Json[]) =>
  list.map((r) => Number(r.medianMs ?? r.median_step_ms ?? r.step_ms_median));
for (
  const [model, runs, target] of [["names transformer", names, "≤ 1"], ["GPT", gpt, ""]] as const
) {
  for (const threads of ["2t", "1t"]) {
    const ours = stepMs(runs.ours);
    const theirs = stepMs(runs[threads]);
    rows.push({
      figure: `${model} ms/step, float32, vs PyTorch ${
        threads === "2t" ? "2 threads" : "1 thread"
      }${torchMissing ? ` (${torchMissing})` : ""} (ratio: ours / PyTorch)`,
      ours,
      reference: theirs,
      ratio: perRound(ours, theirs),
      target: threads === "2t" ? target : "",
    });
  }
}
{
  const ours = stepMs(w1Scalar);
  rows.push({
    figure: "W1 scalar `Value` ms/step (median step); target ≤ 5 ms",
    ours,
    reference: ours.map(() => 5),
    ratio: perRound(ours, ours.map(() => 5)),
    target: "≤ 1",
  });
}

const header = "| figure | DCSLM (rounds) | reference (rounds) | ratio median (rounds) | target |";
console.log(header);
console.log("|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.figure} | ${list(r.ours)} | ${list(r.reference)} | **${fmt(median(r.ratio), 2)}** (${
      list(r.ratio, 2)
    }) | ${r.target} |`,
  );
}
const loads = await Deno.readTextFile("/proc/loadavg").catch(() => "unknown");
console.log(`\n${rounds} alternating rounds; load average at the end: ${loads.trim()}`);
if (errors.length > 0) console.log(`errors:\n${errors.join("\n")}`);

if (!values["no-scalar"]) {
  console.error("run_all: scalar workloads (bench/run_scalar.sh)");
  const base = values["scalar-base"];
  const output = await new Deno.Command("bash", {
    args: ["bench/run_scalar.sh"],
    cwd: root,
    env: base ? { BASE: base, RUNS: String(rounds) } : { RUNS: String(rounds) },
    stdout: "piped",
    stderr: "null",
  })
    .output();
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  console.log(
    `\nscalar workloads (bench/run_scalar.sh${base ? `, against ${base}` : ""}): ${lines.at(-1)}`,
  );
}
console.log(JSON.stringify({ dcslm, torch, w1, tfjs, w1Scalar, names, gpt, errors }));
