// Scalar decoding of every supported weight format to fp32: the reference that the dot
// products are checked against, and the path used to read single rows (token embeddings).
//
// Each formula is evaluated in the same order as gguf-py's numpy dequantizers (for
// example (d * scale) * q - (dmin * min) for Q4_K), so results match them bit for bit;
// this file is built without FMA so the compiler cannot fuse those products.
#include <cstring>

#include "core/fp16.h"
#include "core/status.h"
#include "kernels/kquant_scales.h"
#include "kernels/matmul.h"
#include "kernels/quant_blocks.h"

namespace fm::kernels {

namespace {

template <typename Block>
const Block* blocks_of(const uint8_t* src) {
  return reinterpret_cast<const Block*>(src);
}

void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  const auto* blocks = blocks_of<BlockQ4_0>(src);
  for (int64_t b = 0; b < n_blocks; ++b, dst += kBlock32) {
    const float d = fp16_to_fp32(blocks[b].d);
    for (int i = 0; i < 16; ++i) {
      dst[i] = d * (float)((blocks[b].qs[i] & 0x0f) - 8);
      dst[i + 16] = d * (float)((blocks[b].qs[i] >> 4) - 8);
    }
  }
}

void dequantize_q4_1(const uint8_t* src, float* dst, int64_t n_blocks) {
  const auto* blocks = blocks_of<BlockQ4_1>(src);
  for (int64_t b = 0; b < n_blocks; ++b, dst += kBlock32) {
    const float d = fp16_to_fp32(blocks[b].d), m = fp16_to_fp32(blocks[b].m);
    for (int i = 0; i < 16; ++i) {
      dst[i] = d * (float)(blocks[b].qs[i] & 0x0f) + m;
      dst[i + 16] = d * (float)(blocks[b].qs[i] >> 4) + m;
    }
  }
}

// The 5-bit codes of a Q5_0/Q5_1 block, 0..31.
void unpack_q5(const uint8_t qh_bytes[4], const uint8_t qs[16], int codes[32]) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int i = 0; i < 16; ++i) {
    codes[i] = (qs[i] & 0x0f) | (int)((qh >> i) & 1) << 4;
    codes[i + 16] = (qs[i] >> 4) | (int)((qh >> (i + 16)) & 1) << 4;
  }
}

void dequantize_q5_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  const auto* blocks = blocks_of<BlockQ5_0>(src);
  int codes[32];
  for (int64_t b = 0; b < n_blocks; ++b, dst += kBlock32) {
    const float d = fp16_to_fp32(blocks[b].d);
    unpack_q5(blocks[b].qh, blocks[b].qs, codes);
    for (int i = 0; i < 32; ++i) dst[i] = d * (float)(codes[i] - 16);
  }
}

void dequantize_q5_1(const uint8_t* src, float* dst, int64_t n_blocks) {
  const auto* blocks = blocks_of<BlockQ5_1>(src);
  int codes[32];
  for (int64_t b = 0; b < n_blocks; ++b, dst += kBlock32) {
    const float d = fp16_to_fp32(blocks[b].d), m = fp16_to_fp32(blocks[b].m);
    unpack_q5(blocks[b].qh, blocks[b].qs, codes);
    for (int i = 0; i < 32; ++i) dst[i] = d * (float)codes[i] + m;
  }
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  const auto* blocks = blocks_of<BlockQ8_0>(src);
  for (int64_t b = 0; b < n_blocks; ++b, dst += kBlock32) {
    const float d = fp16_to_fp32(blocks[b].d);
    for (int i = 0; i < 32; ++i) dst[i] = (float)blocks[b].qs[i] * d;
  }
}

void dequantize_q4_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  const auto* blocks = blocks_of<BlockQ4_K>(src);
  for (int64_t b = 0; b < n_blocks; ++b, dst += kBlockK) {
    const BlockQ4_K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d), dmin = fp16_to_fp32(blk.dmin);
    const KQuantScales s = unpack_kquant_scales(blk.scales);
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = blk.qs + 32 * chunk;
      for (int half = 0; half < 2; ++half) {
        const int sub = 2 * chunk + half;
        const float scale = d * (float)s.scale[sub], min = dmin * (float)s.min[sub];
        float* out = dst + 32 * sub;
        for (int l = 0; l < 32; ++l) out[l] = scale * (float)((q[l] >> (4 * half)) & 0x0f) - min;
      }
    }
  }
}

void dequantize_q5_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  const auto* blocks = blocks_of<BlockQ5_K>(src);
  for (int64_t b = 0; b < n_blocks; ++b, dst += kBlockK) {
    const BlockQ5_K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d), dmin = fp16_to_fp32(blk.dmin);
    const KQuantScales s = unpack_kquant_scales(blk.scales);
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = blk.qs + 32 * chunk;
      for (int half = 0; half < 2; ++half) {
        const int sub = 2 * chunk + half;
        const float scale = d * (float)s.scale[sub], min = dmin * (float)s.min[sub];
        float* out = dst + 32 * sub;
        for (int l = 0; l < 32; ++l) {
          const int code = ((q[l] >> (4 * half)) & 0x0f) | ((blk.qh[l] >> sub) & 1) << 4;
          out[l] = scale * (float)code - min;
        }
      }
    }
  }
}

void dequantize_q6_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  const auto* blocks = blocks_of<BlockQ6_K>(src);
  for (int64_t b = 0; b < n_blocks; ++b, dst += kBlockK) {
    const BlockQ6_K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = blk.ql + 64 * half;
      const uint8_t* qh = blk.qh + 32 * half;
      float* out = dst + 128 * half;
      for (int l = 0; l < 32; ++l) {
        // Group g covers elements 32g..32g+31 of this half; see BlockQ6_K.
        const int codes[4] = {
            (ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4,
            (ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4,
            (ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4,
            (ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4,
        };
        for (int g = 0; g < 4; ++g) {
          const int element = 32 * g + l;
          const float scale = d * (float)blk.scales[8 * half + element / 16];
          out[element] = scale * (float)(codes[g] - 32);
        }
      }
    }
  }
}

}  // namespace

void dequantize_row(TensorType type, const uint8_t* src, float* dst, int64_t n) {
  const int64_t n_blocks = n / traits(type).block_elements;
  FM_ASSERT(n % traits(type).block_elements == 0);
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, (size_t)n * 4);
      return;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = fp16_to_fp32(h);
      }
      return;
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_fp32(h);
      }
      return;
    case TensorType::Q4_0:
      return dequantize_q4_0(src, dst, n_blocks);
    case TensorType::Q4_1:
      return dequantize_q4_1(src, dst, n_blocks);
    case TensorType::Q5_0:
      return dequantize_q5_0(src, dst, n_blocks);
    case TensorType::Q5_1:
      return dequantize_q5_1(src, dst, n_blocks);
    case TensorType::Q8_0:
      return dequantize_q8_0(src, dst, n_blocks);
    case TensorType::Q4_K:
      return dequantize_q4_k(src, dst, n_blocks);
    case TensorType::Q5_K:
      return dequantize_q5_k(src, dst, n_blocks);
    case TensorType::Q6_K:
      return dequantize_q6_k(src, dst, n_blocks);
    default:
      break;
  }
  FM_ASSERT(false && "dequantize_row: unsupported tensor type");
}

}  // namespace fm::kernels
