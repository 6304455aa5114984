#include "memory/indexer_rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace fm {
namespace {

double yarn_correction_dim(double rotations, int rope_dims, double base, int64_t original_context) {
  return rope_dims * std::log(static_cast<double>(original_context) / (rotations * 2.0 * std::numbers::pi)) /
         (2.0 * std::log(base));
}

}  // namespace

std::vector<float> indexer_rope_frequencies(const IndexerConfig& config) {
  const int pairs = config.rope_dims / 2;
  std::vector<float> frequencies(static_cast<size_t>(pairs));
  const float base = static_cast<float>(config.rope_base);
  for (int i = 0; i < pairs; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(config.rope_dims);
    const float power = static_cast<float>(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
    frequencies[i] = 1.0f / power;
  }
  if (!config.yarn.enabled) return frequencies;

  const YarnConfig& yarn = config.yarn;
  const double low_dim = std::floor(
      yarn_correction_dim(yarn.beta_fast, config.rope_dims, config.rope_base, yarn.original_context));
  const double high_dim = std::ceil(
      yarn_correction_dim(yarn.beta_slow, config.rope_dims, config.rope_base, yarn.original_context));
  const int low = static_cast<int>(std::max(low_dim, 0.0));
  const int high = static_cast<int>(std::min(high_dim, static_cast<double>(pairs - 1)));
  const float factor = static_cast<float>(yarn.factor);
  for (int i = 0; i < pairs; ++i) {
    float ramp;
    if (i < low) {
      ramp = 0.0f;
    } else if (i >= high) {
      ramp = 1.0f;
    } else {
      ramp = static_cast<float>(static_cast<double>(i - low) / std::max(high - low, 1));
    }
    const float f = frequencies[i];
    frequencies[i] = f * (1.0f - ramp) + (f / factor) * ramp;
  }
  return frequencies;
}

void indexer_apply_rope(float* head, int head_dim, const std::vector<float>& frequencies,
                        int64_t position, int64_t max_position) {
  const int rope_dims = static_cast<int>(frequencies.size()) * 2;
  const int64_t clamped = std::clamp<int64_t>(position, 0, max_position - 1);
  // fp32 position times fp32 frequency, one rounding, as the reference's angle table.
  const float t = static_cast<float>(clamped);
  float* x = head + (head_dim - rope_dims);
  for (size_t i = 0; i < frequencies.size(); ++i) {
    const float angle = t * frequencies[i];
    const float c = static_cast<float>(std::cos(static_cast<double>(angle)));
    const float s = static_cast<float>(std::sin(static_cast<double>(angle)));
    const float re = x[2 * i];
    const float im = x[2 * i + 1];
    x[2 * i] = re * c - im * s;
    x[2 * i + 1] = re * s + im * c;
  }
}

}  // namespace fm
