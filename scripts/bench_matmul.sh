#!/usr/bin/env bash
# Builds the library (Release) in build-bench/ and runs bench/bench_matmul.cpp against it.
# Usage: scripts/bench_matmul.sh [--quick]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${FLASHMEM_BENCH_BUILD:-$root/build-bench}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLASHMEM_TESTS=OFF >/dev/null
ninja -C "$build" flashmem_lib >/dev/null
g++ -std=c++20 -O3 -Wall -Wextra -I"$root/src" "$root/bench/bench_matmul.cpp" \
  "$build/libflashmem.a" -lpthread -o "$build/bench_matmul"
exec "$build/bench_matmul" "$@"
