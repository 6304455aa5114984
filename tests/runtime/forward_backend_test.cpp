// Sessions on a forward backend (model/forward_backend.h): the session hands the backend
// every forward pass, fork and reset, and gets what the CPU path gives. The backend here
// is the CPU model itself behind the interface, so results must match bit for bit.
#include "model/forward_backend.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "memory/policy.h"
#include "model/tiny_model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace fm {
namespace {

struct CountingSequence : BackendSequence {
  explicit CountingSequence(int id) : id(id) {}
  int id;
};

// Runs Model::forward / forward_batch with its own pool and batch scratch, honouring
// state.host_logits and setting state.greedy_token as the CUDA backend does
// (cuda_step.cpp: the argmax of the last row; logits copied only where asked for).
class CpuTestBackend final : public ForwardBackend {
 public:
  CpuTestBackend(const Model& model, int max_batch) : model_(model), pool_(2), scratch_(model.config(), max_batch) {}

  std::string name() const override { return "cpu-test"; }

  Status attach(ForwardState& state, const KvTierOptions& tiers) override {
    ++attach_calls;
    if (fail_attach) return Status::error("cpu-test: attach refused");
    attached_tiers = tiers;
    FM_RETURN_IF_ERROR(state.kv.configure_tiers(tiers));
    state.backend = std::make_unique<CountingSequence>(attach_calls);
    return Status::ok();
  }

  Status forward(ForwardState& state, std::span<const int32_t> tokens, bool all_logits,
                 std::vector<float>& logits) override {
    ++forward_calls;
    if (!dynamic_cast<CountingSequence*>(state.backend.get())) return Status::error("cpu-test: not attached");
    std::vector<float>& out = state.host_logits ? logits : device_logits_;
    FM_RETURN_IF_ERROR(model_.forward(state, tokens, all_logits, out, pool_));
    const size_t V = (size_t)model_.n_vocab();
    state.greedy_token = Sampler::argmax(std::span<const float>(out).subspan(out.size() - V, V));
    if (!state.host_logits) logits.clear();
    return Status::ok();
  }

  Status forward_batch(std::span<ForwardState* const> states, std::span<const int32_t> tokens,
                       std::span<float* const> logits) override {
    ++forward_batch_calls;
    batch_sizes.push_back((int)states.size());
    const size_t V = (size_t)model_.n_vocab();
    device_logits_.resize(states.size() * V);
    std::vector<float*> rows;
    for (size_t i = 0; i < states.size(); ++i) {
      if (!dynamic_cast<CountingSequence*>(states[i]->backend.get())) return Status::error("cpu-test: not attached");
      if (states[i]->host_logits != (logits[i] != nullptr)) ++mismatched_logit_rows;
      rows.push_back(device_logits_.data() + i * V);
    }
    FM_RETURN_IF_ERROR(model_.forward_batch(states, tokens, rows, scratch_, pool_));
    for (size_t i = 0; i < states.size(); ++i) {
      states[i]->greedy_token = Sampler::argmax(std::span<const float>(rows[i], V));
      if (logits[i]) std::memcpy(logits[i], rows[i], V * sizeof(float));
    }
    return Status::ok();
  }

  Status copy_sequence(ForwardState& target, const ForwardState& source) override {
    ++copy_calls;
    if (!target.backend || !source.backend) return Status::error("cpu-test: copy of a sequence not attached");
    return target.kv.copy_contents_from(source.kv);
  }

  void reset_sequence(ForwardState& state) override {
    ++reset_calls;
    tokens_at_reset.push_back(state.kv.n_tokens());
  }

  int attach_calls = 0, forward_calls = 0, forward_batch_calls = 0, copy_calls = 0, reset_calls = 0;
  int mismatched_logit_rows = 0;
  bool fail_attach = false;
  std::vector<int> batch_sizes;
  std::vector<int32_t> tokens_at_reset;
  KvTierOptions attached_tiers;

 private:
  const Model& model_;
  ThreadPool pool_;
  ForwardScratch scratch_;
  std::vector<float> device_logits_;  // where the "device" keeps logits nobody asked for
};

SessionOptions options(ForwardBackend* backend) {
  SessionOptions opt;
  opt.chunk_tokens = 4;
  opt.max_block_tokens = 16;
  opt.recall_lead_steps = 2;
  opt.backend = backend;
  return opt;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class ForwardBackendTest : public ::testing::Test {
 protected:
  ForwardBackendTest() : tiny_(test::load_tiny_model({})), pool_(2), backend_(model(), 4) {}
  const Model& model() const { return *tiny_.model; }
  test::TinyModel tiny_;
  ThreadPool pool_;
  CpuTestBackend backend_;
};

TEST_F(ForwardBackendTest, ASessionOnTheBackendGivesTheCpuSessionsLogitsBitForBit) {
  Session cpu(model(), pool_, options(nullptr));
  Session on(model(), pool_, options(&backend_));
  EXPECT_EQ(backend_.attach_calls, 1);
  const std::vector<int32_t> prompt = test::random_tokens(37, model().n_vocab(), 3);  // several prefill blocks
  ASSERT_TRUE(cpu.prefill(prompt));
  ASSERT_TRUE(on.prefill(prompt));
  EXPECT_EQ(backend_.forward_calls, 1);
  ASSERT_FALSE(on.last_logits().empty());
  EXPECT_TRUE(same_bits(cpu.last_logits(), on.last_logits()));
  const std::vector<int32_t> feed = test::random_tokens(12, model().n_vocab(), 4);
  for (int32_t t : feed) {
    ASSERT_TRUE(cpu.decode(t));
    ASSERT_TRUE(on.decode(t));
    EXPECT_TRUE(same_bits(cpu.last_logits(), on.last_logits())) << "at " << on.n_past() << " tokens";
    EXPECT_EQ(on.greedy_token(), cpu.greedy_token());
  }
  EXPECT_EQ(backend_.forward_calls, 1 + (int)feed.size());
  EXPECT_EQ(backend_.forward_batch_calls, 0);
  EXPECT_EQ(on.n_past(), cpu.n_past());
  EXPECT_EQ(on.kv().total_bytes(), cpu.kv().total_bytes());
}

TEST_F(ForwardBackendTest, AttachConfiguresTheTiersAPolicyMovesAndLogitsStayBitIdentical) {
  const KvLayout layout = kv_layout_for(model().config(), 4);
  SessionOptions cpu_opt = options(nullptr), on_opt = options(&backend_);
  cpu_opt.kv_tiers.device_budget_bytes = on_opt.kv_tiers.device_budget_bytes = 6 * layout.chunk_bytes();
  Session cpu(model(), pool_, cpu_opt);
  Session on(model(), pool_, on_opt);
  EXPECT_EQ(backend_.attached_tiers.device_budget_bytes, 6 * layout.chunk_bytes());
  EXPECT_EQ(on.kv().tier_options().device_budget_bytes, 6 * layout.chunk_bytes());
  PolicyBudget budget;
  budget.fraction = 0.3;
  budget.recency_tokens = 8;
  auto p1 = make_policy("recency", budget, 1).value();
  auto p2 = make_policy("recency", budget, 1).value();
  cpu.set_policy(p1.get());
  on.set_policy(p2.get());
  const std::vector<int32_t> prompt = test::random_tokens(60, model().n_vocab(), 8);
  ASSERT_TRUE(cpu.prefill(prompt));
  ASSERT_TRUE(on.prefill(prompt));
  for (int32_t t : test::random_tokens(30, model().n_vocab(), 9)) {
    ASSERT_TRUE(cpu.decode(t));
    ASSERT_TRUE(on.decode(t));
    ASSERT_TRUE(same_bits(cpu.last_logits(), on.last_logits())) << "at " << on.n_past() << " tokens";
  }
  EXPECT_LT(on.footprint().mean_fraction, 0.8);  // the policy did narrow attention
  EXPECT_GT(on.kv().tier_pages(Tier::kHost), 0);  // and pages left the device
  EXPECT_EQ(on.footprint().mean_fraction, cpu.footprint().mean_fraction);
}

TEST_F(ForwardBackendTest, AnAttachErrorIsTheSessionsError) {
  backend_.fail_attach = true;
  Session on(model(), pool_, options(&backend_));
  const Status st = on.prefill(test::random_tokens(5, model().n_vocab(), 1));
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("attach refused"), std::string::npos) << st.message();
  EXPECT_EQ(backend_.forward_calls, 0);
}

TEST_F(ForwardBackendTest, DecodeBatchRoutesThroughForwardBatchAndMatchesTheCpuBatch) {
  std::vector<std::unique_ptr<Session>> cpu, on;
  for (int i = 0; i < 3; ++i) {
    cpu.push_back(std::make_unique<Session>(model(), pool_, options(nullptr)));
    on.push_back(std::make_unique<Session>(model(), pool_, options(&backend_)));
    const auto prompt = test::random_tokens(10 + 7 * i, model().n_vocab(), 20 + i);
    ASSERT_TRUE(cpu.back()->prefill(prompt));
    ASSERT_TRUE(on.back()->prefill(prompt));
  }
  const int forwards_after_prefill = backend_.forward_calls;
  ForwardScratch scratch(model().config(), 3);
  std::vector<Session*> c{cpu[0].get(), cpu[1].get(), cpu[2].get()};
  std::vector<Session*> o{on[0].get(), on[1].get(), on[2].get()};
  for (int step = 0; step < 6; ++step) {
    const std::vector<int32_t> tokens = test::random_tokens(3, model().n_vocab(), 100 + step);
    ASSERT_TRUE(Session::decode_batch(c, tokens, scratch));
    const Status st = Session::decode_batch(o, tokens, scratch);
    ASSERT_TRUE(st) << st.message();
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(same_bits(cpu[i]->last_logits(), on[i]->last_logits())) << "session " << i << " step " << step;
      EXPECT_EQ(on[i]->greedy_token(), cpu[i]->greedy_token());
    }
  }
  EXPECT_EQ(backend_.forward_batch_calls, 6);
  EXPECT_EQ(backend_.batch_sizes, std::vector<int>(6, 3));
  EXPECT_EQ(backend_.forward_calls, forwards_after_prefill) << "a batched step went through forward()";
  EXPECT_EQ(backend_.mismatched_logit_rows, 0);
}

TEST_F(ForwardBackendTest, WithHostLogitsOffLastLogitsAreEmptyAndGreedyTokenIsTheArgmax) {
  Session cpu(model(), pool_, options(nullptr));
  Session on(model(), pool_, options(&backend_));
  on.set_host_logits(false);
  const auto prompt = test::random_tokens(21, model().n_vocab(), 5);
  ASSERT_TRUE(cpu.prefill(prompt));
  ASSERT_TRUE(on.prefill(prompt));
  EXPECT_TRUE(on.last_logits().empty());
  ASSERT_EQ(cpu.last_logits().size(), (size_t)model().n_vocab());
  EXPECT_EQ(cpu.greedy_token(), Sampler::argmax(cpu.last_logits()));  // the CPU path: from its logits
  EXPECT_EQ(on.greedy_token(), cpu.greedy_token());
  // Greedy decoding on the argmax alone follows the CPU's greedy path.
  for (int step = 0; step < 10; ++step) {
    const int32_t next = cpu.greedy_token();
    ASSERT_GE(next, 0);
    ASSERT_TRUE(cpu.decode(next));
    ASSERT_TRUE(on.decode(on.greedy_token()));
    EXPECT_TRUE(on.last_logits().empty());
    EXPECT_EQ(on.greedy_token(), Sampler::argmax(cpu.last_logits())) << "step " << step;
  }
  EXPECT_EQ(on.n_past(), cpu.n_past());
  // On again: logits come back.
  on.set_host_logits(true);
  ASSERT_TRUE(cpu.decode(3));
  ASSERT_TRUE(on.decode(3));
  EXPECT_TRUE(same_bits(cpu.last_logits(), on.last_logits()));
}

TEST_F(ForwardBackendTest, InABatchOnlyTheSessionsWithHostLogitsOffGoWithout) {
  Session cpu_a(model(), pool_, options(nullptr)), cpu_b(model(), pool_, options(nullptr));
  Session a(model(), pool_, options(&backend_)), b(model(), pool_, options(&backend_));
  for (Session* s : {&cpu_a, &a}) ASSERT_TRUE(s->prefill(test::random_tokens(9, model().n_vocab(), 1)));
  for (Session* s : {&cpu_b, &b}) ASSERT_TRUE(s->prefill(test::random_tokens(14, model().n_vocab(), 2)));
  b.set_host_logits(false);
  ForwardScratch scratch(model().config(), 2);
  for (int step = 0; step < 4; ++step) {
    const int32_t tokens[] = {(int32_t)(11 + step), (int32_t)(40 + step)};
    Session* cpus[] = {&cpu_a, &cpu_b};
    Session* ons[] = {&a, &b};
    ASSERT_TRUE(Session::decode_batch(cpus, tokens, scratch));
    ASSERT_TRUE(Session::decode_batch(ons, tokens, scratch));
    EXPECT_TRUE(same_bits(a.last_logits(), cpu_a.last_logits()));
    EXPECT_TRUE(b.last_logits().empty());
    EXPECT_EQ(a.greedy_token(), cpu_a.greedy_token());
    EXPECT_EQ(b.greedy_token(), Sampler::argmax(cpu_b.last_logits()));
  }
  EXPECT_EQ(backend_.mismatched_logit_rows, 0) << "a null logits row must mean host_logits off, and only that";
}

TEST_F(ForwardBackendTest, ForkBetweenBackendSessionsCallsCopySequence) {
  Session base(model(), pool_, options(&backend_));
  Session cpu_base(model(), pool_, options(nullptr));
  const auto prompt = test::random_tokens(45, model().n_vocab(), 6);
  ASSERT_TRUE(base.prefill(prompt));
  ASSERT_TRUE(cpu_base.prefill(prompt));
  Session fork(model(), pool_, options(&backend_));
  Session cpu_fork(model(), pool_, options(nullptr));
  ASSERT_TRUE(fork.prefill(test::random_tokens(3, model().n_vocab(), 7)));  // something to drop
  const int resets = backend_.reset_calls;
  ASSERT_TRUE(fork.fork_kv_from(base));
  ASSERT_TRUE(cpu_fork.fork_kv_from(cpu_base));
  EXPECT_EQ(backend_.copy_calls, 1);
  EXPECT_EQ(backend_.reset_calls, resets + 1);  // the fork starts from a reset sequence
  EXPECT_EQ(backend_.tokens_at_reset.back(), 0) << "reset_sequence runs after the store is cleared";
  EXPECT_EQ(fork.n_past(), base.n_past());
  // Prefilling the last prompt token again (as fork_kv_from asks) gives the CPU fork's logits.
  const int32_t last = prompt.back();
  ASSERT_TRUE(fork.prefill(std::span<const int32_t>(&last, 1)));
  ASSERT_TRUE(cpu_fork.prefill(std::span<const int32_t>(&last, 1)));
  EXPECT_TRUE(same_bits(fork.last_logits(), cpu_fork.last_logits()));
}

TEST_F(ForwardBackendTest, ForkAndDecodeBatchRefuseSessionsOnDifferentBackends) {
  CpuTestBackend other(model(), 4);
  Session a(model(), pool_, options(&backend_));
  Session b(model(), pool_, options(&other));
  Session cpu(model(), pool_, options(nullptr));
  for (Session* s : {&a, &b, &cpu}) ASSERT_TRUE(s->prefill(test::random_tokens(8, model().n_vocab(), 2)));
  ForwardScratch scratch(model().config(), 2);
  const int32_t tokens[] = {5, 6};
  const int forwards_a = backend_.forward_calls, forwards_b = other.forward_calls;
  Session* ab[] = {&a, &b};
  Status st = Session::decode_batch(ab, tokens, scratch);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("backend"), std::string::npos) << st.message();
  Session* a_cpu[] = {&a, &cpu};
  EXPECT_FALSE(Session::decode_batch(a_cpu, tokens, scratch));
  Session* cpu_a[] = {&cpu, &a};
  EXPECT_FALSE(Session::decode_batch(cpu_a, tokens, scratch));
  EXPECT_EQ(backend_.forward_batch_calls, 0);
  EXPECT_EQ(other.forward_batch_calls, 0);
  EXPECT_EQ(backend_.forward_calls, forwards_a);
  EXPECT_EQ(other.forward_calls, forwards_b);
  EXPECT_EQ(a.n_past(), 8);
  EXPECT_EQ(b.n_past(), 8);
  EXPECT_EQ(cpu.n_past(), 8);

  st = b.fork_kv_from(a);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("different backends"), std::string::npos) << st.message();
  EXPECT_FALSE(cpu.fork_kv_from(a));
  EXPECT_FALSE(a.fork_kv_from(cpu));
  EXPECT_EQ(backend_.copy_calls, 0);
  EXPECT_EQ(other.copy_calls, 0);
}

TEST_F(ForwardBackendTest, ResetTellsTheBackendAndTheSequenceStartsAfresh) {
  Session cpu(model(), pool_, options(nullptr));
  Session on(model(), pool_, options(&backend_));
  ASSERT_TRUE(on.prefill(test::random_tokens(12, model().n_vocab(), 1)));
  on.reset();
  EXPECT_EQ(backend_.reset_calls, 1);
  EXPECT_EQ(backend_.tokens_at_reset, std::vector<int32_t>{0});
  EXPECT_EQ(on.n_past(), 0);
  EXPECT_EQ(on.greedy_token(), -1);
  const auto prompt = test::random_tokens(17, model().n_vocab(), 2);
  ASSERT_TRUE(on.prefill(prompt));
  ASSERT_TRUE(cpu.prefill(prompt));
  EXPECT_TRUE(same_bits(cpu.last_logits(), on.last_logits()));
}

}  // namespace
}  // namespace fm
