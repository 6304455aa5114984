// `flashmem serve`: the OpenAI-compatible server (src/server).
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/policy_args.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "server/http_server.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {

namespace {

int fail(const Status& s) {
  std::fprintf(stderr, "flashmem serve: %s\n", s.message().c_str());
  return 1;
}

std::string model_id_of(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) name.resize(name.size() - 5);
  return name;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  auto parsed = Args::parse(argc, argv, {});
  if (!parsed) return fail(parsed.status());
  const Args& args = *parsed;
  const std::set<std::string> known = {"-m", "--host", "--port", "--policy", "--budget", "--indexer",
                                       "--lsa-prompt-share", "--recency-tokens", "--indexer-queries", "--indexer-combine", "--indexer-entry-tokens", "--lsa-cycle", "--level2-top-k", "--seed", "--device-budget",
                                       "--host-budget", "--disk", "--parallel", "--api-key", "-t", "--ctx",
                                       "--chunk", "--queue", "--queue-timeout", "--max-tokens", "--alias",
                                       "--prefill-part", "--cache-slots", "--max-body", "--store", "--role", "--store-lease"};
  for (const auto& u : args.unknown(known)) return fail(Status::error("unknown option " + u));
  if (!args.has("-m")) return fail(Status::error("give a model with -m MODEL.gguf"));

  server::ServerOptions o;
  o.model_path = args.get("-m");
  o.model_id = args.has("--alias") ? args.get("--alias") : model_id_of(o.model_path);
  if (args.has("--host")) o.host = args.get("--host");
  o.api_key = args.get("--api-key");
  struct IntOption {
    const char* name;
    long long lo, hi;
    int* out;
  };
  int port = o.port, threads = ThreadPool::default_threads();
  const IntOption ints[] = {{"--port", 0, 65535, &port},
                            {"-t", 1, 1024, &threads},
                            {"--parallel", 1, 256, &o.parallel},
                            {"--queue", 0, 100000, &o.queue_size},
                            {"--max-tokens", 1, 1 << 24, &o.max_tokens_default},
                            {"--ctx", 0, 1 << 24, &o.context_tokens},
                            {"--chunk", 1, 65536, &o.chunk_tokens},
                            {"--prefill-part", 1, 1 << 20, &o.prefill_part_tokens},
                            {"--cache-slots", 0, 4096, &o.anonymous_cache}};
  for (const IntOption& opt : ints) {
    auto v = args.get_int(opt.name, *opt.out);
    if (!v) return fail(v.status());
    if (*v < opt.lo || *v > opt.hi) {
      return fail(Status::error(std::string(opt.name) + " must be in " + std::to_string(opt.lo) + ".." +
                                std::to_string(opt.hi)));
    }
    *opt.out = (int)*v;
  }
  o.port = port;
  o.threads = threads;
  auto timeout = args.get_float("--queue-timeout", o.queue_timeout_seconds);
  if (!timeout) return fail(timeout.status());
  if (*timeout <= 0) return fail(Status::error("--queue-timeout must be positive (seconds)"));
  o.queue_timeout_seconds = *timeout;
  auto body = args.get_float("--max-body", (double)o.max_body_bytes / (1 << 20));
  if (!body || *body <= 0) return fail(Status::error("--max-body must be positive (MiB)"));
  o.max_body_bytes = (int64_t)(*body * (1 << 20));
  auto spec = policy_spec_from_args(args);
  if (!spec) return fail(spec.status());
  o.policy = *spec;
  KvTierOptions tiers;
  if (Status st = apply_tier_args(args, tiers); !st) return fail(st);
  o.device_budget_bytes = tiers.device_budget_bytes;
  o.host_budget_bytes = tiers.host_budget_bytes;
  o.disk_directory = tiers.disk_directory;
  o.store_url = args.get("--store");
  const std::string role = args.get("--role", "both");
  if (role != "both" && role != "prefill") return fail(Status::error("--role must be 'both' or 'prefill'"));
  o.prefill_only = role == "prefill";
  auto lease = args.get_float("--store-lease", o.store_lease_seconds);
  if (!lease || *lease < 0.1 || *lease > 86400) return fail(Status::error("--store-lease must be 0.1..86400 seconds"));
  o.store_lease_seconds = *lease;
  if (o.prefill_only && o.store_url.empty()) {
    return fail(Status::error("--role prefill hands its sequences on through the store: give --store redis://HOST:PORT"));
  }

  auto engine = engine::Engine::load(o.model_path, o.threads);
  if (!engine) return fail(engine.status());
  // The policy is built once here so that a bad setting fails at start, not per request.
  auto probe = make_policy_from_spec(o.policy, (*engine)->config(), o.chunk_tokens);
  if (!probe) return fail(probe.status());
  Status st = server::serve(**engine, o);
  if (!st) return fail(st);
  return 0;
}

}  // namespace fm::cli
