// `flashmem recall`: the share of decode's attention mass that each policy's resident set
// keeps, on one document, every policy side by side at the same budget (see
// runtime/attention_recall.h).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "cli/report.h"
#include "cli/policy_args.h"
#include "memory/default_indexer.h"
#include "memory/lsa_policy.h"
#include "model/model.h"
#include "runtime/attention_recall.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {

namespace {
int fail(const Status& s) {
  std::fprintf(stderr, "flashmem recall: %s\n", s.message().c_str());
  return 1;
}
}  // namespace

// Which indexer `lsa` runs with, for the report line.
std::string lsa_indexer_label(const ModelConfig& model, const Args& args) {
  std::string path = args.get("--indexer");
  if (path.empty()) path = find_default_indexer(model);
  if (path.empty() || path == "random") return " (lsa: UNTRAINED random indexer)";
  return " (lsa: " + path + ")";
}

int cmd_recall(int argc, char** argv) {
  auto parsed = Args::parse(argc, argv, {});
  if (!parsed) return fail(parsed.status());
  const Args& args = *parsed;
  for (const auto& u : args.unknown({"-m", "-f", "-t", "--budget", "--decode", "--chunk",
                                     "--indexer", "--policies", "--seed", "--max-tokens",
                                     "--lsa-prompt-share"})) {
    return fail(Status::error("unknown option " + u));
  }
  if (!args.has("-m") || !args.has("-f")) return fail(Status::error("give -m MODEL -f TEXT_FILE"));
  auto threads = args.get_int("-t", ThreadPool::default_threads());
  auto decode = args.get_int("--decode", 128);
  auto chunk = args.get_int("--chunk", 64);
  auto seed = args.get_int("--seed", 0);
  auto max_tokens = args.get_int("--max-tokens", 0);
  for (const Status* s : {&threads.status(), &decode.status(), &chunk.status(), &seed.status(),
                          &max_tokens.status()}) {
    if (!s->is_ok()) return fail(*s);
  }
  if (*chunk < 1 || *decode < 1 || *threads < 1) return fail(Status::error("bad numeric option"));
  PolicyBudget budget;
  auto fraction = parse_budget_fraction(args.get("--budget", "10%"));
  if (!fraction) return fail(fraction.status());
  budget.fraction = *fraction;

  std::ifstream in(args.get("-f"), std::ios::binary);
  if (!in) return fail(Status::error("cannot open '" + args.get("-f") + "'"));
  std::stringstream text;
  text << in.rdbuf();
  auto engine = engine::Engine::load(args.get("-m"), (int)*threads);
  if (!engine) return fail(engine.status());
  const Model& model = (*engine)->model();
  auto tokenizer = (*engine)->tokenizer();
  if (!tokenizer) return fail(tokenizer.status());
  std::vector<int32_t> ids = (*tokenizer)->encode(text.str(), true, false);
  if (*max_tokens > 0 && (int64_t)ids.size() > *max_tokens) ids.resize(*max_tokens);

  std::vector<std::unique_ptr<Policy>> owned;
  std::stringstream names(args.get("--policies", "recency,random,streaming,snapkv,lsa"));
  std::string name;
  while (std::getline(names, name, ',')) {
    // The same construction as generate/bench: lsa finds the shipped indexer by default.
    Result<std::unique_ptr<Policy>> p =
        make_policy_from_args(args, model.config(), (int)*chunk, name, budget.fraction);
    if (!p) return fail(p.status());
    owned.push_back(std::move(p.value()));
  }
  std::vector<Policy*> policies;
  for (auto& p : owned) policies.push_back(p.get());

  ThreadPool& pool = (*engine)->pool();
  SessionOptions options;
  options.chunk_tokens = (int)*chunk;
  options.max_context_tokens = (int)(ids.size() + *decode + 1);
  const double t0 = now_seconds();
  auto result = measure_attention_recall(model, pool, options, ids, (int)*decode, policies, budget);
  if (!result) return fail(result.status());
  std::printf("%zu prompt tokens, %lld decode steps (greedy, full attention), chunk %lld, budget "
              "%.1f%%%s; %.1f s\n",
              ids.size(), *decode, *chunk, 100 * budget.fraction,
              lsa_indexer_label(model.config(), args).c_str(), now_seconds() - t0);
  std::printf("| policy | resident chunks (mean) | decode attention mass kept | of it, history "
              "without sink and open chunk |\n|---|---|---|---|\n");
  for (const auto& r : *result) {
    std::printf("| %s | %.1f%% | %.1f%% | %.1f%% |\n", r.policy.c_str(), 100 * r.resident_fraction,
                100 * r.mass_kept, 100 * r.history_mass_kept);
  }
  return 0;
}

}  // namespace fm::cli
