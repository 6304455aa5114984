// The simple baselines: keep everything, the newest chunks, random chunks, or an
// attention sink plus a recent window (StreamingLLM, Xiao et al. 2023).
#pragma once

#include <random>

#include "memory/policy.h"

namespace fm {

class FullPolicy : public Policy {
 public:
  std::string name() const override { return "full"; }
  void select(const SelectionContext& context, std::vector<int64_t>& chunks) override;
};

// The newest budget-many chunks.
class RecencyPolicy : public Policy {
 public:
  explicit RecencyPolicy(const PolicyBudget& budget) : budget_(budget) {}
  std::string name() const override { return "recency"; }
  bool discards_evicted() const override { return true; }
  void select(const SelectionContext& context, std::vector<int64_t>& chunks) override;

 private:
  PolicyBudget budget_;
};

// Budget-many chunks drawn uniformly at each cycle (the newest chunk always included,
// since it holds the tokens just written).
class RandomPolicy : public Policy {
 public:
  RandomPolicy(const PolicyBudget& budget, uint64_t seed) : budget_(budget), rng_(seed) {}
  std::string name() const override { return "random"; }
  bool discards_evicted() const override { return true; }
  void select(const SelectionContext& context, std::vector<int64_t>& chunks) override;

 private:
  PolicyBudget budget_;
  std::mt19937_64 rng_;
};

// The chunks holding the first sink_tokens, and the newest chunks for the rest of the
// budget.
class StreamingPolicy : public Policy {
 public:
  explicit StreamingPolicy(const PolicyBudget& budget) : budget_(budget) {}
  std::string name() const override { return "streaming"; }
  bool discards_evicted() const override { return true; }
  void select(const SelectionContext& context, std::vector<int64_t>& chunks) override;

 private:
  PolicyBudget budget_;
};

}  // namespace fm
