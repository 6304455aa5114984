// Dot products of one weight row with a small tile of activation rows: the inner kernel
// of matmul. One kernel per (weight type, instruction set).
//
// A tile of up to kMaxTokenTile tokens shares each weight block once it is unpacked into
// registers, so prefill reads (and decodes) each weight row once per tile rather than
// once per token. Decode calls with n_tokens = 1.
#pragma once

#include <cstdint>

#include "format/tensor_type.h"
#include "kernels/isa.h"
#include "kernels/quantize_activations.h"

namespace fm::kernels {

inline constexpr int kMaxTokenTile = 8;

// out[t * out_stride] = dot(weight_row, activation row t) for t < n_tokens
// (1 <= n_tokens <= kMaxTokenTile). weight_row holds n values in its storage type;
// activation row t starts at activations + t * activation_stride_bytes, in the format
// activation_format(type) gives, holding n values.
using VecDotFn = void (*)(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                          int64_t activation_stride_bytes, int n_tokens, float* out,
                          int64_t out_stride);

// Prefill tiles for some (type, instruction set) pairs: per-token values that every weight
// row would otherwise recompute are prepared once per token per matmul call into a side
// row of tile_side_bytes(n) bytes (64-byte aligned), and dot reads them. Results are
// bit-identical to the VecDotFn of the same type and level. dot takes one tile,
// 1 <= n_tokens <= kMaxTokenTile; side row t starts at sides + t * side_stride_bytes.
struct TileKernel {
  void (*dot)(int64_t n, const uint8_t* weight_row, const uint8_t* activations, int64_t activation_stride_bytes,
              const uint8_t* sides, int64_t side_stride_bytes, int n_tokens, float* out,
              int64_t out_stride) = nullptr;
  void (*prepare)(const uint8_t* activation_row, int64_t n, uint8_t* side) = nullptr;
};
inline int64_t tile_side_bytes(int64_t n) { return n / 64 * 128; }

// The tile kernel this CPU has for the type, or one with dot == nullptr (use the VecDotFn).
TileKernel select_tile_kernel(TensorType type);

// The activation format the kernels for this weight type expect.
ActivationFormat activation_format(TensorType type);

// The kernel for a type at one instruction-set level, or nullptr if that level has none
// for this type (callers then fall back to a lower level).
VecDotFn vec_dot_scalar(TensorType type);
VecDotFn vec_dot_avx2(TensorType type);
VecDotFn vec_dot_avx512(TensorType type);
VecDotFn vec_dot_for(TensorType type, Isa isa);

// The best available kernel: the highest level this CPU supports that has one.
VecDotFn select_vec_dot(TensorType type);

// Calls Kernel::template run<N>(...) with N = n_tokens known at compile time, so each
// kernel keeps its per-token accumulators in registers. Tiles wider than kWidest (what
// the register file holds: 4 for AVX2's 16 registers, 8 for AVX-512's 32) are split.
template <typename Kernel, int kWidest>
inline void dispatch_token_tile(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                                int64_t activation_stride_bytes, int n_tokens, float* out,
                                int64_t out_stride) {
  static_assert(kWidest == 4 || kWidest == 8);
  while (n_tokens > 0) {
    const int tile = n_tokens < kWidest ? n_tokens : kWidest;
    switch (tile) {
      case 1:
        Kernel::template run<1>(n, weight_row, activations, activation_stride_bytes, out,
                                out_stride);
        break;
      case 2:
        Kernel::template run<2>(n, weight_row, activations, activation_stride_bytes, out,
                                out_stride);
        break;
      case 3:
        Kernel::template run<3>(n, weight_row, activations, activation_stride_bytes, out,
                                out_stride);
        break;
      case 4:
        Kernel::template run<4>(n, weight_row, activations, activation_stride_bytes, out,
                                out_stride);
        break;
      default:
        if constexpr (kWidest == 8) {
          switch (tile) {
            case 5:
              Kernel::template run<5>(n, weight_row, activations, activation_stride_bytes, out,
                                      out_stride);
              break;
            case 6:
              Kernel::template run<6>(n, weight_row, activations, activation_stride_bytes, out,
                                      out_stride);
              break;
            case 7:
              Kernel::template run<7>(n, weight_row, activations, activation_stride_bytes, out,
                                      out_stride);
              break;
            default:
              Kernel::template run<8>(n, weight_row, activations, activation_stride_bytes, out,
                                      out_stride);
              break;
          }
        }
        break;
    }
    n_tokens -= tile;
    activations += tile * activation_stride_bytes;
    out += tile * out_stride;
  }
}

}  // namespace fm::kernels
