#!/usr/bin/env bash
# Builds the safetensors fuzz target (reader + indexer loader) with libFuzzer +
# AddressSanitizer into build-fuzz/ and runs it.
#   scripts/fuzz_safetensors.sh [seconds=60] [extra libFuzzer flags...]
# Seeds: the indexer fixtures in tests/data/indexer (written by python/indexer_reference.py,
# whose writer is independent of our reader) plus a few hand-made headers.
# Crashes land in build-fuzz/crash-*; reproduce with build-fuzz/fuzz_safetensors FILE.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_TO_RUN="${1:-60}"
shift || true
OUT="$REPO/build-fuzz"
SEEDS="$OUT/safetensors_seeds"
CORPUS="$OUT/safetensors_corpus"
mkdir -p "$SEEDS" "$CORPUS" "$OUT/safetensors_obj"

FLAGS=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address -I"$REPO/src")
echo "== building $OUT/fuzz_safetensors"
# The AVX2 scoring kernel needs its ISA flags, like the CMake rule for *_avx2.cpp.
clang++ "${FLAGS[@]}" -mavx2 -mfma -mf16c -c "$REPO/src/memory/indexer_score_avx2.cpp" \
  -o "$OUT/safetensors_obj/indexer_score_avx2.o"
clang++ -std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address -I"$REPO/src" \
  "$REPO/fuzz/fuzz_safetensors.cpp" "$REPO"/src/format/*.cpp "$REPO"/src/core/*.cpp \
  "$REPO"/src/memory/indexer.cpp "$REPO"/src/memory/indexer_config.cpp \
  "$REPO"/src/memory/indexer_loader.cpp "$REPO"/src/memory/indexer_rope.cpp \
  "$REPO"/src/memory/indexer_score.cpp "$REPO"/src/memory/hadamard.cpp \
  "$REPO"/src/memory/chunk_keys.cpp "$OUT/safetensors_obj/indexer_score_avx2.o" \
  -lpthread -o "$OUT/fuzz_safetensors"

echo "== writing seeds to $SEEDS"
cp "$REPO"/tests/data/indexer/*.safetensors "$SEEDS/" 2>/dev/null || true
python3 - "$SEEDS" <<'PY'
import json, struct, sys, os
out = sys.argv[1]
def write(name, header, data=b""):
    text = json.dumps(header).encode()
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
write("empty.safetensors", {})
write("metadata_only.safetensors", {"__metadata__": {"a": "b"}})
write("every_dtype.safetensors", {
    "f32": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "f16": {"dtype": "F16", "shape": [1, 2], "data_offsets": [8, 12]},
    "bf16": {"dtype": "BF16", "shape": [2], "data_offsets": [12, 16]},
    "fp8": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [16, 20]},
    "i32": {"dtype": "I32", "shape": [1], "data_offsets": [20, 24]},
    "i64": {"dtype": "I64", "shape": [], "data_offsets": [24, 32]},
    "u8": {"dtype": "U8", "shape": [0], "data_offsets": [32, 32]}}, bytes(range(32)))
write("published_layout.safetensors", {
    "retrievers.l10.wq_a.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
    "retrievers.l10.q_norm_weight": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
    "retrievers.l10.wq_b.weight": {"dtype": "BF16", "shape": [128, 2], "data_offsets": [24, 536]},
    "retrievers.l10.weights_proj.weight": {"dtype": "F32", "shape": [1, 2], "data_offsets": [536, 544]}},
    bytes(544))
PY
ls -l "$SEEDS"

cat > "$OUT/safetensors.dict" <<'DICT'
"__metadata__"
"dtype"
"shape"
"data_offsets"
"F8_E4M3"
"BF16"
"F16"
"I64"
"retrievers.l"
"flashmemory.indexer"
"9007199254740993"
"-1"
"1e308"
DICT

echo "== fuzzing for $SECONDS_TO_RUN s"
cd "$OUT"
./fuzz_safetensors -max_total_time="$SECONDS_TO_RUN" -dict=safetensors.dict -max_len=16384 \
  -print_final_stats=1 "$@" "$CORPUS" "$SEEDS"
