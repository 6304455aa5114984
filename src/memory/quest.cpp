#include "memory/quest.h"

#include <algorithm>
#include <numeric>

#include "core/fp16.h"

namespace fm {

void QuestPolicy::select(const SelectionContext& context, std::vector<int64_t>& chunks) {
  chunk_tokens_ = context.kv.layout().chunk_tokens;
  chunks.resize(context.kv.n_chunks());
  std::iota(chunks.begin(), chunks.end(), 0);
}

const QuestPolicy::Bounds& QuestPolicy::bounds_of(int layer, const kernels::KvRun& run,
                                                  int n_kv_heads, int head_dim) {
  const bool full = chunk_tokens_ > 0 && run.n_tokens == chunk_tokens_;
  if (full) {
    auto it = cache_.find({layer, run.first_pos});
    if (it != cache_.end()) return it->second;
  }
  const int64_t width = (int64_t)n_kv_heads * head_dim;
  Bounds b;
  b.min.assign(width, std::numeric_limits<float>::infinity());
  b.max.assign(width, -std::numeric_limits<float>::infinity());
  for (int32_t j = 0; j < run.n_tokens; ++j) {
    for (int64_t e = 0; e < width; ++e) {
      const float v = fp16_to_fp32(run.k[j * width + e]);
      b.min[e] = std::min(b.min[e], v);
      b.max[e] = std::max(b.max[e], v);
    }
  }
  if (full) return cache_[{layer, run.first_pos}] = std::move(b);
  scratch_ = std::move(b);
  return scratch_;
}

void QuestPolicy::before_attention(int layer, const kernels::AttentionParams& params,
                                   const float* q, const int32_t* q_pos, int n_q,
                                   std::vector<kernels::KvRun>& runs) {
  // Prefill attends to everything; the selection is a decode-time device.
  if (n_q != 1 || runs.size() <= 1) return;
  const int64_t keep = budget_chunks(budget_, (int64_t)runs.size());
  if (keep >= (int64_t)runs.size()) return;
  const int group = params.n_heads / params.n_kv_heads;
  const int hd = params.head_dim;
  ranked_.clear();
  // The newest run (the chunk being written) is always kept; rank the others.
  for (size_t r = 0; r + 1 < runs.size(); ++r) {
    const Bounds& b = bounds_of(layer, runs[r], params.n_kv_heads, hd);
    float best = -std::numeric_limits<float>::infinity();
    for (int h = 0; h < params.n_heads; ++h) {
      const float* qh = q + (int64_t)h * hd;
      const float* lo = b.min.data() + (int64_t)(h / group) * hd;
      const float* hi = b.max.data() + (int64_t)(h / group) * hd;
      float bound = 0;
      for (int d = 0; d < hd; ++d) bound += std::max(qh[d] * lo[d], qh[d] * hi[d]);
      best = std::max(best, bound);
    }
    ranked_.push_back({best, r});
  }
  const size_t older_kept = (size_t)std::max<int64_t>(0, keep - 1);
  std::partial_sort(ranked_.begin(), ranked_.begin() + older_kept, ranked_.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<size_t> chosen;
  for (size_t i = 0; i < older_kept; ++i) chosen.push_back(ranked_[i].second);
  std::sort(chosen.begin(), chosen.end());
  chosen.push_back(runs.size() - 1);
  kept_sum_ += (double)chosen.size() / (double)runs.size();
  ++calls_;
  std::vector<kernels::KvRun> kept;
  for (size_t r : chosen) kept.push_back(runs[r]);
  runs.swap(kept);
}

}  // namespace fm
