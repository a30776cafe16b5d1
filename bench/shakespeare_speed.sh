#!/usr/bin/env bash
# Milliseconds per training iteration of the reference GPT (block 64, batch 12, 4 layers,
# 4 heads, 128 wide), ours and our PyTorch twin's (2 threads, float32 and float64), run one
# after the other in alternating rounds on the same machine; the median iteration of each
# run is printed as JSON lines. Usage: bash bench/shakespeare_speed.sh [iters] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${1:-30}
ROUNDS=${2:-2}
OUT=$(mktemp -d)
PY=/usr/bin/python3
for round in $(seq "$ROUNDS"); do
  deno run -A examples/shakespeare.ts --max-iters "$ITERS" --eval-interval 100000 --eval-iters 1 \
    --log-interval 100000 --out-dir "$OUT" | tail -1 | sed "s/^/{\"round\":$round,\"run\":/; s/$/}/"
  if $PY -c "import torch" 2>/dev/null; then
    for dtype in float32 float64; do
      $PY bench/pytorch/shakespeare_gpt.py --max-iters "$ITERS" --eval-interval 100000 \
        --eval-iters 1 --dtype "$dtype" | tail -1 | sed "s/^/{\"round\":$round,\"run\":/; s/$/}/"
    done
  else
    echo '{"skipped":"torch is not installed (apt-get install -y python3-torch libopenblas0-pthread)"}'
  fi
done
rm -rf "$OUT"
