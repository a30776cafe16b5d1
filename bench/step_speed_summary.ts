/**
 * Summary of a bench/step_speed.sh run: for each label (engine, dtype, threads) the
 * per-round ms/step and its median over rounds, and the ratios ours ÷ PyTorch of the
 * medians (below 1: ours is faster). Reads the runs file given, prints JSON.
 *
 *   deno run -A bench/step_speed_summary.ts bench/results/speed/after.runs.jsonl
 *
 * @module
 */

interface Run {
  readonly round: number;
  readonly label: string;
  readonly command: string;
  readonly result: Record<string, unknown>;
}

const path = Deno.args[0];
const runs: Run[] = Deno.readTextFileSync(path).split("\n").filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l));

/** ms per step of a run: the median step (names: `medianMs`; GPT: `median_step_ms`). */
function msOf(run: Run): number {
  const r = run.result;
  return Number(r.medianMs ?? r.median_step_ms);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const labels = [...new Set(runs.map((r) => r.label))];
const byLabel: Record<string, { command: string; perRun: number[]; median: number }> = {};
for (const label of labels) {
  const mine = runs.filter((r) => r.label === label);
  const perRun = mine.map(msOf);
  byLabel[label] = { command: mine[0].command, perRun, median: median(perRun) };
}

const ratios: Record<string, number> = {};
const ratio = (ours: string, theirs: string) => {
  if (byLabel[ours] === undefined || byLabel[theirs] === undefined) return;
  // Per round too would pair runs minutes apart; the medians' ratio is what is reported.
  ratios[`${ours} ÷ ${theirs}`] = Math.round(byLabel[ours].median / byLabel[theirs].median * 1000) /
    1000;
};
ratio("names ours float64", "names before float64");
ratio("names ours float32", "names before float64");
ratio("gpt ours float64", "gpt before float64");
ratio("gpt ours float32", "gpt before float64");
for (const dtype of ["float64", "float32"]) {
  ratio(`names ours ${dtype}`, "names pytorch 2t");
  ratio(`names ours ${dtype}`, "names pytorch 1t");
  ratio(`gpt ours ${dtype}`, "gpt pytorch float32 2t");
  ratio(`gpt ours ${dtype}`, "gpt pytorch float32 1t");
}

console.log(JSON.stringify(
  {
    measured: new Date().toISOString(),
    rounds: Math.max(...runs.map((r) => r.round)),
    unit: "ms per training step (median step of each run)",
    runs: byLabel,
    ratios,
  },
  null,
  2,
));
