// The element-wise operations of ops.h written once over a vector type V (ops_vector_*.h)
// and instantiated by ops_avx2.cpp and ops_avx512.cpp with their own compiler flags.
//
// Every function here is a template on V, so each instruction set gets its own symbols and
// no AVX-512 code can be picked by the linker for a baseline caller.
#pragma once

#include <cstdint>

namespace fm::kernels::ops_simd {

// rms_norm's sum of squares: blocks of 256 values summed in fp32 across 4 vector
// accumulators (a handful of terms per lane, so the fp32 error stays near 1e-7), block
// totals added in double as llama.cpp does with its ggml_float sums.
template <class V>
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  constexpr int W = V::kWidth;
  constexpr int64_t kBlock = 256;
  double sum = 0.0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    typename V::Vec acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
    int64_t i = b;
    for (; i + 4 * W <= e; i += 4 * W) {
      for (int k = 0; k < 4; ++k) {
        const typename V::Vec v = V::load(x + i + k * W);
        acc[k] = V::fmadd(v, v, acc[k]);
      }
    }
    for (; i + W <= e; i += W) {
      const typename V::Vec v = V::load(x + i);
      acc[0] = V::fmadd(v, v, acc[0]);
    }
    if (i < e) {
      const typename V::Vec v = V::load_partial(x + i, (int)(e - i));
      acc[1] = V::fmadd(v, v, acc[1]);
    }
    sum += V::reduce_add(V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3])));
  }
  const float inv_rms = (float)(1.0 / __builtin_sqrt(sum / (double)n + (double)eps));
  const typename V::Vec s = V::set1(inv_rms);
  int64_t i = 0;
  for (; i + W <= n; i += W)
    V::store(y + i, V::mul(V::mul(V::load(x + i), s), V::load(weight + i)));
  if (i < n) {
    const int r = (int)(n - i);
    V::store_partial(
        y + i, V::mul(V::mul(V::load_partial(x + i, r), s), V::load_partial(weight + i, r)), r);
  }
}

// gelu_tanh(x) = 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3).
// The logistic form needs one exp and no tanh and has no cancellation: its relative error
// is that of exp (a few 1e-7), except where the result underflows to zero for x < -10.
template <class V>
typename V::Vec gelu(typename V::Vec x) {
  const typename V::Vec x2 = V::mul(x, x);
  const typename V::Vec inner = V::fmadd(V::mul(x2, V::set1(0.044715f)), x, x);
  const typename V::Vec e = V::exp(V::mul(inner, V::set1(-2.0f * 0.7978845608028654f)));
  return V::div(x, V::add(V::set1(1.0f), e));
}

template <class V>
typename V::Vec silu(typename V::Vec x) {
  const typename V::Vec e = V::exp(V::sub(V::zero(), x));
  return V::div(x, V::add(V::set1(1.0f), e));
}

// Applies fn(i, count) over [0, n) in full vectors, then once for the tail with count < W.
template <class V, class Fn>
void for_each_vector(int64_t n, Fn fn) {
  constexpr int W = V::kWidth;
  int64_t i = 0;
  for (; i + W <= n; i += W) fn(i, W);
  if (i < n) fn(i, (int)(n - i));
}

template <class V>
typename V::Vec load_n(const float* p, int count) {
  return count == V::kWidth ? V::load(p) : V::load_partial(p, count);
}
template <class V>
void store_n(float* p, typename V::Vec v, int count) {
  if (count == V::kWidth) {
    V::store(p, v);
  } else {
    V::store_partial(p, v, count);
  }
}

template <class V>
void gelu_tanh(float* x, int64_t n) {
  for_each_vector<V>(n,
                     [&](int64_t i, int c) { store_n<V>(x + i, gelu<V>(load_n<V>(x + i, c)), c); });
}

template <class V>
void geglu(const float* gate, const float* up, float* out, int64_t n) {
  for_each_vector<V>(n, [&](int64_t i, int c) {
    store_n<V>(out + i, V::mul(gelu<V>(load_n<V>(gate + i, c)), load_n<V>(up + i, c)), c);
  });
}

template <class V>
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for_each_vector<V>(n, [&](int64_t i, int c) {
    store_n<V>(out + i, V::mul(silu<V>(load_n<V>(gate + i, c)), load_n<V>(up + i, c)), c);
  });
}

template <class V>
void add_inplace(float* y, const float* x, int64_t n) {
  for_each_vector<V>(n, [&](int64_t i, int c) {
    store_n<V>(y + i, V::add(load_n<V>(y + i, c), load_n<V>(x + i, c)), c);
  });
}

template <class V>
void scale_inplace(float* y, float s, int64_t n) {
  const typename V::Vec sv = V::set1(s);
  for_each_vector<V>(
      n, [&](int64_t i, int c) { store_n<V>(y + i, V::mul(load_n<V>(y + i, c), sv), c); });
}

template <class V>
void to_fp16(const float* x, uint16_t* y, int64_t n) {
  for_each_vector<V>(n, [&](int64_t i, int c) {
    if (c == V::kWidth) {
      V::store_half(y + i, V::load(x + i));
    } else {
      V::store_half_partial(y + i, V::load_partial(x + i, c), c);
    }
  });
}

template <class V>
void softcap_inplace(float* x, float cap, int64_t n) {
  const typename V::Vec c = V::set1(cap), inv = V::set1(1.0f / cap);
  for_each_vector<V>(n, [&](int64_t i, int count) {
    store_n<V>(x + i, V::mul(c, V::tanh(V::mul(load_n<V>(x + i, count), inv))), count);
  });
}

}  // namespace fm::kernels::ops_simd
