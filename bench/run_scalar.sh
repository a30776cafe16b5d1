#!/usr/bin/env bash
# Runs the scalar engine's workloads of WORKLOADS.md (W2 at N = 100,000 and 1,000,000; W3a and
# W3b at N = 1,000,000), each as RUNS (default 5) separate processes, one at a time, every
# process also timed from outside by /usr/bin/time -v. Prints a JSON summary of the medians on
# the last line; the raw outputs stay in the directory named on stderr.
#
#   bench/run_scalar.sh            # or: deno task bench
#   RUNS=3 bench/run_scalar.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
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

{
  echo "nproc: $(nproc)"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
  echo "mem_total_kb: $(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  echo "deno: $(deno --version | head -n 1)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- lib mod.ts 2>/dev/null || echo ' (lib modified)')"
} >"$out/machine.txt"

# run NAME SCRIPT ARGS...: RUNS processes of SCRIPT, their stdout, stderr, exit code and times.
run() {
  local name=$1
  shift
  for r in $(seq 1 "$RUNS"); do
    echo "  $name: run $r of $RUNS" >&2
    local rc=0
    if [ -n "$TIME" ]; then
      "$TIME" -v -o "$out/$name.$r.time" deno run "${FLAGS[@]}" "$@" \
        >"$out/$name.$r.out" 2>"$out/$name.$r.err" || rc=$?
    else
      deno run "${FLAGS[@]}" "$@" >"$out/$name.$r.out" 2>"$out/$name.$r.err" || rc=$?
    fi
    echo "$rc" >"$out/$name.$r.rc"
  done
}

run w2_n100000 bench/w2_deep_chain.ts --n 100000
run w2_n1000000 bench/w2_deep_chain.ts --n 1000000
run w3a_n1000000 bench/w3_wide_sum.ts --variant a --n 1000000
run w3b_n1000000 bench/w3_wide_sum.ts --variant b --n 1000000

deno run --allow-read="$out" bench/_summarize.ts "$out"
