// Picks the next token from logits: greedy, or temperature + top-k + top-p with a seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace fm {

struct SamplerParams {
  float temperature = 0.0f;  // <= 0: greedy
  int top_k = 40;            // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);
  int32_t sample(std::span<const float> logits);
  // Index of the largest logit; the lowest index wins a tie.
  static int32_t argmax(std::span<const float> logits);

 private:
  SamplerParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

}  // namespace fm
