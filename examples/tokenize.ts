/**
 * Trains a byte-level BPE on Shakespeare (or on `--input-file`), prints the first merges, shows
 * a sentence cut into tokens (coloured on a terminal, `|`-separated otherwise), and compares
 * the compression (UTF-8 bytes per token) with GPT-2's and cl100k's vocabularies on the same
 * text.
 *
 *   deno run -A examples/tokenize.ts
 *   deno run -A examples/tokenize.ts --input-file notes.txt --vocab 2048 --pattern gpt2
 *   deno run -A examples/tokenize.ts --save shakespeare.bpe.json
 *
 * @module
 */

import { parseArgs } from "node:util";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import gpt2 from "js-tiktoken/ranks/gpt2";
import { BpeTokenizer, decodeUtf8, type SplitPattern } from "../lib/text/mod.ts";

/** What the report shows. */
export interface TokenizeReportOptions {
  /** Vocabulary size to train. */
  vocabSize: number;
  /** Split pattern. */
  pattern: SplitPattern;
  /** How many merges to list. */
  merges: number;
  /** The sentence shown split into tokens. */
  sentence: string;
  /** ANSI colours for the token split. */
  color: boolean;
  /** Tokenizers to compare with, by name. */
  references: Record<string, BpeTokenizer>;
}

/** The report's lines, and the trained tokenizer. */
export function tokenizeReport(
  text: string,
  options: TokenizeReportOptions,
): { lines: string[]; tokenizer: BpeTokenizer } {
  const start = performance.now();
  const bpe = BpeTokenizer.train(text, options.vocabSize, { pattern: options.pattern });
  const seconds = (performance.now() - start) / 1000;
  const bytes = new TextEncoder().encode(text).length;
  const lines = [
    `trained a ${bpe.vocabSize}-token BPE (${options.pattern} split) on ${
      bytes.toLocaleString("en")
    } bytes in ${seconds.toFixed(2)} s`,
    "",
    `first ${Math.min(options.merges, bpe.merges.length)} merges:`,
    ...bpe.mergeStrings().slice(0, options.merges).map((m, i) =>
      `  ${String(256 + i).padStart(5)}  ${m}`
    ),
    "",
    "a sentence in tokens:",
    `  ${bpe.renderTokens(options.sentence, { color: options.color })}`,
    "",
    "compression on this text (UTF-8 bytes per token; higher is better):",
  ];
  const rows: [string, BpeTokenizer][] = [[`ours (${bpe.vocabSize})`, bpe]];
  for (const [name, tokenizer] of Object.entries(options.references)) rows.push([name, tokenizer]);
  for (const [name, tokenizer] of rows) {
    const count = tokenizer.encode(text, { disallowedSpecial: [] }).length;
    lines.push(
      `  ${name.padEnd(22)} ${count.toLocaleString("en").padStart(10)} tokens  ${
        (bytes / count).toFixed(3)
      } bytes/token`,
    );
  }
  return { lines, tokenizer: bpe };
}

/**
 * The text of the file at `path`; a missing file, an empty one or bytes that are not UTF-8 are
 * refused with a message that says which (and at which byte offset).
 */
export async function readInputFile(
  path: string,
  read: (path: string) => Promise<Uint8Array> = Deno.readFile,
): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await read(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`--input-file: ${path} does not exist`);
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw new Error(`--input-file: ${path} is a directory, not a file`);
    }
    throw new Error(`--input-file: cannot read ${path}: ${(error as Error).message}`);
  }
  if (bytes.length === 0) throw new Error(`--input-file: ${path} is empty`);
  try {
    return decodeUtf8(bytes, path);
  } catch (error) {
    throw new Error(`--input-file: ${(error as Error).message}`);
  }
}

/** A line of `text` worth showing: Hamlet's question if present, else the first long line. */
export function pickSentence(text: string): string {
  const hamlet = "To be, or not to be, that is the Question:";
  if (text.includes(hamlet)) return hamlet;
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  return lines.find((l) => l.length >= 30 && l.length <= 120) ??
    lines.find((l) => l.length > 0)!.slice(0, 120);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "input-file": { type: "string" },
      vocab: { type: "string", default: "1024" },
      pattern: { type: "string", default: "cl100k" },
      merges: { type: "string", default: "15" },
      save: { type: "string" },
    },
  });
  const text = values["input-file"] === undefined
    ? await Deno.readTextFile(new URL("../data/shakespeare.txt", import.meta.url))
    : await readInputFile(values["input-file"]);
  const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  const { lines, tokenizer } = tokenizeReport(text, {
    vocabSize: Number(values.vocab),
    pattern: values.pattern as SplitPattern,
    merges: Number(values.merges),
    sentence: pickSentence(text),
    color,
    references: {
      "GPT-2 (50,257)": BpeTokenizer.fromTiktoken(gpt2),
      "cl100k_base (100,277)": BpeTokenizer.fromTiktoken(cl100k),
    },
  });
  console.log(lines.join("\n"));
  if (values.save !== undefined) {
    await tokenizer.save(values.save);
    const again = await BpeTokenizer.load(values.save);
    console.log(`\nsaved to ${values.save} (reloaded: ${again.vocabSize} tokens)`);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`tokenize.ts: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
