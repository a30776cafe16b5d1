/**
 * The matrix-product figures alone, side by side with PyTorch: `bench/matmul_speed.ts` and its
 * twin `bench/pytorch/matmul.py` run one after the other, alternating, for `--rounds` rounds
 * (as `bench/run_all.ts` runs them, without the other workloads). Per size, element type and
 * thread count, the ratio ours / PyTorch is taken within each round, of the medians and of the
 * best products, and its median over rounds is reported. The machine is shared, so only these
 * ratios mean much; the absolute GFLOP/s say what the machine allowed at the time.
 *
 *     deno run -A bench/matmul_side_by_side.ts [--rounds 3] [--sizes 64,128,256,512,1024]
 *       [--reps 15] [--out bench/results/matmul/FILE.json]
 *
 * Prints a table; with `--out`, also writes every round's raw output, the ratios and the
 * command line to a JSON file.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    sizes: { type: "string", default: "64,128,256,512,1024" },
    reps: { type: "string", default: "15" },
    out: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const sizes = values.sizes.split(",").map(Number);
const root = new URL("..", import.meta.url).pathname;

type Figures = Record<string, Record<string, number>>;
interface Report {
  gflops: Figures;
  gflops_best: Figures;
  [key: string]: unknown;
}

async function run(command: string, args: string[]): Promise<Report> {
  const output = await new Deno.Command(command, { args, cwd: root, stderr: "inherit" }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) throw new Error(`${command} ${args.join(" ")}: exit ${output.code}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

const python = "/usr/bin/python3";
const common = ["--sizes", values.sizes, "--reps", values.reps];
const ours: Report[] = [], torch: Report[] = [];
for (let round = 1; round <= rounds; round++) {
  console.error(`matmul_side_by_side: round ${round} of ${rounds}`);
  ours.push(await run("deno", ["run", "bench/matmul_speed.ts", ...common]));
  torch.push(await run(python, ["bench/pytorch/matmul.py", ...common]));
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pick = (list: Report[], field: "gflops" | "gflops_best", size: number, key: string) =>
  list.map((r) => r[field]?.[size]?.[key] ?? NaN);

interface Row {
  size: number;
  dtype: string;
  threads: number;
  ours_gflops: number[];
  torch_gflops: number[];
  ratio_median: number;
  ratio_best: number;
  ratio_rounds: number[];
}
const rows: Row[] = [];
for (const size of sizes) {
  for (const dtype of ["f32", "f64"]) {
    for (const [threads, ourKey, theirKey] of [[1, "1t", "1t"], [2, "pool", "2t"]] as const) {
      const a = pick(ours, "gflops", size, `wasm_${dtype}_${ourKey}`);
      const b = pick(torch, "gflops", size, `torch_${dtype}_${theirKey}`);
      const aBest = pick(ours, "gflops_best", size, `wasm_${dtype}_${ourKey}`);
      const bBest = pick(torch, "gflops_best", size, `torch_${dtype}_${theirKey}`);
      const perRound = a.map((x, i) => x / b[i]);
      rows.push({
        size,
        dtype,
        threads,
        ours_gflops: a,
        torch_gflops: b,
        ratio_median: median(perRound),
        ratio_best: median(aBest.map((x, i) => x / bBest[i])),
        ratio_rounds: perRound,
      });
    }
  }
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "—");
console.log(
  "| size | dtype | threads | ours GFLOP/s (rounds) | PyTorch GFLOP/s (rounds) | ours / PyTorch, medians | ours / PyTorch, best products |",
);
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.size} | ${r.dtype} | ${r.threads} | ${r.ours_gflops.map((x) => fmt(x)).join(", ")} | ${
      r.torch_gflops.map((x) => fmt(x)).join(", ")
    } | **${fmt(r.ratio_median, 2)}** | ${fmt(r.ratio_best, 2)} |`,
  );
}
const loads = await Deno.readTextFile("/proc/loadavg").catch(() => "unknown");
console.log(`\n${rounds} alternating rounds; load average at the end: ${loads.trim()}`);

if (values.out !== undefined) {
  const command = ["deno", "run", "-A", "bench/matmul_side_by_side.ts", ...Deno.args].join(" ");
  await Deno.writeTextFile(
    values.out,
    JSON.stringify(
      {
        bench: "matmul side by side",
        command,
        date: new Date().toISOString(),
        load_average_at_end: loads.trim(),
        rounds,
        rows,
        ours,
        torch,
      },
      null,
      2,
    ) + "\n",
  );
}
