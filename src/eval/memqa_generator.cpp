#include "eval/memqa_generator.h"

#include <algorithm>

namespace fm::eval {

using memqa::Date;
using memqa::Exchange;
using memqa::Rng;

namespace {

constexpr const char* kIntro =
    "Below are earlier chat sessions between a user and an AI assistant, oldest first. "
    "Each session starts with its date.\n\n";
// Same width as every real header, so its token count stands for theirs.
constexpr const char* kHeaderPlaceholder = "Session 000 (0000-00-00):\n";

enum class SessionRole { kFiller, kBackground, kEvidence };

struct Session {
  SessionRole role = SessionRole::kFiller;
  std::vector<Exchange> exchanges;
  std::vector<std::size_t> exchange_tokens;  // counter() of each rendered exchange
  int evidence_exchange = -1;                // index of the evidence exchange, if any
  int evidence_order = -1;                   // its position in plan.evidence
  int gap_days = 1;                          // days after the previous session
};

std::string render_exchange(const Exchange& e) {
  return "User: " + e.user.text + "\nAssistant: " + e.assistant.text + "\n";
}

std::string render_question(const std::string& date, const std::string& question) {
  return "\nToday is " + date +
         ". Using only the sessions above, answer the question about the user with a short phrase "
         "or number. If the sessions never mention it, say that it was not mentioned.\nQuestion: " +
         question;
}

std::size_t session_tokens(const Session& s, std::size_t header_tokens) {
  std::size_t total = header_tokens;
  for (std::size_t t : s.exchange_tokens) total += t;
  return total;
}

}  // namespace

Result<MemQaGenerator> MemQaGenerator::load(const std::string& data_dir) {
  auto filler = memqa::FillerSource::load(data_dir);
  if (!filler) return filler.status();
  return MemQaGenerator(std::move(*filler));
}

Result<MemQaSample> MemQaGenerator::generate(MemQaQuestionType type, std::size_t index,
                                             const MemQaOptions& options,
                                             const TokenCounter& counter) const {
  if (!(options.evidence_depth >= 0.0 && options.evidence_depth <= 1.0)) {
    return Status::error("memqa: evidence_depth must lie in [0, 1], got " +
                         std::to_string(options.evidence_depth));
  }
  Rng rng(memqa::mix_seed(options.seed, static_cast<std::uint64_t>(type) + 1, index));
  memqa::QuestionPlan plan = memqa::plan_question(type, rng, filler_);

  auto add_exchange = [&](Session& s, Exchange e) {
    s.exchange_tokens.push_back(counter(render_exchange(e)));
    s.exchanges.push_back(std::move(e));
  };
  // A session around one planned exchange, with a little small talk on either side.
  auto wrap = [&](const Exchange& core, SessionRole role, int order, bool small_talk) {
    Session s;
    s.role = role;
    s.evidence_order = order;
    const int before = small_talk ? rng.between(0, 2) : 0,
              after = small_talk ? rng.between(0, 2) : 0;
    for (int i = 0; i < before; ++i) add_exchange(s, filler_.exchange(rng, plan.reserved));
    s.evidence_exchange = static_cast<int>(s.exchanges.size());
    add_exchange(s, core);
    for (int i = 0; i < after; ++i) add_exchange(s, filler_.exchange(rng, plan.reserved));
    return s;
  };

  const std::size_t header_tokens = counter(kHeaderPlaceholder);
  const std::size_t fixed_tokens =
      counter(kIntro) + counter(render_question("0000-00-00", plan.question));
  std::vector<Session> evidence;
  std::size_t evidence_tokens = 0;
  // Short targets get bare evidence sessions (no small talk around the fact).
  for (bool small_talk : {true, false}) {
    evidence.clear();
    evidence_tokens = 0;
    for (std::size_t k = 0; k < plan.evidence.size(); ++k) {
      evidence.push_back(
          wrap(plan.evidence[k], SessionRole::kEvidence, static_cast<int>(k), small_talk));
      evidence_tokens += session_tokens(evidence.back(), header_tokens);
    }
    if (fixed_tokens + evidence_tokens <= options.target_tokens) break;
  }
  if (fixed_tokens + evidence_tokens > options.target_tokens) {
    return Status::error("memqa: target_tokens " + std::to_string(options.target_tokens) +
                         " cannot hold this sample's evidence and question (" +
                         std::to_string(fixed_tokens + evidence_tokens) + " tokens)");
  }
  std::size_t remaining = options.target_tokens - fixed_tokens - evidence_tokens;

  // Background sessions are optional: kept only while they fit.
  std::vector<Session> base;
  for (const Exchange& e : plan.background) {
    Session s = wrap(e, SessionRole::kBackground, -1, true);
    const std::size_t cost = session_tokens(s, header_tokens);
    if (cost <= remaining) {
      remaining -= cost;
      base.push_back(std::move(s));
    }
  }
  // Filler sessions until the budget is spent; the last one is trimmed to fit, then topped
  // up exchange by exchange so the history ends close to the target.
  for (;;) {
    Session s;
    const int count = rng.between(2, 6);
    for (int i = 0; i < count; ++i) add_exchange(s, filler_.exchange(rng, plan.reserved));
    while (!s.exchanges.empty() && session_tokens(s, header_tokens) > remaining) {
      s.exchanges.pop_back();
      s.exchange_tokens.pop_back();
    }
    if (s.exchanges.empty()) break;
    remaining -= session_tokens(s, header_tokens);
    const bool trimmed = static_cast<int>(s.exchanges.size()) < count;
    // Background sessions go to random places among the filler.
    base.insert(base.begin() + static_cast<long>(rng.below(base.size() + 1)), std::move(s));
    if (trimmed) break;
  }
  Session* last_filler = nullptr;
  for (auto& s : base) {
    if (s.role == SessionRole::kFiller) last_filler = &s;
  }
  if (last_filler) {
    for (int attempt = 0; attempt < 16; ++attempt) {
      Exchange e = filler_.exchange(rng, plan.reserved);
      const std::size_t cost = counter(render_exchange(e));
      if (cost <= remaining) {
        remaining -= cost;
        last_filler->exchanges.push_back(std::move(e));
        last_filler->exchange_tokens.push_back(cost);
      }
    }
  }

  // Evidence k goes where depth + (1 - depth) * k / n of the base tokens lie before it.
  std::size_t base_tokens = 0;
  for (const auto& s : base) base_tokens += session_tokens(s, header_tokens);
  std::vector<Session> sessions;
  {
    std::size_t next_evidence = 0, before = 0;
    const double n = static_cast<double>(evidence.size());
    auto place_due = [&](bool at_end) {
      while (next_evidence < evidence.size()) {
        const double share = options.evidence_depth + (1.0 - options.evidence_depth) *
                                                          static_cast<double>(next_evidence) / n;
        if (!at_end && static_cast<double>(before) < share * static_cast<double>(base_tokens))
          break;
        sessions.push_back(std::move(evidence[next_evidence++]));
      }
    };
    for (auto& s : base) {
      place_due(false);
      before += session_tokens(s, header_tokens);
      sessions.push_back(std::move(s));
    }
    place_due(true);
  }
  // Session dates: strictly increasing, so "which came first" follows the session order.
  const Date start = memqa::date_from_days_since_2000(memqa::days_since_2000(Date{2022, 1, 1}) +
                                                      static_cast<long>(rng.below(730)));
  for (auto& s : sessions) s.gap_days = rng.between(1, 3);
  const int question_gap_days = rng.between(1, 14);

  // Render, then verify with one count of the whole prompt: tokenizers need not be additive
  // over pieces, so trim filler from the end until the whole fits.
  for (;;) {
    MemQaSample out;
    out.type = type;
    std::string context = kIntro;
    long day = memqa::days_since_2000(start) - sessions.front().gap_days;
    std::vector<Date> evidence_dates(plan.evidence.size());
    for (std::size_t i = 0; i < sessions.size(); ++i) {
      const Session& s = sessions[i];
      day += s.gap_days;
      const Date date = memqa::date_from_days_since_2000(day);
      if (i) context += "\n";
      context += "Session " + std::to_string(i + 1) + " (" + memqa::format_iso(date) + "):\n";
      for (const auto& e : s.exchanges) context += render_exchange(e);
      if (s.role == SessionRole::kEvidence) {
        evidence_dates[static_cast<std::size_t>(s.evidence_order)] = date;
        out.evidence_user_messages.push_back(
            s.exchanges[static_cast<std::size_t>(s.evidence_exchange)].user.text);
        out.evidence_session_numbers.push_back(static_cast<int>(i + 1));
        out.evidence_dates.push_back(memqa::format_iso(date));
      }
    }
    const Date question_date = memqa::date_from_days_since_2000(day + question_gap_days);
    out.question_date = memqa::format_iso(question_date);
    if (plan.resolve_with_dates) plan.resolve_with_dates(evidence_dates, question_date, plan);

    TaskSample& t = out.sample;
    t.task = "memqa_" + std::string(memqa_type_name(type));
    t.id = t.task + "_s" + std::to_string(options.seed) + "_" + std::to_string(index);
    t.context = std::move(context);
    t.question = render_question(out.question_date, plan.question);
    t.answer_prefix = "Answer:";
    t.answers = plan.answers;
    t.wrong_answers = plan.wrong_answers;
    t.metric = plan.metric;
    t.max_new_tokens = plan.max_new_tokens;
    t.length_tokens = counter(t.context + t.question);
    if (t.length_tokens <= options.target_tokens) {
      out.superseded_value = plan.superseded_value;
      out.abstention_subject = plan.abstention_subject;
      out.session_count = static_cast<int>(sessions.size());
      return out;
    }
    // Remove filler exchanges, last filler session first, worth at least the overshoot.
    std::size_t overshoot = t.length_tokens - options.target_tokens, removed = 0;
    for (std::size_t i = sessions.size(); i-- > 0 && removed < overshoot;) {
      Session& s = sessions[i];
      if (s.role != SessionRole::kFiller) continue;
      while (!s.exchanges.empty() && removed < overshoot) {
        removed += s.exchange_tokens.back();
        s.exchanges.pop_back();
        s.exchange_tokens.pop_back();
      }
      if (s.exchanges.empty()) {
        removed += header_tokens;
        sessions.erase(sessions.begin() + static_cast<long>(i));
      }
    }
    if (removed == 0) {
      return Status::error("memqa: cannot fit the sample into target_tokens " +
                           std::to_string(options.target_tokens));
    }
  }
}

}  // namespace fm::eval
