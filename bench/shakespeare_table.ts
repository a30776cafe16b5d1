/**
 * The GPT comparison tables, from the runs saved in bench/results/shakespeare/: for each
 * run `<name>.ours.json` (the last line of `examples/shakespeare.ts`) and, where there is
 * one, `<name>.torch.json` (the last line of `bench/pytorch/shakespeare_gpt.py`), the train
 * and val loss at every evaluation side by side, then the best val loss, the wall time of the
 * whole run and the median iteration of each, and their ratios.
 *
 *   deno run -A bench/shakespeare_table.ts [name...]      (default: every run saved)
 *
 * @module
 */

interface Evaluation {
  iter: number;
  train: number;
  val: number;
  seconds: number;
}

interface Run {
  iters: number;
  seconds: number;
  median_step_ms: number;
  best_val: number;
  evals: Evaluation[];
}

const dir = new URL("./results/shakespeare/", import.meta.url);

async function read(file: string): Promise<Run | null> {
  try {
    return JSON.parse(await Deno.readTextFile(new URL(file, dir)));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function savedRuns(): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const match = /^(.*)\.ours\.json$/.exec(entry.name);
    if (match !== null) names.push(match[1]);
  }
  return names.sort();
}

const f = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(4));
const ratio = (a: number, b: number | undefined) =>
  b === undefined ? "—" : `${(a / b).toFixed(2)}×`;

for (const name of Deno.args.length > 0 ? Deno.args : savedRuns()) {
  const ours = await read(`${name}.ours.json`);
  if (ours === null) throw new Error(`no run ${name}.ours.json in ${dir.pathname}`);
  const torch = await read(`${name}.torch.json`);
  const twin = new Map(torch?.evals.map((e) => [e.iter, e]) ?? []);
  const rows = [
    `### ${name}`,
    "",
    "| iteration | ours: train | val | PyTorch: train | val | val: ours − PyTorch |",
    "|---|---|---|---|---|---|",
  ];
  for (const e of ours.evals) {
    const t = twin.get(e.iter);
    const diff = t === undefined ? "—" : `${e.val - t.val >= 0 ? "+" : ""}${f(e.val - t.val)}`;
    rows.push(
      `| ${e.iter} | ${f(e.train)} | ${f(e.val)} | ${f(t?.train)} | ${f(t?.val)} | ${diff} |`,
    );
  }
  rows.push(
    "",
    "| | best val | wall time, s | median iteration, ms |",
    "|---|---|---|---|",
    `| ours | ${f(ours.best_val)} | ${ours.seconds} | ${ours.median_step_ms} |`,
  );
  if (torch !== null) {
    rows.push(
      `| PyTorch | ${f(torch.best_val)} | ${torch.seconds} | ${torch.median_step_ms} |`,
      `| ours ÷ PyTorch | ${ours.best_val - torch.best_val >= 0 ? "+" : ""}${
        f(ours.best_val - torch.best_val)
      } (difference) | ${ratio(ours.seconds, torch.seconds)} | ${
        ratio(ours.median_step_ms, torch.median_step_ms)
      } |`,
    );
  }
  console.log(rows.join("\n") + "\n");
}
