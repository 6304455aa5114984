// Bounded prefill end to end on tiny random models: with a device budget of a few pages,
// far below the prompt, prefill and decode give bit-identical logits to the untiered
// engine (full attention reads host and disk chunks too), while the device tier never
// holds more than its budget.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kv/cpu_device_arena.h"
#include "kv/kv_test_support.h"
#include "model/tiny_model.h"

namespace fm {
namespace {

// The CPU arena, remembering the most bytes it ever held.
class PeakRecordingDevice final : public test::ArenaBackedDevice {
 public:
  PeakRecordingDevice(int64_t slot_bytes, int64_t budget_bytes, int64_t* peak)
      : test::ArenaBackedDevice(slot_bytes, budget_bytes), peak_(peak) {}
  std::optional<int32_t> allocate_slot() override {
    auto slot = arena_.allocate_slot();
    *peak_ = std::max(*peak_, arena_.bytes_used());
    return slot;
  }

 private:
  int64_t* peak_;
};

struct PrefillRun {
  std::vector<float> prefill_logits;  // every prompt row
  std::vector<std::vector<float>> decode_logits;
  int64_t device_peak_bytes = 0;
  int64_t pages_off_device = 0, pages_on_disk = 0;
};

constexpr int kChunkTokens = 4, kBlockTokens = 8;

PrefillRun run(const Model& model, const std::vector<int32_t>& prompt, const std::vector<int32_t>& next,
        const KvTierOptions* tiers) {
  ThreadPool pool(2);
  ForwardState state(model.config(), kChunkTokens, kBlockTokens);
  PrefillRun out;
  if (tiers) {
    const int64_t page_bytes = state.kv.layout().chunk_bytes() * tiers->chunks_per_page;
    auto device = std::make_unique<PeakRecordingDevice>(page_bytes, tiers->device_budget_bytes,
                                                        &out.device_peak_bytes);
    const Status st = state.kv.configure_tiers(*tiers, std::move(device));
    EXPECT_TRUE(st) << st.message();
  }
  EXPECT_TRUE(model.forward(state, prompt, /*all_logits=*/true, out.prefill_logits, pool));
  EXPECT_TRUE(state.kv.status()) << state.kv.status().message();
  for (int32_t t : next) {
    std::vector<float> logits;
    EXPECT_TRUE(model.forward(state, std::span<const int32_t>(&t, 1), false, logits, pool));
    out.decode_logits.push_back(std::move(logits));
  }
  EXPECT_TRUE(state.kv.status()) << state.kv.status().message();
  if (!tiers) out.device_peak_bytes = state.kv.tier_bytes(Tier::kDevice);
  out.pages_off_device = state.kv.n_pages() - state.kv.tier_pages(Tier::kDevice);
  out.pages_on_disk = state.kv.tier_pages(Tier::kDisk);
  return out;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class BoundedPrefill : public ::testing::TestWithParam<std::string> {};

TEST_P(BoundedPrefill, GivesBitIdenticalLogitsWithinAFewPagesOfDevice) {
  test::TinyModelSpec spec;
  spec.architecture = GetParam();
  auto tiny = test::load_tiny_model(spec);
  std::mt19937 rng(4);
  std::vector<int32_t> prompt(61), next(11);
  for (auto& t : prompt) t = (int32_t)(rng() % spec.n_vocab);
  for (auto& t : next) t = (int32_t)(rng() % spec.n_vocab);
  const PrefillRun reference = run(*tiny.model, prompt, next, nullptr);

  test::TempFolder folder;
  const int64_t chunk_bytes = ForwardState(tiny.model->config(), kChunkTokens, kBlockTokens).kv.layout().chunk_bytes();
  struct Case {
    const char* name;
    int chunks_per_page;
    int64_t device_pages, host_pages;
    bool disk;
  };
  // A block of 8 tokens touches at most 3 pages of 4 positions, 2 of 8.
  for (const Case c : {Case{"device+host", 1, 4, 0, false}, Case{"device+host+disk", 1, 3, 2, true},
                       Case{"2-chunk pages, mostly disk", 2, 2, 1, true}}) {
    SCOPED_TRACE(c.name);
    KvTierOptions tiers;
    tiers.chunks_per_page = c.chunks_per_page;
    tiers.device_budget_bytes = c.device_pages * c.chunks_per_page * chunk_bytes;
    tiers.host_budget_bytes = c.host_pages * c.chunks_per_page * chunk_bytes;
    if (c.disk) tiers.disk_directory = folder.path();
    const PrefillRun bounded = run(*tiny.model, prompt, next, &tiers);
    EXPECT_TRUE(bit_identical(bounded.prefill_logits, reference.prefill_logits));
    ASSERT_EQ(bounded.decode_logits.size(), reference.decode_logits.size());
    for (size_t i = 0; i < next.size(); ++i) {
      EXPECT_TRUE(bit_identical(bounded.decode_logits[i], reference.decode_logits[i])) << "decode step " << i;
    }
    EXPECT_LE(bounded.device_peak_bytes, tiers.device_budget_bytes);
    EXPECT_LT(bounded.device_peak_bytes * 3, reference.device_peak_bytes);  // really bounded
    EXPECT_GT(bounded.pages_off_device, 0);
    if (c.disk) EXPECT_GT(bounded.pages_on_disk, 0);
  }
  EXPECT_EQ(folder.n_files(), 0);
}

INSTANTIATE_TEST_SUITE_P(Architectures, BoundedPrefill, ::testing::Values("gemma3", "llama"));

}  // namespace
}  // namespace fm
