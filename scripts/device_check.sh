#!/usr/bin/env bash
# The CUDA backend on a GPU machine, in one run (the `device` tool's H200, or any NVIDIA
# GPU with nvcc, cmake and ninja): builds with -DFLASHMEM_CUDA=ON, writes a GGUF of the
# same shapes and types as Gemma 3 270M Q4_K_M with seeded random weights (the model file
# does not travel; speed does not depend on the values, and correctness is the GPU engine
# against the CPU engine on the same file), then
#   flashmem gpu-check   attention kernel vs reference, GPU vs CPU logits, tiered reads,
#                        batching, recall through the tiers bit for bit
#   flashmem gpu-bench   decode tok/s, full and lsa under a device KV budget, 1 and 16 sequences
#   python/bench_hf_gemma3.py   HF transformers' Gemma 3 on the same GPU, the anchor
# Outputs go to $OUT (or build-cuda/out): gpu_check.txt, gpu_bench.txt, hf.txt, hf.json.
#   scripts/device_check.sh [--quick]   (--quick: 32K only, no HF anchor)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build-cuda/out}
mkdir -p "$OUT"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
log() { echo "== $(date +%T) $*"; }

log "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
nvcc --version | tail -1; g++ --version | head -1; cmake --version | head -1; nproc

log "build"
if ! { cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLASHMEM_CUDA=ON -DFLASHMEM_TESTS=OFF \
         > "$OUT/build.txt" 2>&1 && ninja -C build-cuda flashmem >> "$OUT/build.txt" 2>&1; }; then
  grep -E "error|Error" -A3 "$OUT/build.txt" | head -60
  exit 1
fi

log "random model of Gemma 3 270M's shapes"
MODEL=/tmp/gemma3-270m-random.gguf
python3 python/make_random_gguf.py --like bench/data/gemma3-270m-q4_k_m.shapes.json --seed 1 -o "$MODEL" || exit 1
sha256sum "$MODEL"

log "gpu-check"
timeout 150 build-cuda/flashmem gpu-check -m "$MODEL" --context 1000 --steps 64 -t "$(nproc)" 2>&1 | tee "$OUT/gpu_check.txt"
check=${PIPESTATUS[0]}

log "gpu-bench"
contexts=32k,128k
[ "$quick" = 1 ] && contexts=32k
timeout 240 build-cuda/flashmem gpu-bench -m "$MODEL" --context "$contexts" --batch 1,16 \
    --policy full,lsa-indexer --budget 10% --device-kv-percent 15 --decode 128 -t "$(nproc)" 2>&1 | tee "$OUT/gpu_bench.txt"
bench=${PIPESTATUS[0]}
# lsa with its prompt votes (the hook path: the history copied to the host once per prompt).
timeout 60 build-cuda/flashmem gpu-bench -m "$MODEL" --context 32k --batch 1 --policy lsa --budget 10% \
    --device-kv-percent 15 --decode 128 -t "$(nproc)" 2>&1 | tee -a "$OUT/gpu_bench.txt"

if [ "$quick" = 0 ]; then
  log "HF transformers anchor"
  PYTHONUNBUFFERED=1 timeout 170 python3 python/bench_hf_gemma3.py --contexts 32768 --batches 1,16 \
      --time-budget-s 100 --out "$OUT/hf.json" 2>&1 | tee "$OUT/hf.txt"
fi
log "done: gpu-check rc=$check gpu-bench rc=$bench"
[ "$check" = 0 ] && [ "$bench" = 0 ]
