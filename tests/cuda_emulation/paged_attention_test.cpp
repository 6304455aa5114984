// paged_attention (src/cuda/cuda_attention.cu) run by the emulator against
// kernels::attention_reference: head_dim 32..256, GQA groups, several sequences and rows,
// runs shuffled, empty and with gaps in positions, windows, softcap, 1..7 splits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "emulation_test_util.h"
#include "kernels/attention.h"

namespace {

using emu_test::Guarded;

struct Case {
  int head_dim;
  int n_kv_heads;
  int group;  // query heads per KV head
  int n_sequences;
  int rows;
  int n_splits;
  int32_t window = 0;
  float softcap = 0.0f;
  float q_sigma = 1.0f;
  uint32_t seed = 1;
  int max_tokens = 40;  // per sequence
  int max_run = 9;      // tokens per run
};

std::string describe(const Case& c) {
  std::ostringstream s;
  s << "head_dim=" << c.head_dim << " n_kv_heads=" << c.n_kv_heads << " group=" << c.group
    << " sequences=" << c.n_sequences << " rows=" << c.rows << " n_splits=" << c.n_splits << " window=" << c.window
    << " softcap=" << c.softcap << " q_sigma=" << c.q_sigma << " seed=" << c.seed;
  return s.str();
}
void PrintTo(const Case& c, std::ostream* os) { *os << describe(c); }

// One sequence's cache: runs of fp16 K/V, the host copy for the reference and the device
// copy (NaN guard zones around each run: a read past a run poisons the result).
struct Sequence {
  std::vector<std::vector<uint16_t>> k, v;
  std::vector<Guarded<__half>> dk, dv;
  std::vector<fm::kernels::KvRun> runs;
  std::vector<emu_cuda::DeviceKvRun> device_runs;
};

struct Problem {
  Case c;
  std::vector<Sequence> sequences;
  std::vector<int32_t> positions, row_sequence, run_offsets;
  std::vector<emu_cuda::DeviceKvRun> runs;
  Guarded<float> q{0, 0.0f, emu_test::kNan};
};

// Adds a run of n tokens at first_pos (n == 0: an empty run with no storage).
void add_run(std::mt19937& rng, const Case& c, Sequence& s, int n, int32_t first_pos) {
  const size_t count = (size_t)n * c.n_kv_heads * c.head_dim;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  s.k.emplace_back(count);
  s.v.emplace_back(count);
  s.dk.emplace_back(count, __half{0}, emu_test::kHalfNan);
  s.dv.emplace_back(count, __half{0}, emu_test::kHalfNan);
  for (size_t i = 0; i < count; ++i) {
    s.k.back()[i] = fm::fp32_to_fp16(normal(rng));
    s.v.back()[i] = fm::fp32_to_fp16(normal(rng));
    s.dk.back()[i] = __half{s.k.back()[i]};
    s.dv.back()[i] = __half{s.v.back()[i]};
  }
}

// Sequence 0 has max_tokens tokens; the others a random count (the last of three or more
// has none at all). Runs have random sizes, gaps between them, empty runs among them, and
// come in shuffled order. Rows: one per sequence first, then random sequences; positions
// anywhere from before the first key to past the last (rows that see no key included).
Problem make_problem(const Case& c) {
  Problem p;
  p.c = c;
  std::mt19937 rng(c.seed);
  p.sequences.resize(c.n_sequences);
  std::vector<int32_t> last_pos(c.n_sequences, 0), first_pos(c.n_sequences, 0);
  for (int s = 0; s < c.n_sequences; ++s) {
    Sequence& seq = p.sequences[s];
    const bool no_runs = c.n_sequences >= 3 && s == c.n_sequences - 1;
    int tokens = s == 0 ? c.max_tokens : std::uniform_int_distribution<int>(0, c.max_tokens)(rng);
    if (no_runs) tokens = 0;
    int32_t pos = std::uniform_int_distribution<int32_t>(0, 4)(rng);
    first_pos[s] = pos;
    std::vector<std::pair<int, int32_t>> spans;  // (n_tokens, first_pos)
    for (int left = tokens; left > 0;) {
      const int n = std::min(left, std::uniform_int_distribution<int>(1, c.max_run)(rng));
      spans.emplace_back(n, pos);
      pos += n;
      if (rng() % 3 == 0) pos += 1 + (int32_t)(rng() % 3);  // a gap in positions
      left -= n;
    }
    last_pos[s] = pos;
    if (!no_runs) {
      for (int e = 0; e < 2; ++e) spans.emplace_back(0, (int32_t)(rng() % (pos + 1)));  // empty runs
    }
    std::shuffle(spans.begin(), spans.end(), rng);
    for (const auto& [n, at] : spans) add_run(rng, c, seq, n, at);
    for (size_t r = 0; r < spans.size(); ++r) {
      const int n = spans[r].first;
      seq.runs.push_back({n ? seq.k[r].data() : nullptr, n ? seq.v[r].data() : nullptr, n, spans[r].second});
      seq.device_runs.push_back({n ? seq.dk[r].data() : nullptr, n ? seq.dv[r].data() : nullptr, n, spans[r].second});
    }
  }
  p.run_offsets.push_back(0);
  for (const Sequence& seq : p.sequences) {
    p.runs.insert(p.runs.end(), seq.device_runs.begin(), seq.device_runs.end());
    p.run_offsets.push_back((int32_t)p.runs.size());
  }
  for (int r = 0; r < c.rows; ++r) {
    const int s = r < c.n_sequences ? r : std::uniform_int_distribution<int>(0, c.n_sequences - 1)(rng);
    p.row_sequence.push_back(s);
    const int32_t lo = std::max(0, first_pos[s] - 2);
    const int32_t hi = last_pos[s] + 2 + (c.window > 0 ? c.window : 0);
    p.positions.push_back(r == 0 ? last_pos[0] : std::uniform_int_distribution<int32_t>(lo, hi)(rng));
  }
  const int n_heads = c.n_kv_heads * c.group;
  p.q = emu_test::random_floats(rng, (size_t)c.rows * n_heads * c.head_dim, c.q_sigma);
  return p;
}

emu_cuda::PagedAttentionParams device_params(const Case& c) {
  emu_cuda::PagedAttentionParams params;
  params.n_heads = c.n_kv_heads * c.group;
  params.n_kv_heads = c.n_kv_heads;
  params.head_dim = c.head_dim;
  params.scale = 1.0f / std::sqrt((float)c.head_dim);
  params.window = c.window;
  params.logit_softcap = c.softcap;
  return params;
}

// The reference, row by row over the row's sequence: [rows, n_heads, head_dim].
std::vector<float> reference(const Problem& p) {
  const Case& c = p.c;
  const int n_heads = c.n_kv_heads * c.group;
  fm::kernels::AttentionParams params;
  params.n_heads = n_heads;
  params.n_kv_heads = c.n_kv_heads;
  params.head_dim = c.head_dim;
  params.scale = 1.0f / std::sqrt((float)c.head_dim);
  params.window = c.window;
  params.logit_softcap = c.softcap;
  const size_t row_size = (size_t)n_heads * c.head_dim;
  std::vector<float> out((size_t)c.rows * row_size);
  for (int r = 0; r < c.rows; ++r) {
    const Sequence& seq = p.sequences[p.row_sequence[r]];
    fm::kernels::attention_reference(params, p.q.data() + r * row_size, &p.positions[r], 1, seq.runs,
                                     out.data() + r * row_size);
  }
  return out;
}

// The emulated kernel's output as floats; partial is poisoned with NaN first.
std::vector<float> run_device(const Problem& p, int n_splits) {
  const Case& c = p.c;
  const int n_heads = c.n_kv_heads * c.group;
  Guarded<float> partial((size_t)c.rows * n_heads * n_splits * (c.head_dim + 2), emu_test::kNan, emu_test::kNan);
  Guarded<__nv_bfloat16> out((size_t)c.rows * n_heads * c.head_dim, emu_test::kBf16Nan, __nv_bfloat16{0x5555});
  EMU_EXPECT_LAUNCHES(emu_cuda::paged_attention(device_params(c), p.q.data(), p.positions.data(),
                                                p.row_sequence.data(), p.runs.data(), p.run_offsets.data(), c.rows,
                                                n_splits, partial.data(), out.data(), nullptr));
  EXPECT_TRUE(out.guards_intact()) << "paged_attention wrote outside out; " << describe(c);
  EXPECT_TRUE(partial.guards_intact()) << "paged_attention wrote outside partial; " << describe(c);
  std::vector<float> result(out.size());
  for (size_t i = 0; i < out.size(); ++i) result[i] = emu_test::to_float(out[i]);
  return result;
}

// Per row and head: |got - want| <= 2^-8 * max |want| over the head's values (the output
// is bf16: rounding alone is up to 2^-9 of that); a head that sees no key must be exact zeros.
void expect_matches(const Problem& p, const std::vector<float>& got, const std::vector<float>& want,
                    const std::string& label) {
  const Case& c = p.c;
  const int n_heads = c.n_kv_heads * c.group, D = c.head_dim;
  int reported = 0;
  for (int r = 0; r < c.rows; ++r) {
    for (int h = 0; h < n_heads; ++h) {
      const size_t base = ((size_t)r * n_heads + h) * D;
      double largest = 0.0;
      for (int d = 0; d < D; ++d) largest = std::max(largest, (double)std::abs(want[base + d]));
      const double tolerance = std::ldexp(largest, -8);
      for (int d = 0; d < D; ++d) {
        const double g = got[base + d], w = want[base + d];
        const bool ok = largest == 0.0 ? (g == 0.0) : std::abs(g - w) <= tolerance;
        if (!ok && reported++ < 8) {
          ADD_FAILURE() << label << ": row " << r << " (sequence " << p.row_sequence[r] << ", q_pos "
                        << p.positions[r] << ") head " << h << " dim " << d << ": got " << g << ", want " << w
                        << " (tolerance " << tolerance << "); " << describe(c);
        }
      }
    }
  }
}

void check_case(const Case& c) {
  SCOPED_TRACE(describe(c));
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, c.seed);
  ASSERT_TRUE(emu_cuda::paged_attention_supports(c.head_dim, c.group));
  const Problem p = make_problem(c);
  const std::vector<float> want = reference(p);
  expect_matches(p, run_device(p, c.n_splits), want, "paged_attention");
}

class PagedAttention : public ::testing::TestWithParam<Case> {};

TEST_P(PagedAttention, MatchesReference) { check_case(GetParam()); }

// head_dim, n_kv_heads, group, sequences, rows, n_splits, window, softcap, q_sigma, seed
INSTANTIATE_TEST_SUITE_P(
    CudaEmulation, PagedAttention,
    ::testing::Values(Case{32, 2, 1, 3, 6, 1, 0, 0.0f, 1.0f, 1}, Case{32, 1, 8, 2, 5, 3, 0, 0.0f, 1.0f, 2},
                      Case{32, 3, 2, 4, 7, 7, 6, 0.0f, 2.0f, 3}, Case{64, 2, 2, 3, 6, 2, 0, 0.0f, 1.0f, 4},
                      Case{64, 1, 3, 2, 4, 5, 7, 0.0f, 1.0f, 5}, Case{64, 3, 4, 4, 8, 7, 0, 0.0f, 2.0f, 6},
                      Case{64, 2, 5, 3, 5, 4, 0, 5.0f, 3.0f, 7}, Case{128, 2, 4, 3, 6, 4, 0, 50.0f, 3.0f, 8},
                      Case{128, 1, 8, 2, 4, 1, 9, 0.0f, 1.0f, 9}, Case{128, 4, 1, 3, 5, 6, 0, 0.0f, 8.0f, 10},
                      Case{128, 2, 6, 3, 4, 3, 4, 5.0f, 2.0f, 11}, Case{256, 1, 2, 2, 4, 3, 0, 0.0f, 1.0f, 12},
                      Case{256, 2, 8, 2, 3, 2, 5, 50.0f, 2.0f, 13}, Case{256, 1, 1, 3, 5, 7, 0, 0.0f, 4.0f, 14},
                      Case{256, 2, 7, 3, 4, 5, 0, 8.0f, 3.0f, 15}),
    [](const ::testing::TestParamInfo<Case>& info) {
      const Case& c = info.param;
      std::ostringstream name;
      name << "d" << c.head_dim << "_kv" << c.n_kv_heads << "_g" << c.group << "_splits" << c.n_splits << "_seed"
           << c.seed;
      return name.str();
    });

// Random shapes: head_dim, group 1..8, 1..3 KV heads, 1..7 splits, windows, softcaps,
// longer sequences, under both random schedules.
TEST(CudaEmulationPagedAttention, RandomSweep) {
  std::mt19937 rng(2024);
  const auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int i = 0; i < 24; ++i) {
    Case c;
    c.head_dim = 32 << pick(0, 3);
    c.n_kv_heads = pick(1, 3);
    c.group = pick(1, 8);
    c.n_sequences = pick(1, 4);
    c.rows = c.n_sequences + pick(0, 3);
    c.n_splits = pick(1, 7);
    c.window = pick(0, 2) == 0 ? pick(1, 12) : 0;
    c.softcap = pick(0, 2) == 0 ? (float)pick(2, 50) : 0.0f;
    c.q_sigma = (float)pick(1, 4);
    c.seed = 1000 + i;
    c.max_tokens = pick(1, 64);
    c.max_run = pick(1, 16);
    SCOPED_TRACE(describe(c));
    emu::ScopedSchedule schedule(i % 2 ? emu::Schedule::kRandom : emu::Schedule::kWarpsRunAhead, c.seed);
    const Problem p = make_problem(c);
    expect_matches(p, run_device(p, c.n_splits), reference(p), "sweep case " + std::to_string(i));
  }
}

TEST(CudaEmulationPagedAttention, EverySplitCountMatchesTheReference) {
  Case c{64, 2, 2, 3, 5, 1, 0, 0.0f, 2.0f, 21};
  c.max_tokens = 30;
  const Problem p = make_problem(c);
  const std::vector<float> want = reference(p);
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 21);
  for (int n_splits = 1; n_splits <= 7; ++n_splits) {
    expect_matches(p, run_device(p, n_splits), want, "n_splits=" + std::to_string(n_splits));
  }
}

// Rows that see no key: a sequence without runs, one with only empty runs, a query before
// the first key, and a window that ends before the first key. Exact zeros, not NaN.
TEST(CudaEmulationPagedAttention, RowsThatSeeNoKeyGetZeros) {
  Case c{128, 2, 2, 4, 4, 3, 4, 0.0f, 1.0f, 31};
  Problem p;
  p.c = c;
  std::mt19937 rng(c.seed);
  p.sequences.resize(4);
  add_run(rng, c, p.sequences[1], 0, 5);  // only an empty run
  p.sequences[1].device_runs.push_back({nullptr, nullptr, 0, 5});
  p.sequences[1].runs.push_back({nullptr, nullptr, 0, 5});
  for (int s : {2, 3}) {  // keys at positions 10..17
    add_run(rng, c, p.sequences[s], 8, 10);
    p.sequences[s].runs.push_back({p.sequences[s].k[0].data(), p.sequences[s].v[0].data(), 8, 10});
    p.sequences[s].device_runs.push_back({p.sequences[s].dk[0].data(), p.sequences[s].dv[0].data(), 8, 10});
  }
  p.run_offsets.push_back(0);
  for (const Sequence& seq : p.sequences) {
    p.runs.insert(p.runs.end(), seq.device_runs.begin(), seq.device_runs.end());
    p.run_offsets.push_back((int32_t)p.runs.size());
  }
  p.row_sequence = {0, 1, 2, 3};
  p.positions = {7, 9, 9, 40};  // row 2: before the first key; row 3: window 4 ends at 37
  p.q = emu_test::random_floats(rng, (size_t)4 * 4 * 128, 1.0f);
  const std::vector<float> want = reference(p);
  for (float w : want) ASSERT_EQ(w, 0.0f);
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 31);
  for (int n_splits : {1, 2, 5}) {
    const std::vector<float> got = run_device(p, n_splits);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], 0.0f) << "n_splits " << n_splits << " index " << i << " (row " << i / (4 * 128) << ")";
      ASSERT_FALSE(std::signbit(got[i])) << i;
    }
  }
}

// A prefill block: consecutive rows of one sequence whose own keys are among the runs;
// each row sees the keys up to its own position only.
TEST(CudaEmulationPagedAttention, PrefillRowsAreCausal) {
  Case c{64, 2, 4, 1, 12, 3, 0, 0.0f, 2.0f, 41};
  Problem p;
  p.c = c;
  std::mt19937 rng(c.seed);
  p.sequences.resize(1);
  Sequence& seq = p.sequences[0];
  int32_t pos = 0;
  for (int n : {5, 7, 4, 6}) {  // 22 tokens; the block's rows are the last 12
    add_run(rng, c, seq, n, pos);
    const size_t r = seq.k.size() - 1;
    seq.runs.push_back({seq.k[r].data(), seq.v[r].data(), n, pos});
    seq.device_runs.push_back({seq.dk[r].data(), seq.dv[r].data(), n, pos});
    pos += n;
  }
  std::reverse(seq.runs.begin(), seq.runs.end());
  std::reverse(seq.device_runs.begin(), seq.device_runs.end());
  p.runs = seq.device_runs;
  p.run_offsets = {0, (int32_t)p.runs.size()};
  for (int r = 0; r < c.rows; ++r) {
    p.row_sequence.push_back(0);
    p.positions.push_back(10 + r);
  }
  p.q = emu_test::random_floats(rng, (size_t)c.rows * 8 * 64, c.q_sigma);
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, 41);
  expect_matches(p, run_device(p, c.n_splits), reference(p), "prefill");
}

// The result does not depend on the order threads and blocks run in: no missing barrier.
TEST(CudaEmulationPagedAttention, SameBitsUnderEverySchedule) {
  Case c{64, 2, 4, 3, 5, 3, 6, 5.0f, 2.0f, 51};
  c.max_tokens = 24;
  const Problem p = make_problem(c);
  std::vector<float> forward;
  {
    emu::ScopedSchedule schedule(emu::Schedule::kForward);
    forward = run_device(p, c.n_splits);
  }
  for (const auto& [s, seed] : {std::pair{emu::Schedule::kReverse, 0}, std::pair{emu::Schedule::kRandom, 1},
                                std::pair{emu::Schedule::kRandom, 2}, std::pair{emu::Schedule::kWarpsRunAhead, 3},
                                std::pair{emu::Schedule::kWarpsRunAhead, 4}}) {
    emu::ScopedSchedule schedule(s, seed);
    const std::vector<float> other = run_device(p, c.n_splits);
    ASSERT_EQ(0, std::memcmp(other.data(), forward.data(), forward.size() * sizeof(float)))
        << "schedule " << (int)s << " seed " << seed;
  }
  expect_matches(p, forward, reference(p), "forward schedule");
}

TEST(CudaEmulationPagedAttention, SupportedShapes) {
  for (int d : {32, 64, 128, 256}) {
    for (int g = 1; g <= 8; ++g) EXPECT_TRUE(emu_cuda::paged_attention_supports(d, g)) << d << " " << g;
    EXPECT_FALSE(emu_cuda::paged_attention_supports(d, 9));
    EXPECT_FALSE(emu_cuda::paged_attention_supports(d, 0));
  }
  EXPECT_FALSE(emu_cuda::paged_attention_supports(80, 1));
  EXPECT_FALSE(emu_cuda::paged_attention_supports(512, 1));
}

}  // namespace
