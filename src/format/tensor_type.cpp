#include "format/tensor_type.h"

namespace fm {

const TensorTypeTraits* tensor_type_traits(uint32_t type_id) {
  // Sizes follow the block layouts in kernels/quant_blocks.h.
  static const TensorTypeTraits kF32{"F32", 1, 4, true};
  static const TensorTypeTraits kF16{"F16", 1, 2, true};
  static const TensorTypeTraits kBF16{"BF16", 1, 2, true};
  static const TensorTypeTraits kQ4_0{"Q4_0", 32, 18, true};
  static const TensorTypeTraits kQ4_1{"Q4_1", 32, 20, true};
  static const TensorTypeTraits kQ5_0{"Q5_0", 32, 22, true};
  static const TensorTypeTraits kQ5_1{"Q5_1", 32, 24, true};
  static const TensorTypeTraits kQ8_0{"Q8_0", 32, 34, true};
  static const TensorTypeTraits kQ8_1{"Q8_1", 32, 36, false};
  static const TensorTypeTraits kQ2_K{"Q2_K", 256, 84, false};
  static const TensorTypeTraits kQ3_K{"Q3_K", 256, 110, false};
  static const TensorTypeTraits kQ4_K{"Q4_K", 256, 144, true};
  static const TensorTypeTraits kQ5_K{"Q5_K", 256, 176, true};
  static const TensorTypeTraits kQ6_K{"Q6_K", 256, 210, true};
  static const TensorTypeTraits kQ8_K{"Q8_K", 256, 292, false};
  // Read only by the deepseek4 family's own scalar code (src/model/deepseek4): its hash
  // routing table (I32) and its routed experts (MXFP4: one E8M0 scale byte + 16 bytes of
  // e2m1 codes per 32 values). Not enumerated in TensorType yet; ids as in ggml.
  static const TensorTypeTraits kI32{"I32", 1, 4, false};
  static const TensorTypeTraits kMXFP4{"MXFP4", 32, 17, false};
  if (type_id == 26) return &kI32;
  if (type_id == 39) return &kMXFP4;
  switch (static_cast<TensorType>(type_id)) {
    case TensorType::F32: return &kF32;
    case TensorType::F16: return &kF16;
    case TensorType::BF16: return &kBF16;
    case TensorType::Q4_0: return &kQ4_0;
    case TensorType::Q4_1: return &kQ4_1;
    case TensorType::Q5_0: return &kQ5_0;
    case TensorType::Q5_1: return &kQ5_1;
    case TensorType::Q8_0: return &kQ8_0;
    case TensorType::Q8_1: return &kQ8_1;
    case TensorType::Q2_K: return &kQ2_K;
    case TensorType::Q3_K: return &kQ3_K;
    case TensorType::Q4_K: return &kQ4_K;
    case TensorType::Q5_K: return &kQ5_K;
    case TensorType::Q6_K: return &kQ6_K;
    case TensorType::Q8_K: return &kQ8_K;
  }
  return nullptr;
}

}  // namespace fm
