// Scalar reference dot products for every weight type, plus the per-type activation
// format and the kernel selection. The SIMD kernels are tested against these: their
// integer sums must agree exactly, only the order of float accumulation may differ.
#include <cstring>

#include "core/fp16.h"
#include "kernels/kquant_scales.h"
#include "kernels/quant_blocks.h"
#include "kernels/vec_dot.h"

namespace fm::kernels {

namespace {

template <typename Block>
const Block* blocks_of(const uint8_t* src) {
  return reinterpret_cast<const Block*>(src);
}

// Codes of a 32-element block as signed integers with the format's offset applied where
// it has one (Q4_0, Q5_0), and the block's additive minimum (Q4_1, Q5_1; else 0).
struct Block32Codes {
  int codes[32];
  float d;
  float m;
};

Block32Codes codes_q4(const uint8_t qs[16], int offset) {
  Block32Codes c{};
  for (int i = 0; i < 16; ++i) {
    c.codes[i] = (qs[i] & 0x0f) - offset;
    c.codes[i + 16] = (qs[i] >> 4) - offset;
  }
  return c;
}

Block32Codes codes_q5(const uint8_t qh_bytes[4], const uint8_t qs[16], int offset) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  Block32Codes c{};
  for (int i = 0; i < 16; ++i) {
    c.codes[i] = ((qs[i] & 0x0f) | (int)((qh >> i) & 1) << 4) - offset;
    c.codes[i + 16] = ((qs[i] >> 4) | (int)((qh >> (i + 16)) & 1) << 4) - offset;
  }
  return c;
}

Block32Codes unpack_block32(TensorType type, const uint8_t* row, int64_t b) {
  switch (type) {
    case TensorType::Q4_0: {
      const auto& blk = blocks_of<BlockQ4_0>(row)[b];
      Block32Codes c = codes_q4(blk.qs, 8);
      c.d = fp16_to_fp32(blk.d);
      return c;
    }
    case TensorType::Q4_1: {
      const auto& blk = blocks_of<BlockQ4_1>(row)[b];
      Block32Codes c = codes_q4(blk.qs, 0);
      c.d = fp16_to_fp32(blk.d);
      c.m = fp16_to_fp32(blk.m);
      return c;
    }
    case TensorType::Q5_0: {
      const auto& blk = blocks_of<BlockQ5_0>(row)[b];
      Block32Codes c = codes_q5(blk.qh, blk.qs, 16);
      c.d = fp16_to_fp32(blk.d);
      return c;
    }
    case TensorType::Q5_1: {
      const auto& blk = blocks_of<BlockQ5_1>(row)[b];
      Block32Codes c = codes_q5(blk.qh, blk.qs, 0);
      c.d = fp16_to_fp32(blk.d);
      c.m = fp16_to_fp32(blk.m);
      return c;
    }
    default: {
      const auto& blk = blocks_of<BlockQ8_0>(row)[b];
      Block32Codes c{};
      for (int i = 0; i < 32; ++i) c.codes[i] = blk.qs[i];
      c.d = fp16_to_fp32(blk.d);
      return c;
    }
  }
}

template <TensorType kType>
float dot_block32(int64_t n, const uint8_t* weight_row, const uint8_t* activation) {
  const Q8x32Row a = q8x32_row(activation, n);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const Block32Codes w = unpack_block32(kType, weight_row, b);
    int dot = 0;
    for (int i = 0; i < 32; ++i) dot += w.codes[i] * a.qs[32 * b + i];
    sum += w.d * a.scale[b] * (float)dot + w.m * a.scaled_sum[b];
  }
  return sum;
}

// Q4_K and Q5_K: per sub-block j, d*sc[j]*dot_j - dmin*m[j]*sum(activation codes).
template <TensorType kType>
float dot_q4_q5_k(int64_t n, const uint8_t* weight_row, const uint8_t* activation) {
  const Q8x256Row a = q8x256_row(activation, n);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* qs;
    const uint8_t* qh = nullptr;
    uint16_t d_bits, dmin_bits;
    const uint8_t* packed_scales;
    if constexpr (kType == TensorType::Q4_K) {
      const auto& blk = blocks_of<BlockQ4_K>(weight_row)[b];
      qs = blk.qs, d_bits = blk.d, dmin_bits = blk.dmin, packed_scales = blk.scales;
    } else {
      const auto& blk = blocks_of<BlockQ5_K>(weight_row)[b];
      qs = blk.qs, qh = blk.qh, d_bits = blk.d, dmin_bits = blk.dmin, packed_scales = blk.scales;
    }
    const KQuantScales s = unpack_kquant_scales(packed_scales);
    const int8_t* codes = a.qs + 256 * b;
    int scaled_dot = 0, min_dot = 0;
    for (int sub = 0; sub < 8; ++sub) {
      const uint8_t* q = qs + 32 * (sub / 2);
      const int shift = 4 * (sub % 2);
      int dot = 0;
      for (int l = 0; l < 32; ++l) {
        int code = (q[l] >> shift) & 0x0f;
        if (qh) code |= ((qh[l] >> sub) & 1) << 4;
        dot += code * codes[32 * sub + l];
      }
      scaled_dot += s.scale[sub] * dot;
      min_dot += s.min[sub] * (a.sub_sums[16 * b + 2 * sub] + a.sub_sums[16 * b + 2 * sub + 1]);
    }
    sum += fp16_to_fp32(d_bits) * a.scale[b] * (float)scaled_dot -
           fp16_to_fp32(dmin_bits) * a.scale[b] * (float)min_dot;
  }
  return sum;
}

float dot_q6_k(int64_t n, const uint8_t* weight_row, const uint8_t* activation) {
  const Q8x256Row a = q8x256_row(activation, n);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ6_K& blk = blocks_of<BlockQ6_K>(weight_row)[b];
    const int8_t* codes = a.qs + 256 * b;
    int scaled_dot = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = blk.ql + 64 * half;
      const uint8_t* qh = blk.qh + 32 * half;
      int sub_dot[8] = {};
      for (int l = 0; l < 32; ++l) {
        const int q[4] = {
            (ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4,
            (ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4,
            (ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4,
            (ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4,
        };
        for (int g = 0; g < 4; ++g) {
          const int element = 32 * g + l;
          sub_dot[element / 16] += (q[g] - 32) * codes[128 * half + element];
        }
      }
      for (int s = 0; s < 8; ++s) scaled_dot += blk.scales[8 * half + s] * sub_dot[s];
    }
    sum += fp16_to_fp32(blk.d) * a.scale[b] * (float)scaled_dot;
  }
  return sum;
}

template <TensorType kType>
float dot_float(int64_t n, const uint8_t* weight_row, const uint8_t* activation) {
  const auto* x = reinterpret_cast<const float*>(activation);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    float w;
    if constexpr (kType == TensorType::F32) {
      std::memcpy(&w, weight_row + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, weight_row + 2 * i, 2);
      w = kType == TensorType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
    }
    sum += w * x[i];
  }
  return sum;
}

template <float (*kDot)(int64_t, const uint8_t*, const uint8_t*)>
void over_tokens(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                 int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  for (int t = 0; t < n_tokens; ++t) {
    out[t * out_stride] = kDot(n, weight_row, activations + t * activation_stride_bytes);
  }
}

}  // namespace

ActivationFormat activation_format(TensorType type) {
  switch (type) {
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
      return ActivationFormat::Q8x32;
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return ActivationFormat::Q8x256;
    default:
      return ActivationFormat::F32;
  }
}

VecDotFn vec_dot_scalar(TensorType type) {
  switch (type) {
    case TensorType::F32:
      return over_tokens<dot_float<TensorType::F32>>;
    case TensorType::F16:
      return over_tokens<dot_float<TensorType::F16>>;
    case TensorType::BF16:
      return over_tokens<dot_float<TensorType::BF16>>;
    case TensorType::Q4_0:
      return over_tokens<dot_block32<TensorType::Q4_0>>;
    case TensorType::Q4_1:
      return over_tokens<dot_block32<TensorType::Q4_1>>;
    case TensorType::Q5_0:
      return over_tokens<dot_block32<TensorType::Q5_0>>;
    case TensorType::Q5_1:
      return over_tokens<dot_block32<TensorType::Q5_1>>;
    case TensorType::Q8_0:
      return over_tokens<dot_block32<TensorType::Q8_0>>;
    case TensorType::Q4_K:
      return over_tokens<dot_q4_q5_k<TensorType::Q4_K>>;
    case TensorType::Q5_K:
      return over_tokens<dot_q4_q5_k<TensorType::Q5_K>>;
    case TensorType::Q6_K:
      return over_tokens<dot_q6_k>;
    default:
      return nullptr;
  }
}

VecDotFn vec_dot_for(TensorType type, Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return vec_dot_avx512(type);
    case Isa::Avx2:
      return vec_dot_avx2(type);
    case Isa::Scalar:
      return vec_dot_scalar(type);
  }
  return nullptr;
}

VecDotFn select_vec_dot(TensorType type) {
  const Isa best = best_isa();
  if (best == Isa::Avx512) {
    if (VecDotFn fn = vec_dot_avx512(type)) return fn;
  }
  if (best == Isa::Avx512 || best == Isa::Avx2) {
    if (VecDotFn fn = vec_dot_avx2(type)) return fn;
  }
  return vec_dot_scalar(type);
}

}  // namespace fm::kernels
