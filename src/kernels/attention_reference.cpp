// attention_reference(): the definition of attention, written for clarity over speed.
#include <cmath>
#include <limits>
#include <vector>

#include "core/fp16.h"
#include "kernels/attention.h"

namespace fm::kernels {

void attention_reference(const AttentionParams& params, const float* q, const int32_t* q_pos,
                         int n_q, std::span<const KvRun> runs, float* out) {
  const int head_dim = params.head_dim;
  const int group = params.n_heads / params.n_kv_heads;
  // Every run's keys and values as fp32 (exact), converted once rather than per query.
  std::vector<std::vector<float>> keys(runs.size()), values(runs.size());
  for (size_t r = 0; r < runs.size(); ++r) {
    const size_t count = (size_t)runs[r].n_tokens * params.n_kv_heads * head_dim;
    keys[r].resize(count);
    values[r].resize(count);
    for (size_t i = 0; i < count; ++i) {
      keys[r][i] = fp16_to_fp32(runs[r].k[i]);
      values[r][i] = fp16_to_fp32(runs[r].v[i]);
    }
  }
  std::vector<double> scores;
  std::vector<double> sum(head_dim);
  for (int i = 0; i < n_q; ++i) {
    for (int h = 0; h < params.n_heads; ++h) {
      const int kv_head = h / group;
      const float* query = q + ((int64_t)i * params.n_heads + h) * head_dim;
      float* result = out + ((int64_t)i * params.n_heads + h) * head_dim;
      // Pass 1: the score of every visible key, and their maximum.
      scores.clear();
      double max_score = -std::numeric_limits<double>::infinity();
      for (size_t r = 0; r < runs.size(); ++r) {
        const KvRun& run = runs[r];
        for (int32_t j = 0; j < run.n_tokens; ++j) {
          const int64_t k_pos = (int64_t)run.first_pos + j;
          const bool visible = k_pos <= q_pos[i] &&
                               (params.window == 0 || (int64_t)q_pos[i] - k_pos < params.window);
          if (!visible) continue;
          const float* key = keys[r].data() + ((int64_t)j * params.n_kv_heads + kv_head) * head_dim;
          double dot = 0.0;
          for (int d = 0; d < head_dim; ++d) dot += (double)query[d] * key[d];
          double s = dot * params.scale;
          if (params.logit_softcap > 0) {
            s = params.logit_softcap * std::tanh(s / params.logit_softcap);
          }
          scores.push_back(s);
          if (s > max_score) max_score = s;
        }
      }
      if (scores.empty()) {
        for (int d = 0; d < head_dim; ++d) result[d] = 0.0f;
        continue;
      }
      // Pass 2: softmax weights times values, visiting the keys in the same order.
      double total = 0.0;
      for (double& x : sum) x = 0.0;
      size_t next = 0;
      for (size_t r = 0; r < runs.size(); ++r) {
        const KvRun& run = runs[r];
        for (int32_t j = 0; j < run.n_tokens; ++j) {
          const int64_t k_pos = (int64_t)run.first_pos + j;
          const bool visible = k_pos <= q_pos[i] &&
                               (params.window == 0 || (int64_t)q_pos[i] - k_pos < params.window);
          if (!visible) continue;
          const double weight = std::exp(scores[next++] - max_score);
          total += weight;
          const float* value =
              values[r].data() + ((int64_t)j * params.n_kv_heads + kv_head) * head_dim;
          for (int d = 0; d < head_dim; ++d) sum[d] += weight * value[d];
        }
      }
      for (int d = 0; d < head_dim; ++d) result[d] = (float)(sum[d] / total);
    }
  }
}

}  // namespace fm::kernels
