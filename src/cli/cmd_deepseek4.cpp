// `flashmem deepseek4-lsa`: greedy decoding of a DeepSeek-V4 GGUF with its compressed entries
// in the tiered store and LSA deciding which pages stay on the device
// (model/deepseek4/lsa.h), printing the device footprint per Level-1 cycle and at the end.
// The tiny checkpoints have a made-up vocabulary, so the prompt is token ids.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "model/deepseek4/lsa.h"

namespace fm::cli {

namespace {

constexpr const char* kCommand = "deepseek4-lsa";

int32_t argmax(const float* logits, int64_t n) {
  return (int32_t)(std::max_element(logits, logits + n) - logits);
}

struct Decoded {
  std::vector<int32_t> tokens;
  std::vector<float> last_logits;
  double prefill_seconds = 0, decode_seconds = 0;
};

// The prompt, then `steps` greedy tokens, each printed cycle as it happens when `verbose`.
Result<Decoded> greedy(deepseek4::LsaSequence& sequence, const std::vector<int32_t>& prompt,
                       int64_t steps, int64_t n_vocab, bool verbose) {
  Decoded out;
  double t0 = now_seconds();
  auto logits = sequence.prefill(prompt);
  if (!logits) return logits.status();
  out.prefill_seconds = now_seconds() - t0;
  int32_t next = argmax(logits->data() + logits->size() - n_vocab, n_vocab);
  size_t cycles_printed = 0;
  t0 = now_seconds();
  for (int64_t step = 0; step < steps; ++step) {
    out.tokens.push_back(next);
    auto step_logits = sequence.decode(next);
    if (!step_logits) return step_logits.status();
    next = argmax(step_logits->data(), n_vocab);
    out.last_logits = std::move(*step_logits);
    for (; verbose && cycles_printed < sequence.cycles().size(); ++cycles_printed) {
      const deepseek4::LsaCycleStats& c = sequence.cycles()[cycles_printed];
      const KvStore& sparse = *sequence.entries().sparse_entries();
      std::printf(
          "cycle at position %5lld: %4lld entries, %4lld over the threshold, %3lld of %3lld pages "
          "on the device"
          " (%lld evicted, %lld recalled); after the step: device %s of %s\n",
          (long long)c.position, (long long)c.stored_entries, (long long)c.passing_entries,
          (long long)c.pages_on_device, (long long)sparse.n_pages(), (long long)c.pages_evicted,
          (long long)c.pages_recalled,
          format_bytes(sequence.device_bytes_per_step().back()).c_str(),
          format_bytes(sequence.full_bytes_per_step().back()).c_str());
    }
  }
  out.decode_seconds = now_seconds() - t0;
  return out;
}

}  // namespace

int cmd_deepseek4_lsa(int argc, char** argv) {
  auto args = Args::parse(argc, argv, {"--no-lsa", "--fp32-index-keys", "--compare-full"});
  if (!args) return report_failure(kCommand, args.status());
  const std::set<std::string> known = {"-m",
                                       "--ids",
                                       "-n",
                                       "--page-entries",
                                       "--kmax",
                                       "--threshold",
                                       "--cycle",
                                       "--sink-entries",
                                       "--recency-entries",
                                       "--evict",
                                       "--disk",
                                       "--no-lsa",
                                       "--fp32-index-keys",
                                       "--compare-full"};
  if (const auto unknown = args->unknown(known); !unknown.empty()) {
    return report_failure(kCommand, Status::error("unknown option " + unknown.front()));
  }
  if (!args->has("-m") || !args->has("--ids")) {
    return report_failure(kCommand, Status::error("give -m MODEL --ids \"ID ID ...\""));
  }
  std::vector<int32_t> prompt;
  {
    std::istringstream s(args->get("--ids"));
    long long id;
    while (s >> id) prompt.push_back((int32_t)id);
  }
  if (prompt.empty())
    return report_failure(kCommand, Status::error("give at least one id with --ids"));
  auto steps = args->get_int("-n", 256);
  auto page_entries = args->get_int("--page-entries", 64);
  auto kmax = args->get_int("--kmax", 4);
  auto threshold = args->get_float("--threshold", 0.5);
  auto cycle = args->get_int("--cycle", 64);
  auto sink = args->get_int("--sink-entries", 1);
  auto recency = args->get_int("--recency-entries", 16);
  for (const Status& st : {steps.status(), page_entries.status(), kmax.status(), threshold.status(),
                           cycle.status(), sink.status(), recency.status()}) {
    if (!st) return report_failure(kCommand, st);
  }
  const std::string evict = args->get("--evict", "host");
  if (evict != "host" && evict != "disk")
    return report_failure(kCommand, Status::error("--evict host|disk"));

  auto model = deepseek4::load_model(args->get("-m"));
  if (!model) return report_failure(kCommand, model.status());
  const deepseek4::Config& config = (*model)->config;

  deepseek4::TieredEntriesOptions store;
  store.page_entries = (int)*page_entries;
  store.index_keys = args->has("--fp32-index-keys") ? deepseek4::IndexKeyFormat::kFloat
                                                    : deepseek4::IndexKeyFormat::kFp8E4M3;
  store.disk_directory = args->get("--disk");
  deepseek4::ForwardOptions forward;
  forward.index_keys = store.index_keys;
  std::optional<deepseek4::LsaOptions> lsa;
  if (!args->has("--no-lsa")) {
    lsa.emplace();
    lsa->cycle_steps = (int)*cycle;
    lsa->threshold = (float)*threshold;
    lsa->sink_entries = (int)*sink;
    lsa->recency_entries = (int)*recency;
    lsa->kmax_pages = (int)*kmax;
    lsa->evict_to = evict == "disk" ? Tier::kDisk : Tier::kHost;
  }
  auto sequence = deepseek4::LsaSequence::create(**model, store, lsa, forward);
  if (!sequence) return report_failure(kCommand, sequence.status());

  std::printf(
      "%s: %d layers, %zu prompt tokens, %lld greedy steps; pages of %d entries (%d tokens), "
      "index keys %s; %s\n",
      args->get("-m").c_str(), config.n_layers, prompt.size(), (long long)*steps,
      store.page_entries, store.page_entries * 4,
      store.index_keys == deepseek4::IndexKeyFormat::kFp8E4M3 ? "fp8 e4m3 + scale" : "fp32",
      lsa ? ("LSA: cycle " + std::to_string(lsa->cycle_steps) + ", threshold " +
             args->get("--threshold", "0.5") + ", sink " + std::to_string(lsa->sink_entries) +
             " and tail " + std::to_string(lsa->recency_entries) + " entries, KMAX " +
             std::to_string(lsa->kmax_pages) + " pages, evicting to " + evict)
                .c_str()
          : "no LSA: every page on the device");
  auto decoded = greedy(**sequence, prompt, *steps, config.n_vocab, true);
  if (!decoded) return report_failure(kCommand, decoded.status());

  const auto& device = (*sequence)->device_bytes_per_step();
  const auto& full = (*sequence)->full_bytes_per_step();
  if (!device.empty()) {
    double device_sum = 0, full_sum = 0;
    int64_t device_peak = 0;
    for (size_t i = 0; i < device.size(); ++i) {
      device_sum += (double)device[i];
      full_sum += (double)full[i];
      device_peak = std::max(device_peak, device[i]);
    }
    const deepseek4::TieredEntries& entries = (*sequence)->entries();
    const KvStore& sparse = *entries.sparse_entries();
    std::printf(
        "footprint of the compressed KV (CSA entries + index keys + HCA entries) on the device: "
        "now %s of %s "
        "(%.1f%%), mean %.1f%% of full, peak %s\n",
        format_bytes(device.back()).c_str(), format_bytes(full.back()).c_str(),
        100.0 * (double)device.back() / (double)full.back(), 100.0 * device_sum / full_sum,
        format_bytes(device_peak).c_str());
    std::printf(
        "  CSA entries: %lld of %lld pages on the device (%s of %s), host %s, disk %s; index keys "
        "%s, "
        "HCA entries %s (always on the device)\n",
        (long long)sparse.tier_pages(Tier::kDevice), (long long)sparse.n_pages(),
        format_bytes(sparse.tier_bytes(Tier::kDevice)).c_str(),
        format_bytes(sparse.global_bytes()).c_str(),
        format_bytes(sparse.tier_bytes(Tier::kHost)).c_str(),
        format_bytes(sparse.tier_bytes(Tier::kDisk)).c_str(),
        format_bytes(entries.index_keys()->global_bytes()).c_str(),
        format_bytes(entries.heavy_entries() ? entries.heavy_entries()->global_bytes() : 0)
            .c_str());
  }
  std::printf(
      "time: prefill %.3f s (%.2f ms/token), decode %.3f s (%.2f ms/token), scalar, 1 thread\n",
      decoded->prefill_seconds, 1e3 * decoded->prefill_seconds / (double)prompt.size(),
      decoded->decode_seconds,
      1e3 * decoded->decode_seconds / (double)std::max<int64_t>(1, *steps));
  std::printf("tokens:");
  for (int32_t t : decoded->tokens) std::printf(" %d", t);
  std::printf("\n");

  if (args->has("--compare-full") && lsa) {
    // The same prompt with every page on the device: where greedy decoding first differs.
    auto full_sequence = deepseek4::LsaSequence::create(**model, store, std::nullopt, forward);
    if (!full_sequence) return report_failure(kCommand, full_sequence.status());
    auto reference = greedy(**full_sequence, prompt, *steps, config.n_vocab, false);
    if (!reference) return report_failure(kCommand, reference.status());
    int64_t same_prefix = 0;
    while (same_prefix < *steps && reference->tokens[same_prefix] == decoded->tokens[same_prefix])
      ++same_prefix;
    int64_t same = 0;
    for (int64_t i = 0; i < *steps; ++i) same += reference->tokens[i] == decoded->tokens[i];
    std::printf(
        "against every page on the device: the first %lld of %lld greedy tokens equal (%lld equal "
        "in all)\n",
        (long long)same_prefix, (long long)*steps, (long long)same);
  }
  return 0;
}

}  // namespace fm::cli
