#!/usr/bin/env bash
# The long-context demo: sets up the machine (scripts/setup.sh), writes a ~6K-token
# document with one pass code buried in the middle, and asks the default model for it.
# Extra arguments go to `flashmem generate`, e.g. --policy oracle --budget 10%.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p build/demo
.venv/bin/python python/make_demo_document.py --words 4500 --out build/demo/document.txt
./build/flashmem generate -m models/gemma3-270m-q4_k_m.gguf -f build/demo/document.txt \
  -n 16 "$@"
