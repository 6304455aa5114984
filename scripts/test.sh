#!/usr/bin/env bash
# Runs every test: unit tests, and the end-to-end parity tests against llama.cpp's
# reference outputs on the real models (set up by scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --train
export FLASHMEM_MODEL="$PWD/models/gemma3-270m-q4_k_m.gguf"
export FLASHMEM_MODEL_SMOLLM2="$PWD/models/smollm2-135m-instruct-q4_1.gguf"
# The evaluation data (haystack essays, word lists in RULER's layout) is not in the
# repository: unless FLASHMEM_DATA names RULER's own, the tests run on a synthetic stand-in
# written here (python/make_synthetic_eval_data.py), so a fresh clone tests the generators.
if [ -z "${FLASHMEM_DATA:-}" ]; then
  export FLASHMEM_DATA="$PWD/build/synthetic-data"
  [ -d "$FLASHMEM_DATA/haystack" ] || .venv/bin/python python/make_synthetic_eval_data.py "$FLASHMEM_DATA"
fi
ctest --test-dir build --output-on-failure -j 2 --timeout 1800
# The SIMD kernels are tested again with the dispatcher capped, so every path runs here.
kernel_tests='Attention*:*/Attention*:Matmul*:Ops*:Quantize*:VecDot*:*/SimdVecDot*:*/Dequantize*:*/ForwardInvariants*'
for isa in avx2 scalar; do
  echo "test.sh: kernel tests with FLASHMEM_ISA=$isa"
  FLASHMEM_ISA=$isa ./build/flashmem_tests --gtest_brief=1 --gtest_filter="$kernel_tests"
done
# Parity with llama.cpp on the AVX2 kernels too: what a machine without AVX-512 computes.
echo "test.sh: llama.cpp parity with FLASHMEM_ISA=avx2"
if ! FLASHMEM_ISA=avx2 ./build/flashmem_tests --gtest_filter='E2ELlamaCppParity*' \
    > build/parity_avx2.log 2>&1; then
  cat build/parity_avx2.log
  exit 1
fi
grep '^\[parity ' build/parity_avx2.log
# The Python sides: the training corpus generator and the indexer trainer.
python3 python/indexer_data/test_make_corpus.py
.venv/bin/python python/test_paired_differences.py
.venv/bin/python python/train_indexer/test_train_indexer.py
# The server end to end: the real `flashmem serve` on loopback ports, driven by the openai
# client and raw HTTP (sessions, restart after kill -9, admission, 1,000 bad requests).
(cd tests/server && ../../.venv/bin/python -m unittest -v test_server test_bad_input)
# Several server processes sharing session memory through a real redis-server (started by
# the test on a free loopback port, no persistence files): hand-offs, prefill/decode split,
# leases, and a stopped store, corrupt pages and a killed process.
(cd tests/server && ../../.venv/bin/python -m unittest -v test_distributed)
# The unit suite again under AddressSanitizer + UndefinedBehaviorSanitizer: a second build
# (-O1, asserts on, build-asan/); any report fails the run. The end-to-end tests on the real
# models are left to the optimized build above (they take minutes there, far longer here);
# the server's bad-input test runs against the sanitized binary.
echo "test.sh: unit tests under ASan + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLASHMEM_SANITIZE=ON >/dev/null
if ! ninja -C build-asan flashmem flashmem_tests > build-asan/ninja.log 2>&1; then
  tail -50 build-asan/ninja.log
  exit 1
fi
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ./build-asan/flashmem_tests --gtest_brief=1 --gtest_filter='-E2E*'
(cd tests/server && FLASHMEM_BINARY="$PWD/../../build-asan/flashmem" ASAN_OPTIONS=detect_leaks=1 \
  ../../.venv/bin/python -m unittest test_bad_input)
# The shared store's parsing of bytes from Redis (pages, tails, logits), missing and corrupt
# pages, and the router, against the sanitized server (UBSan found a bug here once).
(cd tests/server && FLASHMEM_BINARY="$PWD/../../build-asan/flashmem" ASAN_OPTIONS=detect_leaks=1 \
  ../../.venv/bin/python -m unittest \
  test_distributed.PrefillDecodeSplit.test_prefill_on_one_process_decode_on_another \
  test_distributed.StoreFaults.test_missing_or_corrupt_pages_cost_a_prefill_not_a_wrong_answer)
# The CUDA backend: compiles (where nvcc is), fails cleanly without a GPU.
bash scripts/test_cuda_build.sh
.venv/bin/python python/test_make_random_gguf.py
# End to end on the real model: dump -> training -> C++ vs PyTorch; eval of every policy.
bash scripts/test_pipeline.sh
echo "test.sh: all tests passed"
