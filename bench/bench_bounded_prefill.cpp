// Bounded prefill: what it costs to prefill a prompt with exact full attention while the
// device tier holds only a few pages of the global layers' KV (the rest on host, or on
// host and disk, read back by KvStore::global_runs). Prints one table row per setting:
// wall time, tokens/s, the slowdown against the untiered engine, device peak and moves,
// and checks that the last logits are bit-identical to the untiered run.
//
// Build (after building the library in build-kv):
//   g++ -std=c++20 -O3 -Isrc bench/bench_bounded_prefill.cpp build-kv/libflashmem.a -lpthread
//       -o build-kv/bench_bounded_prefill
// Run:
//   build-kv/bench_bounded_prefill MODEL.gguf [prompt_tokens=4096] [threads=2] [chunk_tokens=64]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"

namespace {

struct Setting {
  const char* name;
  int64_t device_pages;  // 0: unbounded (the untiered engine)
  int64_t host_pages;    // 0: unbounded
  bool disk;
};

struct Outcome {
  double seconds = 0;
  std::vector<float> logits;
  int64_t device_bytes = 0, host_bytes = 0, disk_bytes = 0, moved_out = 0;
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

fm::Result<Outcome> prefill(const fm::Model& model, const std::vector<int32_t>& prompt, int chunk_tokens,
                            const Setting& s, fm::ThreadPool& pool) {
  const int block = 256;
  fm::ForwardState state(model.config(), chunk_tokens, block);
  if (s.device_pages > 0) {
    fm::KvTierOptions tiers;
    const int64_t page = state.kv.layout().chunk_bytes();
    tiers.device_budget_bytes = s.device_pages * page;
    tiers.host_budget_bytes = s.host_pages * page;
    if (s.disk) tiers.disk_directory = std::filesystem::temp_directory_path().string();
    FM_RETURN_IF_ERROR(state.kv.configure_tiers(tiers));
  }
  Outcome out;
  const double t0 = now_seconds();
  FM_RETURN_IF_ERROR(model.forward(state, prompt, false, out.logits, pool));
  out.seconds = now_seconds() - t0;
  FM_RETURN_IF_ERROR(state.kv.status());
  out.device_bytes = state.kv.tier_bytes(fm::Tier::kDevice);
  out.host_bytes = state.kv.tier_bytes(fm::Tier::kHost);
  out.disk_bytes = state.kv.tier_bytes(fm::Tier::kDisk);
  out.moved_out = state.kv.pages_moved_from_device();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf [prompt_tokens] [threads] [chunk_tokens]\n", argv[0]);
    return 2;
  }
  const int n_prompt = argc > 2 ? std::atoi(argv[2]) : 4096;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const int chunk_tokens = argc > 4 ? std::atoi(argv[4]) : 64;
  auto model = fm::Model::load(argv[1]);
  if (!model) {
    std::fprintf(stderr, "%s\n", model.status().message().c_str());
    return 1;
  }
  fm::ThreadPool pool(threads);
  std::mt19937 rng(1);
  std::vector<int32_t> prompt(n_prompt);
  for (auto& t : prompt) t = (int32_t)(rng() % (uint32_t)model.value()->n_vocab());

  // A block of 256 tokens touches at most 256 / chunk_tokens + 1 pages: the device floor.
  const int64_t floor_pages = 256 / chunk_tokens + 1;
  const Setting settings[] = {
      {"untiered (full device)", 0, 0, false},
      {"device floor+2, rest host", floor_pages + 2, 0, false},
      {"device floor+2, host 4, rest disk", floor_pages + 2, 4, true},
  };
  std::printf("prompt %d tokens, chunk %d tokens, %d threads, block 256\n\n", n_prompt, chunk_tokens, threads);
  std::printf("| setting | seconds | tok/s | vs untiered | device MB | host MB | disk MB | pages moved down | logits |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  Outcome reference;
  for (const Setting& s : settings) {
    auto r = prefill(*model.value(), prompt, chunk_tokens, s, pool);
    if (!r) {
      std::fprintf(stderr, "%s: %s\n", s.name, r.status().message().c_str());
      return 1;
    }
    const Outcome& o = r.value();
    if (s.device_pages == 0) reference = o;
    const bool same = o.logits.size() == reference.logits.size() &&
                      std::memcmp(o.logits.data(), reference.logits.data(), o.logits.size() * 4) == 0;
    std::printf("| %s | %.2f | %.1f | %+.2f%% | %.2f | %.2f | %.2f | %lld | %s |\n", s.name, o.seconds,
                n_prompt / o.seconds, 100.0 * (o.seconds / reference.seconds - 1.0), o.device_bytes / 1e6,
                o.host_bytes / 1e6, o.disk_bytes / 1e6, (long long)o.moved_out,
                same ? "bit-identical" : "DIFFERENT");
  }
  return 0;
}
