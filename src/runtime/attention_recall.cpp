#include "runtime/attention_recall.h"

#include <algorithm>

#include "memory/attention_mass_policies.h"
#include "runtime/sampler.h"

namespace fm {

namespace {

constexpr int kCycleSteps = 64;

// Passes every call on to several hooks in turn (recording plus a policy's own watcher).
class HookFanout : public GlobalAttentionHook {
 public:
  std::vector<GlobalAttentionHook*> hooks;
  void before_attention(int layer, const kernels::AttentionParams& params, const float* q,
                        const int32_t* q_pos, int n_q, std::vector<kernels::KvRun>& runs) override {
    for (auto* h : hooks) h->before_attention(layer, params, q, q_pos, n_q, runs);
  }
};

// Selections of one policy: at each boundary, the chosen chunks and the first chunk that
// every policy attends anyway (the one being written, and later ones).
struct Choices {
  std::vector<std::vector<int64_t>> chunks;
  std::vector<int64_t> always_from;
  std::vector<int64_t> n_tokens;  // committed at each boundary
};

// Decode steps at which selections happen, as in a session (runtime/session_recall.cpp):
// the first step after the prompt, then every position that is a multiple of the cycle.
std::vector<int64_t> boundary_steps(int64_t prompt_tokens, int decode_steps) {
  std::vector<int64_t> steps;
  for (int64_t step = 0; step < decode_steps; ++step) {
    if (step == 0 || (prompt_tokens + step) % kCycleSteps == 0) steps.push_back(step);
  }
  return steps;
}

}  // namespace

Result<std::vector<PolicyRecall>> measure_attention_recall(const Model& model, ThreadPool& pool,
                                                           const SessionOptions& options,
                                                           const std::vector<int32_t>& prompt,
                                                           int decode_steps,
                                                           const std::vector<Policy*>& policies,
                                                           const PolicyBudget& oracle_budget) {
  Session session(model, pool, options);
  AttentionMassRecorder recorder(options.chunk_tokens);
  HookFanout fanout;
  fanout.hooks.push_back(&recorder);
  std::vector<int> capture;
  for (Policy* p : policies) {
    // Only the policies' observers (SnapKV); hooks that narrow attention (Quest) would
    // change the run, so they are not supported here.
    if (p->attention_hook() && p->name() != "quest") fanout.hooks.push_back(p->attention_hook());
    for (int l : p->hidden_layers()) {
      if (std::find(capture.begin(), capture.end(), l) == capture.end()) capture.push_back(l);
    }
  }
  session.set_attention_hook(&fanout);
  session.set_capture_layers(capture);
  for (Policy* p : policies) p->begin_prefill(session.kv(), (int32_t)prompt.size());
  FM_RETURN_IF_ERROR(session.prefill(prompt));

  std::vector<Choices> choices(policies.size());
  std::vector<float> hidden;
  const std::vector<int64_t> boundaries = boundary_steps((int64_t)prompt.size(), decode_steps);
  // cycle_of[t]: the selection decode step t attends with.
  std::vector<size_t> cycle_of((size_t)std::max(0, decode_steps), 0);
  for (size_t b = 0; b < boundaries.size(); ++b) {
    for (int64_t t = boundaries[b]; t < decode_steps; ++t) cycle_of[(size_t)t] = b;
  }
  size_t next_boundary = 0;
  for (int step = 0; step < decode_steps; ++step) {
    if (next_boundary < boundaries.size() && boundaries[next_boundary] == step) {
      ++next_boundary;
      const int64_t horizon = next_boundary < boundaries.size() ? boundaries[next_boundary] - step
                                                                : decode_steps - step;
      const KvStore& kv = session.kv();
      const int64_t always_from = kv.n_tokens() / kv.layout().chunk_tokens;
      for (size_t i = 0; i < policies.size(); ++i) {
        // Each policy sees the hidden states of its own layers, in its order.
        hidden.clear();
        for (int l : policies[i]->hidden_layers()) {
          const size_t k = std::find(capture.begin(), capture.end(), l) - capture.begin();
          const float* row = session.captured_hidden().data() + k * model.config().n_embd;
          hidden.insert(hidden.end(), row, row + model.config().n_embd);
        }
        std::vector<int64_t> chosen;
        SelectionContext context{kv, step, session.n_past(), hidden};
        context.horizon_steps = horizon;
        policies[i]->select(context, chosen);
        choices[i].chunks.push_back(std::move(chosen));
        choices[i].always_from.push_back(always_from);
        choices[i].n_tokens.push_back(kv.n_tokens());
      }
    }
    FM_RETURN_IF_ERROR(session.decode(Sampler::argmax(session.last_logits())));
  }

  const AttentionMassTrace& trace = recorder.trace();
  OraclePolicy oracle(oracle_budget, trace);
  std::vector<PolicyRecall> out;
  auto evaluate = [&](const std::string& name, const Choices& c) {
    double kept = 0, total = 0, resident = 0, history_kept = 0, history_total = 0;
    for (size_t t = 0; t < trace.size(); ++t) {
      const size_t cycle = t < cycle_of.size() ? cycle_of[t] : 0;
      std::vector<char> in(trace[t].size(), 0);
      for (int64_t i : c.chunks[cycle]) {
        if (i < (int64_t)in.size()) in[i] = 1;
      }
      for (size_t i = (size_t)c.always_from[cycle]; i < in.size(); ++i) in[i] = 1;
      int64_t n_in = 0;
      for (size_t i = 0; i < in.size(); ++i) {
        total += trace[t][i];
        if (in[i]) kept += trace[t][i], ++n_in;
        if (i >= 1 && (int64_t)i < c.always_from[cycle]) {
          history_total += trace[t][i];
          if (in[i]) history_kept += trace[t][i];
        }
      }
      resident += in.empty() ? 1.0 : (double)n_in / (double)in.size();
    }
    out.push_back({name, total > 0 ? kept / total : 1.0,
                   trace.empty() ? 1.0 : resident / (double)trace.size(),
                   history_total > 0 ? history_kept / history_total : 1.0});
  };
  for (size_t i = 0; i < policies.size(); ++i) evaluate(policies[i]->name(), choices[i]);

  // The oracle chooses from the recording itself, in the same states.
  Choices oc;
  if (!policies.empty()) {
    oc.always_from = choices[0].always_from;
    oc.n_tokens = choices[0].n_tokens;
  }
  for (size_t b = 0; b < oc.always_from.size(); ++b) {
    const int64_t step = boundaries[b];
    const int64_t end = b + 1 < boundaries.size() ? boundaries[b + 1] : (int64_t)trace.size();
    // The history at that boundary, as the policies saw it: every chunk holding a token.
    const int64_t T = std::max(1, options.chunk_tokens);
    const int64_t n = (oc.n_tokens[b] + T - 1) / T;
    std::vector<double> future(n, 0.0);
    for (int64_t t = step; t < std::min<int64_t>(end, trace.size()); ++t) {
      for (int64_t i = 0; i < n && i < (int64_t)trace[t].size(); ++i) future[i] += trace[t][i];
    }
    std::vector<int64_t> chosen;
    top_chunks_plus_newest(future, n, selection_cap(oracle_budget, oc.n_tokens[b], options.chunk_tokens, end - step),
                           chosen);
    oc.chunks.push_back(std::move(chosen));
  }
  if (!oc.always_from.empty()) evaluate("oracle", oc);
  return out;
}

}  // namespace fm
