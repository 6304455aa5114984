#!/usr/bin/env bash
# The CUDA backend on a GPU machine, in one run (the `device` tool's H100/H200, or any NVIDIA
# GPU with nvcc, cmake and ninja): builds with -DFLASHMEM_CUDA=ON, writes a GGUF of the
# same shapes and types as Gemma 3 270M Q4_K_M with seeded random weights (the model file
# does not travel; speed does not depend on the values, and correctness is the GPU engine
# against the CPU engine on the same file), then
#   flashmem gpu-check   attention kernel vs reference, GPU vs CPU logits, tiered reads,
#                        batching, recall through the tiers bit for bit
#   flashmem gpu-bench   decode tok/s, full and lsa under a device KV budget, 1 and 16 sequences
#   python/bench_hf_gemma3.py   HF transformers' Gemma 3 on the same GPU, the anchor
# Outputs go to $OUT (or build-cuda/out): device_check.log, build.txt, gpu_check.txt,
# gpu_bench.txt, hf.txt, hf.json.
#   scripts/device_check.sh [--quick]   (--quick: 32K only, no HF anchor)
# DEVICE_DEADLINE_S (default 540): the whole run's time; each step's timeout is capped by
# what is left, and a step that would start with too little left is skipped and says so, so
# that a lease's short command limit still brings back everything finished before it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build-cuda/out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/device_check.log") 2>&1
quick=0
[ "${1:-}" = "--quick" ] && quick=1
deadline=${DEVICE_DEADLINE_S:-540}
start=$SECONDS
log() { echo "== $(date +%T) (+$((SECONDS - start)) s) $*"; }
# budget CAP MIN: seconds for the next step, at most CAP; 0 when fewer than MIN are left.
budget() {
  local left=$((deadline - (SECONDS - start)))
  if [ "$left" -lt "$2" ]; then echo 0; elif [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
status_line=""

log "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
nvcc --version | tail -1; g++ --version | head -1; cmake --version | head -1; nproc

log "build"
if ! { cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLASHMEM_CUDA=ON -DFLASHMEM_TESTS=OFF -DFLASHMEM_SERVER=OFF \
         > "$OUT/build.txt" 2>&1 && ninja -C build-cuda flashmem >> "$OUT/build.txt" 2>&1; }; then
  grep -E "error|Error" -A3 "$OUT/build.txt" | head -60
  exit 1
fi

log "random model of Gemma 3 270M's shapes"
MODEL=/tmp/gemma3-270m-random.gguf
python3 python/make_random_gguf.py --like bench/data/gemma3-270m-q4_k_m.shapes.json --seed 1 -o "$MODEL" || exit 1
sha256sum "$MODEL"
T=$(nproc)
bench() {  # bench CAP MIN ARGS...: one gpu-bench call, appended to gpu_bench.txt
  local cap=$1 min=$2; shift 2
  local t; t=$(budget "$cap" "$min")
  if [ "$t" = 0 ]; then log "skipped (deadline): gpu-bench $*"; status_line+=" skipped:[$*]"; return; fi
  log "gpu-bench $* (timeout $t s)"
  timeout "$t" build-cuda/flashmem gpu-bench -m "$MODEL" "$@" --budget 10% --device-kv-percent 15 --decode 128 \
      -t "$T" 2>&1 | tee -a "$OUT/gpu_bench.txt"
  status_line+=" bench[$*]=${PIPESTATUS[0]}"
}

t=$(budget 120 30)
if [ "$t" = 0 ]; then  # (timeout 0 would mean no limit at all)
  log "skipped (deadline): gpu-check"; status_line+=" skipped:[check]"
else
  log "gpu-check (timeout $t s)"
  timeout "$t" build-cuda/flashmem gpu-check -m "$MODEL" --context 1000 --steps 64 -t "$T" 2>&1 | tee "$OUT/gpu_check.txt"
  status_line+=" check=${PIPESTATUS[0]}"
fi

bench 120 30 --context 32k --batch 1,16 --policy full,lsa-indexer

if [ "$quick" = 0 ]; then
  t=$(budget 120 60)
  if [ "$t" = 0 ]; then
    log "skipped (deadline): HF anchor"; status_line+=" skipped:[hf]"
  else
    log "HF transformers anchor (timeout $t s)"
    PYTHONUNBUFFERED=1 timeout "$t" python3 python/bench_hf_gemma3.py --contexts 32768 --batches 1,16 \
        --time-budget-s $((t - 20)) --out "$OUT/hf.json" 2>&1 | tee "$OUT/hf.txt"
    status_line+=" hf=${PIPESTATUS[0]}"
  fi
  bench 180 40 --context 128k --batch 1,16 --policy full,lsa-indexer
fi
# lsa with its prompt votes (the hook path: the history copied to the host once per prompt).
bench 60 20 --context 32k --batch 1 --policy lsa
log "done:$status_line"
# Exit 0 only when gpu-check passed and every gpu-bench that ran finished.
[[ "$status_line" == *" check=0"* ]] && ! [[ "$status_line" =~ \]=[1-9] ]]
