/**
 * Measurement helpers shared by the workload scripts (W2, W3 of WORKLOADS.md): memory
 * readings, reference-value checks in ulps, command-line flags and the one-line JSON report.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { Lcg32 } from "../lib/util/random.ts";

/**
 * CPU time this process has used so far (user + system, all threads: the garbage collector's
 * helpers count too), in milliseconds. On a machine shared with other work it moves far less
 * than wall time does, so ratios of it are the steadier comparison.
 */
export function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Resident set size now, in bytes. */
export function rssNow(): number {
  return Deno.memoryUsage().rss;
}

/** The process's peak resident set size in bytes, and where the number came from. */
export interface RssPeak {
  bytes: number;
  source: "VmHWM" | "getrusage";
}

/**
 * The process's high-water mark of resident memory: `VmHWM` from /proc/self/status where the
 * permissions allow reading it (Deno 2 asks for --allow-all to open /proc/self), otherwise
 * `getrusage`'s `ru_maxrss`, the same kernel counter (`hiwater_rss`) reached another way.
 */
export function rssPeak(): RssPeak {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
    if (match !== null) return { bytes: Number(match[1]) * 1024, source: "VmHWM" };
  } catch {
    // Not permitted or not Linux: fall through to getrusage.
  }
  return { bytes: process.resourceUsage().maxRSS * 1024, source: "getrusage" };
}

/** How many representable doubles lie between `a` and `b` (0 when they are equal). */
export function ulpsApart(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  return Math.abs(Number(orderedBits(a) - orderedBits(b)));
}

/** The bits of `x` as an integer that grows with `x`, so that adjacent doubles differ by 1. */
function orderedBits(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigInt64(0);
  return bits < 0n ? -(bits & 0x7fffffffffffffffn) : bits;
}

/** A reference value compared with what was computed. */
export interface ReferenceCheck {
  expected: number;
  actual: number;
  ulps: number;
  ok: boolean;
}

/** `actual` against `expected`, accepted within `maxUlps` ulps. */
export function checkReference(actual: number, expected: number, maxUlps = 4): ReferenceCheck {
  const ulps = ulpsApart(actual, expected);
  return { expected, actual, ulps, ok: ulps <= maxUlps };
}

/**
 * Σ term(i) for i < count, with Neumaier's compensated summation, accurate to about one rounding whatever
 * the order, as Python's `sum` of floats is since 3.12. A plain left fold of a million terms
 * drifts by tens of ulps, which would blame the engine for the harness's own rounding.
 */
export function accurateSum(count: number, term: (i: number) => number): number {
  let sum = 0;
  let compensation = 0;
  for (let i = 0; i < count; i++) {
    const x = term(i);
    const t = sum + x;
    compensation += Math.abs(sum) >= Math.abs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  return sum + compensation;
}

/** Milliseconds rounded to a microsecond, for readable JSON. */
export function ms(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The command line of a workload script. */
export interface Flags {
  /** `--n <count>`: the workload's size. */
  n: number;
  /** `--count-nodes`: walk the finished graph to count its nodes (after all measurements). */
  countNodes: boolean;
  /** Other `--name <value>` flags, as declared in the defaults. */
  strings: Record<string, string>;
}

/** Reads `--n <count>`, `--count-nodes` and the string flags named in `defaults`. */
export function readFlags(
  args: string[],
  defaults: { n: number; [flag: string]: string | number },
): Flags {
  const stringFlags = Object.keys(defaults).filter((k) => k !== "n");
  const options: Record<string, { type: "string" | "boolean" }> = {
    "count-nodes": { type: "boolean" },
  };
  for (const k of ["n", ...stringFlags]) options[k] = { type: "string" };
  const values: Record<string, string | boolean | undefined> =
    parseArgs({ args, options, strict: true }).values;
  const n = values.n === undefined ? defaults.n : Number(values.n);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`--n must be an integer ≥ 1, got ${values.n}`);
  }
  const strings: Record<string, string> = {};
  for (const k of stringFlags) strings[k] = String(values[k] ?? defaults[k]);
  return { n, countNodes: values["count-nodes"] === true, strings };
}

/** The runtime, for the report. */
export function runtime(): Record<string, string> {
  return { deno: Deno.version.deno, v8: Deno.version.v8 };
}

/** Prints the report: one JSON object on the last line of stdout. */
export function report(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}

/** The text of a thrown value, for a crash report. */
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** `length` doubles uniform in [−0.5, 0.5) from `Lcg32(seed)`: the same matrix on every engine. */
export function uniformArray(length: number, seed: number): Float64Array {
  const source = new Lcg32(seed);
  const data = new Float64Array(length);
  for (let i = 0; i < length; i++) data[i] = source.next() - 0.5;
  return data;
}

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const sorted = xs.slice().sort((p, q) => p - q);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median of field `key` over `runs`' reports. */
export function medianOf(runs: readonly Record<string, number>[], key: string): number {
  return median(runs.map((r) => r[key]));
}

/** The load average, or null without `--allow-sys`. */
export function loadAverage(): number[] | null {
  try {
    return Deno.loadavg();
  } catch {
    return null;
  }
}

/** The value of `--name value` in this process's arguments, or `fallback`. */
function flagValue(name: string, fallback: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < Deno.args.length ? Deno.args[at + 1] : fallback;
}

/** `--name <count>` of this process, a positive integer (else a RangeError), or `fallback`. */
export function positiveIntegerFlag(name: string, fallback: number): number {
  const value = Number(flagValue(name, String(fallback)));
  if (!(Number.isInteger(value) && value > 0)) {
    throw new RangeError(`--${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** `--name <choice>` of this process, one of `choices` (else a RangeError), or the first. */
export function choiceFlag<V extends string>(name: string, choices: readonly V[]): V {
  const value = flagValue(name, choices[0]) as V;
  if (!choices.includes(value)) {
    throw new RangeError(`--${name} must be one of ${choices.join(", ")}, got ${value}`);
  }
  return value;
}

/** Options of {@link alternatingProcesses}. */
export interface AlternatingOptions<V extends string> {
  /** The script each process runs (its own file, for a script that measures itself). */
  readonly script: string;
  /** The flag that names the variant (`--<option> <variant>`). */
  readonly option: string;
  /** The variants, run in this order in every round. */
  readonly variants: readonly V[];
  /** More arguments of every process. */
  readonly args: readonly string[];
  /** How many rounds. */
  readonly rounds: number;
}

/**
 * Runs `script` once per variant per round, one process at a time and the variants
 * alternating, so that every variant meets the machine's changing load alike; returns each
 * variant's reports (the JSON object on its last line of output), in round order.
 */
export async function alternatingProcesses<V extends string>(
  options: AlternatingOptions<V>,
): Promise<Map<V, Record<string, number>[]>> {
  const results = new Map<V, Record<string, number>[]>();
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of options.variants) {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", options.script, `--${options.option}`, variant, ...options.args],
        stderr: "inherit",
      }).output();
      if (!output.success) throw new Error(`${options.script}: ${variant} failed`);
      const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
      const result = JSON.parse(lines[lines.length - 1]);
      results.set(variant, [...(results.get(variant) ?? []), result]);
      console.error(`round ${round + 1} of ${options.rounds}: ${variant} done`);
    }
  }
  return results;
}
