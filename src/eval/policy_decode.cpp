#include "eval/policy_decode.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <optional>

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

}  // namespace

std::string_view policy_kind(std::string_view name) { return name.substr(0, name.find('@')); }

Result<SharedPrefillResult> decode_under_policies(engine::Engine& engine,
                                                  const Tokenizer& tokenizer,
                                                  const std::vector<int32_t>& prompt,
                                                  const std::vector<std::string>& policies,
                                                  const PolicyFactory& make_policy,
                                                  const SharedPrefillOptions& options) {
  using Clock = std::chrono::steady_clock;
  const bool wants_oracle = std::any_of(policies.begin(), policies.end(),
                                        [](const std::string& p) { return policy_kind(p) == "oracle"; });
  const bool has_full = std::find(policies.begin(), policies.end(), "full") != policies.end();
  if (wants_oracle && !has_full) return Status::error("the oracle replays what `full` records: list full too");
  // Two or more suffix tokens: a one-token prefill would look like a decode step to the
  // attention recorders.
  const int suffix = std::clamp(options.suffix_tokens, 2, std::max(2, (int)prompt.size() - 1));
  if ((int)prompt.size() <= suffix) return Status::error("prompt too short for a shared prefill");
  engine::SequenceOptions opened;  // no policy: each member gets its own from make_policy
  SessionOptions& session_options = opened.memory;
  session_options = options.session;
  session_options.max_context_tokens =
      (int)prompt.size() +
      std::max({options.max_new_tokens, (int)options.forced_tokens.size(), (int)options.reference_tokens.size()}) + 1;
  const std::span<const int32_t> suffix_ids(prompt.data() + prompt.size() - suffix, suffix);

  SharedPrefillResult result;
  auto base = engine.open(opened);
  if (!base) return base.status();
  const auto t0 = Clock::now();
  FM_RETURN_IF_ERROR((*base)->add_tokens(std::span<const int32_t>(prompt.data(), prompt.size() - suffix)));
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
  // Every policy but the oracle decodes in one batch (the weights are read once per step
  // for all of them); the oracle then replays the attention full recorded in that batch.
  std::vector<std::string> batch_names, oracle_names;
  for (const std::string& name : order) (policy_kind(name) == "oracle" ? oracle_names : batch_names).push_back(name);
  const bool forced = !options.forced_tokens.empty();
  const int steps = forced ? (int)options.forced_tokens.size() : options.max_new_tokens;

  // A group of policies, each in its own session forked from the shared prefill, with
  // the suffix prefilled by the policy itself.
  struct Member {
    std::string name;
    std::unique_ptr<engine::Sequence> seq;
  };
  AttentionMassRecorder recorder(session_options.chunk_tokens);
  auto start_group = [&](const std::vector<std::string>& names, bool record_full,
                         std::vector<Member>& group, std::vector<double>* suffix_seconds) -> Status {
    group.clear();
    for (const std::string& name : names) {
      auto policy = make_policy(name, have_trace ? &full_trace : nullptr);
      if (!policy) return policy.status().with_context("policy " + name);
      engine::SequenceOptions own = opened;
      own.memory.kv_tiers.device_budget_bytes = options.device_budget_bytes ? options.device_budget_bytes(name) : 0;
      auto forked = engine.fork(**base, own);
      if (!forked) return forked.status();
      Member m{name, std::move(*forked)};
      m.seq->set_policy(std::move(*policy));
      if (record_full && name == "full") m.seq->session().set_attention_hook(&recorder);
      const auto a = Clock::now();
      FM_RETURN_IF_ERROR(m.seq->add_tokens(suffix_ids));
      if (suffix_seconds) suffix_seconds->push_back(seconds_between(a, Clock::now()));
      group.push_back(std::move(m));
    }
    return Status::ok();
  };
  // Steps the members still running together; next(i, step) gives member i's next token
  // or nullopt when it stops before decoding it.
  auto step_group = [&](std::vector<Member>& group, int n_steps,
                        const std::function<std::optional<int32_t>(size_t, int)>& next,
                        std::vector<double>& seconds, std::vector<int64_t>& decoded) -> Status {
    std::vector<char> running(group.size(), 1);
    for (int step = 0; step < n_steps; ++step) {
      std::vector<engine::Sequence*> batch;
      std::vector<int32_t> tokens;
      std::vector<size_t> members;
      for (size_t i = 0; i < group.size(); ++i) {
        if (!running[i]) continue;
        const std::optional<int32_t> t = next(i, step);
        if (!t || step + 1 == n_steps) {
          running[i] = 0;
          continue;
        }
        batch.push_back(group[i].seq.get());
        tokens.push_back(*t);
        members.push_back(i);
      }
      if (batch.empty()) break;
      const auto a = Clock::now();
      FM_RETURN_IF_ERROR(engine.step(batch, tokens));
      const double spent = seconds_between(a, Clock::now());
      for (size_t i : members) {
        seconds[i] += spent;
        ++decoded[i];
      }
    }
    return Status::ok();
  };

  for (const auto* names : {&batch_names, &oracle_names}) {
    if (names->empty()) continue;
    std::vector<Member> group;
    std::vector<double> suffix_seconds;
    FM_RETURN_IF_ERROR(start_group(*names, wants_oracle, group, &suffix_seconds));
    std::vector<PolicyOutcome> outs(group.size());
    std::vector<double> seconds(group.size(), 0.0);
    std::vector<int64_t> decoded(group.size(), 0);
    FM_RETURN_IF_ERROR(step_group(
        group, steps,
        [&](size_t i, int step) -> std::optional<int32_t> {
          const engine::Sequence& s = *group[i].seq;
          if (options.on_logits) options.on_logits(group[i].name, step, s.logits());
          const int32_t t = forced ? options.forced_tokens[(size_t)step] : Sampler::argmax(s.logits());
          if (!forced && tokenizer.is_end_of_generation(t)) return std::nullopt;
          outs[i].tokens.push_back(t);
          return t;
        },
        seconds, decoded));
    for (size_t i = 0; i < group.size(); ++i) {
      PolicyOutcome& o = outs[i];
      const Session& s = group[i].seq->session();
      o.policy = group[i].name;
      o.suffix_prefill_seconds = suffix_seconds[i];
      // In the batch: the wall time of the steps this policy took part in, so
      // decode_steps / decode_seconds is the rate each sequence advanced at.
      o.decode_seconds = seconds[i];
      o.decode_steps = decoded[i];
      o.text = tokenizer.decode(o.tokens, /*render_special=*/false);
      o.footprint = s.footprint();
      const FootprintSummary a = s.device_footprint().global_layers(), b = s.device_footprint().whole_device();
      if (a.steps > 0) {
        o.device_a_mean_percent = a.mean_percent;
        o.device_a_peak_percent = a.peak_percent;
        o.device_b_mean_percent = b.mean_percent;
      }
    }
    if (wants_oracle && !have_trace) {
      full_trace = recorder.trace();
      have_trace = true;
    }
    group.clear();
    if (!forced && !options.reference_tokens.empty()) {
      // The reference answer, teacher-forced under fresh policies (no selection state
      // carries over from the greedy run). The oracle replays full's greedy decode, the
      // closest recording there is.
      const std::vector<int32_t>& ref = options.reference_tokens;
      FM_RETURN_IF_ERROR(start_group(*names, false, group, nullptr));
      std::vector<double> ref_seconds(group.size(), 0.0);
      std::vector<int64_t> ref_steps(group.size(), 0);
      std::vector<std::vector<char>> top1(group.size(), std::vector<char>(ref.size(), 0));
      FM_RETURN_IF_ERROR(step_group(
          group, (int)ref.size(),
          [&](size_t i, int step) -> std::optional<int32_t> {
            const std::span<const float> logits = group[i].seq->logits();
            outs[i].reference_logprob += log_softmax_at(logits, ref[(size_t)step]);
            top1[i][(size_t)step] = Sampler::argmax(logits) == ref[(size_t)step];
            return ref[(size_t)step];
          },
          ref_seconds, ref_steps));
      for (size_t i = 0; i < outs.size(); ++i) {
        outs[i].reference_count = (int64_t)ref.size();
        for (const auto& [begin, end] : options.reference_spans) {
          bool all = begin < end && end <= ref.size();
          for (size_t t = begin; all && t < end; ++t) all = top1[i][t];
          outs[i].reference_spans_top1 += all;
        }
      }
    }
    for (PolicyOutcome& o : outs) outcomes.push_back(std::move(o));
  }
  // Back to the caller's order.
  for (const std::string& p : policies) {
    auto it = std::find_if(outcomes.begin(), outcomes.end(), [&](const PolicyOutcome& o) { return o.policy == p; });
    result.outcomes.push_back(*it);
  }
  return result;
}

}  // namespace fm::eval
