// CudaBackend::run_rows: one forward step of rows of one or more sequences, and the page
// tables it reads (what each row's attention sees, where its K/V are written).
#include <algorithm>
#include <cstring>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_sequence.h"
#include "cuda/cuda_util.h"

namespace fm::cuda {

namespace {

static_assert(sizeof(kernels::KvRun) == sizeof(DeviceKvRun), "a host run and a device run share one layout");

constexpr int kTargetBlocksPerSm = 4;

}  // namespace

Status CudaBackend::build_step_tables(std::vector<SequenceRows>& sequences, int rows) {
  const ModelConfig& c = model_.config();
  const int64_t row_elements = (int64_t)c.n_kv_heads * c.head_dim;
  host_tables_.clear();
  layer_tables_.assign(c.n_layers, LayerTable{});
  store_writes_.assign(c.n_layers, {});
  bounce_copies_.clear();
  auto put = [&](const void* data, size_t bytes) -> int64_t {
    const int64_t offset = round_up((int64_t)host_tables_.size(), 16);
    host_tables_.resize((size_t)(offset + (int64_t)bytes));
    if (bytes) std::memcpy(host_tables_.data() + offset, data, bytes);
    return offset;
  };

  std::vector<int32_t> positions(rows), row_sequence(rows);
  for (size_t s = 0; s < sequences.size(); ++s) {
    for (int i = 0; i < sequences[s].n_rows; ++i) {
      positions[sequences[s].first_row + i] = sequences[s].state->kv.n_tokens() + i;
      row_sequence[sequences[s].first_row + i] = (int32_t)s;
    }
  }
  positions_offset_ = put(positions.data(), positions.size() * 4);
  row_sequence_offset_ = put(row_sequence.data(), row_sequence.size() * 4);

  int64_t bounce_used = 0;
  std::vector<__half*> k_dst(rows), v_dst(rows);
  for (int l = 0; l < c.n_layers; ++l) {
    const bool local = c.layer_is_local[l];
    const int slot = layer_slot_[l];
    page_table_.clear();
    std::fill(k_dst.begin(), k_dst.end(), nullptr);
    std::fill(v_dst.begin(), v_dst.end(), nullptr);
    for (size_t s = 0; s < sequences.size(); ++s) {
      const SequenceRows& seq = sequences[s];
      const KvStore& kv = seq.state->kv;
      const KvLayout& layout = kv.layout();
      const int32_t n_tokens = kv.n_tokens();
      if (local) {
        const int32_t window = c.sliding_window;
        __half* ring_k = cuda_sequence(*seq.state).rings + (int64_t)slot * 2 * window * row_elements;
        __half* ring_v = ring_k + (int64_t)window * row_elements;
        ring_runs(n_tokens, window, reinterpret_cast<const uint16_t*>(ring_k), reinterpret_cast<const uint16_t*>(ring_v),
                  row_elements, page_table_.runs);
        // Only the last `window` rows of a block survive in the ring (and two rows must
        // never write one slot in the same kernel).
        for (int i = std::max(0, seq.n_rows - window); i < seq.n_rows; ++i) {
          const int64_t at = (int64_t)((n_tokens + i) % window) * row_elements;
          k_dst[seq.first_row + i] = ring_k + at;
          v_dst[seq.first_row + i] = ring_v + at;
        }
      } else {
        const int32_t chunk_tokens = layout.chunk_tokens;
        attended_global_chunks(*seq.state, chunks_);
        for (int64_t index : chunks_) {
          const Chunk& chunk = kv.chunk(index);
          const int32_t n = std::min(chunk_tokens, n_tokens - chunk.first_pos());
          if (n <= 0) continue;
          const Tier tier = kv.residency(kv.page_of_chunk(index)).tier;
          if (tier == Tier::kDevice) {
            page_table_.runs.push_back({chunk.k(layout, slot), chunk.v(layout, slot), n, chunk.first_pos()});
          } else if (tier == Tier::kHost) {
            // Exact but slow: the chunk's K and V of this layer (adjacent) come up for this step.
            const int64_t bytes = 2 * (int64_t)chunk_tokens * layout.row_bytes();
            FM_ASSERT(bounce_used + bytes <= bounce_capacity_);  // sized by prepare_step's count
            const uint8_t* at = bounce_ + bounce_used;
            page_table_.runs.push_back({reinterpret_cast<const uint16_t*>(at),
                                        reinterpret_cast<const uint16_t*>(at + bytes / 2), n, chunk.first_pos()});
            bounce_copies_.push_back({chunk.k(layout, slot), bytes});
            bounce_used += bytes;
          } else {
            return Status::error("CUDA backend: chunk " + std::to_string(index) +
                                 " is on the disk tier, which attention does not read; give the host tier room");
          }
        }
        bool pages_on_device = true;
        for (int i = 0; i < seq.n_rows && pages_on_device; ++i) {
          pages_on_device = kv.residency(kv.page_of_chunk((n_tokens + i) / chunk_tokens)).tier == Tier::kDevice;
        }
        if (!pages_on_device) {
          store_writes_[l].push_back((int)s);  // the store copies them where the page is
        } else {
          for (int i = 0; i < seq.n_rows; ++i) {
            const int32_t pos = n_tokens + i;
            const Chunk& chunk = kv.chunk(pos / chunk_tokens);
            const int64_t at = (int64_t)(pos % chunk_tokens) * row_elements;
            k_dst[seq.first_row + i] = const_cast<__half*>(reinterpret_cast<const __half*>(chunk.k(layout, slot))) + at;
            v_dst[seq.first_row + i] = const_cast<__half*>(reinterpret_cast<const __half*>(chunk.v(layout, slot))) + at;
          }
        }
      }
      // The rows' own K/V, written after attention: causality by position.
      page_table_.runs.push_back({reinterpret_cast<const uint16_t*>(k16_ + (int64_t)seq.first_row * row_elements),
                                  reinterpret_cast<const uint16_t*>(v16_ + (int64_t)seq.first_row * row_elements),
                                  seq.n_rows, n_tokens});
      page_table_.end_sequence();
    }
    LayerTable& table = layer_tables_[l];
    table.runs_offset = put(page_table_.runs.data(), page_table_.runs.size() * sizeof(kernels::KvRun));
    table.offsets_offset = put(page_table_.offsets.data(), page_table_.offsets.size() * 4);
    table.k_dst_offset = put(k_dst.data(), k_dst.size() * sizeof(__half*));
    table.v_dst_offset = put(v_dst.data(), v_dst.size() * sizeof(__half*));
    table.max_runs = page_table_.max_runs_per_sequence();
  }
  return Status::ok();
}

Status CudaBackend::run_rows(std::vector<SequenceRows>& sequences, const int32_t* tokens, int rows,
                             bool all_rows_logits, std::span<float* const> host_logits) {
  const ModelConfig& c = model_.config();
  const int d = c.n_embd, hd = c.head_dim;
  const int qd = c.n_heads * hd, kvd = c.n_kv_heads * hd;
  const int qkv_width = qd + 2 * kvd;
  const int n_vocab = model_.n_vocab();
  for (const SequenceRows& seq : sequences) {
    if (!seq.state->backend) return Status::error("CUDA backend: the sequence was not attached");
  }
  Status hook_status;
  if (sequences.size() > 1) {
    for (const SequenceRows& seq : sequences) FM_ASSERT(seq.n_rows == 1);  // batched decode
  }

  // Everything before the first kernel may fail and leave the sequences as they were.
  for (SequenceRows& seq : sequences) seq.state->kv.begin_block(seq.n_rows);
  std::vector<int> splits(c.n_layers, 1);
  int n_capture = 0;
  Status prepared = prepare_step(sequences, tokens, rows, splits, n_capture);
  if (!prepared) {
    for (SequenceRows& seq : sequences) seq.state->kv.abort_block();
    return prepared;
  }
  const int32_t* d_tokens = reinterpret_cast<const int32_t*>(tables_ + tokens_offset_);
  const int32_t* d_positions = reinterpret_cast<const int32_t*>(tables_ + positions_offset_);
  const int32_t* d_row_sequence = reinterpret_cast<const int32_t*>(tables_ + row_sequence_offset_);

  embed_rows(embedding_, d_tokens, rows, d, c.embedding_scale, x_, compute_);
  rms_norm_to_bf16(x_, layers_[0].attn_norm, rows, d, c.rms_eps, normed_, compute_);
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = layers_[l];
    const bool local = c.layer_is_local[l];
    for (size_t s = 0; s < sequences.size(); ++s) {
      const std::vector<int>& wanted = sequences[s].state->capture_layers;
      for (size_t k = 0; k < wanted.size(); ++k) {
        if (wanted[k] != l) continue;
        const int last_row = sequences[s].first_row + sequences[s].n_rows - 1;
        FM_CUDA_CHECK(cudaMemcpyAsync(captured_ + ((int64_t)s * n_capture + k) * d, x_ + (int64_t)last_row * d,
                                      (size_t)d * 4, cudaMemcpyDeviceToDevice, compute_));
      }
    }
    gemm(w.qkv, qkv_width, d, normed_, rows, qkv_);
    RopeSetup rope;
    rope.head_dim = hd;
    rope.n_heads = c.n_heads;
    rope.n_kv_heads = c.n_kv_heads;
    rope.freq_base = local ? c.rope_base_local : c.rope_base_global;
    rope.freq_scale = local ? 1.0f : c.rope_scale_global;
    rope.neox = c.rope_neox;
    rope.eps = c.rms_eps;
    qk_norm_rope(qkv_, w.q_norm, w.k_norm, d_positions, rows, rope, q_, k16_, v16_, compute_);
    if (!local) {
      Status observed = run_watching_hooks(sequences, layer_slot_[l]);
      if (hook_status.is_ok()) hook_status = observed;
    }

    const LayerTable& table = layer_tables_[l];
    PagedAttentionParams attention;
    attention.n_heads = c.n_heads;
    attention.n_kv_heads = c.n_kv_heads;
    attention.head_dim = hd;
    attention.scale = c.attention_scale;
    attention.window = local ? c.sliding_window : 0;
    attention.logit_softcap = c.attn_logit_softcap;
    paged_attention(attention, q_, d_positions, d_row_sequence,
                    reinterpret_cast<const DeviceKvRun*>(tables_ + table.runs_offset),
                    reinterpret_cast<const int32_t*>(tables_ + table.offsets_offset), rows, splits[l], partial_,
                    attended_, compute_);
    scatter_kv_rows(k16_, v16_, reinterpret_cast<__half* const*>(tables_ + table.k_dst_offset),
                    reinterpret_cast<__half* const*>(tables_ + table.v_dst_offset), rows, kvd, compute_);
    for (int s : store_writes_[l]) {
      const SequenceRows& seq = sequences[s];
      seq.state->kv.write_global(layer_slot_[l], reinterpret_cast<const uint16_t*>(k16_ + (int64_t)seq.first_row * kvd),
                                 reinterpret_cast<const uint16_t*>(v16_ + (int64_t)seq.first_row * kvd));
    }
    gemm(w.output, d, qd, attended_, rows, o_);
    add_residual_and_norm(x_, o_, c.sandwich_norms ? w.post_attn_norm : nullptr, w.ffn_norm, rows, d, c.rms_eps, normed_,
                          compute_);
    gemm(w.gate_up, 2 * c.n_ff, d, normed_, rows, gate_up_);
    gated_activation(gate_up_, rows, c.n_ff, c.ffn_activation == FfnActivation::kGelu, activated_, compute_);
    gemm(w.down, d, c.n_ff, activated_, rows, o_);
    const float* next_norm = l + 1 < c.n_layers ? layers_[l + 1].attn_norm : output_norm_;
    add_residual_and_norm(x_, o_, c.sandwich_norms ? w.post_ffn_norm : nullptr, next_norm, rows, d, c.rms_eps, normed_,
                          compute_);
  }

  // The head, for the rows whose logits are wanted.
  const bool one_sequence = sequences.size() == 1;
  const int first = all_rows_logits || !one_sequence ? 0 : rows - 1;
  const int count = rows - first;
  // From here on the block's K/V are written: a failure is a broken device (fatal), not
  // an error the sequence could recover from.
  if (Status grown = grow(logits_, logits_capacity_, (int64_t)count * n_vocab); !grown) {
    fail_device("grow(logits)", grown.message().c_str(), __FILE__, __LINE__);
  }
  gemm(head_, n_vocab, d, normed_ + (int64_t)first * d, count, logits_);
  if (c.final_logit_softcap > 0) softcap(logits_, (int64_t)count * n_vocab, c.final_logit_softcap, compute_);
  argmax_rows(logits_, count, n_vocab, best_, compute_);
  best_host_.resize(count);
  FM_CUDA_CHECK(cudaMemcpyAsync(best_host_.data(), best_, (size_t)count * 4, cudaMemcpyDeviceToHost, compute_));
  std::vector<float> captured_host((size_t)sequences.size() * n_capture * d);
  if (n_capture > 0) {
    FM_CUDA_CHECK(cudaMemcpyAsync(captured_host.data(), captured_, captured_host.size() * 4, cudaMemcpyDeviceToHost,
                                compute_));
  }
  for (size_t s = 0; s < sequences.size(); ++s) {
    float* out = s < host_logits.size() ? host_logits[s] : nullptr;
    if (!out) continue;
    const SequenceRows& seq = sequences[s];
    const int from = all_rows_logits ? seq.first_row : seq.first_row + seq.n_rows - 1;
    const int n = all_rows_logits ? seq.n_rows : 1;
    FM_CUDA_CHECK(cudaMemcpyAsync(out, logits_ + (int64_t)(from - first) * n_vocab, (size_t)n * n_vocab * 4,
                                cudaMemcpyDeviceToHost, compute_));
  }
  FM_CUDA_CHECK(cudaStreamSynchronize(compute_));
  FM_CUDA_CHECK(cudaGetLastError());
  for (size_t s = 0; s < sequences.size(); ++s) {
    ForwardState& state = *sequences[s].state;
    state.kv.end_block();
    state.greedy_token = best_host_[sequences[s].first_row + sequences[s].n_rows - 1 - first];
    const size_t wanted = state.capture_layers.size() * (size_t)d;
    if (state.captured_hidden.size() != wanted) state.captured_hidden.resize(wanted);
    if (wanted > 0) std::memcpy(state.captured_hidden.data(), captured_host.data() + s * n_capture * d, wanted * 4);
  }
  return hook_status;
}

// The step's set-up, after begin_block (which may have moved pages down to make room, so
// the host chunks are counted now): the bounce buffer, the page tables, the split counts,
// the scratch, and the tables' upload with the host chunks' copies.
Status CudaBackend::prepare_step(std::vector<SequenceRows>& sequences, const int32_t* tokens, int rows,
                                 std::vector<int>& splits, int& n_capture) {
  const ModelConfig& c = model_.config();
  const int hd = c.head_dim;
  int64_t bounce_bytes = 0;
  for (const SequenceRows& seq : sequences) {
    const KvStore& kv = seq.state->kv;
    attended_global_chunks(*seq.state, chunks_);
    int64_t host_chunks = 0;
    for (int64_t index : chunks_) host_chunks += kv.residency(kv.page_of_chunk(index)).tier == Tier::kHost;
    bounce_bytes += host_chunks * c.n_global_layers() * 2 * kv.layout().chunk_tokens * kv.layout().row_bytes();
  }
  FM_RETURN_IF_ERROR(ensure_scratch(rows, 0, bounce_bytes));
  FM_RETURN_IF_ERROR(build_step_tables(sequences, rows));
  tokens_offset_ = round_up((int64_t)host_tables_.size(), 16);
  host_tables_.resize((size_t)tokens_offset_ + (size_t)rows * 4);
  std::memcpy(host_tables_.data() + tokens_offset_, tokens, (size_t)rows * 4);

  // Splits per layer: enough blocks to fill the GPU, at least two runs per split.
  int sm_count = 0;
  cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, options_.device);
  const int target_blocks = kTargetBlocksPerSm * std::max(1, sm_count);
  int64_t partial_floats = 1;
  for (int l = 0; l < c.n_layers; ++l) {
    const int wanted = (target_blocks + rows * c.n_kv_heads - 1) / (rows * c.n_kv_heads);
    splits[l] = std::max(1, std::min(wanted, layer_tables_[l].max_runs / 2));
    partial_floats = std::max<int64_t>(partial_floats, (int64_t)rows * c.n_heads * splits[l] * (hd + 2));
  }
  FM_RETURN_IF_ERROR(ensure_scratch(rows, partial_floats, bounce_bytes));
  if ((int64_t)host_tables_.size() > tables_capacity_) FM_CUDA_TRY(cudaStreamSynchronize(compute_));
  FM_RETURN_IF_ERROR(grow(tables_, tables_capacity_, (int64_t)host_tables_.size()));
  FM_CUDA_TRY(cudaMemcpyAsync(tables_, host_tables_.data(), host_tables_.size(), cudaMemcpyHostToDevice, compute_));
  int64_t bounce_at = 0;
  for (const auto& [source, bytes] : bounce_copies_) {
    FM_CUDA_TRY(cudaMemcpyAsync(bounce_ + bounce_at, source, (size_t)bytes, cudaMemcpyHostToDevice, compute_));
    bounce_at += bytes;
  }
  FM_ASSERT(bounce_at <= bounce_capacity_);

  // Hidden states a policy wants: [sequence][capture layer][n_embd], copied as the
  // residual stream enters each of those layers, brought down with the logits.
  n_capture = 0;
  for (const SequenceRows& seq : sequences) n_capture = std::max(n_capture, (int)seq.state->capture_layers.size());
  if (n_capture > 0) {
    const int64_t needed = (int64_t)sequences.size() * n_capture * c.n_embd;
    int64_t capacity = captured_capacity_;
    if (needed > capacity) FM_CUDA_TRY(cudaStreamSynchronize(compute_));
    FM_RETURN_IF_ERROR(grow(captured_, capacity, needed));
    captured_capacity_ = capacity;
  }
  return Status::ok();
}

// A policy's attention hook sees a block's queries and the history it attends to, on the
// host as on the CPU, for the blocks it watches (SnapKV's and LSA's prompt votes: the end
// of a prefill). This stalls the step for a copy of the history, once per prompt. A hook
// that narrows what attention reads (Quest, LSA's Level 2) is not applied here: the step
// runs over the full resident set and the error says so.
Status CudaBackend::run_watching_hooks(std::vector<SequenceRows>& sequences, int global_slot) {
  const ModelConfig& c = model_.config();
  const int qd = c.n_heads * c.head_dim;
  Status status;
  for (const SequenceRows& seq : sequences) {
    ForwardState& state = *seq.state;
    const int32_t first_pos = state.kv.n_tokens();
    if (!state.hook || !state.hook->watches(first_pos, seq.n_rows)) continue;
    std::vector<float> queries((size_t)seq.n_rows * qd);
    FM_CUDA_TRY(cudaMemcpyAsync(queries.data(), q_ + (int64_t)seq.first_row * qd, queries.size() * 4,
                                cudaMemcpyDeviceToHost, compute_));
    FM_CUDA_TRY(cudaStreamSynchronize(compute_));
    std::vector<int32_t> positions(seq.n_rows);
    for (int i = 0; i < seq.n_rows; ++i) positions[i] = first_pos + i;
    // The history as host copies, narrowed to the resident set as the CPU's attention is.
    std::vector<kernels::KvRun> runs;
    state.kv.global_runs(global_slot, runs);
    if (state.resident.restricted) {
      attended_global_chunks(state, chunks_);
      const int32_t chunk_tokens = state.kv.layout().chunk_tokens;
      std::erase_if(runs, [&](const kernels::KvRun& run) {
        return !std::binary_search(chunks_.begin(), chunks_.end(), (int64_t)(run.first_pos / chunk_tokens));
      });
    }
    kernels::AttentionParams params;
    params.n_heads = c.n_heads;
    params.n_kv_heads = c.n_kv_heads;
    params.head_dim = c.head_dim;
    params.scale = c.attention_scale;
    params.logit_softcap = c.attn_logit_softcap;
    const size_t before = runs.size();
    state.hook->before_attention(global_slot, params, queries.data(), positions.data(), seq.n_rows, runs);
    if (runs.size() != before && status.is_ok()) {
      status = Status::error("CUDA backend: the policy narrows attention per step (quest, lsa --level2-top-k), "
                             "which runs on the CPU only");
    }
  }
  return status;
}

}  // namespace fm::cuda
