// The SIMD kernels, one declaration per (instruction set, weight type). Each is defined
// in a file compiled for its instruction set (*_avx2.cpp, *_avx512.cpp) and may only be
// called when isa_available() says so; vec_dot_registry.cpp maps types to them.
#pragma once

#include <cstdint>

#include "kernels/vec_dot.h"

namespace fm::kernels {

#define FM_DECLARE_VEC_DOT(name)                                              \
  void name(int64_t n, const uint8_t* weight_row, const uint8_t* activations, \
            int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride)

namespace avx2 {
FM_DECLARE_VEC_DOT(vec_dot_q4_0);
FM_DECLARE_VEC_DOT(vec_dot_q4_1);
FM_DECLARE_VEC_DOT(vec_dot_q5_0);
FM_DECLARE_VEC_DOT(vec_dot_q5_1);
FM_DECLARE_VEC_DOT(vec_dot_q8_0);
FM_DECLARE_VEC_DOT(vec_dot_q4_k);
FM_DECLARE_VEC_DOT(vec_dot_q5_k);
FM_DECLARE_VEC_DOT(vec_dot_q6_k);
FM_DECLARE_VEC_DOT(vec_dot_f32);
FM_DECLARE_VEC_DOT(vec_dot_f16);
FM_DECLARE_VEC_DOT(vec_dot_bf16);
}  // namespace avx2

namespace avx512 {
FM_DECLARE_VEC_DOT(vec_dot_q4_0);
FM_DECLARE_VEC_DOT(vec_dot_q4_1);
FM_DECLARE_VEC_DOT(vec_dot_q5_0);
FM_DECLARE_VEC_DOT(vec_dot_q5_1);
FM_DECLARE_VEC_DOT(vec_dot_q8_0);
FM_DECLARE_VEC_DOT(vec_dot_q4_k);
FM_DECLARE_VEC_DOT(vec_dot_q5_k);
FM_DECLARE_VEC_DOT(vec_dot_q6_k);
TileKernel tile_kernel(TensorType type);
}  // namespace avx512

#undef FM_DECLARE_VEC_DOT

}  // namespace fm::kernels
