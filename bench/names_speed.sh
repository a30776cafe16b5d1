#!/usr/bin/env bash
# Names parity, speed half: ms per training step of each model type, ours and the PyTorch
# twin's (2 threads, and 1 thread), measured back to back in one run, alternating engines
# over ROUNDS rounds, so a change in machine load hits both. Appends JSON lines to
# bench/results/names/speed.jsonl.
#
#   bash bench/names_speed.sh [steps] [types...]     (default: 100 bigram bow rnn gru mlp transformer)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-100}"
shift || true
types=("${@:-bigram bow rnn gru mlp transformer}")
read -r -a types <<< "${types[*]}"
out=bench/results/names
mkdir -p "$out"
python=/usr/bin/python3
[ -x "$python" ] || python=python3
for round in $(seq 1 "${ROUNDS:-1}"); do
  for type in "${types[@]}"; do
    echo "== round $round, $type" >&2
    deno run -A bench/names_speed.ts --type "$type" --steps "$steps" --warmup 10 |
      sed "s/^{/{\"round\":$round,/" >> "$out/speed.jsonl"
    if "$python" -c "import torch" 2>/dev/null; then
      for threads in 2 1; do
        "$python" bench/pytorch/names.py --type "$type" --max-steps "$((steps + 10))" --warmup 10 \
          --eval-interval 1000000 --threads "$threads" 2>/dev/null |
          sed "s/^{/{\"round\":$round,/" >> "$out/speed.jsonl"
      done
    else
      echo "torch is not installed: skipping the PyTorch twin of $type" >&2
    fi
  done
done
