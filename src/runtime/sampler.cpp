#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace fm {

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {}

int32_t Sampler::argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = (int32_t)i;
  }
  return best;
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (params_.temperature <= 0.0f) return argmax(logits);
  const int n = (int)logits.size();
  const int k = params_.top_k > 0 ? std::min(params_.top_k, n) : n;
  candidates_.resize(n);
  for (int i = 0; i < n; ++i) candidates_[i] = {logits[i], i};
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(), by_logit);
  candidates_.resize(k);
  // Softmax at temperature over the top-k.
  const float max_logit = candidates_[0].first;
  double total = 0;
  for (auto& c : candidates_) {
    c.first = std::exp((c.first - max_logit) / params_.temperature);
    total += c.first;
  }
  // Top-p: the smallest prefix whose probability reaches p.
  size_t keep = candidates_.size();
  if (params_.top_p < 1.0f) {
    double cumulative = 0;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cumulative += candidates_[i].first / total;
      if (cumulative >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept_total = 0;
  for (size_t i = 0; i < keep; ++i) kept_total += candidates_[i].first;
  std::uniform_real_distribution<double> uniform(0.0, kept_total);
  double r = uniform(rng_);
  for (size_t i = 0; i < keep; ++i) {
    r -= candidates_[i].first;
    if (r <= 0) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace fm
