// The per-row and element-wise kernels of src/cuda/cuda_kernels.cu run by the emulator
// against the CPU kernels (kernels/ops.h, Sampler::argmax): embed_rows, rms_norm_to_bf16,
// add_residual_and_norm, gated_activation, softcap, argmax_rows, scatter_kv_rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/fp16.h"
#include "emulation_test_util.h"
#include "kernels/ops.h"
#include "runtime/sampler.h"

namespace {

using emu_test::bf16_ulp;
using emu_test::Guarded;
using emu_test::to_float;

// Widths below, at and above the 256-thread block, and not multiples of 32.
const int kWidths[] = {1, 7, 64, 100, 256, 257, 640, 1000, 2304};

TEST(CudaEmulationRowKernels, EmbedRows) {
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 1);
  std::mt19937 rng(1);
  const int n_vocab = 37, rows = 5;
  for (int width : kWidths) {
    SCOPED_TRACE("width " + std::to_string(width));
    Guarded<__nv_bfloat16> table((size_t)n_vocab * width, __nv_bfloat16{0}, emu_test::kBf16Nan);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (size_t i = 0; i < table.size(); ++i) table[i] = __nv_bfloat16{fm::fp32_to_bf16(normal(rng))};
    const std::vector<int32_t> tokens = {0, 36, 5, 5, (int32_t)(rng() % n_vocab)};
    const float scale = std::sqrt((float)width);
    Guarded<float> x((size_t)rows * width, emu_test::kNan, -1.0f);
    EMU_EXPECT_LAUNCHES(emu_cuda::embed_rows(table.data(), tokens.data(), rows, width, scale, x.data(), nullptr));
    EXPECT_TRUE(x.guards_intact());
    for (int r = 0; r < rows; ++r) {
      for (int i = 0; i < width; ++i) {
        ASSERT_EQ(x[(size_t)r * width + i], to_float(table[(size_t)tokens[r] * width + i]) * scale)
            << "row " << r << " i " << i;
      }
    }
  }
}

// bf16(rms_norm(x) * w): within one bf16 step of the CPU's fp32 value.
TEST(CudaEmulationRowKernels, RmsNormToBf16) {
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 2);
  std::mt19937 rng(2);
  const int rows = 3;
  const float eps = 1e-6f;
  for (int width : kWidths) {
    SCOPED_TRACE("width " + std::to_string(width));
    const auto x = emu_test::random_floats(rng, (size_t)rows * width, 2.0f);
    const auto w = emu_test::random_floats(rng, width, 0.3f, 1.0f);
    Guarded<__nv_bfloat16> out((size_t)rows * width, emu_test::kBf16Nan, __nv_bfloat16{0x5555});
    EMU_EXPECT_LAUNCHES(emu_cuda::rms_norm_to_bf16(x.data(), w.data(), rows, width, eps, out.data(), nullptr));
    EXPECT_TRUE(out.guards_intact());
    std::vector<float> want(width);
    for (int r = 0; r < rows; ++r) {
      fm::kernels::rms_norm(x.data() + (size_t)r * width, w.data(), want.data(), width, eps);
      for (int i = 0; i < width; ++i) {
        const float got = to_float(out[(size_t)r * width + i]);
        ASSERT_LE(std::abs(got - want[i]), bf16_ulp(want[i])) << "row " << r << " i " << i << " got " << got
                                                              << " want " << want[i];
      }
    }
  }
}

// x += post ? rms_norm(o) * post : o; next = bf16(rms_norm(x) * next_weight), as the CPU
// forward does it (model.cpp: rms_norm of o in place, add_inplace, rms_norm).
TEST(CudaEmulationRowKernels, AddResidualAndNorm) {
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 3);
  std::mt19937 rng(3);
  const int rows = 3;
  const float eps = 1e-6f;
  for (bool with_post : {false, true}) {
    for (int width : kWidths) {
      SCOPED_TRACE("width " + std::to_string(width) + (with_post ? " with post_weight" : " without post_weight"));
      const auto x0 = emu_test::random_floats(rng, (size_t)rows * width, 4.0f);
      const auto o = emu_test::random_floats(rng, (size_t)rows * width, 1.5f);
      const auto post = emu_test::random_floats(rng, width, 0.3f, 1.0f);
      const auto next_weight = emu_test::random_floats(rng, width, 0.3f, 1.0f);
      Guarded<float> x = x0;
      Guarded<__nv_bfloat16> next((size_t)rows * width, emu_test::kBf16Nan, __nv_bfloat16{0x5555});
      EMU_EXPECT_LAUNCHES(emu_cuda::add_residual_and_norm(x.data(), o.data(), with_post ? post.data() : nullptr,
                                                          next_weight.data(), rows, width, eps, next.data(), nullptr));
      EXPECT_TRUE(x.guards_intact());
      EXPECT_TRUE(next.guards_intact());
      std::vector<float> added(width), x_want(width), next_want(width);
      for (int r = 0; r < rows; ++r) {
        const size_t base = (size_t)r * width;
        std::copy(o.data() + base, o.data() + base + width, added.begin());
        if (with_post) fm::kernels::rms_norm(added.data(), post.data(), added.data(), width, eps);
        std::copy(x0.data() + base, x0.data() + base + width, x_want.begin());
        fm::kernels::add_inplace(x_want.data(), added.data(), width);
        fm::kernels::rms_norm(x_want.data(), next_weight.data(), next_want.data(), width, eps);
        double row_scale = 0.0;
        for (float v : next_want) row_scale = std::max(row_scale, (double)std::abs(v));
        for (int i = 0; i < width; ++i) {
          const float got_x = x[base + i];
          if (with_post) {  // rms of o in fp32 on the device, in double on the CPU
            ASSERT_NEAR(got_x, x_want[i], 1e-6 * (std::abs(x0[base + i]) + std::abs(added[i])) + 1e-30)
                << "x row " << r << " i " << i;
          } else {
            ASSERT_EQ(got_x, x_want[i]) << "x row " << r << " i " << i;  // the same fp32 addition
          }
          const float got_next = to_float(next[base + i]);
          ASSERT_LE(std::abs(got_next - next_want[i]), bf16_ulp(next_want[i]) + 4e-6 * row_scale)
              << "next row " << r << " i " << i << " got " << got_next << " want " << next_want[i];
        }
      }
    }
  }
}

// out = bf16(act(gate) * up) against kernels::geglu / kernels::swiglu.
TEST(CudaEmulationRowKernels, GatedActivation) {
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 4);
  std::mt19937 rng(4);
  const int rows = 3;
  for (bool gelu : {true, false}) {
    for (int n_ff : {1, 100, 255, 256, 1000}) {
      SCOPED_TRACE(std::string(gelu ? "gelu" : "silu") + " n_ff " + std::to_string(n_ff));
      auto gate_up = emu_test::random_floats(rng, (size_t)rows * 2 * n_ff, 3.0f);
      gate_up[0] = -12.0f;  // where the tanh form of GELU cancels
      Guarded<__nv_bfloat16> out((size_t)rows * n_ff, emu_test::kBf16Nan, __nv_bfloat16{0x5555});
      EMU_EXPECT_LAUNCHES(emu_cuda::gated_activation(gate_up.data(), rows, n_ff, gelu, out.data(), nullptr));
      EXPECT_TRUE(out.guards_intact());
      std::vector<float> want(n_ff);
      for (int r = 0; r < rows; ++r) {
        const float* gate = gate_up.data() + (size_t)r * 2 * n_ff;
        const float* up = gate + n_ff;
        if (gelu) {
          fm::kernels::geglu(gate, up, want.data(), n_ff);
        } else {
          fm::kernels::swiglu(gate, up, want.data(), n_ff);
        }
        for (int i = 0; i < n_ff; ++i) {
          const float got = to_float(out[(size_t)r * n_ff + i]);
          // One bf16 step, plus the CPU SIMD variants' own error (kernels/ops_test.cpp).
          const double tolerance = bf16_ulp(want[i]) + 1e-6 * std::abs(want[i]) + 1e-7 * std::abs(gate[i] * up[i]);
          ASSERT_LE(std::abs(got - want[i]), tolerance)
              << "row " << r << " i " << i << " gate " << gate[i] << " up " << up[i] << " got " << got << " want "
              << want[i];
        }
      }
    }
  }
}

TEST(CudaEmulationRowKernels, Softcap) {
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 5);
  std::mt19937 rng(5);
  for (int64_t n : {1, 255, 256, 257, 3000}) {
    auto x = emu_test::random_floats(rng, n, 40.0f);
    const std::vector<float> x0(x.data(), x.data() + n);
    std::vector<float> want = x0;
    fm::kernels::softcap_inplace(want.data(), 30.0f, n);
    EMU_EXPECT_LAUNCHES(emu_cuda::softcap(x.data(), n, 30.0f, nullptr));
    EXPECT_TRUE(x.guards_intact());
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(x[i], want[i], 2e-6 * std::abs(want[i]) + 1e-30) << "n " << n << " x " << x0[i];
    }
  }
}

// The lowest index wins a tie, as Sampler::argmax: ties planted within one thread's
// stride and across threads; an all-equal row; all -inf; -0 against +0.
TEST(CudaEmulationRowKernels, ArgmaxRowsLowestIndexOnTies) {
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 6);
  std::mt19937 rng(6);
  for (int n_vocab : {1, 3, 1000, 1024, 1025, 3000, 70000}) {
    SCOPED_TRACE("n_vocab " + std::to_string(n_vocab));
    const int rows = 7;
    auto logits = emu_test::random_floats(rng, (size_t)rows * n_vocab, 5.0f);
    float* row = nullptr;
    std::uniform_int_distribution<int> index(0, n_vocab - 1);
    // Row 0: random. Row 1: the maximum at three random places.
    row = logits.data() + (size_t)1 * n_vocab;
    for (int t = 0; t < 3; ++t) row[index(rng)] = 100.0f;
    // Row 2: the maximum at i and i + 1024 (one thread's stride) and i + 1 (the next thread).
    row = logits.data() + (size_t)2 * n_vocab;
    const int i = index(rng);
    for (int j : {i + 1024, i + 1, i}) {
      if (j < n_vocab) row[j] = 100.0f;
    }
    // Row 3: all equal. Row 4: all -inf. Row 5: -0 and +0 the largest, -0 first.
    std::fill(logits.data() + (size_t)3 * n_vocab, logits.data() + (size_t)4 * n_vocab, 0.25f);
    std::fill(logits.data() + (size_t)4 * n_vocab, logits.data() + (size_t)5 * n_vocab, -INFINITY);
    row = logits.data() + (size_t)5 * n_vocab;
    for (int j = 0; j < n_vocab; ++j) row[j] = -1.0f - (float)(j % 7);
    row[n_vocab - 1] = 0.0f;
    row[n_vocab / 2] = -0.0f;
    // Row 6: the maximum in the last element.
    row = logits.data() + (size_t)6 * n_vocab;
    row[n_vocab - 1] = 1000.0f;
    Guarded<int32_t> best(rows, -1, 0x5a5a5a5a);
    EMU_EXPECT_LAUNCHES(emu_cuda::argmax_rows(logits.data(), rows, n_vocab, best.data(), nullptr));
    EXPECT_TRUE(best.guards_intact());
    for (int r = 0; r < rows; ++r) {
      const std::span<const float> row_span(logits.data() + (size_t)r * n_vocab, n_vocab);
      EXPECT_EQ(best[r], fm::Sampler::argmax(row_span)) << "row " << r;
    }
  }
}

// Rows go to their destinations; a null destination (K, V or both) skips the row.
TEST(CudaEmulationRowKernels, ScatterKvRowsSkipsNullDestinations) {
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 7);
  std::mt19937 rng(7);
  for (int row_elements : {1, 64, 130, 1027}) {
    SCOPED_TRACE("row_elements " + std::to_string(row_elements));
    const int rows = 6;
    Guarded<__half> k((size_t)rows * row_elements, __half{0}, emu_test::kHalfNan);
    Guarded<__half> v((size_t)rows * row_elements, __half{0}, emu_test::kHalfNan);
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = __half{(unsigned short)(rng() & 0x7bff)};
      v[i] = __half{(unsigned short)(rng() & 0x7bff)};
    }
    const __half untouched{0x1234};
    std::vector<Guarded<__half>> k_slots, v_slots;
    for (int r = 0; r < rows; ++r) {
      k_slots.emplace_back(row_elements, untouched, emu_test::kHalfNan);
      v_slots.emplace_back(row_elements, untouched, emu_test::kHalfNan);
    }
    const auto k_skipped = [](int r) { return r == 1 || r == 4; };
    const auto v_skipped = [](int r) { return r == 2 || r == 4; };
    std::vector<__half*> k_dst(rows), v_dst(rows);
    for (int r = 0; r < rows; ++r) {
      k_dst[r] = k_skipped(r) ? nullptr : k_slots[r].data();
      v_dst[r] = v_skipped(r) ? nullptr : v_slots[r].data();
    }
    EMU_EXPECT_LAUNCHES(emu_cuda::scatter_kv_rows(k.data(), v.data(), k_dst.data(), v_dst.data(), rows, row_elements,
                                                  nullptr));
    for (int r = 0; r < rows; ++r) {
      EXPECT_TRUE(k_slots[r].guards_intact() && v_slots[r].guards_intact()) << "row " << r;
      for (int i = 0; i < row_elements; ++i) {
        const size_t at = (size_t)r * row_elements + i;
        ASSERT_EQ(k_slots[r][i].__x, k_skipped(r) ? untouched.__x : k[at].__x) << "K row " << r << " i " << i;
        ASSERT_EQ(v_slots[r][i].__x, v_skipped(r) ? untouched.__x : v[at].__x) << "V row " << r << " i " << i;
      }
    }
  }
}

// The two wrappers that take rows == 0 as "nothing to do" (an empty grid is an invalid
// launch on the device).
TEST(CudaEmulationRowKernels, ZeroRowsIsANoOpWhereTheWrapperChecks) {
  emu_cuda::PagedAttentionParams params;
  params.n_heads = 2;
  params.n_kv_heads = 1;
  params.head_dim = 64;
  EMU_EXPECT_LAUNCHES(emu_cuda::paged_attention(params, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 3, nullptr,
                                                nullptr, nullptr));
  EMU_EXPECT_LAUNCHES(emu_cuda::scatter_kv_rows(nullptr, nullptr, nullptr, nullptr, 0, 64, nullptr));
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

// Every kernel, run under three schedules, gives the same bits: no missing barrier in the
// block reductions (block_sum's reuse of its scratch, argmax's tree).
TEST(CudaEmulationRowKernels, SameBitsUnderEverySchedule) {
  std::mt19937 rng(8);
  const int rows = 3, width = 1000, n_vocab = 5000;
  const auto x0 = emu_test::random_floats(rng, (size_t)rows * width, 2.0f);
  const auto o = emu_test::random_floats(rng, (size_t)rows * width, 2.0f);
  const auto w = emu_test::random_floats(rng, width, 0.3f, 1.0f);
  auto logits = emu_test::random_floats(rng, (size_t)rows * n_vocab, 1.0f);
  for (int r = 0; r < rows; ++r) logits[(size_t)r * n_vocab + 17 + r] = logits[(size_t)r * n_vocab + 4000] = 9.0f;
  struct Result {
    std::vector<uint16_t> normed, next;
    std::vector<float> x;
    std::vector<int32_t> best;
  };
  const auto run = [&](emu::Schedule s, uint64_t seed) {
    emu::ScopedSchedule schedule(s, seed);
    Result result;
    std::vector<__nv_bfloat16> normed((size_t)rows * width), next((size_t)rows * width);
    std::vector<float> x(x0.data(), x0.data() + x0.size());
    std::vector<int32_t> best(rows);
    EMU_EXPECT_LAUNCHES(emu_cuda::rms_norm_to_bf16(x0.data(), w.data(), rows, width, 1e-6f, normed.data(), nullptr));
    EMU_EXPECT_LAUNCHES(
        emu_cuda::add_residual_and_norm(x.data(), o.data(), w.data(), w.data(), rows, width, 1e-6f, next.data(), nullptr));
    EMU_EXPECT_LAUNCHES(emu_cuda::argmax_rows(logits.data(), rows, n_vocab, best.data(), nullptr));
    for (auto h : normed) result.normed.push_back(h.__x);
    for (auto h : next) result.next.push_back(h.__x);
    result.x = x;
    result.best = best;
    return result;
  };
  const Result forward = run(emu::Schedule::kForward, 0);
  for (const auto& [s, seed] : {std::pair{emu::Schedule::kReverse, 0}, std::pair{emu::Schedule::kRandom, 1},
                                std::pair{emu::Schedule::kRandom, 2}, std::pair{emu::Schedule::kWarpsRunAhead, 3},
                                std::pair{emu::Schedule::kWarpsRunAhead, 4}}) {
    SCOPED_TRACE("schedule " + std::to_string((int)s) + " seed " + std::to_string(seed));
    const Result other = run(s, seed);
    EXPECT_EQ(other.normed, forward.normed);
    EXPECT_EQ(other.next, forward.next);
    EXPECT_EQ(0, std::memcmp(other.x.data(), forward.x.data(), forward.x.size() * sizeof(float)));
    EXPECT_EQ(other.best, forward.best);
  }
  for (int r = 0; r < rows; ++r) EXPECT_EQ(forward.best[r], 17 + r);
}

}  // namespace
