// Policies that rank chunks by how much attention they actually receive.
//
// SnapKV (Li et al. 2024): the last `window` queries of the prompt vote, with their
// attention, for the prompt chunks to keep; the choice is made once, after prefill.
// (The paper pools votes over neighbouring tokens; at chunk granularity the chunk is
// already the pool.)
//
// Oracle: the attention mass each chunk will receive over the next cycle, recorded by a
// full-attention pass over the same tokens beforehand (record_attention_mass). No
// predictor can choose better at the same budget: the upper bound for LSA.
#pragma once

#include <vector>

#include "memory/policy.h"

namespace fm {

// Per decode step, per chunk: attention mass summed over global layers and heads.
using AttentionMassTrace = std::vector<std::vector<double>>;

// A hook that records, for every decode step, the mass each chunk receives.
class AttentionMassRecorder : public GlobalAttentionHook {
 public:
  explicit AttentionMassRecorder(int32_t chunk_tokens) : chunk_tokens_(chunk_tokens) {}
  void before_attention(int global_layer, const kernels::AttentionParams& params, const float* q,
                        const int32_t* q_pos, int n_q,
                        std::vector<kernels::KvRun>& history_runs) override;
  const AttentionMassTrace& trace() const { return trace_; }

 private:
  int32_t chunk_tokens_;
  AttentionMassTrace trace_;
  std::vector<double> run_mass_;
};

class OraclePolicy : public Policy {
 public:
  OraclePolicy(const PolicyBudget& budget, AttentionMassTrace trace)
      : budget_(budget), trace_(std::move(trace)) {}
  std::string name() const override { return "oracle"; }
  void select(const SelectionContext& context, std::vector<int64_t>& chunks) override;
  // A new recording, indexed from decode step 0 again: a conversation's next turn (the
  // session restarts its decode steps at each prompt).
  void set_trace(AttentionMassTrace trace) { trace_ = std::move(trace); }

 private:
  PolicyBudget budget_;
  AttentionMassTrace trace_;
};

// The votes of a prompt's last `window` queries: per chunk, the attention mass they give
// it, summed over global layers, heads and queries. SnapKV keeps the chunks they vote
// for; LSA pins part of its budget to them (lsa_selection.h).
class PromptVotes {
 public:
  explicit PromptVotes(int32_t window) : window_(window) {}
  int32_t window() const { return window_; }
  // A prefill ending at end_position starts: earlier votes are dropped.
  void begin(const KvStore& kv, int32_t end_position);
  // From a global layer's attention hook: prefill blocks' queries in the window vote;
  // decode steps (one query past the prompt) are ignored.
  void observe(const kernels::AttentionParams& params, const float* q, const int32_t* q_pos, int n_q,
               const std::vector<kernels::KvRun>& history_runs);
  // Per chunk, by first position / chunk_tokens; shorter than the history when the last
  // chunks got no vote.
  const std::vector<double>& votes() const { return votes_; }
  int32_t prompt_end() const { return prompt_end_; }
  // True while a decode query is past the prompt (the hook then has nothing to watch).
  bool is_decode(const int32_t* q_pos, int n_q) const { return is_decode_block(q_pos[0], n_q); }
  bool is_decode_block(int32_t first_pos, int n_q) const { return n_q == 1 && first_pos >= prompt_end_; }
  // Whether observe() would use a block of n_q queries from first_pos: a prefill block
  // that reaches into the observation window.
  bool watches(int32_t first_pos, int n_q) const {
    return !is_decode_block(first_pos, n_q) && first_pos + n_q > prompt_end_ - window_;
  }

 private:
  int32_t window_;
  int32_t prompt_end_ = 0;
  int32_t chunk_tokens_ = 0;
  std::vector<double> votes_;
  std::vector<double> run_mass_;
};

class SnapKvPolicy : public Policy, public GlobalAttentionHook {
 public:
  SnapKvPolicy(const PolicyBudget& budget, int32_t window) : budget_(budget), votes_(window) {}
  std::string name() const override { return "snapkv"; }
  bool discards_evicted() const override { return true; }
  // Every 64 steps, like the others, so that a long answer's new chunks stay inside the
  // budget: the votes stay those of the last prompt.
  void select(const SelectionContext& context, std::vector<int64_t>& chunks) override;
  GlobalAttentionHook* attention_hook() override { return this; }
  void begin_prefill(const KvStore& kv, int32_t end_position) override;
  bool watches(int32_t first_pos, int n_q) const override { return votes_.watches(first_pos, n_q); }
  void before_attention(int global_layer, const kernels::AttentionParams& params, const float* q,
                        const int32_t* q_pos, int n_q,
                        std::vector<kernels::KvRun>& history_runs) override;

 private:
  PolicyBudget budget_;
  PromptVotes votes_;
};

// Top `keep - 1` chunks by score among [0, n - 1), plus the newest chunk n - 1; sorted.
void top_chunks_plus_newest(const std::vector<double>& score, int64_t n, int64_t keep,
                            std::vector<int64_t>& chunks);

}  // namespace fm
