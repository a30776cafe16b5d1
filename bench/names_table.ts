/**
 * The names parity tables: from bench/results/names/<type>.{ours,torch}.json, model,
 * parameters, steps, best test loss ours and PyTorch's and the difference; from
 * bench/results/names/speed.jsonl, ms/step ours and PyTorch's (2 and 1 threads) and ratios.
 *
 *   deno run -A bench/names_table.ts
 *
 * @module
 */

interface Summary {
  type: string;
  parameters: number;
  steps: number;
  msPerStep: number;
  best: { step: number; losses: { train: number; test: number } } | null;
}

const dir = new URL("./results/names/", import.meta.url);
const order = ["bigram", "mlp", "rnn", "gru", "bow", "transformer"];
const read = async (name: string): Promise<Summary | null> => {
  try {
    return JSON.parse(await Deno.readTextFile(new URL(name, dir)));
  } catch {
    return null;
  }
};
const rows: string[] = [
  "| model | parameters | steps | best test loss: ours | PyTorch | ours − PyTorch |",
  "|---|---|---|---|---|---|",
];
for (const type of order) {
  const ours = await read(`${type}.ours.json`);
  const torch = await read(`${type}.torch.json`);
  if (ours === null) continue;
  const loss = (s: Summary | null) => s?.best?.losses.test;
  const f = (x: number | undefined, digits: number) => (x === undefined ? "—" : x.toFixed(digits));
  const diff = torch === null ? undefined : loss(ours)! - loss(torch)!;
  const signed = diff === undefined ? "—" : (diff >= 0 ? "+" : "") + diff.toFixed(4);
  const count = ours.parameters.toLocaleString("en-US");
  rows.push(
    `| ${type} | ${count} | ${ours.steps} | ${f(loss(ours), 4)} | ${
      f(loss(torch), 4)
    } | ${signed} |`,
  );
}
console.log(rows.join("\n"));

// Speed, side by side (bench/names_speed.sh): median ms/step over the timed steps.
interface SpeedLine {
  engine: string;
  type: string;
  threads?: number;
  medianMs: number;
}
let speedText = "";
try {
  speedText = await Deno.readTextFile(new URL("speed.jsonl", dir));
} catch {
  // no speed run yet
}
if (speedText.trim() !== "") {
  const lines: SpeedLine[] = speedText.trim().split("\n").map((l) => JSON.parse(l));
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const pick = (type: string, engine: string, threads?: number) => {
    const xs = lines.filter((l) =>
      l.type === type && l.engine === engine && (threads === undefined || l.threads === threads)
    ).map((l) => l.medianMs);
    return xs.length === 0 ? undefined : median(xs);
  };
  const speed = [
    "",
    "| model | ms/step: ours | PyTorch, 2 threads | PyTorch, 1 thread | ours ÷ PyTorch (2 threads) | ours ÷ PyTorch (1 thread) |",
    "|---|---|---|---|---|---|",
  ];
  for (const type of order) {
    const ours = pick(type, "dcslm");
    if (ours === undefined) continue;
    const two = pick(type, "pytorch", 2);
    const one = pick(type, "pytorch", 1);
    const f = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(1));
    const r = (x: number | undefined) => (x === undefined ? "—" : (ours / x).toPrecision(2) + "×");
    speed.push(`| ${type} | ${f(ours)} | ${f(two)} | ${f(one)} | ${r(two)} | ${r(one)} |`);
  }
  console.log(speed.join("\n"));
}
