#!/usr/bin/env bash
# Training-step speed of the two language models, ours beside the PyTorch twins, in
# alternating rounds (ours, PyTorch, ours, PyTorch…) so that a change in machine load hits
# both. Each run's JSON line is written to bench/results/speed/NAME.runs.jsonl with its round
# and the exact command; bench/step_speed_summary.ts turns them into NAME.json (medians over
# rounds, and the ratios). NAME defaults to the UTC date and time.
#
#   NAME=after bash bench/step_speed.sh [rounds] [names steps] [gpt iterations]   (default 2 30 30)
#
# Runs: the names transformer (makemore's default config), ours in each of DTYPES (default
# "float64 float32"), each followed by PyTorch with 2 threads and with 1 thread; the
# Shakespeare GPT (nanoGPT's CPU config), ours in each dtype, each followed by PyTorch float32
# with 2 threads, then PyTorch float32 with 1 thread once a round. (PyTorch's names twin
# trains in float32.) With BEFORE=DIR (a checkout of an earlier commit) each round also runs
# that version's float64 step first, for a before/after ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
STEPS=${2:-30}
ITERS=${3:-30}
OUT=bench/results/speed
mkdir -p "$OUT"
NAME=${NAME:-$(date -u +%Y%m%dT%H%M)}
RUNS="$OUT/$NAME.runs.jsonl"
: > "$RUNS"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run LABEL COMMAND...: runs the command, keeps its last line (the JSON summary), tags it.
run() {
  local label=$1
  shift
  echo "== round $round: $label" >&2
  local line
  line=$("$@" 2>/dev/null | tail -1)
  local command
  command=$(printf '%q ' "$@")
  printf '{"round":%s,"label":"%s","command":%s,"result":%s}\n' "$round" "$label" \
    "$(printf '%s' "${command% }" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" \
    "$line" >> "$RUNS"
}

has_torch=1
"$PY" -c "import torch" 2>/dev/null || has_torch=0
[ "$has_torch" = 1 ] || echo "torch is not installed: the PyTorch runs are skipped" >&2

for round in $(seq "$ROUNDS"); do
  if [ -n "${BEFORE:-}" ]; then
    # A checkout of an earlier commit (float64 only), for a before/after ratio in the same run.
    run "names before float64" deno run -A "$BEFORE/bench/names_speed.ts" --type transformer \
      --steps "$STEPS" --warmup 10 --input-file data/names.txt
  fi
  for dtype in ${DTYPES:-float64 float32}; do
    run "names ours $dtype" deno run -A bench/names_speed.ts --type transformer \
      --steps "$STEPS" --warmup 10 --dtype "$dtype"
    if [ "$has_torch" = 1 ]; then
      for threads in 2 1; do
        run "names pytorch ${threads}t" "$PY" bench/pytorch/names.py --type transformer \
          --max-steps "$((STEPS + 10))" --warmup 10 --eval-interval 1000000 --threads "$threads"
      done
    fi
  done
  if [ -n "${BEFORE:-}" ]; then
    run "gpt before float64" deno run -A "$BEFORE/examples/shakespeare.ts" --max-iters "$ITERS" \
      --eval-interval 100000 --eval-iters 1 --log-interval 100000 --out-dir "$TMP"
  fi
  for dtype in ${DTYPES:-float64 float32}; do
    run "gpt ours $dtype" deno run -A examples/shakespeare.ts --max-iters "$ITERS" \
      --eval-interval 100000 --eval-iters 1 --log-interval 100000 --out-dir "$TMP" --dtype "$dtype"
    if [ "$has_torch" = 1 ]; then
      run "gpt pytorch float32 2t" "$PY" bench/pytorch/shakespeare_gpt.py --max-iters "$ITERS" \
        --eval-interval 100000 --eval-iters 1 --dtype float32 --threads 2
    fi
  done
  if [ "$has_torch" = 1 ]; then
    # One thread for OpenBLAS's own pool too (torch.set_num_threads does not reach it).
    run "gpt pytorch float32 1t" env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$PY" \
      bench/pytorch/shakespeare_gpt.py --max-iters "$ITERS" --eval-interval 100000 \
      --eval-iters 1 --dtype float32 --threads 1
  fi
done
deno run -A bench/step_speed_summary.ts "$RUNS" > "$OUT/$NAME.json"
cat "$OUT/$NAME.json"
