#include "cuda/cuda_selfcheck.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "core/fp16.h"
#include "cuda/cuda_util.h"
#include "kernels/attention.h"

namespace fm::cuda {

namespace {

float bf16_to_float(uint16_t bits) {
  const uint32_t word = (uint32_t)bits << 16;
  float value;
  std::memcpy(&value, &word, 4);
  return value;
}

// Device memory freed at scope end.
struct DeviceBuffer {
  void* data = nullptr;
  explicit DeviceBuffer(size_t bytes) { FM_CUDA_CHECK(cudaMalloc(&data, std::max<size_t>(bytes, 16))); }
  ~DeviceBuffer() { cudaFree(data); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(data); }
};

struct AttentionCase {
  int n_heads, n_kv_heads, head_dim, n_sequences, rows_per_sequence, splits;
  int32_t window;
  float softcap;
  bool rows_inside = false;  // rows at positions inside the history (causal masking)
};

}  // namespace

Result<CheckResult> check_paged_attention(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const AttentionCase cases[] = {
      {4, 1, 256, 1, 1, 1, 0, 0.0f},   {4, 1, 256, 1, 1, 7, 0, 0.0f},  {4, 1, 256, 3, 1, 5, 0, 0.0f},
      {4, 1, 256, 1, 37, 2, 0, 0.0f},  {4, 1, 256, 2, 1, 3, 100, 0.0f}, {4, 1, 256, 1, 20, 1, 50, 0.0f},
      {8, 2, 128, 2, 5, 4, 0, 30.0f},  {9, 3, 64, 3, 1, 2, 0, 0.0f},    {2, 2, 32, 1, 3, 3, 0, 0.0f},
      {8, 1, 256, 2, 3, 3, 0, 0.0f},   {4, 1, 256, 2, 9, 4, 0, 0.0f, true}, {4, 1, 256, 1, 6, 2, 40, 0.0f, true},
  };
  CheckResult result;
  result.passed = true;
  for (const AttentionCase& tc : cases) {
    const int D = tc.head_dim, kv_row = tc.n_kv_heads * D;
    // Each sequence: a few runs of random lengths at increasing positions, shuffled; the
    // rows sit at the positions after the history (as a block does).
    std::vector<std::vector<uint16_t>> keys, values;  // one per run
    std::vector<kernels::KvRun> host_runs;           // host pointers, for the reference
    std::vector<int32_t> offsets{0}, positions, row_sequence;
    std::vector<std::vector<kernels::KvRun>> per_sequence(tc.n_sequences);
    for (int s = 0; s < tc.n_sequences; ++s) {
      const int n_runs = 1 + (int)(rng() % 9);
      int32_t pos = 0;
      for (int r = 0; r < n_runs; ++r) {
        const int32_t n = (int32_t)(rng() % 70);  // some runs are empty
        keys.emplace_back((size_t)n * kv_row);
        values.emplace_back((size_t)n * kv_row);
        for (auto& x : keys.back()) x = fp32_to_fp16(normal(rng));
        for (auto& x : values.back()) x = fp32_to_fp16(normal(rng));
        per_sequence[s].push_back({keys.back().data(), values.back().data(), n, pos});
        pos += n + (int32_t)(rng() % 3);  // gaps: chunks a policy left out
      }
      std::shuffle(per_sequence[s].begin(), per_sequence[s].end(), rng);
      for (int i = 0; i < tc.rows_per_sequence; ++i) {
        positions.push_back(tc.rows_inside ? (int32_t)(rng() % (uint32_t)(pos + 1)) : pos + i);
        row_sequence.push_back(s);
      }
    }
    const int rows = (int)positions.size();
    std::vector<float> q((size_t)rows * tc.n_heads * D);
    for (auto& x : q) x = normal(rng);

    // Device copies: every run's K/V in one buffer.
    size_t total_elements = 0;
    for (auto& k : keys) total_elements += k.size();
    DeviceBuffer kv_memory(total_elements * 2 * 2);
    std::vector<DeviceKvRun> device_runs;
    size_t at = 0;
    std::vector<int32_t> run_offsets{0};
    for (int s = 0; s < tc.n_sequences; ++s) {
      for (const kernels::KvRun& run : per_sequence[s]) {
        const size_t n = (size_t)run.n_tokens * kv_row;
        __half* k = kv_memory.as<__half>() + at;
        __half* v = k + n;
        FM_CUDA_TRY(cudaMemcpy(k, run.k, n * 2, cudaMemcpyHostToDevice));
        FM_CUDA_TRY(cudaMemcpy(v, run.v, n * 2, cudaMemcpyHostToDevice));
        at += 2 * n;
        device_runs.push_back({k, v, run.n_tokens, run.first_pos});
      }
      run_offsets.push_back((int32_t)device_runs.size());
    }
    DeviceBuffer d_runs(device_runs.size() * sizeof(DeviceKvRun)), d_offsets(run_offsets.size() * 4);
    DeviceBuffer d_q(q.size() * 4), d_positions(positions.size() * 4), d_rows(row_sequence.size() * 4);
    DeviceBuffer d_partial((size_t)rows * tc.n_heads * tc.splits * (D + 2) * 4);
    DeviceBuffer d_out((size_t)rows * tc.n_heads * D * 2);
    FM_CUDA_TRY(cudaMemcpy(d_runs.data, device_runs.data(), device_runs.size() * sizeof(DeviceKvRun), cudaMemcpyHostToDevice));
    FM_CUDA_TRY(cudaMemcpy(d_offsets.data, run_offsets.data(), run_offsets.size() * 4, cudaMemcpyHostToDevice));
    FM_CUDA_TRY(cudaMemcpy(d_q.data, q.data(), q.size() * 4, cudaMemcpyHostToDevice));
    FM_CUDA_TRY(cudaMemcpy(d_positions.data, positions.data(), positions.size() * 4, cudaMemcpyHostToDevice));
    FM_CUDA_TRY(cudaMemcpy(d_rows.data, row_sequence.data(), row_sequence.size() * 4, cudaMemcpyHostToDevice));
    PagedAttentionParams params;
    params.n_heads = tc.n_heads;
    params.n_kv_heads = tc.n_kv_heads;
    params.head_dim = D;
    params.scale = 1.0f / std::sqrt((float)D);
    params.window = tc.window;
    params.logit_softcap = tc.softcap;
    paged_attention(params, d_q.as<float>(), d_positions.as<int32_t>(), d_rows.as<int32_t>(), d_runs.as<DeviceKvRun>(),
                    d_offsets.as<int32_t>(), rows, tc.splits, d_partial.as<float>(), d_out.as<__nv_bfloat16>(), 0);
    FM_CUDA_TRY(cudaDeviceSynchronize());
    std::vector<uint16_t> out((size_t)rows * tc.n_heads * D);
    FM_CUDA_TRY(cudaMemcpy(out.data(), d_out.data, out.size() * 2, cudaMemcpyDeviceToHost));

    kernels::AttentionParams reference_params;
    reference_params.n_heads = tc.n_heads;
    reference_params.n_kv_heads = tc.n_kv_heads;
    reference_params.head_dim = D;
    reference_params.scale = params.scale;
    reference_params.window = tc.window;
    reference_params.logit_softcap = tc.softcap;
    double max_diff = 0, max_ref = 0;
    for (int r = 0; r < rows; ++r) {
      std::vector<float> expected((size_t)tc.n_heads * D);
      kernels::attention_reference(reference_params, q.data() + (size_t)r * tc.n_heads * D, &positions[r], 1,
                                   per_sequence[row_sequence[r]], expected.data());
      for (size_t i = 0; i < expected.size(); ++i) {
        max_ref = std::max(max_ref, (double)std::fabs(expected[i]));
        max_diff = std::max(max_diff, (double)std::fabs(expected[i] - bf16_to_float(out[(size_t)r * tc.n_heads * D + i])));
      }
    }
    const bool ok = max_diff <= std::ldexp(max_ref, -7) && std::isfinite(max_diff);
    result.passed = result.passed && ok;
    char line[256];
    std::snprintf(line, sizeof line,
                  "attention heads %d/%d dim %d, %d sequences x %d rows, %d splits, window %d, softcap %.0f: "
                  "max |diff| %.3g (bound %.3g) %s\n",
                  tc.n_heads, tc.n_kv_heads, D, tc.n_sequences, tc.rows_per_sequence, tc.splits, tc.window, tc.softcap,
                  max_diff, std::ldexp(max_ref, -7), ok ? "ok" : "FAIL");
    result.report += line;
  }
  return result;
}

Result<CheckResult> check_recall_round_trip(CudaBackend& backend, const Model& model, int context_tokens,
                                            const std::string& disk_directory) {
  const int chunk_tokens = 64;
  ForwardState state(model.config(), chunk_tokens, 256);
  const KvLayout layout = kv_layout_for(model.config(), chunk_tokens);
  KvTierOptions tiers;
  const int64_t n_chunks = (context_tokens + chunk_tokens - 1) / chunk_tokens;
  tiers.device_budget_bytes = layout.chunk_bytes() * std::max<int64_t>(8, n_chunks / 4);
  // The host holds what the device does not (attention reads host pages, not disk ones);
  // the disk is reached below by explicit moves.
  tiers.host_budget_bytes = 0;
  tiers.disk_directory = disk_directory;
  FM_RETURN_IF_ERROR(backend.attach(state, tiers));
  std::mt19937 rng(7);
  std::vector<int32_t> tokens(context_tokens);
  for (auto& t : tokens) t = 1000 + (int32_t)(rng() % 100000);
  std::vector<float> logits;
  FM_RETURN_IF_ERROR(backend.forward(state, tokens, false, logits));
  KvStore& kv = state.kv;

  auto snapshot = [&](std::vector<std::vector<uint8_t>>& out) -> Status {
    out.assign(layout.n_global_layers, {});
    std::vector<kernels::KvRun> runs;
    for (int g = 0; g < layout.n_global_layers; ++g) {
      kv.global_runs(g, runs);
      for (const kernels::KvRun& run : runs) {
        const size_t bytes = (size_t)run.n_tokens * layout.row_bytes();
        out[g].insert(out[g].end(), (const uint8_t*)run.k, (const uint8_t*)run.k + bytes);
        out[g].insert(out[g].end(), (const uint8_t*)run.v, (const uint8_t*)run.v + bytes);
      }
    }
    return kv.status();
  };
  std::vector<std::vector<uint8_t>> before, after;
  FM_RETURN_IF_ERROR(snapshot(before));
  int64_t tier_count[3] = {kv.tier_pages(Tier::kDevice), kv.tier_pages(Tier::kHost), kv.tier_pages(Tier::kDisk)};

  // Every sealed page: down to the host, every other one on to disk, then back up: host
  // pages through the staged path (copy stream), disk pages through it too (checked on
  // the host), in slices that fit the device's free slots, and the rest by move_page.
  int64_t staged = 0, moved = 0;
  const int64_t last_sealed = kv.n_pages() - 1;  // the open page stays
  for (int64_t page = 0; page < last_sealed; ++page) {
    if (!kv.page_is_sealed(page)) continue;
    if (kv.residency(page).tier == Tier::kDevice) FM_RETURN_IF_ERROR(kv.move_page(page, Tier::kHost));
  }
  for (int64_t page = 0; page < last_sealed; page += 2) {
    if (kv.page_is_sealed(page) && kv.residency(page).tier == Tier::kHost) FM_RETURN_IF_ERROR(kv.move_page(page, Tier::kDisk));
  }
  int64_t page = 0;
  while (page < last_sealed) {
    if (kv.residency(page).tier == Tier::kDevice || !kv.page_is_sealed(page)) {
      ++page;
      continue;
    }
    std::vector<StagedUpload> uploads;
    int64_t next = page;
    for (; next < last_sealed; ++next) {
      if (kv.residency(next).tier == Tier::kDevice) continue;
      std::optional<StagedUpload> upload = kv.begin_staged_upload(next);
      if (!upload) break;  // no free slot left
      uploads.push_back(*upload);
    }
    if (uploads.empty()) {  // the device is full: the default rules make room
      FM_RETURN_IF_ERROR(kv.move_page(page, Tier::kDevice));
      ++moved;
      ++page;
      continue;
    }
    for (const StagedUpload& upload : uploads) FM_RETURN_IF_ERROR(KvStore::copy_staged_upload(upload));
    for (const StagedUpload& upload : uploads) kv.commit_staged_upload(upload);
    staged += (int64_t)uploads.size();
    FM_RETURN_IF_ERROR(snapshot(after));
    if (after != before) {
      return CheckResult{false, "recall: bytes differ after staged uploads of pages " + std::to_string(page) + "-" +
                                    std::to_string(next - 1) + "\n"};
    }
    // Down again, so that the next slice finds free slots.
    for (const StagedUpload& upload : uploads) {
      if (upload.page != 0) FM_RETURN_IF_ERROR(kv.move_page(upload.page, Tier::kHost));
    }
    page = next;
  }
  FM_RETURN_IF_ERROR(snapshot(after));
  CheckResult result;
  result.passed = after == before;
  char line[320];
  std::snprintf(line, sizeof line,
                "recall round trip: %d tokens, %lld pages (%lld device / %lld host / %lld disk after prefill), "
                "%lld recalled on the copy stream, %lld by move_page: %s\n",
                context_tokens, (long long)kv.n_pages(), (long long)tier_count[0], (long long)tier_count[1],
                (long long)tier_count[2], (long long)staged, (long long)moved,
                result.passed ? "bit-identical" : "FAIL: bytes differ");
  result.report = line;
  return result;
}

}  // namespace fm::cuda
