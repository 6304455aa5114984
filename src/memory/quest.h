// Quest (Tang et al. 2024, "Quest: Query-Aware Sparsity for Efficient Long-Context LLM
// Inference"): at every decode step and in every global layer, each chunk's keys are
// summarised by their element-wise min and max; the upper bound of q·k over the chunk,
// sum_d max(q_d min_d, q_d max_d), ranks the chunks, and attention reads only the
// budget-many best (plus the chunk being written).
//
// Quest saves reading, not memory: every chunk stays resident so that any may be chosen
// at the next step, so its device footprint is that of full attention. What it attends
// to is reported by attended_fraction().
#pragma once

#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "memory/policy.h"

namespace fm {

class QuestPolicy : public Policy, public GlobalAttentionHook {
 public:
  explicit QuestPolicy(const PolicyBudget& budget) : budget_(budget) {}
  std::string name() const override { return "quest"; }
  int cycle_steps() const override { return 1; }
  void select(const SelectionContext& context, std::vector<int64_t>& chunks) override;
  GlobalAttentionHook* attention_hook() override { return this; }
  bool watches(int32_t first_pos, int n_q) const override { return n_q == 1; }  // decode steps only
  void before_attention(int global_layer, const kernels::AttentionParams& params, const float* q,
                        const int32_t* q_pos, int n_q,
                        std::vector<kernels::KvRun>& history_runs) override;
  // Mean over decode-time calls of (runs kept / runs offered).
  double attended_fraction() const override { return calls_ ? kept_sum_ / calls_ : 1.0; }

 private:
  struct Bounds {
    std::vector<float> min, max;  // [n_kv_heads * head_dim]
  };
  const Bounds& bounds_of(int global_layer, const kernels::KvRun& run, int n_kv_heads, int head_dim);

  PolicyBudget budget_;
  int32_t chunk_tokens_ = 0;
  // Bounds of full chunks, by (layer, first position); a full chunk never changes.
  std::map<std::pair<int, int32_t>, Bounds> cache_;
  Bounds scratch_;
  std::vector<std::pair<float, size_t>> ranked_;
  double kept_sum_ = 0;
  int64_t calls_ = 0;
};

}  // namespace fm
