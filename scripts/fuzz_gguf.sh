#!/usr/bin/env bash
# Builds the GGUF fuzz target with libFuzzer + AddressSanitizer into build-fuzz/ and runs it.
#   scripts/fuzz_gguf.sh [seconds=60] [extra libFuzzer flags...]
# Seeds come from the `gguf` Python package's GGUFWriter (an outside writer, so the seeds
# are not shaped by our own assumptions), plus the first 8 KiB of $FLASHMEM_MODEL if set.
# Crashes are written to build-fuzz/crash-*; reproduce with build-fuzz/fuzz_gguf FILE.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_TO_RUN="${1:-60}"
shift || true
OUT="$REPO/build-fuzz"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
mkdir -p "$OUT/seeds" "$OUT/corpus"

echo "== building $OUT/fuzz_gguf"
clang++ -std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address \
  -I"$REPO/src" "$REPO/fuzz/fuzz_gguf.cpp" "$REPO"/src/format/*.cpp "$REPO"/src/core/*.cpp \
  -lpthread -o "$OUT/fuzz_gguf"

echo "== writing seeds to $OUT/seeds"
"$PYTHON" - "$OUT/seeds" <<'PY'
import os, sys
import numpy as np
from gguf import GGUFWriter, GGMLQuantizationType

out = sys.argv[1]

def write(name, build, alignment=None):
    w = GGUFWriter(os.path.join(out, name), "llama")
    if alignment:
        w.add_custom_alignment(alignment)
    build(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

def every_type(w):
    w.add_uint8("t.u8", 200); w.add_int8("t.i8", -3); w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -300); w.add_uint32("t.u32", 7); w.add_int32("t.i32", -7)
    w.add_uint64("t.u64", 1 << 40); w.add_int64("t.i64", -(1 << 40)); w.add_float32("t.f32", 0.5)
    w.add_float64("t.f64", 2.5); w.add_bool("t.bool", True); w.add_string("t.str", "héllo")
    w.add_array("t.strs", ["a", "bc"]); w.add_array("t.ints", [1, -2, 3])
    w.add_array("t.floats", [0.25, 1.5])
    w.add_tensor("f32", np.arange(8, dtype=np.float32).reshape(2, 4))
    w.add_tensor("f16", np.ones(4, dtype=np.float16))
    # Quantized tensors are given as raw bytes: [rows, bytes per row].
    w.add_tensor("q8_0", np.zeros((2, 34), dtype=np.uint8), raw_dtype=GGMLQuantizationType.Q8_0)
    w.add_tensor("q4_k", np.zeros((1, 144), dtype=np.uint8), raw_dtype=GGMLQuantizationType.Q4_K)

def tiny(w):
    w.add_uint32("llama.block_count", 1)
    w.add_tensor("x", np.zeros(3, dtype=np.float32))

write("every_type.gguf", every_type)
write("aligned_64.gguf", tiny, alignment=64)
write("metadata_only.gguf", lambda w: w.add_string("general.name", "x"))
PY
if [[ -n "${FLASHMEM_MODEL:-}" && -f "${FLASHMEM_MODEL}" ]]; then
  head -c 8192 "$FLASHMEM_MODEL" > "$OUT/seeds/real_model_head.gguf"
fi
ls -l "$OUT/seeds"

cat > "$OUT/gguf.dict" <<'DICT'
"GGUF"
"general.alignment"
"\x03\x00\x00\x00"
"\x02\x00\x00\x00"
"\x09\x00\x00\x00"
"\x08\x00\x00\x00"
"\x00\x00\x00\x00\x00\x00\x00\x80"
"\xff\xff\xff\xff\xff\xff\xff\xff"
DICT

echo "== fuzzing for $SECONDS_TO_RUN s"
cd "$OUT"
./fuzz_gguf -max_total_time="$SECONDS_TO_RUN" -dict=gguf.dict -max_len=8192 -print_final_stats=1 \
  "$@" corpus seeds
