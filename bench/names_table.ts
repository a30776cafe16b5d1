/**
 * The names parity table from bench/results/names/*.json: model, parameters, best test loss
 * ours and PyTorch's (and the difference), ms/step ours and PyTorch's (and the ratio).
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
  "| model | parameters | steps | best test loss: ours | PyTorch | ours − PyTorch | ms/step: ours | PyTorch | ratio |",
  "|---|---|---|---|---|---|---|---|---|",
];
for (const type of order) {
  const ours = await read(`${type}.ours.json`);
  const torch = await read(`${type}.torch.json`);
  if (ours === null) continue;
  const loss = (s: Summary | null) => s?.best?.losses.test;
  const f = (x: number | undefined, digits: number) => (x === undefined ? "—" : x.toFixed(digits));
  const diff = torch === null ? undefined : loss(ours)! - loss(torch)!;
  const ratio = torch === null ? undefined : ours.msPerStep / torch.msPerStep;
  rows.push(
    `| ${type} | ${ours.parameters.toLocaleString("en-US")} | ${ours.steps} | ${
      f(loss(ours), 4)
    } | ` +
      `${f(loss(torch), 4)} | ${
        diff === undefined ? "—" : (diff >= 0 ? "+" : "") + diff.toFixed(4)
      } | ` +
      `${f(ours.msPerStep, 1)} | ${f(torch?.msPerStep, 1)} | ${
        ratio === undefined ? "—" : ratio.toFixed(2) + "×"
      } |`,
  );
}
console.log(rows.join("\n"));
