// attention_flash_impl.h's kernels for AVX2 + FMA + F16C (8-float vectors, 16 registers).
#include "kernels/attention_flash_impl.h"
#include "kernels/ops_vector_avx2.h"

namespace fm::kernels::attention_detail {

namespace {
struct Avx2Tiling {
  static constexpr int kQkKeys = 6;  // 6 keys x 2 vectors = 12 accumulators
  static constexpr int kPvRows = 4;  // 4 rows x 2 vectors = 8 accumulators
  static constexpr int kPvDimVectors = 2;
  static constexpr int kDecodeDimVectors = 2;  // up to 4 heads x 2 vectors
};
using V = simd::Avx2;
}  // namespace

const AttentionKernels kAvx2Attention = {
    "avx2",
    &prefill_tile<V, Avx2Tiling>,
    &decode_keys<V, Avx2Tiling>,
};

}  // namespace fm::kernels::attention_detail
