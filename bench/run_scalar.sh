#!/usr/bin/env bash
# Runs the scalar engine's workloads of WORKLOADS.md (W1 on `Value`s; W2 at N = 100,000 and
# 1,000,000; W3a and W3b at N = 1,000,000), each as RUNS (default 5) separate processes, one at
# a time, every process also timed from outside by /usr/bin/time -v. Prints a JSON summary of
# the medians on the last line; the raw outputs stay in the directory named on stderr.
#
# With BASE set to a git revision, the same workloads also run on that revision's engine
# (exported with `git archive` into a temporary directory, its own bench scripts), alternating
# with this tree's run by run, and the summary adds the ratios of the two: how a change to the
# engine compares, measured in one sitting on one machine.
#
#   bench/run_scalar.sh            # or: deno task bench
#   RUNS=3 bench/run_scalar.sh
#   BASE=eacadcb RUNS=5 bench/run_scalar.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
BASE=${BASE:-}
export NO_COLOR=1 # plain error text in the saved stderr
# The scripts need no permission; these let a future script read files. Deno 2 opens
# /proc/self/status only under --allow-all, so the peak RSS comes from getrusage (same counter).
FLAGS=(--allow-read --allow-env --allow-sys)
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
  echo "run_scalar.sh: $TIME not found (apt-get install -y time); whole-process numbers omitted" >&2
  TIME=""
fi

out=$(mktemp -d -t dcslm_bench.XXXXXX)
echo "run_scalar.sh: raw outputs in $out" >&2

base_tree=""
if [ -n "$BASE" ]; then
  base_tree="$out/base_tree"
  mkdir -p "$base_tree"
  git archive "$BASE" | tar -x -C "$base_tree"
  echo "run_scalar.sh: base $BASE exported to $base_tree" >&2
fi

{
  echo "nproc: $(nproc)"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
  echo "mem_total_kb: $(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  echo "deno: $(deno --version | head -n 1)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- lib mod.ts 2>/dev/null || echo ' (lib modified)')"
  if [ -n "$BASE" ]; then echo "base: $(git rev-parse --short "$BASE")"; fi
  echo "load_before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"

# once NAME RUN DIR SCRIPT ARGS...: one process of SCRIPT run from DIR, its stdout, stderr,
# exit code and times saved as NAME.RUN.*.
once() {
  local name=$1 r=$2 dir=$3
  shift 3
  local rc=0
  echo "  $name: run $r of $RUNS" >&2
  if [ -n "$TIME" ]; then
    (cd "$dir" && "$TIME" -v -o "$out/$name.$r.time" deno run "${FLAGS[@]}" "$@" \
      >"$out/$name.$r.out" 2>"$out/$name.$r.err") || rc=$?
  else
    (cd "$dir" && deno run "${FLAGS[@]}" "$@" >"$out/$name.$r.out" 2>"$out/$name.$r.err") || rc=$?
  fi
  echo "$rc" >"$out/$name.$r.rc"
}

# run NAME SCRIPT ARGS...: RUNS processes of SCRIPT; with a base, each followed by the base's.
run() {
  local name=$1
  shift
  for r in $(seq 1 "$RUNS"); do
    once "$name" "$r" "$PWD" "$@"
    if [ -n "$base_tree" ]; then once "base_$name" "$r" "$base_tree" "$@"; fi
  done
}

run w1_scalar bench/w1_moons.ts
run w2_n100000 bench/w2_deep_chain.ts --n 100000
run w2_n1000000 bench/w2_deep_chain.ts --n 1000000
run w3a_n1000000 bench/w3_wide_sum.ts --variant a --n 1000000
run w3b_n1000000 bench/w3_wide_sum.ts --variant b --n 1000000

echo "load_after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
deno run --allow-read="$out" bench/_summarize.ts "$out"
