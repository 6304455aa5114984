// ops.h's element-wise operations for AVX512: ops_simd_impl.h over simd::Avx512.
#include "kernels/ops_simd_impl.h"
#include "kernels/ops_variants.h"
#include "kernels/ops_vector_avx512.h"

namespace fm::kernels::ops_detail {

using V = simd::Avx512;

const OpsKernels kAvx512Ops = {
    "avx512",
    &ops_simd::rms_norm<V>,
    &ops_simd::gelu_tanh<V>,
    &ops_simd::geglu<V>,
    &ops_simd::swiglu<V>,
    &ops_simd::add_inplace<V>,
    &ops_simd::scale_inplace<V>,
    &ops_simd::to_fp16<V>,
    &ops_simd::softcap_inplace<V>,
};

}  // namespace fm::kernels::ops_detail
