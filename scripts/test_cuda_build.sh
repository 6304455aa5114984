#!/usr/bin/env bash
# The CUDA backend where there is no GPU (CI, this project's machines): it must compile
# and link with nvcc (sm_90 machine code plus PTX), the Python side of the device check
# must work (a random GGUF of Gemma 3 270M's shapes that the CPU engine runs), and the
# GPU commands must fail with a clear error, not a crash. What needs a GPU runs in
# scripts/device_check.sh on a lent machine.
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC=$(command -v nvcc || true)
[ -z "$NVCC" ] && [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc
if [ -z "$NVCC" ]; then
  # CI's machines carry the CUDA toolkit: there a missing nvcc is a failure, not a skip.
  if [ "${CI:-}" = true ]; then echo "test_cuda_build: FAILED: no nvcc (CI=true)"; exit 1; fi
  echo "test_cuda_build: SKIPPED: no nvcc on this machine (the CUDA toolkit is not a dependency of the CPU build)"
  exit 0
fi
# The configuration scripts/device_check.sh builds on a lent machine, which has a compiler
# toolchain but not the server's libraries: the server left out.
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLASHMEM_CUDA=ON -DFLASHMEM_TESTS=OFF \
    -DFLASHMEM_SERVER=OFF -DCMAKE_CUDA_COMPILER="$NVCC" > /dev/null
ninja -C build-cuda flashmem
# sm_90 machine code and PTX both in the binary.
if command -v cuobjdump > /dev/null || [ -x "$(dirname "$NVCC")/cuobjdump" ]; then
  CUOBJDUMP=$(command -v cuobjdump || echo "$(dirname "$NVCC")/cuobjdump")
  "$CUOBJDUMP" --list-elf build-cuda/flashmem | grep -q sm_90 || { echo "test_cuda_build: no sm_90 code"; exit 1; }
  "$CUOBJDUMP" --list-ptx build-cuda/flashmem | grep -q sm_90 || { echo "test_cuda_build: no PTX"; exit 1; }
fi
if serve_out=$(build-cuda/flashmem serve 2>&1) || [[ "$serve_out" != *"without the server"* ]]; then
  echo "test_cuda_build: serve in a build without the server should fail with a clear error, got: $serve_out"; exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
.venv/bin/python python/make_random_gguf.py --like bench/data/gemma3-270m-q4_k_m.shapes.json --seed 1 -o "$TMP/random.gguf"
build-cuda/flashmem info -m "$TMP/random.gguf" > /dev/null
for command in gpu-check gpu-bench; do
  set +e
  build-cuda/flashmem "$command" -m "$TMP/random.gguf" > "$TMP/out.txt" 2>&1
  rc=$?
  set -e
  if nvidia-smi > /dev/null 2>&1; then
    echo "test_cuda_build: a GPU is present; $command exited $rc"
  elif [ "$rc" != 1 ] || ! grep -q "CUDA" "$TMP/out.txt"; then
    echo "test_cuda_build: $command without a GPU should fail with a CUDA error, got rc=$rc:"
    cat "$TMP/out.txt"
    exit 1
  fi
done
echo "test_cuda_build: the CUDA backend compiles; without a GPU its commands fail cleanly ($(head -1 "$TMP/out.txt"))"
