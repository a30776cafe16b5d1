/**
 * Encoding throughput with OpenAI's ranks (gpt2, cl100k_base): our BpeTokenizer and js-tiktoken
 * side by side in one process, on the same text (Moby Dick, 1.24 MB, by default), in alternating
 * rounds. Each round encodes with a freshly built tokenizer of ours (its piece cache starts
 * empty: "cold") and then again with the same one ("warm"), and with js-tiktoken once. Ids are
 * checked identical. Prints one JSON line with the median MB/s (MB = 10⁶ bytes of UTF-8).
 *
 *   deno run bench/bpe_encode.ts [--rounds 3] [--corpus moby-dick]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Tiktoken } from "js-tiktoken/lite";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import gpt2 from "js-tiktoken/ranks/gpt2";
import { BpeTokenizer } from "../lib/text/mod.ts";
import { loadCorpus } from "../data/corpora.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    corpus: { type: "string", default: "moby-dick" },
  },
});
const rounds = Number(args.values.rounds);
const text = await loadCorpus(args.values.corpus);
const megabytes = new TextEncoder().encode(text).length / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const report: Record<string, unknown> = {
  bench: "bpe_encode",
  corpus: args.values.corpus,
  megabytes: +megabytes.toFixed(3),
  rounds,
};
for (const [name, ranks] of [["gpt2", gpt2], ["cl100k_base", cl100k]] as const) {
  const theirs = new Tiktoken(ranks);
  const cold: number[] = [], warm: number[] = [], reference: number[] = [];
  let ours = BpeTokenizer.fromTiktoken(ranks);
  for (let round = 0; round < rounds; round++) {
    ours = BpeTokenizer.fromTiktoken(ranks);
    let start = performance.now();
    const a = ours.encode(text);
    cold.push(megabytes / ((performance.now() - start) / 1000));
    start = performance.now();
    ours.encode(text);
    warm.push(megabytes / ((performance.now() - start) / 1000));
    start = performance.now();
    const b = theirs.encode(text);
    reference.push(megabytes / ((performance.now() - start) / 1000));
    if (a.length !== b.length || a.some((id, i) => id !== b[i])) {
      throw new Error(`bpe_encode: ${name} ids differ from js-tiktoken's`);
    }
  }
  const tokens = ours.encode(text).length;
  report[name] = {
    tokens,
    ours_cold_mb_per_s: +median(cold).toFixed(2),
    ours_warm_mb_per_s: +median(warm).toFixed(2),
    js_tiktoken_mb_per_s: +median(reference).toFixed(2),
    ratio_cold: +(median(cold) / median(reference)).toFixed(2),
    ratio_warm: +(median(warm) / median(reference)).toFixed(2),
    identical_ids: true,
    rounds_mb_per_s: { cold, warm, js_tiktoken: reference }.cold.map((_, i) => [
      +cold[i].toFixed(2),
      +warm[i].toFixed(2),
      +reference[i].toFixed(2),
    ]),
  };
}
console.log(JSON.stringify(report));
