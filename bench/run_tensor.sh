#!/usr/bin/env bash
# Runs the tensor-side benches as RUNS (default 5) separate processes each, one at a time:
# matmul GFLOP/s (this engine's kernel and tfjs's CPU backend), peak memory of a 512×512
# matmul forward + backward, and W1 in tensor form, on tfjs's CPU backend and (when
# bench/w1_moons.ts exists) in scalar form. Prints a JSON summary of the medians on the last
# line; raw outputs stay in the directory named on stderr.
#
#   bench/run_tensor.sh
#   RUNS=3 bench/run_tensor.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
export NO_COLOR=1
out=$(mktemp -d -t dcslm_tensor_bench.XXXXXX)
echo "run_tensor.sh: raw outputs in $out" >&2

{
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1), $(nproc) cores"
  echo "deno: $(deno --version | head -n 1)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"$out/machine.txt"

# run NAME FLAGS... SCRIPT: RUNS processes; the last stdout line of each is its JSON.
run() {
  local name=$1
  shift
  for r in $(seq 1 "$RUNS"); do
    echo "  $name: run $r of $RUNS" >&2
    local rc=0
    deno run "$@" >"$out/$name.$r.out" 2>"$out/$name.$r.err" || rc=$?
    echo "$rc" >"$out/$name.$r.rc"
  done
}

run matmul --allow-env --allow-read bench/matmul_bench.ts
# -A: Deno opens /proc/self only with it
run matmul_memory -A bench/matmul_memory.ts --engine kernel
run matmul_memory_tensor -A bench/matmul_memory.ts --engine tensor
if [ -f bench/w1_tensor.ts ]; then run w1_tensor --allow-env --allow-read bench/w1_tensor.ts; fi
run w1_tfjs --allow-env --allow-read bench/w1_tfjs.ts
if [ -f bench/w1_moons.ts ]; then run w1_scalar --allow-env --allow-read bench/w1_moons.ts; fi

deno run --allow-read="$out" - "$out" <<'SUMMARY'
const dir = Deno.args[0];
const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const names = ["matmul", "matmul_memory", "matmul_memory_tensor", "w1_tensor", "w1_tfjs", "w1_scalar"];
const runs: Record<string, Record<string, unknown>[]> = {};
const failures: string[] = [];
for (const entry of [...Deno.readDirSync(dir)].map((e) => e.name).sort()) {
  const match = /^(\w+)\.(\d+)\.out$/.exec(entry);
  if (match === null) continue;
  const rc = Deno.readTextFileSync(`${dir}/${match[1]}.${match[2]}.rc`).trim();
  const lines = Deno.readTextFileSync(`${dir}/${entry}`).trim().split("\n");
  if (rc !== "0") {
    failures.push(`${match[1]} run ${match[2]}: exit ${rc}`);
    continue;
  }
  (runs[match[1]] ??= []).push(JSON.parse(lines[lines.length - 1]));
}
// The median of every numeric field (nested one level, as matmul's per-size results are).
function medians(list: Record<string, unknown>[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(list[0])) {
    if (typeof value === "number") {
      result[key] = median(list.map((r) => r[key] as number));
    } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      result[key] = medians(list.map((r) => r[key] as Record<string, unknown>));
    } else {
      const distinct = [...new Set(list.map((r) => JSON.stringify(r[key])))];
      result[key] = distinct.length === 1 ? value : distinct.map((d) => JSON.parse(d));
    }
  }
  return result;
}
const summary: Record<string, unknown> = {
  machine: Deno.readTextFileSync(`${dir}/machine.txt`).trim().split("\n"),
  runs_each: Math.max(...Object.values(runs).map((r) => r.length)),
  failures,
};
for (const name of names) if (runs[name]) summary[name] = medians(runs[name]);
console.log(JSON.stringify(summary));
SUMMARY
