// attention_flash_impl.h's kernels for AVX-512 (16-float vectors, 32 registers).
#include "kernels/attention_flash_impl.h"
#include "kernels/ops_vector_avx512.h"

namespace fm::kernels::attention_detail {

namespace {
struct Avx512Tiling {
  static constexpr int kQkKeys = 8;  // 8 keys x 2 vectors = 16 accumulators
  static constexpr int kPvRows = 4;  // 4 rows x 4 vectors = 16 accumulators
  static constexpr int kPvDimVectors = 4;
  static constexpr int kDecodeDimVectors = 4;  // up to 4 heads x 4 vectors
};
using V = simd::Avx512;
}  // namespace

const AttentionKernels kAvx512Attention = {
    "avx512",
    &prefill_tile<V, Avx512Tiling>,
    &decode_keys<V, Avx512Tiling>,
};

}  // namespace fm::kernels::attention_detail
