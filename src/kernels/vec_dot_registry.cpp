// Which SIMD kernel serves which weight type. Kept in a baseline-compiled file so that
// looking a kernel up never executes an instruction the CPU may lack.
#include "kernels/vec_dot.h"
#include "kernels/vec_dot_kernels.h"

namespace fm::kernels {

VecDotFn vec_dot_avx2(TensorType type) {
  switch (type) {
    case TensorType::F32:
      return avx2::vec_dot_f32;
    case TensorType::F16:
      return avx2::vec_dot_f16;
    case TensorType::BF16:
      return avx2::vec_dot_bf16;
    case TensorType::Q4_0:
      return avx2::vec_dot_q4_0;
    case TensorType::Q4_1:
      return avx2::vec_dot_q4_1;
    case TensorType::Q5_0:
      return avx2::vec_dot_q5_0;
    case TensorType::Q5_1:
      return avx2::vec_dot_q5_1;
    case TensorType::Q8_0:
      return avx2::vec_dot_q8_0;
    case TensorType::Q4_K:
      return avx2::vec_dot_q4_k;
    case TensorType::Q5_K:
      return avx2::vec_dot_q5_k;
    case TensorType::Q6_K:
      return avx2::vec_dot_q6_k;
    default:
      return nullptr;
  }
}

// Float weights have no AVX-512 kernel: they are memory bound and AVX2 already keeps up.
VecDotFn vec_dot_avx512(TensorType type) {
  switch (type) {
    case TensorType::Q4_0:
      return avx512::vec_dot_q4_0;
    case TensorType::Q4_1:
      return avx512::vec_dot_q4_1;
    case TensorType::Q5_0:
      return avx512::vec_dot_q5_0;
    case TensorType::Q5_1:
      return avx512::vec_dot_q5_1;
    case TensorType::Q8_0:
      return avx512::vec_dot_q8_0;
    case TensorType::Q4_K:
      return avx512::vec_dot_q4_k;
    case TensorType::Q5_K:
      return avx512::vec_dot_q5_k;
    case TensorType::Q6_K:
      return avx512::vec_dot_q6_k;
    default:
      return nullptr;
  }
}

TileKernel select_tile_kernel(TensorType type) {
  if (best_isa() == Isa::Avx512) return avx512::tile_kernel(type);
  return {};
}

}  // namespace fm::kernels
