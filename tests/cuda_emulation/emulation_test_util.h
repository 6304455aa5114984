// Helpers for the emulated-kernel tests: guarded buffers (a write past either end, or a
// read of the poisoned guard values, shows up) and tolerances for bf16 / fp16 outputs.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "emulated_kernels.h"

namespace emu_test {

// n elements with kGuard elements of `guard` on each side; data() is the first element.
template <typename T>
class Guarded {
 public:
  static constexpr size_t kGuard = 64;
  Guarded(size_t n, T fill, T guard) : n_(n), guard_(guard) {
    storage_.reserve(n + 2 * kGuard);
    storage_.insert(storage_.end(), kGuard, guard);
    storage_.insert(storage_.end(), n, fill);
    storage_.insert(storage_.end(), kGuard, guard);
  }
  T* data() { return storage_.data() + kGuard; }
  const T* data() const { return storage_.data() + kGuard; }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return storage_[kGuard + i]; }
  const T& operator[](size_t i) const { return storage_[kGuard + i]; }
  // Whether every guard element still holds its pattern (bitwise).
  bool guards_intact() const {
    for (size_t i = 0; i < kGuard; ++i) {
      if (std::memcmp(&storage_[i], &guard_, sizeof(T)) != 0) return false;
      if (std::memcmp(&storage_[kGuard + n_ + i], &guard_, sizeof(T)) != 0) return false;
    }
    return true;
  }

 private:
  size_t n_;
  T guard_;
  std::vector<T> storage_;
};

inline constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
inline const __half kHalfNan{0x7e00};
inline const __nv_bfloat16 kBf16Nan{0x7fc0};

inline float to_float(__half h) { return fm::fp16_to_fp32(h.__x); }
inline float to_float(__nv_bfloat16 h) { return fm::bf16_to_fp32(h.__x); }

// A guarded fp32 buffer of normal(0, sigma) values, NaN around it.
inline Guarded<float> random_floats(std::mt19937& rng, size_t n, float sigma, float mean = 0.0f) {
  std::normal_distribution<float> normal(mean, sigma);
  Guarded<float> x(n, 0.0f, kNan);
  for (size_t i = 0; i < n; ++i) x[i] = normal(rng);
  return x;
}

// The spacing of bf16 values at |x| (x != 0), the largest rounding step of one result.
inline double bf16_ulp(double x) { return x == 0.0 ? 0.0 : std::ldexp(1.0, std::ilogb(x) - 7); }
inline double fp16_ulp(double x) { return x == 0.0 ? 0.0 : std::ldexp(1.0, std::max(std::ilogb(x), -14) - 10); }

// The emulated kernel's host wrappers throw (fail_device) when a launch fails.
#define EMU_EXPECT_LAUNCHES(statement)                                            \
  do {                                                                           \
    try {                                                                        \
      statement;                                                                 \
    } catch (const std::exception& e) {                                          \
      ADD_FAILURE() << "launch failed: " << e.what();                            \
    }                                                                            \
  } while (0)

}  // namespace emu_test
