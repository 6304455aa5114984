// What a policy must hold on the device: the admission estimate and the device budget
// that eval, generate and bench give each policy from its --budget.
#include <gtest/gtest.h>

#include "memory/residency_estimate.h"

namespace fm {
namespace {

KvLayout layout() {
  KvLayout L;
  L.n_global_layers = 3;
  L.n_local_layers = 15;
  L.n_kv_heads = 1;
  L.head_dim = 256;
  L.chunk_tokens = 64;
  L.window_tokens = 512;
  return L;
}

PolicySpec spec(const std::string& name, double fraction) {
  PolicySpec s;
  s.name = name;
  s.budget_fraction = fraction;
  return s;
}

TEST(ResidencyEstimate, KeepAllPoliciesNeedEveryPageAndGetNoCap) {
  const KvLayout L = layout();
  const int64_t chunks = (32768 + 63) / 64;
  for (const char* name : {"full", "quest", "none"}) {
    EXPECT_EQ(global_device_bytes(spec(name, 0.1), L, 32768), chunks * L.chunk_bytes()) << name;
    EXPECT_EQ(device_budget_for(spec(name, 0.1), L, 32768, 1), 0) << name;
  }
  EXPECT_EQ(device_budget_for(spec("lsa", 1.0), L, 32768, 1), 0);  // a 100% budget keeps all
}

TEST(ResidencyEstimate, ABudgetedPolicyGetsItsShareInWholePages) {
  const KvLayout L = layout();
  const int64_t full = global_device_bytes(spec("full", 1), L, 32768);
  for (const char* name : {"lsa", "snapkv", "streaming", "oracle"}) {
    const int64_t need = global_device_bytes(spec(name, 0.1), L, 32768);
    // 10% of the chunks, rounded down: the sink, tail, open chunk and what a cycle opens
    // count inside it (memory/policy.h: selection_cap).
    EXPECT_LE(need, full / 10) << name;
    EXPECT_GT(need, full / 10 - L.chunk_bytes()) << name;
    for (int per_page : {1, 4}) {
      const int64_t cap = device_budget_for(spec(name, 0.1), L, 32768, per_page);
      const int64_t page = L.chunk_bytes() * per_page;
      EXPECT_EQ(cap % page, 0) << name;
      EXPECT_GE(cap, need) << name;
      EXPECT_LT(cap, need + page) << name;
    }
  }
  // A short sequence still gets a page; the estimate never exceeds everything.
  EXPECT_EQ(device_budget_for(spec("lsa", 0.1), L, 1, 1), L.chunk_bytes());
  EXPECT_EQ(global_device_bytes(spec("lsa", 0.1), L, 320), 5 * L.chunk_bytes());
}

}  // namespace
}  // namespace fm
