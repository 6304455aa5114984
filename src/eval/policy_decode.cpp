#include "eval/policy_decode.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "memory/lsa_policy.h"
#include "runtime/sampler.h"

namespace fm::eval {

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// ln softmax(logits)[token], computed stably.
double log_softmax_at(std::span<const float> logits, int32_t token) {
  const float top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp((double)v - top);
  return (double)logits[(size_t)token] - top - std::log(sum);
}

// Teacher-forces `reference` after the prompt under `policy`, from a fresh copy of the
// shared prefill; returns the sum of ln p over the reference tokens.
Result<double> reference_logprob(const Model& model, ThreadPool& pool, const Session& base,
                                 const SessionOptions& options, Policy* policy,
                                 std::span<const int32_t> suffix, std::span<const int32_t> reference) {
  Session s(model, pool, options);
  FM_RETURN_IF_ERROR(s.fork_kv_from(base));
  s.set_policy(policy);
  FM_RETURN_IF_ERROR(s.prefill(suffix));
  double total = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    total += log_softmax_at(s.last_logits(), reference[i]);
    if (i + 1 < reference.size()) FM_RETURN_IF_ERROR(s.decode(reference[i]));
  }
  return total;
}

}  // namespace

Result<SharedPrefillResult> decode_under_policies(const Model& model, ThreadPool& pool,
                                                  const Tokenizer& tokenizer,
                                                  const std::vector<int32_t>& prompt,
                                                  const std::vector<std::string>& policies,
                                                  const PolicyFactory& make_policy,
                                                  const SharedPrefillOptions& options) {
  using Clock = std::chrono::steady_clock;
  const bool wants_oracle = std::find(policies.begin(), policies.end(), "oracle") != policies.end();
  const bool has_full = std::find(policies.begin(), policies.end(), "full") != policies.end();
  if (wants_oracle && !has_full) return Status::error("the oracle replays what `full` records: list full too");
  // Two or more suffix tokens: a one-token prefill would look like a decode step to the
  // attention recorders.
  const int suffix = std::clamp(options.suffix_tokens, 2, std::max(2, (int)prompt.size() - 1));
  if ((int)prompt.size() <= suffix) return Status::error("prompt too short for a shared prefill");
  SessionOptions session_options = options.session;
  session_options.max_context_tokens =
      (int)prompt.size() +
      std::max({options.max_new_tokens, (int)options.forced_tokens.size(), (int)options.reference_tokens.size()}) + 1;
  const std::span<const int32_t> suffix_ids(prompt.data() + prompt.size() - suffix, suffix);

  SharedPrefillResult result;
  Session base(model, pool, session_options);
  const auto t0 = Clock::now();
  FM_RETURN_IF_ERROR(base.prefill(std::span<const int32_t>(prompt.data(), prompt.size() - suffix)));
  result.shared_prefill_seconds = seconds_between(t0, Clock::now());

  // Full first: the oracle needs its recording.
  std::vector<std::string> order;
  if (has_full) order.push_back("full");
  for (const std::string& p : policies) {
    if (p != "full") order.push_back(p);
  }
  AttentionMassTrace full_trace;
  bool have_trace = false;
  std::vector<PolicyOutcome> outcomes;
  for (const std::string& name : order) {
    auto policy = make_policy(name, have_trace ? &full_trace : nullptr);
    if (!policy) return policy.status().with_context("policy " + name);
    Session s(model, pool, session_options);
    FM_RETURN_IF_ERROR(s.fork_kv_from(base));
    s.set_policy(policy->get());
    AttentionMassRecorder recorder(session_options.chunk_tokens);
    if (name == "full" && wants_oracle) s.set_attention_hook(&recorder);
    PolicyOutcome o;
    o.policy = name;
    const auto a = Clock::now();
    FM_RETURN_IF_ERROR(s.prefill(suffix_ids));
    const auto b = Clock::now();
    o.suffix_prefill_seconds = seconds_between(a, b);
    const bool forced = !options.forced_tokens.empty();
    const int steps = forced ? (int)options.forced_tokens.size() : options.max_new_tokens;
    for (int i = 0; i < steps; ++i) {
      if (options.on_logits) options.on_logits(name, i, s.last_logits());
      const int32_t next = forced ? options.forced_tokens[i] : Sampler::argmax(s.last_logits());
      if (!forced && tokenizer.is_end_of_generation(next)) break;
      o.tokens.push_back(next);
      if (i + 1 == steps) break;
      FM_RETURN_IF_ERROR(s.decode(next));
      ++o.decode_steps;
    }
    o.decode_seconds = seconds_between(b, Clock::now());
    o.text = tokenizer.decode(o.tokens, /*render_special=*/false);
    o.footprint = s.footprint();
    // Whole device (b): the global part scaled by what the policy kept, plus what every
    // engine holds (rings) and what LSA adds (chunk keys).
    const double global = (double)s.kv().global_bytes(), local = (double)s.kv().local_bytes();
    double keys = 0;
    if (auto* lsa = dynamic_cast<const LsaPolicy*>(policy->get())) keys = (double)lsa->chunk_key_bytes();
    const double kept = o.footprint.steps > 0 ? o.footprint.mean_fraction : 1.0;
    o.whole_device_mean_percent = global + local > 0 ? 100.0 * (kept * global + local + keys) / (global + local) : 100.0;
    if (name == "full" && wants_oracle) {
      full_trace = recorder.trace();
      have_trace = true;
    }
    if (!forced && !options.reference_tokens.empty()) {
      // A fresh policy: selection state from the greedy run must not carry over. The
      // oracle replays full's greedy decode, the closest recording there is.
      auto fresh = make_policy(name, have_trace ? &full_trace : nullptr);
      if (!fresh) return fresh.status().with_context("policy " + name);
      auto lp = reference_logprob(model, pool, base, session_options, fresh->get(), suffix_ids,
                                  options.reference_tokens);
      if (!lp) return lp.status().with_context("reference answer under " + name);
      o.reference_logprob = *lp;
      o.reference_count = (int64_t)options.reference_tokens.size();
    }
    outcomes.push_back(std::move(o));
  }
  // Back to the caller's order.
  for (const std::string& p : policies) {
    auto it = std::find_if(outcomes.begin(), outcomes.end(), [&](const PolicyOutcome& o) { return o.policy == p; });
    result.outcomes.push_back(*it);
  }
  return result;
}

}  // namespace fm::eval
