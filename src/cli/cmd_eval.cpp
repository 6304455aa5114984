// `flashmem eval`: accuracy of every policy side by side on generated long-context tasks,
// with its KV footprint. Per sample: one shared full-attention prefill, one decode per
// policy (eval/policy_decode.h); one JSON line per (sample, policy) appended to --out, so
// a run resumes where it stopped; `flashmem eval --report FILE...` rebuilds the summary
// from the files alone.
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/policy_args.h"
#include "cli/report.h"
#include "engine/engine.h"
#include "eval/data_dir.h"
#include "memory/residency_estimate.h"
#include "eval/fidelity.h"
#include "eval/memqa_generator.h"
#include "eval/multiturn_run.h"
#include "eval/policy_decode.h"
#include "eval/results_file.h"
#include "eval/run_plan.h"
#include "eval/ruler_tasks.h"
#include "eval/scoring.h"
#include "tokenizer/chat_template.h"

namespace fm::cli {

namespace {

int fail(const Status& s) {
  std::fprintf(stderr, "flashmem eval: %s\n", s.message().c_str());
  return 1;
}

Result<int64_t> parse_length(const std::string& item) {
  char* end = nullptr;
  long long v = std::strtoll(item.c_str(), &end, 10);
  if (end && (*end == 'k' || *end == 'K')) v *= 1024, ++end;
  if (item.empty() || *end || v < 256) return Status::error("bad length '" + item + "' (e.g. 4k, 8192)");
  return (int64_t)v;
}

// A sample of a suite's task at a length.
Result<eval::TaskSample> make_sample(const std::string& suite, const std::string& task, int64_t target_tokens,
                                     uint64_t seed, int64_t index, const eval::RulerData* ruler,
                                     const eval::MemQaGenerator* memqa, const eval::TokenCounter& counter,
                                     int keys) {
  if (suite == "longanswer") return eval::make_long_answer_sample((size_t)target_tokens, keys, seed, (size_t)index, counter);
  if (suite == "ruler") {
    const eval::RulerTaskConfig* config = eval::find_ruler_task(task);
    if (!config) return Status::error("unknown RULER task '" + task + "'");
    return eval::generate_ruler_sample(*config, (size_t)target_tokens, seed, (size_t)index, *ruler, counter);
  }
  for (eval::MemQaQuestionType type : eval::kAllMemQaQuestionTypes) {
    if ("memqa_" + std::string(eval::memqa_type_name(type)) != task) continue;
    eval::MemQaOptions options;
    options.target_tokens = (size_t)target_tokens;
    options.seed = seed;
    // Evidence at depths spread over the history, deterministic per index.
    options.evidence_depth = (double)((index * 7) % 11) / 10.0;
    options.evidence_depth = std::min(1.0, options.evidence_depth);
    auto s = memqa->generate(type, (size_t)index, options, counter);
    if (!s) return s.status();
    return s->sample;
  }
  return Status::error("unknown memqa task '" + task + "'");
}

// The text whose likelihood each policy is scored on: every answer when the metric asks
// for all of them (RULER's multi-value needles), else the first accepted one. It follows
// the answer prefix after one space.
std::string reference_answer(const eval::TaskSample& sample) {
  if (sample.answers.empty()) return "";
  if (sample.metric != eval::Metric::kStringMatchAll && sample.metric != eval::Metric::kOrderedAll) {
    return sample.answers.front();
  }
  std::string joined;
  for (const std::string& a : sample.answers) joined += (joined.empty() ? "" : ", ") + a;
  return joined;
}

int report(const std::vector<std::string>& files) {
  std::vector<eval::ResultRow> rows;
  for (const std::string& f : files) {
    auto r = eval::read_result_rows(f);
    if (!r) return fail(r.status());
    rows.insert(rows.end(), r->begin(), r->end());
  }
  std::printf("%s", eval::summary_markdown(rows).c_str());
  return 0;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  auto parsed = Args::parse(argc, argv, {});
  if (!parsed) return fail(parsed.status());
  const Args& args = *parsed;
  if (args.has("--report")) return report(split_list(args.get("--report")));
  for (const auto& u : args.unknown({"-m", "-t", "--suite", "--tasks", "--lengths", "--policies", "--budget",
                                     "--samples", "--seed", "--data", "--out", "--indexer", "--chunk",
                                     "--suffix", "--max-new-tokens", "--report", "--level2-top-k", "--lsa-prompt-share", "--recency-tokens", "--indexer-queries", "--indexer-combine", "--indexer-entry-tokens", "--lsa-cycle",
                                     "--continuation", "--turns", "--keys"})) {
    return fail(Status::error("unknown option " + u));
  }
  if (!args.has("-m")) return fail(Status::error("give a model with -m MODEL.gguf"));
  const std::string suite = args.get("--suite", "ruler");
  if (suite != "ruler" && suite != "memqa" && suite != "fidelity" && suite != "multiturn" && suite != "longanswer") {
    return fail(Status::error("--suite is ruler, memqa, fidelity, multiturn or longanswer"));
  }
  auto keys = args.get_int("--keys", 8);
  if (!keys || *keys < 2 || *keys > 26) return fail(Status::error("--keys must be in 2..26"));
  auto turns = args.get_int("--turns", 4);
  if (!turns || *turns < 1 || *turns > 12) return fail(Status::error("--turns must be in 1..12"));
  auto threads = args.get_int("-t", ThreadPool::default_threads());
  auto samples = args.get_int("--samples", 5);
  auto seed = args.get_int("--seed", 42);
  auto chunk = args.get_int("--chunk", 64);
  auto suffix = args.get_int("--suffix", 32);
  auto max_new = args.get_int("--max-new-tokens", 0);
  auto continuation = args.get_int("--continuation", 256);
  if (!continuation || *continuation < 1) return fail(Status::error("bad --continuation"));
  for (const Status* s : {&threads.status(), &samples.status(), &seed.status(), &chunk.status(), &suffix.status(),
                          &max_new.status()}) {
    if (!s->is_ok()) return fail(*s);
  }
  // --budget 10%,5%: every budget of a sample runs on one prefill of it (full once for all).
  std::vector<double> budgets;
  for (const std::string& item : split_list(args.get("--budget", "10%"))) {
    auto b = parse_budget_fraction(item);
    if (!b) return fail(b.status());
    budgets.push_back(*b);
  }
  if (budgets.empty()) return fail(Status::error("--budget is empty"));
  if (budgets.size() > 1 && suite == "fidelity") {
    return fail(Status::error("the fidelity suite takes one --budget; run it once per budget"));
  }
  const Result<double> budget = budgets[0];
  std::vector<int64_t> lengths;
  for (const std::string& item : split_list(args.get("--lengths", "4k"))) {
    auto v = parse_length(item);
    if (!v) return fail(v.status());
    lengths.push_back(*v);
  }
  std::vector<std::string> tasks = split_list(args.get("--tasks"));
  if (tasks.empty()) {
    if (suite == "ruler") {
      tasks = eval::ruler11_task_names();
    } else if (suite == "fidelity") {
      tasks = {"fidelity"};
    } else if (suite == "multiturn") {
      tasks = {"multiturn"};
    } else if (suite == "longanswer") {
      tasks = {"locker_codes"};
    } else {
      for (auto type : eval::kAllMemQaQuestionTypes) tasks.push_back("memqa_" + std::string(eval::memqa_type_name(type)));
    }
  }
  const std::vector<std::string> policies =
      split_list(args.get("--policies", "full,lsa,recency,random,streaming,snapkv,quest,oracle"));
  const std::string data_dir = args.has("--data") ? args.get("--data") : eval::find_data_dir();
  if (data_dir.empty() && suite != "multiturn" && suite != "longanswer") {
    return fail(Status::error("no evaluation data folder (haystack essays, word lists in RULER's layout): give "
                              "--data DIR or set FLASHMEM_DATA (python/make_synthetic_eval_data.py writes a stand-in; "
                              "the multiturn suite needs none)"));
  }
  const std::string out_path = args.get("--out", "results/" + suite + ".jsonl");

  auto loaded = engine::Engine::load(args.get("-m"), (int)*threads);
  if (!loaded) return fail(loaded.status());
  engine::Engine& engine = **loaded;
  const Model& m = engine.model();
  auto tokenizer = engine.tokenizer();
  if (!tokenizer) return fail(tokenizer.status());
  const Tokenizer& tok = **tokenizer;
  auto chat = chat_template_for(tok.vocab());
  if (!chat) return fail(chat.status());
  const eval::TokenCounter counter = [&](std::string_view text) { return tok.encode(text, false, false).size(); };

  std::unique_ptr<eval::RulerData> ruler;
  std::unique_ptr<eval::MemQaGenerator> memqa;
  if (suite == "ruler") {
    auto data = eval::load_ruler_data(data_dir);
    if (!data) return fail(data.status().with_context("--data " + data_dir));
    ruler = std::make_unique<eval::RulerData>(std::move(data.value()));
  } else if (suite == "memqa") {
    auto gen = eval::MemQaGenerator::load(data_dir);
    if (!gen) return fail(gen.status().with_context("--data " + data_dir));
    memqa = std::make_unique<eval::MemQaGenerator>(std::move(gen.value()));
  }
  // The current sample's runs (eval/run_plan.h). Policies are built per sample, each at its
  // run's budget, the rest from the same arguments as generate and bench; decode_under_policies
  // names a run by its label.
  std::vector<eval::PlannedRun> plan;
  const Args& policy_args = args;
  eval::PolicyFactory factory = [&](const std::string& label,
                                    const AttentionMassTrace* trace) -> Result<std::unique_ptr<Policy>> {
    const eval::PlannedRun* run = eval::find_run(plan, label);
    if (!run) return Status::error("no planned run '" + label + "'");
    if (run->policy == "oracle") {
      if (!trace) return Status::error("oracle without a recording");
      PolicyBudget b;
      b.fraction = run->budget;
      return std::unique_ptr<Policy>(new OraclePolicy(b, *trace));
    }
    return make_policy_from_args(policy_args, m.config(), (int)*chunk, run->policy, run->budget);
  };

  auto done_rows = eval::read_result_rows(out_path);
  if (!done_rows) return fail(done_rows.status());
  std::set<std::string> done;
  for (const auto& r : *done_rows) done.insert(r.key());
  std::ofstream out(out_path, std::ios::app);
  if (!out) return fail(Status::error("cannot append to " + out_path + " (does its folder exist?)"));

  eval::SharedPrefillOptions options;
  options.session.chunk_tokens = (int)*chunk;
  options.suffix_tokens = (int)*suffix;
  // Every policy runs on the device budget its --budget needs at the sample's length, so
  // footprint (a) is measured device bytes (full and Quest: unbounded, everything there).
  const KvLayout layout = kv_layout_for(m.config(), (int)*chunk);
  int64_t budget_tokens = 0;  // the current sample's prompt plus answer
  options.device_budget_bytes = [&](const std::string& label) -> int64_t {
    // Called after the factory has built the run's policy, so the run exists.
    const eval::PlannedRun* run = eval::find_run(plan, label);
    PolicySpec spec;
    spec.name = run ? run->policy : label;
    spec.budget_fraction = run ? run->budget : budgets[0];
    return device_budget_for(spec, layout, budget_tokens, 1);
  };
  const int64_t total = (int64_t)(tasks.size() * lengths.size()) * *samples;
  int64_t finished = 0, ran = 0;
  const double t_start = now_seconds();
  // Sample index outermost within a length: a run stopped part way leaves every task with
  // about the same number of samples.
  for (int64_t length : lengths) {
    for (int64_t index = 0; index < *samples; ++index) {
      for (auto task_it = tasks.begin(); task_it != tasks.end(); ++task_it, ++finished) {
        const std::string& task = *task_it;
        eval::ResultRow key_row;
        key_row.suite = suite;
        key_row.task = task;
        key_row.length = length;
        key_row.index = index;
        key_row.budget = *budget;
        const bool multiturn = suite == "multiturn";
        plan = eval::plan_runs(policies, budgets, [&](const std::string& policy, double b) {
          key_row.policy = policy;
          key_row.budget = b;
          // A multi-turn sample is done when its last turn's row is there.
          key_row.task = multiturn ? "multiturn_turn" + std::to_string(*turns) : task;
          return done.count(key_row.key()) > 0;
        });
        key_row.task = task;
        key_row.budget = *budget;
        if (plan.empty()) continue;
        if (multiturn) {
          // The oracle replays full's recording: full runs again (its rows are not rewritten).
          if (eval::plans_policy(plan, "oracle")) eval::ensure_full_run(plan, budgets[0]);
        } else if (suite == "fidelity" || std::find(policies.begin(), policies.end(), "full") != policies.end()) {
          // The oracle needs full's recording, every policy's agreement with full needs full's
          // tokens, and fidelity compares with full's distributions: full runs again when its
          // rows are there already (they are not rewritten).
          eval::ensure_full_run(plan, budgets[0]);
        }
        std::vector<std::string> labels;
        for (const eval::PlannedRun& run : plan) labels.push_back(run.label);
        if (multiturn) {
          auto sample = eval::make_multiturn_sample((size_t)length, (int)*turns, (uint64_t)*seed, (size_t)index, counter);
          if (!sample) return fail(sample.status());
          eval::MultiTurnOptions mt;
          mt.memory.chunk_tokens = (int)*chunk;
          mt.suffix_tokens = (int)*suffix;
          if (*max_new > 0) mt.max_new_tokens = (int)*max_new;
          std::vector<PolicySpec> specs;
          for (const eval::PlannedRun& run : plan) {
            auto spec = policy_spec_from_args(policy_args, run.policy, run.budget);
            if (!spec) return fail(spec.status());
            specs.push_back(*spec);
          }
          auto outcomes = eval::run_multiturn(engine, tok, *chat, *sample, specs, mt);
          if (!outcomes) return fail(outcomes.status().with_context(sample->id));
          for (size_t i = 0; i < outcomes->size(); ++i) {
            const eval::MultiTurnOutcome& o = (*outcomes)[i];
            for (size_t k = 0; k < o.turns.size(); ++k) {
              for (double row_budget : plan[i].row_budgets) {
                const eval::MultiTurnTurn& t = o.turns[k];
                eval::ResultRow row = key_row;
                row.task = "multiturn_turn" + std::to_string(k + 1);
                row.policy = plan[i].policy;
                row.budget = row_budget;
                row.score = row.score_first = t.score;
                row.prediction = t.answer;
                row.answers = {sample->answers[k]};
                row.prompt_tokens = t.prompt_tokens;
                row.pages_recalled = t.pages_recalled;
                row.chunks_discarded = t.chunks_discarded;
                // Measured device bytes after the answer, against what full attention holds.
                const double full = (double)std::max<int64_t>(1, t.full_global_bytes);
                row.kv_a_mean_percent = row.kv_a_peak_percent = 100.0 * (double)t.device_global_bytes / full;
                // (b) counts the policy's own device bytes, as the other suites' meter does.
                row.kv_b_mean_percent = 100.0 * (double)(t.device_global_bytes + t.ring_bytes + t.policy_bytes) /
                                        (double)std::max<int64_t>(1, t.full_global_bytes + t.ring_bytes);
                out << row.to_json() << "\n";
              }
            }
          }
          out.flush();
          if (!out) return fail(Status::error("writing " + out_path + " failed (disk full?)"));
          ++ran;
          std::fprintf(stderr, "\r[%lld/%lld] multiturn %lld #%lld  %.0f s elapsed      ", (long long)(finished + 1),
                       (long long)total, (long long)length, (long long)index, now_seconds() - t_start);
          continue;
        }
        if (suite == "fidelity") {
          // Text `index` starts at essay 3 * index: different texts, real prose.
          auto text = eval::essay_text(data_dir, (size_t)(3 * index), (size_t)(length + *continuation) * 8);
          if (!text) return fail(text.status());
          std::vector<int32_t> ids = tok.encode(*text, true, false);
          if ((int64_t)ids.size() < length + *continuation) return fail(Status::error("essay text too short"));
          ids.resize((size_t)(length + *continuation));
          budget_tokens = (int64_t)ids.size();
          auto outcomes = eval::measure_fidelity(engine, tok, ids, (int)length, labels, factory, options);
          if (!outcomes) return fail(outcomes.status().with_context("fidelity text " + std::to_string(index)));
          for (const eval::FidelityOutcome& f : *outcomes) {
            const eval::PlannedRun* run = eval::find_run(plan, f.policy);
            if (!run) return fail(Status::error("fidelity returned an unplanned run " + f.policy));
            eval::ResultRow row = key_row;
            row.policy = run->policy;
            row.score = f.top1_agreement;
            row.agreement_with_full = f.top1_agreement;
            row.mean_nll = f.mean_nll;
            row.mean_kl = f.mean_kl;
            row.prompt_tokens = length;
            row.kv_a_mean_percent = f.decode.device_a_mean_percent;
            row.kv_a_peak_percent = f.decode.device_a_peak_percent;
            row.kv_b_mean_percent = f.decode.device_b_mean_percent;
            row.attended_mean_percent = f.decode.footprint.steps ? 100 * f.decode.footprint.mean_fraction : 100;
            row.decode_tok_s = f.decode.decode_seconds > 0 ? f.decode.decode_steps / f.decode.decode_seconds : 0;
            row.ttft_s = f.ttft_s;
            for (double b : run->row_budgets) {
              row.budget = b;
              out << row.to_json() << "\n";
            }
          }
          out.flush();
          if (!out) return fail(Status::error("writing " + out_path + " failed (disk full?)"));
          ++ran;
          std::fprintf(stderr, "\r[%lld/%lld] fidelity %lld #%lld  %.0f s elapsed      ", (long long)(finished + 1),
                       (long long)total, (long long)length, (long long)index, now_seconds() - t_start);
          continue;
        }
        // The generator's budget leaves room for the template and the answer: RULER's prompt
        // budget is the length less the task's own tokens to generate (128 for the needles,
        // 120 for common words, ...), and each sample decodes that many, so that every
        // sample crosses at least one 64-step selection cycle where RULER's own lengths do.
        const int64_t overhead = 64;
        const eval::RulerTaskConfig* ruler_task = suite == "ruler" ? eval::find_ruler_task(task) : nullptr;
        const int64_t to_generate = *max_new > 0      ? *max_new
                                    : ruler_task        ? ruler_task->max_new_tokens
                                    : suite == "longanswer" ? 16 * *keys + 32
                                                            : 32;
        auto sample = make_sample(suite, task, length - overhead - to_generate, (uint64_t)*seed, index, ruler.get(),
                                  memqa.get(), counter, (int)*keys);
        if (!sample) return fail(sample.status().with_context(task + " at " + std::to_string(length)));
        options.max_new_tokens = *max_new > 0 ? (int)*max_new : sample->max_new_tokens;
        const ChatMessage message{"user", sample->context + sample->question};
        auto rendered = render_chat(*chat, std::span<const ChatMessage>(&message, 1), true);
        if (!rendered) return fail(rendered.status());
        std::string prompt_text = *rendered + sample->answer_prefix;
        const std::vector<int32_t> ids = tok.encode(prompt_text, chat->bos_text.empty(), /*parse_special=*/true);
        const std::string reference = reference_answer(*sample);
        options.reference_tokens.clear();
        options.reference_spans.clear();
        if (!sample->forced_reference.empty()) {
          // Segment by segment, so that the scored spans are whole tokens.
          for (const auto& [text, scored] : sample->forced_reference) {
            const std::vector<int32_t> part = tok.encode(text, false, false);
            if (scored) options.reference_spans.push_back({options.reference_tokens.size(), options.reference_tokens.size() + part.size()});
            options.reference_tokens.insert(options.reference_tokens.end(), part.begin(), part.end());
          }
        } else if (!reference.empty()) {
          options.reference_tokens = tok.encode(" " + reference, false, false);
        }
        budget_tokens = (int64_t)ids.size() + options.max_new_tokens;
        auto result = eval::decode_under_policies(engine, tok, ids, labels, factory, options);
        if (!result) return fail(result.status().with_context(sample->id));
        const eval::PolicyOutcome* full = nullptr;
        for (const auto& o : result->outcomes) {
          if (o.policy == "full") full = &o;
        }
        for (const eval::PolicyOutcome& o : result->outcomes) {
          const eval::PlannedRun* run = eval::find_run(plan, o.policy);
          if (!run) return fail(Status::error("decoding returned an unplanned run " + o.policy));
          eval::ResultRow row = key_row;
          row.policy = run->policy;
          // RULER keeps its own metric (over the whole prediction) with the first-answer
          // score beside it; every other suite is scored on the first answer only.
          row.score_first = eval::score_first_answer(*sample, o.text);
          row.score = suite == "ruler" ? eval::score_prediction(*sample, o.text) : row.score_first;
          row.prediction = o.text;
          row.answers = sample->answers;
          row.prompt_tokens = (int64_t)ids.size();
          row.kv_a_mean_percent = o.device_a_mean_percent;
          row.kv_a_peak_percent = o.device_a_peak_percent;
          row.kv_b_mean_percent = o.device_b_mean_percent;
          row.attended_mean_percent = o.footprint.steps ? 100 * o.footprint.mean_fraction : 100;
          row.decode_tok_s = o.decode_seconds > 0 ? o.decode_steps / o.decode_seconds : 0;
          row.ttft_s = result->shared_prefill_seconds + o.suffix_prefill_seconds;
          row.answer_logprob = o.reference_logprob;
          if (!options.reference_spans.empty()) {
            row.score_forced = (double)o.reference_spans_top1 / (double)options.reference_spans.size();
          }
          row.answer_tokens = o.reference_count;
          if (full) {
            const size_t n = std::max(o.tokens.size(), full->tokens.size());
            size_t same = 0;
            for (size_t i = 0; i < std::min(o.tokens.size(), full->tokens.size()); ++i) same += o.tokens[i] == full->tokens[i];
            row.agreement_with_full = n ? (double)same / n : 1.0;
          }
          for (double b : run->row_budgets) {
            row.budget = b;
            out << row.to_json() << "\n";
          }
          out.flush();
          if (!out) return fail(Status::error("writing " + out_path + " failed (disk full?)"));
        }
        ++ran;
        const double elapsed = now_seconds() - t_start;
        const double eta = elapsed / ran * (double)(total - finished - 1);
        std::fprintf(stderr, "\r[%lld/%lld] %s %lld #%lld  %.0f s elapsed, ETA %.0f s      ", (long long)(finished + 1),
                     (long long)total, task.c_str(), (long long)length, (long long)index, elapsed, eta);
      }
    }
  }
  std::fprintf(stderr, "\n");
  return report({out_path});
}

}  // namespace fm::cli
