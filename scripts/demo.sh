#!/usr/bin/env bash
# The long-context demo: sets up the machine (scripts/setup.sh), writes a ~6K-token
# document with one pass code buried in the middle, and asks the default model for it:
# first with full attention, then with LSA keeping 10% of the KV and a 4 MiB device tier
# (the rest on the host). Extra arguments replace that pair by one `flashmem generate` run
# with them, e.g. --policy oracle --budget 10%.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p build/demo
.venv/bin/python python/make_demo_document.py --words 4500 --out build/demo/document.txt
run() {
  ./build/flashmem generate -m models/gemma3-270m-q4_k_m.gguf -f build/demo/document.txt -n 16 "$@"
}
if [ $# -gt 0 ]; then
  run "$@"
  exit
fi
echo "== full attention =="
run
echo
echo "== lsa: 10% of the KV, 4 MiB device tier, the rest on the host =="
run --policy lsa --budget 10% --device-budget 4
