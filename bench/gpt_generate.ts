/**
 * Tokens per second of GPT generation with and without the key/value cache, at the reference
 * run's shape (block 64, 4 layers, 4 heads, 128 wide, vocabulary 74). Both runs generate the
 * same tokens (checked); only the work per token differs: one position with the cache, the
 * whole context (up to 64 positions) without it. Prints JSON.
 *
 *     deno run -A bench/gpt_generate.ts [checkpoint.safetensors] [--tokens 300]
 *
 * Weights come from a checkpoint written by examples/shakespeare.ts when one is given, else
 * from the initialisation (the speed does not depend on the values).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { generate, GPT, type GPTConfig } from "../lib/lm/gpt.ts";
import { Random } from "../lib/util/random.ts";
import { loadCheckpoint, loadParametersInto } from "../lib/lm/checkpoint.ts";
import { sampleToken } from "../lib/lm/sample.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { tokens: { type: "string", default: "300" }, rounds: { type: "string", default: "2" } },
  allowPositionals: true,
});
const tokens = Number(values.tokens);
let model: GPT;
if (positionals[0] !== undefined) {
  const checkpoint = await loadCheckpoint(positionals[0]);
  model = new GPT((checkpoint.config as { model: GPTConfig }).model);
  loadParametersInto(model.namedParameters(), checkpoint, "gpt");
} else {
  model = new GPT({ vocabSize: 74, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128, seed: 1337 });
}

function run(cache: boolean): { ids: number[]; tokensPerSecond: number } {
  const sampling = { random: new Random(1), temperature: 0.8, topK: 200 };
  const pick = (logits: Float64Array) => sampleToken(logits, sampling);
  const started = performance.now();
  const ids = [...generate(model, [0], { maxNewTokens: tokens, pick, cache })];
  return { ids, tokensPerSecond: tokens / ((performance.now() - started) / 1000) };
}

run(true); // warm-up
const rates: { cached: number[]; uncached: number[] } = { cached: [], uncached: [] };
for (let r = 0; r < Number(values.rounds); r++) {
  const a = run(true);
  const b = run(false);
  if (a.ids.join() !== b.ids.join()) throw new Error("cached and uncached tokens differ");
  rates.cached.push(a.tokensPerSecond);
  rates.uncached.push(b.tokensPerSecond);
}
const best = (xs: number[]) => Math.max(...xs);
console.log(JSON.stringify({
  bench: "gpt_generate",
  config: model.config,
  tokens,
  cachedTokensPerSecond: rates.cached.map((x) => Math.round(x * 10) / 10),
  uncachedTokensPerSecond: rates.uncached.map((x) => Math.round(x * 10) / 10),
  speedup: Math.round(best(rates.cached) / best(rates.uncached) * 100) / 100,
}));
