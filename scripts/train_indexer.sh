#!/usr/bin/env bash
# Reproduces the shipped Memory Indexer for the default model from scratch, backbone-free:
# corpus (local text and generators) -> `flashmem dump` (the model runs once, full
# attention) -> PyTorch training on the dump alone -> held-out evaluation -> the engine's
# scores checked against PyTorch's. About 75 minutes on 2 cores, nearly all of it the dump
# (docs/indexer-training.md, docs/indexer-card.md).
#   scripts/train_indexer.sh [WORK_DIR]     (default /tmp/flashmem-indexer)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/flashmem-indexer}
MODEL=models/gemma3-270m-q4_k_m.gguf
OUT=weights/indexer-gemma3-18l-640d.safetensors
bash scripts/setup.sh --train
mkdir -p "$WORK"
# Documents of about 4-10K tokens (chars/4 between 4000 and 7000), two thirds ending with a
# request about something far back; the dump keeps the sample at the end of each prefill
# (--min-window 8: its window is the answer, however short) and 8-token entry keys.
python3 python/indexer_data/make_corpus.py --out "$WORK/corpus" --documents 130 --min-tokens 4000 \
  --max-tokens 7000 --seed 21 --val-fraction 0.15
if [ ! -f "$WORK/dump/.complete" ]; then
  rm -rf "$WORK/dump"
  build/flashmem dump -m "$MODEL" --corpus "$WORK/corpus" -o "$WORK/dump" --max-tokens 10000 \
    --tail 64 --generate 64 --min-window 8 --entry-tokens 8
  touch "$WORK/dump/.complete"
fi
.venv/bin/python python/train_indexer/train.py --dump "$WORK/dump" --out "$OUT" --epochs 20 \
  --loss listwise --label-mass peak --entry-keys --answer-start-weight 8 --seed 0 --threads 1
.venv/bin/python python/train_indexer/evaluate.py --dump "$WORK/dump" --weights "$OUT" --label-mass peak \
  --out-csv docs/indexer-eval.csv --out-png docs/indexer-eval.png
.venv/bin/python python/train_indexer/check_cpp_scores.py --flashmem build/flashmem --dump "$WORK/dump" \
  --weights "$OUT"
echo "train_indexer: weights in $OUT"
