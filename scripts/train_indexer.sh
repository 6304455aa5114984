#!/usr/bin/env bash
# Reproduces the shipped Memory Indexer for the default model from scratch, backbone-free:
# corpus (local text and generators) -> `flashmem dump` (the model runs once, full
# attention) -> PyTorch training on the dump alone -> held-out evaluation -> the engine's
# scores checked against PyTorch's. About an hour on 2 cores (docs/indexer-training.md).
#   scripts/train_indexer.sh [WORK_DIR]     (default /tmp/flashmem-indexer)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/flashmem-indexer}
MODEL=models/gemma3-270m-q4_k_m.gguf
OUT=weights/indexer-gemma3-18l-640d.safetensors
bash scripts/setup.sh --train
mkdir -p "$WORK"
python3 python/indexer_data/make_corpus.py --out "$WORK/corpus" --documents 140 --min-tokens 1500 \
  --max-tokens 4000 --seed 11 --val-fraction 0.15
if [ ! -f "$WORK/dump/.complete" ]; then
  rm -rf "$WORK/dump"
  build/flashmem dump -m "$MODEL" --corpus "$WORK/corpus" -o "$WORK/dump" --max-tokens 4608
  touch "$WORK/dump/.complete"
fi
.venv/bin/python python/train_indexer/train.py --dump "$WORK/dump" --out "$OUT" --epochs 30 \
  --golden-mass 0.5 --loss listwise --seed 0 --threads 2
.venv/bin/python python/train_indexer/evaluate.py --dump "$WORK/dump" --weights "$OUT" \
  --out-csv docs/indexer-eval.csv --out-png docs/indexer-eval.png
.venv/bin/python python/train_indexer/check_cpp_scores.py --flashmem build/flashmem --dump "$WORK/dump" \
  --weights "$OUT"
echo "train_indexer: weights in $OUT"
