// attention_flash_impl.h's kernels one float at a time: the fallback for CPUs without
// AVX2, and a check that the tiled algorithm itself (not just its SIMD) is right.
#include "kernels/attention_flash_impl.h"
#include "kernels/ops_vector_scalar.h"

namespace fm::kernels::attention_detail {

namespace {
struct ScalarTiling {
  static constexpr int kQkKeys = 4;
  static constexpr int kPvRows = 2;
  static constexpr int kPvDimVectors = 4;
  static constexpr int kDecodeDimVectors = 4;
};
using V = simd::Scalar;
}  // namespace

const AttentionKernels kScalarAttention = {
    "scalar",
    &prefill_tile<V, ScalarTiling>,
    &decode_keys<V, ScalarTiling>,
};

}  // namespace fm::kernels::attention_detail
