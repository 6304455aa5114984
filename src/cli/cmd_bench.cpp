// `flashmem bench`: prefill and decode speed at given context lengths, and the decode
// roofline (bytes that one decode step must read / measured memory bandwidth).
// Side-by-side numbers against llama.cpp come from bench/bench_vs_llamacpp.py, which
// runs this command and llama-cpp-python on the same token ids.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <fstream>
#include <random>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/policy_args.h"
#include "cli/report.h"
#include "core/aligned_buffer.h"
#include "engine/engine.h"
#include "memory/residency_estimate.h"
#include "runtime/sampler.h"

namespace fm::cli {

namespace {

int fail(const Status& s) {
  std::fprintf(stderr, "flashmem bench: %s\n", s.message().c_str());
  return 1;
}

// Streams a buffer much larger than the caches with every thread: the decode ceiling.
double measure_read_bandwidth_gb_s(ThreadPool& pool) {
  const size_t n = (size_t)512 << 20 >> 3;  // 512 MiB of uint64
  AlignedBuffer<uint64_t> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  double best = 0;
  std::vector<uint64_t> sums(pool.size());
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now_seconds();
    pool.run([&](int index, int count) {
      const size_t begin = n * index / count, end = n * (index + 1) / count;
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = begin; i + 4 <= end; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      sums[index] = s0 + s1 + s2 + s3;
    });
    const double seconds = now_seconds() - t0;
    best = std::max(best, buf.size_bytes() / seconds / 1e9);
  }
  return best;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Result<std::vector<int32_t>> read_ids(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::error("cannot open ids file '" + path + "'");
  std::vector<int32_t> ids;
  long long id;
  while (in >> id) ids.push_back((int32_t)id);
  return ids;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  auto parsed = Args::parse(argc, argv, {"--json"});
  if (!parsed) return fail(parsed.status());
  const Args& args = *parsed;
  for (const auto& u : args.unknown({"-m", "--context", "--decode", "-t", "--json", "--chunk",
                                     "--block", "--ids", "--policy", "--budget", "--seed", "--indexer", "--level2-top-k", "--lsa-prompt-share", "--recency-tokens", "--indexer-queries", "--indexer-combine", "--indexer-entry-tokens", "--lsa-cycle",
                                     "--device-budget", "--host-budget", "--disk", "--recall-lead",
                                     "--chunks-per-page", "--rounds"})) {
    return fail(Status::error("unknown option " + u));
  }
  if (!args.has("-m")) return fail(Status::error("give a model with -m MODEL.gguf"));
  auto n_decode = args.get_int("--decode", 32);
  auto threads = args.get_int("-t", ThreadPool::default_threads());
  auto chunk = args.get_int("--chunk", 64);
  auto block = args.get_int("--block", 256);
  for (const Status* s : {&n_decode.status(), &threads.status(), &chunk.status(), &block.status()}) {
    if (!s->is_ok()) return fail(*s);
  }
  std::vector<long long> contexts;
  {
    std::stringstream ss(args.get("--context", "512,4096"));
    std::string item;
    while (std::getline(ss, item, ',')) {
      char* end = nullptr;
      long long v = std::strtoll(item.c_str(), &end, 10);
      if (end && (*end == 'k' || *end == 'K')) v *= 1024, ++end;
      if (item.empty() || *end || v < 1) return fail(Status::error("bad --context '" + item + "'"));
      contexts.push_back(v);
    }
  }
  auto loaded = engine::Engine::load(args.get("-m"), (int)*threads);
  if (!loaded) return fail(loaded.status());
  engine::Engine& engine = **loaded;
  // --policy a,b,c: every policy at every context, side by side in one run ("none" is the
  // engine without a policy).
  std::vector<PolicySpec> policies{PolicySpec()};
  if (args.has("--policy")) {
    policies.clear();
    std::stringstream ss(args.get("--policy"));
    std::string item;
    while (std::getline(ss, item, ',')) {
      auto spec = policy_spec_from_args(args, item);
      if (!spec) return fail(spec.status());
      auto probe = make_policy_from_spec(*spec, engine.config(), (int)*chunk);
      if (!probe) return fail(probe.status());
      policies.push_back(*spec);
    }
  }
  auto recall_lead = args.get_int("--recall-lead", 4);
  if (!recall_lead || *recall_lead < 0) return fail(Status::error("bad --recall-lead"));
  auto rounds = args.get_int("--rounds", 1);
  if (!rounds || *rounds < 1 || *n_decode % *rounds != 0 || *n_decode < *rounds) {
    return fail(Status::error("--rounds must be at least 1 and divide --decode"));
  }
  const Model& m = engine.model();
  const double bandwidth = measure_read_bandwidth_gb_s(engine.pool());

  std::vector<int32_t> given_ids;
  if (args.has("--ids")) {
    auto ids = read_ids(args.get("--ids"));
    if (!ids) return fail(ids.status());
    given_ids = std::move(ids.value());
  }
  const bool json = args.has("--json");
  if (!json) {
    std::printf("model: %s\nthreads %lld, kernels %s, read bandwidth %.1f GB/s, background recall %s\n",
                m.config().describe().c_str(), *threads, kernels::matmul_isa(), bandwidth,
                *recall_lead > 0 ? "on" : "off");
    std::printf("| context | policy | prefill tok/s | decode tok/s (min-max over rounds) | roofline | KV attended mean / peak "
                "| device KV (a) mean / peak | device all (b) mean | decode-thread select + recall + wait "
                "| background |\n|---|---|---|---|---|---|---|---|---|---|\n");
  }
  // Phase 1: prefill one session per (context, policy). Phase 2: decode them in
  // interleaved rounds, every session a slice per round, and report the median round.
  // A shared 2-core machine drifts by 10-20% over minutes; interleaving puts every
  // session through the same drift, so ratios between rows are what the run measures.
  struct Run {
    long long context = 0;
    std::string policy_name;
    std::unique_ptr<engine::Sequence> seq;
    double prefill_seconds = 0;
    double decode_seconds = 0;
    std::vector<double> round_tps;
    int32_t next = 0;
  };
  std::vector<Run> runs;
  for (long long n : contexts) {
    std::vector<int32_t> ids = given_ids;
    if ((long long)ids.size() < n) {
      std::mt19937 rng(1234);
      std::uniform_int_distribution<int32_t> dist(1000, std::min(m.n_vocab(), 200000) - 1);
      while ((long long)ids.size() < n) ids.push_back(dist(rng));
    }
    ids.resize(n);
    for (const PolicySpec& spec : policies) {
      engine::SequenceOptions opened;
      opened.policy = spec;
      SessionOptions& options = opened.memory;
      options.chunk_tokens = (int)*chunk;
      options.max_block_tokens = (int)*block;
      options.max_context_tokens = (int)(n + *n_decode + 1);
      options.background_recall = *recall_lead > 0;
      options.recall_lead_steps = (int)std::max<int64_t>(1, *recall_lead);
      if (Status st = apply_tier_args(args, options.kv_tiers); !st) return fail(st);
      // --budget caps device memory too (see generate): without --device-budget, what the
      // policy needs at the context plus the decoded tokens.
      if (!args.has("--device-budget")) {
        options.kv_tiers.device_budget_bytes = device_budget_for(
            spec, kv_layout_for(m.config(), options.chunk_tokens), n + *n_decode, options.kv_tiers.chunks_per_page);
      }
      Run run;
      run.context = n;
      run.policy_name = spec.name;
      auto seq = engine.open(opened);
      if (!seq) return fail(seq.status());
      run.seq = std::move(*seq);
      const double t0 = now_seconds();
      if (Status st = run.seq->add_tokens(ids); !st) return fail(st);
      run.prefill_seconds = now_seconds() - t0;
      run.next = Sampler::argmax(run.seq->logits());
      runs.push_back(std::move(run));
    }
  }
  for (int64_t round = 0; round < *rounds; ++round) {
    for (Run& run : runs) {
      const int64_t steps = *n_decode / *rounds;
      const double t0 = now_seconds();
      for (int64_t i = 0; i < steps; ++i) {
        if (Status st = run.seq->decode(run.next); !st) return fail(st);
        run.next = Sampler::argmax(run.seq->logits());
      }
      const double seconds = std::max(1e-9, now_seconds() - t0);
      run.decode_seconds += seconds;
      run.round_tps.push_back(steps / seconds);
    }
  }
  for (Run& run : runs) {
    const long long n = run.context;
    const Session& session = run.seq->session();
    const bool has_policy = run.seq->policy() != nullptr;
    const double prefill_tps = n / run.prefill_seconds;
    const double decode_seconds = run.decode_seconds;
    const double decode_tps = median(run.round_tps);
    // A decode step reads every weight once, the attended part of the global layers' KV
    // and the rings.
    const FootprintStats& f = session.footprint();
    const double global_read = has_policy ? f.mean_resident_bytes : (double)session.kv().global_bytes();
    const double bytes = (double)m.weight_bytes_per_token() + global_read + (double)session.kv().local_bytes();
    const double roofline_tps = bandwidth * 1e9 / bytes;
    const FootprintSummary device_a = session.device_footprint().global_layers();
    const FootprintSummary device_b = session.device_footprint().whole_device();
    const std::string policy_label = has_policy ? run.seq->policy()->name() : "none";
    const double on_thread = f.select_seconds + f.recall_seconds + f.wait_seconds;
    const auto [low, high] = std::minmax_element(run.round_tps.begin(), run.round_tps.end());
    if (json) {
      std::printf("{\"context\": %lld, \"prefill_tok_s\": %.3f, \"decode_tok_s\": %.3f, "
                  "\"decode_tok_s_min\": %.3f, \"decode_tok_s_max\": %.3f, \"rounds\": %lld, "
                  "\"bytes_per_token\": %.0f, \"bandwidth_gb_s\": %.3f, \"roofline_fraction\": "
                  "%.4f, \"kv_bytes\": %lld, \"n_vocab\": %d, \"threads\": %lld, \"isa\": \"%s\", "
                  "\"policy\": \"%s\", \"kv_attended_mean\": %.4f, \"kv_attended_peak\": %.4f, "
                  "\"device_a_mean_percent\": %.3f, \"device_a_peak_percent\": %.3f, "
                  "\"device_b_mean_percent\": %.3f, \"decode_thread_overhead\": %.5f, "
                  "\"background_share\": %.5f}\n",
                  n, prefill_tps, decode_tps, *low, *high, (long long)*rounds, bytes, bandwidth,
                  decode_tps / roofline_tps, (long long)session.kv().total_bytes(), m.n_vocab(),
                  *threads, kernels::matmul_isa(), policy_label.c_str(),
                  has_policy ? f.mean_fraction : 1.0, has_policy ? f.peak_fraction : 1.0,
                  device_a.mean_percent, device_a.peak_percent, device_b.mean_percent,
                  on_thread / decode_seconds, f.background_seconds / decode_seconds);
    } else {
      std::printf("| %lld | %s | %.1f | %.1f (%.1f-%.1f) | %.2f | %.1f%% / %.1f%% | %.1f%% / %.1f%% | %.1f%% | "
                  "%.2f%% + %.2f%% + %.2f%% | %.2f%% |\n",
                  n, policy_label.c_str(), prefill_tps, decode_tps, *low, *high, decode_tps / roofline_tps,
                  100 * (has_policy ? f.mean_fraction : 1.0), 100 * (has_policy ? f.peak_fraction : 1.0),
                  device_a.mean_percent, device_a.peak_percent, device_b.mean_percent,
                  100 * f.select_seconds / decode_seconds, 100 * f.recall_seconds / decode_seconds,
                  100 * f.wait_seconds / decode_seconds, 100 * f.background_seconds / decode_seconds);
    }
  }
  // Each policy's decode speed at every context against its own at the first context:
  // the long-context slowdown, from the same interleaved rounds.
  if (!json && contexts.size() > 1) {
    std::printf("\ndecode speed against the same policy at context %lld (median of per-round ratios):\n",
                contexts.front());
    for (const Run& base : runs) {
      if (base.context != contexts.front()) continue;
      for (const Run& run : runs) {
        if (run.context == base.context || run.policy_name != base.policy_name) continue;
        std::vector<double> ratios;
        for (size_t r = 0; r < run.round_tps.size(); ++r) ratios.push_back(run.round_tps[r] / base.round_tps[r]);
        std::printf("  %s at %lld: %.2fx\n", run.policy_name.c_str(), run.context, median(ratios));
      }
    }
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace fm::cli
