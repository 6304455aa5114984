// `flashmem generate`: prompt in, text out, then speed and memory figures.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/policy_args.h"
#include "memory/attention_mass_policies.h"
#include "cli/report.h"
#include "engine/engine.h"
#include "memory/residency_estimate.h"
#include "runtime/sampler.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {

namespace {

int fail(const Status& s) {
  std::fprintf(stderr, "flashmem: %s\n", s.message().c_str());
  return 1;
}

Result<std::string> read_prompt(const Args& args) {
  if (args.has("-f")) {
    std::ifstream in(args.get("-f"), std::ios::binary);
    if (!in) return Status::error("cannot open prompt file '" + args.get("-f") + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  if (args.has("-p")) return args.get("-p");
  return Status::error("give a prompt with -p TEXT or -f FILE");
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  const std::set<std::string> flags = {"--chat", "--no-bos"};
  auto parsed = Args::parse(argc, argv, flags);
  if (!parsed) return fail(parsed.status());
  const Args& args = *parsed;
  const std::set<std::string> known = {"-m", "-p", "-f", "-n", "-t", "--temp", "--top-k",
                                       "--top-p", "--seed", "--chunk", "--chat", "--no-bos",
                                       "--ctx", "--block", "--policy", "--budget", "--indexer", "--level2-top-k", "--lsa-prompt-share", "--recency-tokens", "--indexer-queries", "--indexer-combine", "--indexer-entry-tokens", "--lsa-cycle",
                                       "--device-budget", "--host-budget", "--disk", "--trace", "--chunks-per-page"};
  for (const auto& u : args.unknown(known)) return fail(Status::error("unknown option " + u));
  if (!args.has("-m")) return fail(Status::error("give a model with -m MODEL.gguf"));

  auto n_predict = args.get_int("-n", 64);
  auto threads = args.get_int("-t", ThreadPool::default_threads());
  auto temp = args.get_float("--temp", 0.0);
  auto top_k = args.get_int("--top-k", 40);
  auto top_p = args.get_float("--top-p", 0.95);
  auto seed = args.get_int("--seed", 0);
  auto chunk = args.get_int("--chunk", 64);
  auto ctx = args.get_int("--ctx", 0);
  auto block = args.get_int("--block", 256);
  for (const Status* s : {&n_predict.status(), &threads.status(), &temp.status(), &top_k.status(),
                          &top_p.status(), &seed.status(), &chunk.status(), &ctx.status(),
                          &block.status()}) {
    if (!s->is_ok()) return fail(*s);
  }
  if (*n_predict < 0) return fail(Status::error("-n must be 0 or more (tokens to generate)"));
  if (*chunk < 1 || *chunk > 65536) return fail(Status::error("--chunk must be in 1..65536"));
  if (*threads < 1 || *threads > 1024) return fail(Status::error("-t must be in 1..1024"));
  if (*block < 1 || *block > 8192) return fail(Status::error("--block must be in 1..8192"));

  auto prompt = read_prompt(args);
  if (!prompt) return fail(prompt.status());

  auto loaded = engine::Engine::load(args.get("-m"), (int)*threads);
  if (!loaded) return fail(loaded.status());
  engine::Engine& engine = **loaded;
  auto tokenizer = engine.tokenizer();
  if (!tokenizer) return fail(tokenizer.status());
  const Tokenizer& tok = **tokenizer;

  std::vector<int32_t> ids;
  if (args.has("--chat")) {
    auto chat = chat_template_for(tok.vocab());
    if (!chat) return fail(chat.status());
    const ChatMessage messages[] = {{"user", *prompt}};
    auto text = render_chat(*chat, messages, /*add_generation_prompt=*/true);
    if (!text) return fail(text.status());
    // A template that writes the bos token itself gets none added.
    ids = tok.encode(*text, chat->bos_text.empty() && !args.has("--no-bos"), /*parse_special=*/true);
  } else {
    ids = tok.encode(*prompt, !args.has("--no-bos"), /*parse_special=*/false);
  }

  // The oracle is two runs: full attention records where attention goes, then the
  // oracle replays that record as its choice (see memory/attention_mass_policies.h).
  const bool oracle = args.get("--policy") == "oracle";
  engine::SequenceOptions options;
  if (!oracle) {
    auto spec = policy_spec_from_args(args);
    if (!spec) return fail(spec.status());
    options.policy = *spec;
  }
  PolicyBudget budget;
  if (oracle && args.has("--budget")) {
    auto fraction = parse_budget_fraction(args.get("--budget"));
    if (!fraction) return fail(fraction.status());
    budget.fraction = *fraction;
  }

  options.memory.chunk_tokens = (int)*chunk;
  options.memory.max_context_tokens = (int)*ctx;
  options.memory.max_block_tokens = (int)*block;
  if (Status st = apply_tier_args(args, options.memory.kv_tiers); !st) return fail(st);
  // --budget is a cap on device memory, not only on what attention reads: without
  // --device-budget the device tier holds what the policy needs at the final length.
  if (!args.has("--device-budget")) {
    const KvLayout layout = kv_layout_for(engine.config(), options.memory.chunk_tokens);
    options.memory.kv_tiers.device_budget_bytes = device_budget_for(
        options.policy, layout, (int64_t)ids.size() + *n_predict, options.memory.kv_tiers.chunks_per_page);
  }
  std::ofstream trace_file;
  if (args.has("--trace")) {
    trace_file.open(args.get("--trace"));
    if (!trace_file) return fail(Status::error("cannot write trace '" + args.get("--trace") + "'"));
  }
  SamplerParams sp;
  sp.temperature = (float)*temp;
  sp.top_k = (int)*top_k;
  sp.top_p = (float)*top_p;
  sp.seed = (uint64_t)*seed;

  // One run: a sequence under the policy (or under `replace`, the oracle), or watched by
  // `hook` (the oracle's recording pass).
  auto run = [&](std::unique_ptr<Policy> replace, GlobalAttentionHook* hook, bool print) -> Status {
    auto opened = engine.open(options);
    FM_RETURN_IF_ERROR(opened.status());
    engine::Sequence& seq = **opened;
    if (replace) seq.set_policy(std::move(replace));
    Session& session = seq.session();
    Policy* run_policy = seq.policy();
    if (hook) session.set_attention_hook(hook);
    if (print && trace_file.is_open()) session.set_residency_trace(&trace_file);
    if ((int64_t)ids.size() + *n_predict > session.max_context_tokens()) {
      return Status::error("prompt of " + std::to_string(ids.size()) + " tokens plus " +
                           std::to_string(*n_predict) + " to generate exceeds the context of " +
                           std::to_string(session.max_context_tokens()) +
                           " tokens (raise it with --ctx)");
    }
    const bool show_progress = ids.size() > 2000;
    ProgressBar bar(print ? "prefill" : "prefill (oracle's recording pass)", (int64_t)ids.size());
    const double t0 = now_seconds();
    Status st = seq.add_tokens(ids, show_progress ? Session::Progress([&](int64_t d, int64_t) {
      bar.update(d);
    }) : nullptr);
    bar.finish();
    FM_RETURN_IF_ERROR(st);
    const double t1 = now_seconds();
    Sampler sampler(sp);
    int generated = 0;
    for (; generated < *n_predict; ++generated) {
      const int32_t next = sampler.sample(seq.logits());
      if (tok.is_end_of_generation(next)) break;
      if (print) {
        const std::string piece = tok.decode_token(next);
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }
      if (generated + 1 < *n_predict) FM_RETURN_IF_ERROR(seq.decode(next));
    }
    const double t2 = now_seconds();
    if (!print) return Status::ok();
    std::printf("\n");
    const int decode_steps = std::max(0, generated - 1);
    std::fprintf(stderr,
                 "\nprompt %zu tokens: prefill %.1f tok/s (%.2f s) | generated %d tokens: decode "
                 "%.1f tok/s | peak RSS %s | KV %s (global chunks %s, local rings %s) | %d "
                 "threads, %s kernels\n",
                 ids.size(), ids.size() / std::max(1e-9, t1 - t0), t1 - t0, generated,
                 decode_steps / std::max(1e-9, t2 - t1), format_bytes(peak_rss_bytes()).c_str(),
                 format_bytes(session.kv().total_bytes()).c_str(),
                 format_bytes(session.kv().global_bytes()).c_str(),
                 format_bytes(session.kv().local_bytes()).c_str(), engine.threads(),
                 kernels::matmul_isa());
    if (run_policy) {
      const FootprintStats& f = session.footprint();
      std::fprintf(stderr,
                   "policy %s: global-layer KV attended per step mean %.1f%% (%s), peak %.1f%% "
                   "of full attention\n",
                   run_policy->name().c_str(), 100 * f.mean_fraction,
                   format_bytes((int64_t)f.mean_resident_bytes).c_str(), 100 * f.peak_fraction);
      const FootprintSummary a = session.device_footprint().global_layers();
      const FootprintSummary b = session.device_footprint().whole_device();
      std::fprintf(stderr,
                   "device footprint: global layers' KV mean %.1f%% / peak %.1f%% of full "
                   "attention (%s mean); whole device KV mean %.1f%%; pages recalled %lld, "
                   "demoted %lld\n",
                   a.mean_percent, a.peak_percent, format_bytes((int64_t)a.mean_bytes).c_str(),
                   b.mean_percent, (long long)session.kv().pages_moved_to_device(),
                   (long long)session.kv().pages_moved_from_device());
      if (run_policy->attended_fraction() >= 0) {
        std::fprintf(stderr, "policy %s: attention read %.1f%% of the resident history per step\n",
                     run_policy->name().c_str(), 100 * run_policy->attended_fraction());
      }
    }
    return Status::ok();
  };

  if (oracle) {
    AttentionMassRecorder recorder(options.memory.chunk_tokens);
    Status st = run(nullptr, &recorder, false);
    if (!st) return fail(st);
    st = run(std::make_unique<OraclePolicy>(budget, recorder.trace()), nullptr, true);
    if (!st) return fail(st);
  } else {
    Status st = run(nullptr, nullptr, true);
    if (!st) return fail(st);
  }
  return 0;
}

}  // namespace fm::cli
