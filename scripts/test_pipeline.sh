#!/usr/bin/env bash
# End-to-end checks on the real model, small and slow-ish (a few minutes): the indexer
# training pipeline (corpus -> dump -> training -> the engine's scores against PyTorch's)
# and the evaluation pipeline (every policy from one shared prefill, results file, report).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=models/gemma3-270m-q4_k_m.gguf
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# The evaluation data (essays, word lists): $FLASHMEM_DATA, else the synthetic stand-in
# (python/make_synthetic_eval_data.py), made here when missing.
if [ -z "${FLASHMEM_DATA:-}" ]; then
  export FLASHMEM_DATA="$PWD/build/synthetic-data"
  [ -d "$FLASHMEM_DATA/haystack" ] || .venv/bin/python python/make_synthetic_eval_data.py "$FLASHMEM_DATA"
fi
[ -d "$FLASHMEM_DATA/haystack" ] || { echo "test_pipeline: no haystack under FLASHMEM_DATA=$FLASHMEM_DATA"; exit 1; }

echo "test_pipeline: corpus -> dump -> train -> C++ vs PyTorch"
python3 python/indexer_data/make_corpus.py --out "$TMP/corpus" --documents 4 --min-tokens 600 \
  --max-tokens 900 --seed 3 --val-fraction 0.25 > /dev/null
build/flashmem dump -m "$MODEL" --corpus "$TMP/corpus" -o "$TMP/dump" --max-tokens 1024 --tail 64 \
  --generate 64 --sample-every 16 --min-window 8 --entry-tokens 8
.venv/bin/python - "$TMP/dump" <<'PY'
import json, sys, numpy as np, os
d = sys.argv[1]
entries = [json.loads(l) for l in open(os.path.join(d, "manifest.jsonl"))]
assert len(entries) == 4 and {e["split"] for e in entries} == {"train", "val"}, entries
for e in entries:
    m = np.load(os.path.join(d, e["dir"], "mass.npy"))
    h = np.load(os.path.join(d, e["dir"], "history_chunks.npy"))
    assert m.shape[0] == e["n_samples"] > 0 and m.shape[2] == e["n_chunks"], (m.shape, e)
    # Each layer's window mass on history is a share of attention: in (0, 1].
    share = m.sum(-1)
    assert (share > 0).all() and (share <= 1 + 1e-4).all(), share
    assert (h * 64 <= np.load(os.path.join(d, e["dir"], "positions.npy"))).all()
    # The per-step peak of a chunk's mass is at least its mean over the window's steps.
    peak = np.load(os.path.join(d, e["dir"], "mass_peak.npy"))
    assert peak.shape == m.shape and (peak >= m - 1e-6).all()
    # 8-token entry keys: 8 per chunk, each chunk's own pooled key is not one of them.
    codes = np.load(os.path.join(d, e["dir"], "entry_key_codes.npy"))
    assert codes.shape[:3] == (m.shape[1], e["n_chunks"], 8), codes.shape
    assert e["ending"] in ("question", "continuation"), e
print("test_pipeline: dump shards consistent")
PY
.venv/bin/python python/train_indexer/train.py --dump "$TMP/dump" --out "$TMP/w.safetensors" --epochs 2 \
  --threads 2 > "$TMP/train.log"
tail -n 2 "$TMP/train.log"
.venv/bin/python python/train_indexer/check_cpp_scores.py --flashmem build/flashmem --dump "$TMP/dump" \
  --weights "$TMP/w.safetensors"
# The shipped recipe: peak labels, entry keys (the engine scores entries and keeps a chunk's best).
.venv/bin/python python/train_indexer/train.py --dump "$TMP/dump" --out "$TMP/we.safetensors" --epochs 2 \
  --label-mass peak --entry-keys --threads 2 > "$TMP/train_entries.log"
.venv/bin/python python/train_indexer/check_cpp_scores.py --flashmem build/flashmem --dump "$TMP/dump" \
  --weights "$TMP/we.safetensors"

echo "test_pipeline: eval, every policy from one prefill"
build/flashmem eval -m "$MODEL" --suite ruler --tasks niah_single_1,vt --lengths 2k --samples 1 \
  --policies full,lsa,recency,streaming,snapkv,quest,oracle,random --out "$TMP/ruler.jsonl" -t 2
build/flashmem eval -m "$MODEL" --suite memqa --tasks memqa_single_session_user,memqa_abstention \
  --lengths 2k --samples 1 --policies full,lsa,recency --out "$TMP/memqa.jsonl" -t 2
# Resuming does nothing new: the files keep their lines.
before=$(wc -l < "$TMP/ruler.jsonl")
build/flashmem eval -m "$MODEL" --suite ruler --tasks niah_single_1,vt --lengths 2k --samples 1 \
  --policies full,lsa,recency,streaming,snapkv,quest,oracle,random --out "$TMP/ruler.jsonl" -t 2 > /dev/null
[ "$(wc -l < "$TMP/ruler.jsonl")" = "$before" ] || { echo "resume re-ran finished samples"; exit 1; }
.venv/bin/python - "$TMP/ruler.jsonl" "$TMP/memqa.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f)]
assert len(rows) == 2 * 8 + 2 * 3, len(rows)
by = {(r["task"], r["policy"]): r for r in rows}
# Full attention finds a single needle at 2K on this model (DESIGN.md's measured facts).
assert by[("niah_single_1", "full")]["score"] == 1.0, by[("niah_single_1", "full")]
for r in rows:
    assert r["policy"] == "full" or r["policy"] == "quest" or r["kv_a_mean_percent"] < 40, r
    assert 0 <= r["score"] <= 1 and r["prompt_tokens"] <= 2048, r
print("test_pipeline: eval rows consistent")
PY
build/flashmem eval --report "$TMP/ruler.jsonl,$TMP/memqa.jsonl"

echo "test_pipeline: two budgets from one prefill"
build/flashmem eval -m "$MODEL" --suite ruler --tasks niah_single_1 --lengths 2k --samples 1 \
  --policies full,lsa,streaming,oracle --budget 10%,20% --out "$TMP/two_budgets.jsonl" -t 2 > /dev/null
.venv/bin/python - "$TMP/ruler.jsonl" "$TMP/two_budgets.jsonl" <<'PY'
import json, sys
one = {r["policy"]: r for r in map(json.loads, open(sys.argv[1])) if r["task"] == "niah_single_1"}
two = [json.loads(l) for l in open(sys.argv[2])]
assert sorted((r["policy"], r["budget"]) for r in two) == sorted(
    (p, b) for p in ("full", "lsa", "streaming", "oracle") for b in (0.1, 0.2)), two
for r in two:
    if r["policy"] != "full":
        # The cap holds at each budget.
        assert r["kv_a_peak_percent"] <= 100 * r["budget"] + 1e-9, r
    if r["budget"] == 0.1:
        # The same answer as the single-budget run at 10% (a different batch beside it).
        assert r["prediction"] == one[r["policy"]]["prediction"], (r, one[r["policy"]])
        assert r["kv_a_peak_percent"] == one[r["policy"]]["kv_a_peak_percent"], (r, one[r["policy"]])
print("test_pipeline: two-budget rows consistent")
PY

echo "test_pipeline: the multi-turn suite (one conversation, 4 questions, no data folder)"
build/flashmem eval -m "$MODEL" --suite multiturn --lengths 2k --samples 1 --turns 4 \
  --policies full,lsa,streaming --budget 10% --out "$TMP/multiturn.jsonl" -t 2 > /dev/null
.venv/bin/python - "$TMP/multiturn.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3 * 4, len(rows)
by = {(r["task"], r["policy"]): r for r in rows}
for turn in range(1, 5):
    full, lsa = by[(f"multiturn_turn{turn}", "full")], by[(f"multiturn_turn{turn}", "lsa")]
    # Measured device bytes: full holds all of its global layers' KV, lsa a budget's worth.
    assert full["kv_a_mean_percent"] == 100, full
    assert lsa["kv_a_mean_percent"] < 40, lsa
    assert lsa["prompt_tokens"] > 0 and full["prompt_tokens"] > 0, (full, lsa)
    # lsa keeps what it evicts (below the device); streaming discards it for good.
    assert lsa["chunks_discarded"] == 0 and full["chunks_discarded"] == 0, (full, lsa)
    assert by[(f"multiturn_turn{turn}", "streaming")]["chunks_discarded"] > 0, by[(f"multiturn_turn{turn}", "streaming")]
print("test_pipeline: multi-turn rows consistent")
PY
echo "test_pipeline: passed"
