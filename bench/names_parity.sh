#!/usr/bin/env bash
# Names parity, quality half: for each model type, our engine then the PyTorch twin, back to
# back on the same machine, same data, config and schedule. Results:
# bench/results/names/<type>.{ours,torch}.json. (Speed, side by side: bench/names_speed.sh.)
#
#   bash bench/names_parity.sh [max-steps] [types...]     (default: 5000 bigram bow rnn gru mlp transformer)
#
# THREADS sets the twin's torch threads (default 2). On a loaded machine 2 OpenMP threads can
# make PyTorch's small steps 10-50x slower (threads wait for each other); the losses do not
# depend on it, so THREADS=1 gets the quality figures sooner.
# The twin needs torch (Debian: apt-get install -y python3-torch libopenblas0-pthread); without
# it the PyTorch half is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-5000}"
shift || true
types=("${@:-bigram bow rnn gru mlp transformer}")
read -r -a types <<< "${types[*]}"
out=bench/results/names
mkdir -p "$out"
python=/usr/bin/python3
[ -x "$python" ] || python=python3
for type in "${types[@]}"; do
  echo "== $type: ours ($steps steps)" >&2
  deno run -A examples/names.ts --type "$type" --max-steps "$steps" --quiet \
    --out-dir "out/names-$type" --num-samples 10
  cp "out/names-$type/summary.json" "$out/$type.ours.json"
  echo "== $type: PyTorch twin ($steps steps, ${THREADS:-2} threads)" >&2
  if "$python" -c "import torch" 2>/dev/null; then
    "$python" bench/pytorch/names.py --type "$type" --max-steps "$steps" --threads "${THREADS:-2}" \
      --out "$out/$type.torch.json" > /dev/null
  else
    echo "torch is not installed: skipping the PyTorch twin of $type" >&2
  fi
done
deno run -A bench/names_table.ts
