/**
 * Summarises the runs `run_scalar.sh` left in a directory: for each workload, the median of
 * every number the script reported over its processes, plus the whole-process wall time and
 * peak RSS that /usr/bin/time -v measured. Prints one JSON object.
 *
 * Files read, for workload NAME and run R: NAME.R.out (the script's stdout, JSON last line),
 * NAME.R.err, NAME.R.rc (exit code), NAME.R.time (/usr/bin/time -v), and machine.txt.
 *
 * Where a base engine ran too (files base_NAME.R.*, run r of the base right after run r of
 * this tree), the summary adds `vs_base`: for each ratio, the median over the pairs of runs,
 * so that a change in the machine's load between pairs cancels out. Ratios above 1 favour
 * this tree: `speedup` (base time / time), `cpu_speedup` (the same in the CPU time the
 * script measured, where both report it), `process_cpu_speedup` (whole-process CPU time),
 * `node_rate` (nodes per second / the base's, each engine counting its own nodes) and
 * `memory` (base bytes per node after the forward pass / ours).
 *
 * @module
 */

/** The median of `xs` (the mean of the middle two for an even count), or null for none. */
function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function readOrNull(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Elapsed wall time, CPU time (user + system) and maximum RSS from /usr/bin/time -v's report. */
function parseTime(
  text: string | null,
): { wall_ms: number; cpu_ms: number; max_rss: number } | null {
  if (text === null) return null;
  const wall = /Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)/.exec(text);
  const user = /User time \(seconds\): (\d+(?:\.\d+)?)/.exec(text);
  const system = /System time \(seconds\): (\d+(?:\.\d+)?)/.exec(text);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
  if (wall === null || user === null || system === null || rss === null) return null;
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  return {
    wall_ms: Math.round(seconds * 1000),
    cpu_ms: Math.round((Number(user[1]) + Number(system[1])) * 1000),
    max_rss: Number(rss[1]) * 1024,
  };
}

/** The telling line of a dead process's stderr (V8's "Fatal …", an uncaught error), if any. */
function crashText(stderr: string, exitCode: number): string {
  const lines = stderr.split("\n").map((l) => l.trim()); // run_scalar.sh sets NO_COLOR
  const telling = lines.find((l) => /fatal|error|out of memory|killed/i.test(l));
  return `exit code ${exitCode}${telling === undefined ? "" : `: ${telling}`}`;
}

interface Run {
  result: Record<string, unknown> | null;
  exitCode: number;
  error: string | null;
  process: { wall_ms: number; cpu_ms: number; max_rss: number } | null;
}

function readRun(dir: string, name: string, run: number): Run {
  const base = `${dir}/${name}.${run}`;
  const exitCode = Number(readOrNull(`${base}.rc`)?.trim() ?? NaN);
  const lines = (readOrNull(`${base}.out`) ?? "").trim().split("\n");
  let result: Record<string, unknown> | null = null;
  try {
    result = JSON.parse(lines[lines.length - 1]);
  } catch {
    result = null;
  }
  // A process that aborted or was killed leaves no JSON: its stderr, or its exit code, says why.
  const error = result === null ? crashText(readOrNull(`${base}.err`) ?? "", exitCode) : null;
  return { result, exitCode, error, process: parseTime(readOrNull(`${base}.time`)) };
}

function summarise(runs: Run[]): Record<string, unknown> {
  const numbers = new Map<string, number[]>();
  for (const run of runs) {
    for (const [key, value] of Object.entries(run.result ?? {})) {
      if (typeof value === "number" && key !== "n" && key !== "nodes") {
        numbers.set(key, [...(numbers.get(key) ?? []), value]);
      }
    }
  }
  const first = runs.find((r) => r.result !== null)?.result ?? {};
  const medians: Record<string, number | null> = {};
  for (const [key, values] of numbers) medians[key] = median(values);
  const processes = runs.map((r) => r.process).filter((p) => p !== null);
  return {
    workload: first.workload ?? null,
    n: first.n ?? null,
    nodes: first.nodes ?? null,
    runs: runs.length,
    crashed: runs.filter((r) => r.result === null || r.result.crashed === true).length,
    reference_ok_all: runs.every((r) => r.result?.reference_ok === true),
    errors: runs.map((r) => r.error ?? r.result?.error ?? null).filter((e) => e !== null),
    ...medians,
    process_wall_ms: median(processes.map((p) => p.wall_ms)),
    process_cpu_ms: median(processes.map((p) => p.cpu_ms)),
    process_max_rss: median(processes.map((p) => p.max_rss)),
    forward_ms_all: runs.map((r) => r.result?.forward_ms ?? null),
    backward_ms_all: runs.map((r) => r.result?.backward_ms ?? null),
  };
}

/** The time a workload's report counts: the whole training loop for W1, else total_ms. */
function timeOf(result: Record<string, unknown>): unknown {
  return result.train_ms ?? result.total_ms;
}

/** The median over run pairs of `top(ours, base) / bottom(ours, base)`, where both are numbers. */
function pairedRatio(
  ours: Run[],
  base: Run[],
  ratio: (o: Record<string, unknown>, b: Record<string, unknown>) => [unknown, unknown],
): number | null {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(ours.length, base.length); i++) {
    const o = ours[i].result;
    const b = base[i].result;
    if (o === null || b === null) continue;
    const [top, bottom] = ratio(o, b);
    if (typeof top === "number" && typeof bottom === "number" && bottom > 0) {
      ratios.push(top / bottom);
    }
  }
  const m = median(ratios);
  return m === null ? null : Math.round(m * 1000) / 1000;
}

/** A run whose result also holds its whole-process CPU time, as /usr/bin/time measured it. */
function withProcess(run: Run): Run {
  if (run.result === null) return run;
  return { ...run, result: { ...run.result, process_cpu_ms: run.process?.cpu_ms ?? null } };
}

function versusBase(ours: Run[], base: Run[]): Record<string, number | null> {
  return {
    speedup: pairedRatio(ours, base, (o, b) => [timeOf(b), timeOf(o)]),
    cpu_speedup: pairedRatio(ours, base, (o, b) => [b.cpu_ms, o.cpu_ms]),
    process_cpu_speedup: pairedRatio(
      ours.map(withProcess),
      base.map(withProcess),
      (o, b) => [b.process_cpu_ms, o.process_cpu_ms],
    ),
    node_rate: pairedRatio(ours, base, (o, b) => [o.nodes_per_second, b.nodes_per_second]),
    memory: pairedRatio(ours, base, (o, b) => [b.bytes_per_node_fwd, o.bytes_per_node_fwd]),
  };
}

function machine(dir: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of (readOrNull(`${dir}/machine.txt`) ?? "").split("\n")) {
    const at = line.indexOf(": ");
    if (at > 0) info[line.slice(0, at)] = line.slice(at + 2);
  }
  return info;
}

function main(dir: string): void {
  const names = new Map<string, number>();
  for (const entry of Deno.readDirSync(dir)) {
    const match = /^(.+)\.(\d+)\.rc$/.exec(entry.name);
    if (match !== null) names.set(match[1], Math.max(names.get(match[1]) ?? 0, Number(match[2])));
  }
  const runsOf = (name: string): Run[] => {
    const runs: Run[] = [];
    for (let r = 1; r <= (names.get(name) ?? 0); r++) runs.push(readRun(dir, name, r));
    return runs;
  };
  const workloads: Record<string, unknown> = {};
  for (const name of [...names.keys()].sort()) {
    const summary = summarise(runsOf(name));
    if (names.has(`base_${name}`)) {
      summary.vs_base = versusBase(runsOf(name), runsOf(`base_${name}`));
    }
    workloads[name] = summary;
  }
  console.log(JSON.stringify({ statistic: "median", machine: machine(dir), workloads }));
}

if (Deno.args.length !== 1) throw new Error("usage: _summarize.ts <directory of runs>");
main(Deno.args[0]);
