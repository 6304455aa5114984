#include "memory/attention_mass_policies.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "kernels/attention_mass.h"

namespace fm {

void top_chunks_plus_newest(const std::vector<double>& score, int64_t n, int64_t keep,
                            std::vector<int64_t>& chunks) {
  chunks.clear();
  if (n <= 0) return;
  std::vector<int64_t> older(n - 1);
  std::iota(older.begin(), older.end(), 0);
  auto s = [&](int64_t i) { return i < (int64_t)score.size() ? score[i] : 0.0; };
  const int64_t take = std::clamp<int64_t>(keep - 1, 0, n - 1);
  // Ties go to the newer chunk: recency is the better prior when attention is flat.
  std::partial_sort(older.begin(), older.begin() + take, older.end(), [&](int64_t a, int64_t b) {
    return s(a) > s(b) || (s(a) == s(b) && a > b);
  });
  chunks.assign(older.begin(), older.begin() + take);
  chunks.push_back(n - 1);
  std::sort(chunks.begin(), chunks.end());
}

void AttentionMassRecorder::before_attention(int global_layer, const kernels::AttentionParams& params,
                                             const float* q, const int32_t* q_pos, int n_q,
                                             std::vector<kernels::KvRun>& runs) {
  if (n_q != 1) return;  // decode steps only
  if (global_layer == 0) trace_.emplace_back();
  auto& step = trace_.back();
  run_mass_.assign(runs.size(), 0.0);
  kernels::attention_run_mass(params, q, q_pos, n_q, runs, run_mass_.data());
  for (size_t r = 0; r < runs.size(); ++r) {
    const size_t chunk = (size_t)(runs[r].first_pos / chunk_tokens_);
    if (step.size() <= chunk) step.resize(chunk + 1, 0.0);
    step[chunk] += run_mass_[r];
  }
}

void OraclePolicy::select(const SelectionContext& context, std::vector<int64_t>& chunks) {
  const int64_t n = context.kv.n_chunks();
  std::vector<double> future(n, 0.0);
  const int64_t end = std::min<int64_t>((int64_t)trace_.size(), context.decode_step + context.horizon_steps);
  for (int64_t t = context.decode_step; t < end; ++t) {
    for (size_t c = 0; c < trace_[t].size() && (int64_t)c < n; ++c) future[c] += trace_[t][c];
  }
  top_chunks_plus_newest(future, n, selection_cap(budget_, context), chunks);
}

void PromptVotes::begin(const KvStore& kv, int32_t end_position) {
  prompt_end_ = end_position;
  chunk_tokens_ = kv.layout().chunk_tokens;
  votes_.clear();
}

void PromptVotes::observe(const kernels::AttentionParams& params, const float* q, const int32_t* q_pos,
                          int n_q, const std::vector<kernels::KvRun>& runs) {
  if (is_decode(q_pos, n_q)) return;
  // The block's queries that fall in the observation window.
  int first = 0;
  while (first < n_q && q_pos[first] < prompt_end_ - window_) ++first;
  if (first == n_q || runs.empty()) return;
  run_mass_.assign(runs.size(), 0.0);
  const int64_t row = (int64_t)params.n_heads * params.head_dim;
  kernels::attention_run_mass(params, q + first * row, q_pos + first, n_q - first, runs, run_mass_.data());
  for (size_t r = 0; r < runs.size(); ++r) {
    const size_t chunk = (size_t)(runs[r].first_pos / std::max(1, chunk_tokens_));
    if (votes_.size() <= chunk) votes_.resize(chunk + 1, 0.0);
    votes_[chunk] += run_mass_[r];
  }
}

void SnapKvPolicy::begin_prefill(const KvStore& kv, int32_t end_position) { votes_.begin(kv, end_position); }

void SnapKvPolicy::before_attention(int, const kernels::AttentionParams& params, const float* q,
                                    const int32_t* q_pos, int n_q, std::vector<kernels::KvRun>& runs) {
  votes_.observe(params, q, q_pos, n_q, runs);
}

void SnapKvPolicy::select(const SelectionContext& context, std::vector<int64_t>& chunks) {
  const int64_t n = context.kv.n_chunks();
  // Prompt chunks compete by their votes. What was generated after the prompt has no vote
  // and stays, as in SnapKV (it compresses the prompt only); when the budget is full the
  // least-voted prompt chunk goes. Chunks already evicted for good rank last, so the
  // budget goes to chunks still held.
  std::vector<double> votes = votes_.votes();
  votes.resize((size_t)n, 0.0);
  const int64_t generated_from = votes_.prompt_end() / std::max<int64_t>(1, context.kv.layout().chunk_tokens);
  for (int64_t c = 0; c < n; ++c) {
    if (context.is_discarded(c)) {
      votes[(size_t)c] = -1.0;
    } else if (c >= generated_from) {
      votes[(size_t)c] = std::numeric_limits<double>::max();
    }
  }
  top_chunks_plus_newest(votes, n, selection_cap(budget_, context), chunks);
}

}  // namespace fm
