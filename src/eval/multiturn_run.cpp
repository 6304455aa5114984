#include "eval/multiturn_run.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "eval/scoring.h"
#include "memory/attention_mass_policies.h"
#include "memory/residency_estimate.h"
#include "runtime/sampler.h"

namespace fm::eval {
namespace {

size_t common_prefix(const std::string& a, const std::string& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

// The sample's question k as a scored task: its code right, every other code wrong.
TaskSample turn_task(const MultiTurnSample& s, size_t k) {
  TaskSample t;
  t.task = "multiturn";
  t.answers = {s.answers[k]};
  for (size_t j = 0; j < s.answers.size(); ++j) {
    if (j != k) t.wrong_answers.push_back(s.answers[j]);
  }
  t.metric = Metric::kNormalizedExact;
  return t;
}

}  // namespace

Result<std::vector<MultiTurnOutcome>> run_multiturn(engine::Engine& engine, const Tokenizer& tokenizer,
                                                    const ChatTemplate& chat, const MultiTurnSample& sample,
                                                    const std::vector<PolicySpec>& policies,
                                                    const MultiTurnOptions& options) {
  if (sample.questions.empty() || sample.questions.size() != sample.answers.size() ||
      sample.answer_prefixes.size() != sample.questions.size()) {
    return Status::error("multiturn: a sample needs questions with one answer each");
  }
  std::vector<ChatMessage> first = {{"user", sample.document + "\n\n" + sample.questions[0]}};
  auto rendered = render_chat(chat, first, true);
  if (!rendered) return rendered.status();
  const std::string first_text = *rendered + sample.answer_prefixes[0];
  const std::vector<int32_t> first_ids = tokenizer.encode(first_text, chat.bos_text.empty(), /*parse_special=*/true);
  const int suffix = std::clamp(options.suffix_tokens, 2, (int)first_ids.size() - 1);
  const size_t turns = sample.questions.size();
  // The conversation's length at its end, for the device budgets: each later question with
  // its answer's prefix and chat markers (about 16 tokens), and each answer.
  int64_t final_tokens = (int64_t)first_ids.size() + options.max_new_tokens;
  for (size_t k = 1; k < turns; ++k) {
    final_tokens += (int64_t)tokenizer.encode(sample.questions[k] + sample.answer_prefixes[k], false, false).size() +
                    16 + options.max_new_tokens;
  }

  engine::SequenceOptions shared;
  shared.memory = options.memory;
  shared.memory.kv_tiers = KvTierOptions();
  auto base = engine.open(shared);
  if (!base) return base.status();
  FM_RETURN_IF_ERROR((*base)->add_tokens(std::span<const int32_t>(first_ids).first(first_ids.size() - suffix)));

  const KvLayout layout = kv_layout_for(engine.config(), options.memory.chunk_tokens);
  // The oracle replays what full recorded: full runs first, with a recorder on.
  auto is_full = [](const PolicySpec& p) { return p.none() || p.name == "full"; };
  std::vector<size_t> order;
  for (size_t i = 0; i < policies.size(); ++i) {
    if (is_full(policies[i])) order.push_back(i);
  }
  const bool wants_oracle = std::any_of(policies.begin(), policies.end(), [](const PolicySpec& p) { return p.name == "oracle"; });
  if (wants_oracle && order.empty()) return Status::error("multiturn: the oracle replays what full records; list full too");
  for (size_t i = 0; i < policies.size(); ++i) {
    if (!is_full(policies[i])) order.push_back(i);
  }
  AttentionMassRecorder recorder(options.memory.chunk_tokens);
  std::vector<AttentionMassTrace> full_turns;  // full's decode steps, turn by turn
  bool recorded = false;

  std::vector<MultiTurnOutcome> outcomes(policies.size());
  for (size_t index : order) {
    const PolicySpec& spec = policies[index];
    const auto t0 = std::chrono::steady_clock::now();
    MultiTurnOutcome out;
    out.policy = spec.none() ? "full" : spec.name;
    const bool oracle = spec.name == "oracle";
    const bool record = wants_oracle && is_full(spec) && !recorded;
    engine::SequenceOptions opened = shared;
    opened.policy = oracle ? PolicySpec() : spec;
    if (options.device_budgets) {
      // What the budget needs at the conversation's final length.
      opened.memory.kv_tiers.device_budget_bytes =
          device_budget_for(spec, layout, final_tokens, opened.memory.kv_tiers.chunks_per_page);
    }
    out.device_budget_bytes = opened.memory.kv_tiers.device_budget_bytes;
    auto forked = engine.fork(**base, opened);
    if (!forked) return forked.status().with_context("policy " + out.policy);
    engine::Sequence& seq = **forked;
    OraclePolicy* replay = nullptr;
    if (oracle) {
      PolicyBudget budget;
      if (spec.budget_fraction > 0) budget.fraction = spec.budget_fraction;
      auto made = std::make_unique<OraclePolicy>(budget, AttentionMassTrace());
      replay = made.get();
      seq.set_policy(std::move(made));
    }
    if (record) seq.session().set_attention_hook(&recorder);
    std::vector<ChatMessage> messages = first;
    std::string consumed = first_text;
    for (size_t k = 0; k < turns; ++k) {
      MultiTurnTurn turn;
      if (replay) replay->set_trace(k < full_turns.size() ? full_turns[k] : AttentionMassTrace());
      const size_t recorded_before = recorder.trace().size();
      if (k == 0) {
        FM_RETURN_IF_ERROR(seq.add_tokens(std::span<const int32_t>(first_ids).last(suffix)));
        turn.prompt_tokens = suffix;
      } else {
        messages.push_back({"user", sample.questions[k]});
        auto next = render_chat(chat, messages, true);
        if (!next) return next.status();
        const std::string text = *next + sample.answer_prefixes[k];
        // The template may trim the kept answer; the KV keeps what was generated and the
        // turn appends what the rendering adds after the part both share.
        const std::string delta = text.substr(common_prefix(consumed, text));
        const std::vector<int32_t> ids = tokenizer.encode(delta, false, /*parse_special=*/true);
        if (ids.empty()) return Status::error("multiturn: a turn with nothing to prefill");
        FM_RETURN_IF_ERROR(seq.add_tokens(ids));
        turn.prompt_tokens = (int64_t)ids.size();
        consumed = text;
      }
      // Greedy, until the end of the turn or the end of the answer's line; every token
      // kept is in the KV for the next turn.
      for (int i = 0; i < options.max_new_tokens; ++i) {
        const int32_t t = Sampler::argmax(seq.logits());
        if (tokenizer.is_end_of_generation(t)) break;
        const std::string& piece = tokenizer.decode_token(t);
        if (piece.find('\n') != std::string::npos && !turn.answer.empty()) break;
        turn.answer += piece;
        consumed += piece;
        FM_RETURN_IF_ERROR(seq.decode(t));
      }
      if (record) {
        const AttentionMassTrace& all = recorder.trace();
        full_turns.emplace_back(all.begin() + (std::ptrdiff_t)recorded_before, all.end());
      }
      messages.push_back({"assistant", sample.answer_prefixes[k] + turn.answer});
      turn.score = score_first_answer(turn_task(sample, k), turn.answer);
      const KvStore& kv = seq.session().kv();
      turn.device_global_bytes = kv.tier_bytes(Tier::kDevice);
      turn.full_global_bytes = kv.global_bytes();
      turn.ring_bytes = kv.local_bytes();
      turn.policy_bytes = seq.policy() ? seq.policy()->extra_device_bytes() : 0;
      turn.pages_recalled = kv.pages_moved_to_device();
      turn.chunks_discarded = seq.session().discarded_chunks();
      out.turns.push_back(turn);
    }
    out.discarded_chunks = seq.session().discarded_chunks();
    out.pages_recalled = seq.session().kv().pages_moved_to_device();
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (record) {
      seq.session().set_attention_hook(nullptr);
      recorded = true;
    }
    outcomes[index] = std::move(out);
  }
  return outcomes;
}

}  // namespace fm::eval
