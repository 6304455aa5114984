// Vector primitives with a width of one float: the portable fallback that lets the
// templated kernels (ops_simd_impl.h, attention_flash_impl.h) run on any CPU.
//
// Include only from files compiled for the baseline instruction set (no -m flags).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/fp16.h"

namespace fm::kernels::simd {

struct Scalar {
  using Vec = float;
  static constexpr int kWidth = 1;
  static constexpr const char* kName = "scalar";

  static Vec zero() { return 0.0f; }
  static Vec set1(float x) { return x; }
  static Vec load(const float* p) { return *p; }
  static void store(float* p, Vec v) { *p = v; }
  static Vec load_partial(const float* p, int n) { return n > 0 ? *p : 0.0f; }
  static void store_partial(float* p, Vec v, int n) {
    if (n > 0) *p = v;
  }
  static Vec load_half(const uint16_t* p) { return fp16_to_fp32(*p); }
  static Vec load_half_partial(const uint16_t* p, int n) { return n > 0 ? fp16_to_fp32(*p) : 0.0f; }
  static void store_half(uint16_t* p, Vec v) { *p = fp32_to_fp16(v); }
  static void store_half_partial(uint16_t* p, Vec v, int n) {
    if (n > 0) *p = fp32_to_fp16(v);
  }

  static Vec add(Vec a, Vec b) { return a + b; }
  static Vec sub(Vec a, Vec b) { return a - b; }
  static Vec mul(Vec a, Vec b) { return a * b; }
  static Vec div(Vec a, Vec b) { return a / b; }
  static Vec max(Vec a, Vec b) { return a > b ? a : b; }
  static Vec fmadd(Vec a, Vec b, Vec c) { return a * b + c; }
  static float reduce_add(Vec v) { return v; }
  static float reduce_max(Vec v) { return v; }

  static Vec exp(Vec x) { return std::exp(x); }
  static Vec tanh(Vec x) { return std::tanh(x); }

  // The running maximum of a softmax row that has seen no visible key is -inf; exponents
  // are then taken relative to 0 so that exp(-inf - ref) stays 0 instead of NaN.
  static Vec neg_inf_to_zero(Vec m) { return m == -std::numeric_limits<float>::infinity() ? 0 : m; }

  // s where the key at k_pos is visible from the query at *row_pos, else -inf.
  static Vec mask_invisible(Vec s, const int32_t* row_pos, int32_t k_pos, int32_t window) {
    const int32_t q_pos = *row_pos;
    const bool visible = k_pos <= q_pos && (window == 0 || q_pos - k_pos < window);
    return visible ? s : -std::numeric_limits<float>::infinity();
  }
};

}  // namespace fm::kernels::simd
