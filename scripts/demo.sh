#!/usr/bin/env bash
# The long-context demo: sets up the machine (scripts/setup.sh), writes a ~6K-token
# document with one fact buried in the middle, and asks the default model about it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p build/demo
.venv/bin/python python/make_demo_document.py --words 4500 --out build/demo/document.txt
./build/flashmem generate -m models/gemma3-270m-q4_k_m.gguf -f build/demo/document.txt \
  --chat -n 48 "$@"
