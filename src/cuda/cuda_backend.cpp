// CudaBackend: set-up (weights, pool, sequences) and the forward step. The step reads top
// to bottom like Model::forward_block: embed, then per layer the attention sub-layer
// (norm, fused Q/K/V product, QK-norm + RoPE, paged attention, KV written, output product,
// residual) and the feed-forward sub-layer, then the head. Host work per step: one table
// upload before the kernels, one download (argmax, logits, captured states) after.
#include "cuda/cuda_backend.h"

#include <algorithm>
#include <cstring>

#include "cuda/cuda_sequence.h"
#include "cuda/cuda_util.h"
#include "kernels/matmul.h"

namespace fm::cuda {

namespace {

uint16_t to_bf16_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);  // NaN stays NaN
  return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);                 // round to nearest even
}

}  // namespace

Result<std::unique_ptr<CudaBackend>> CudaBackend::create(const Model& model, const CudaBackendOptions& options,
                                                         ThreadPool& pool) {
  const ModelConfig& c = model.config();
  if (!paged_attention_supports(c.head_dim, c.n_heads / std::max(1, c.n_kv_heads)) ||
      c.n_heads % c.n_kv_heads != 0) {
    return Status::error("CUDA backend: head_dim " + std::to_string(c.head_dim) + " with " +
                         std::to_string(c.n_heads) + " heads over " + std::to_string(c.n_kv_heads) +
                         " KV heads is not supported (head_dim 32/64/128/256, at most 8 heads per KV head)");
  }
  int devices = 0;
  FM_CUDA_TRY(cudaGetDeviceCount(&devices));
  if (options.device < 0 || options.device >= devices) {
    return Status::error("CUDA backend: no device " + std::to_string(options.device) + " (" +
                         std::to_string(devices) + " found)");
  }
  FM_CUDA_TRY(cudaSetDevice(options.device));
  std::unique_ptr<CudaBackend> backend(new CudaBackend(model));
  backend->options_ = options;
  cudaDeviceProp properties{};
  FM_CUDA_TRY(cudaGetDeviceProperties(&properties, options.device));
  backend->device_name_ = properties.name;
  FM_CUDA_TRY(cudaStreamCreateWithFlags(&backend->compute_, cudaStreamNonBlocking));
  FM_CUDA_TRY(cudaStreamCreateWithFlags(&backend->copy_, cudaStreamNonBlocking));
  if (cublasCreate(&backend->cublas_) != CUBLAS_STATUS_SUCCESS) return Status::error("CUDA backend: cublasCreate failed");
  cublasSetStream(backend->cublas_, backend->compute_);
  FM_RETURN_IF_ERROR(backend->upload_weights(pool));
  int l_global = 0, l_local = 0;
  for (int l = 0; l < c.n_layers; ++l) backend->layer_slot_.push_back(c.layer_is_local[l] ? l_local++ : l_global++);
  return backend;
}

CudaBackend::~CudaBackend() {
  if (compute_) cudaStreamSynchronize(compute_);
  page_pool_.reset();
  for (void* p : allocations_) cudaFree(p);
  for (void* p : {(void*)x_, (void*)normed_, (void*)qkv_, (void*)q_, (void*)k16_, (void*)v16_, (void*)attended_,
                  (void*)o_, (void*)gate_up_, (void*)activated_, (void*)logits_, (void*)best_, (void*)captured_,
                  (void*)partial_, (void*)bounce_, (void*)tables_}) {
    if (p) cudaFree(p);
  }
  if (cublas_) cublasDestroy(cublas_);
  if (compute_) cudaStreamDestroy(compute_);
  if (copy_) cudaStreamDestroy(copy_);
}

Status CudaBackend::upload_weights(ThreadPool& pool) {
  const ModelConfig& c = model_.config();
  const ModelWeights& w = model_.weights();
  // Rows of one or more matrices (stacked) dequantized to fp32 on the CPU, rounded to
  // bf16, copied up.
  auto upload_matrices = [&](std::initializer_list<const kernels::WeightMatrix*> parts,
                             __nv_bfloat16*& out) -> Status {
    int64_t rows = 0;
    const int64_t cols = (*parts.begin())->cols;
    for (const auto* m : parts) {
      if (m->cols != cols) return Status::error("CUDA backend: stacked matrices differ in width");
      rows += m->rows;
    }
    std::vector<uint16_t> host((size_t)(rows * cols));
    int64_t row0 = 0;
    for (const auto* m : parts) {
      pool.run([&](int index, int count) {
        std::vector<float> row((size_t)cols);
        for (int64_t r = m->rows * index / count; r < m->rows * (index + 1) / count; ++r) {
          kernels::dequantize_row(m->type, m->data + r * m->row_stride_bytes, row.data(), cols);
          uint16_t* dst = host.data() + (row0 + r) * cols;
          for (int64_t i = 0; i < cols; ++i) dst[i] = to_bf16_bits(row[i]);
        }
      });
      row0 += m->rows;
    }
    void* device = nullptr;
    FM_CUDA_TRY(cudaMalloc(&device, host.size() * 2));
    allocations_.push_back(device);
    FM_CUDA_TRY(cudaMemcpy(device, host.data(), host.size() * 2, cudaMemcpyHostToDevice));
    weight_bytes_ += (int64_t)host.size() * 2;
    out = static_cast<__nv_bfloat16*>(device);
    return Status::ok();
  };
  auto upload_vector = [&](const float* values, int64_t n, float*& out) -> Status {
    out = nullptr;
    if (!values) return Status::ok();
    void* device = nullptr;
    FM_CUDA_TRY(cudaMalloc(&device, (size_t)n * sizeof(float)));
    allocations_.push_back(device);
    FM_CUDA_TRY(cudaMemcpy(device, values, (size_t)n * sizeof(float), cudaMemcpyHostToDevice));
    weight_bytes_ += n * (int64_t)sizeof(float);
    return Status::ok();
  };
  FM_RETURN_IF_ERROR(upload_matrices({&w.token_embedding}, embedding_));
  if (w.output.data == w.token_embedding.data) {
    head_ = embedding_;
  } else {
    FM_RETURN_IF_ERROR(upload_matrices({&w.output}, head_));
  }
  FM_RETURN_IF_ERROR(upload_vector(w.output_norm, c.n_embd, output_norm_));
  layers_.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    const fm::LayerWeights& src = w.layers[l];
    LayerWeights& dst = layers_[l];
    FM_RETURN_IF_ERROR(upload_matrices({&src.wq, &src.wk, &src.wv}, dst.qkv));
    FM_RETURN_IF_ERROR(upload_matrices({&src.wo}, dst.output));
    FM_RETURN_IF_ERROR(upload_matrices({&src.w_gate, &src.w_up}, dst.gate_up));
    FM_RETURN_IF_ERROR(upload_matrices({&src.w_down}, dst.down));
    FM_RETURN_IF_ERROR(upload_vector(src.attn_norm, c.n_embd, dst.attn_norm));
    FM_RETURN_IF_ERROR(upload_vector(src.q_norm, c.head_dim, dst.q_norm));
    FM_RETURN_IF_ERROR(upload_vector(src.k_norm, c.head_dim, dst.k_norm));
    FM_RETURN_IF_ERROR(upload_vector(src.post_attn_norm, c.n_embd, dst.post_attn_norm));
    FM_RETURN_IF_ERROR(upload_vector(src.ffn_norm, c.n_embd, dst.ffn_norm));
    FM_RETURN_IF_ERROR(upload_vector(src.post_ffn_norm, c.n_embd, dst.post_ffn_norm));
  }
  return Status::ok();
}

Status CudaBackend::attach(ForwardState& state, const KvTierOptions& tiers) {
  const ModelConfig& c = model_.config();
  if (state.kv.n_tokens() != 0) return Status::error("CUDA backend: attach needs an empty sequence");
  const KvLayout& layout = state.kv.layout();
  const int64_t page_bytes = layout.chunk_bytes() * std::max(1, tiers.chunks_per_page);
  if (!page_pool_ && page_bytes > 0) {
    int64_t bytes = options_.page_pool_bytes;
    if (bytes <= 0) {
      size_t free_bytes = 0, total_bytes = 0;
      FM_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
      bytes = (int64_t)(free_bytes * 0.4);
    }
    auto pool = CudaPagePool::create(page_bytes, bytes);
    if (!pool) return pool.status();
    page_pool_ = std::move(pool.value());
  }
  if (page_pool_ && page_pool_->slot_bytes() != page_bytes) {
    return Status::error("CUDA backend: every sequence must use the same page size (chunk size and chunks per page)");
  }
  if (page_bytes > 0) {
    FM_RETURN_IF_ERROR(state.kv.configure_tiers(
        tiers, std::make_unique<CudaDeviceArena>(*page_pool_, tiers.device_budget_bytes, compute_, copy_, &pinning_)));
  }
  auto sequence = std::make_unique<CudaSequence>();
  sequence->ring_bytes = (int64_t)c.n_local_layers() * 2 * c.sliding_window * layout.row_bytes();
  if (sequence->ring_bytes > 0) {
    void* rings = nullptr;
    FM_CUDA_TRY(cudaMalloc(&rings, (size_t)sequence->ring_bytes));
    sequence->rings = static_cast<__half*>(rings);
  }
  state.kv.use_external_rings(sequence->ring_bytes);
  state.backend = std::move(sequence);
  return Status::ok();
}

Status CudaBackend::copy_sequence(ForwardState& target, const ForwardState& source) {
  if (!target.backend || !source.backend) return Status::error("CUDA backend: copy of a sequence not attached");
  FM_RETURN_IF_ERROR(target.kv.copy_contents_from(source.kv));
  const CudaSequence& from = cuda_sequence(source);
  CudaSequence& to = cuda_sequence(target);
  if (from.ring_bytes != to.ring_bytes) return Status::error("CUDA backend: ring sizes differ");
  if (from.ring_bytes > 0) {
    FM_CUDA_TRY(cudaMemcpyAsync(to.rings, from.rings, (size_t)from.ring_bytes, cudaMemcpyDeviceToDevice, compute_));
    FM_CUDA_TRY(cudaStreamSynchronize(compute_));
  }
  return Status::ok();
}

void CudaBackend::gemm(const __nv_bfloat16* weight, int out_features, int in_features, const __nv_bfloat16* x,
                       int rows, float* y) {
  // Row-major y[rows, out] = x[rows, in] * weight[out, in]^T is, column-major,
  // y^T[out, rows] = weight^T... : A = weight read transposed (lda = in), B = x (ldb = in).
  const float alpha = 1.0f, beta = 0.0f;
  FM_CUBLAS_CHECK(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, out_features, rows, in_features, &alpha, weight,
                               CUDA_R_16BF, in_features, x, CUDA_R_16BF, in_features, &beta, y, CUDA_R_32F,
                               out_features, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

Status CudaBackend::ensure_scratch(int rows, int64_t partial_floats, int64_t bounce_bytes) {
  const ModelConfig& c = model_.config();
  if (rows > scratch_rows_) {
    FM_CUDA_TRY(cudaStreamSynchronize(compute_));
    const int64_t r = round_up(rows, 64);
    const int64_t qkv_width = (int64_t)(c.n_heads + 2 * c.n_kv_heads) * c.head_dim;
    int64_t unused = 0;
    auto fresh = [&](auto*& buffer, int64_t count) -> Status {
      unused = 0;
      if (buffer) FM_CUDA_TRY(cudaFree(buffer));
      buffer = nullptr;
      return grow(buffer, unused, count);
    };
    FM_RETURN_IF_ERROR(fresh(x_, r * c.n_embd));
    FM_RETURN_IF_ERROR(fresh(normed_, r * c.n_embd));
    FM_RETURN_IF_ERROR(fresh(qkv_, r * qkv_width));
    FM_RETURN_IF_ERROR(fresh(q_, r * c.n_heads * c.head_dim));
    FM_RETURN_IF_ERROR(fresh(k16_, r * c.n_kv_heads * c.head_dim));
    FM_RETURN_IF_ERROR(fresh(v16_, r * c.n_kv_heads * c.head_dim));
    FM_RETURN_IF_ERROR(fresh(attended_, r * c.n_heads * c.head_dim));
    FM_RETURN_IF_ERROR(fresh(o_, r * c.n_embd));
    FM_RETURN_IF_ERROR(fresh(gate_up_, r * 2 * c.n_ff));
    FM_RETURN_IF_ERROR(fresh(activated_, r * c.n_ff));
    FM_RETURN_IF_ERROR(fresh(best_, r));
    scratch_rows_ = (int)r;
  }
  if (partial_floats > partial_capacity_ || bounce_bytes > bounce_capacity_) FM_CUDA_TRY(cudaStreamSynchronize(compute_));
  FM_RETURN_IF_ERROR(grow(partial_, partial_capacity_, partial_floats));
  FM_RETURN_IF_ERROR(grow(bounce_, bounce_capacity_, bounce_bytes));
  return Status::ok();
}

Status CudaBackend::forward(ForwardState& state, std::span<const int32_t> tokens, bool all_logits,
                            std::vector<float>& logits) {
  if (tokens.empty()) return Status::error("forward: no tokens");
  const int n_vocab = model_.n_vocab();
  for (int32_t t : tokens) {
    if (t < 0 || t >= n_vocab) return Status::error("forward: token id " + std::to_string(t) + " is outside the vocabulary");
  }
  const bool host = state.host_logits;
  logits.resize(host ? (all_logits ? tokens.size() : 1) * (size_t)n_vocab : 0);
  const size_t block = (size_t)std::max(1, state.max_block_tokens);
  for (size_t begin = 0; begin < tokens.size(); begin += block) {
    const int n = (int)std::min(block, tokens.size() - begin);
    const bool last = begin + n == tokens.size();
    std::vector<SequenceRows> sequences{{&state, 0, n}};
    float* out = nullptr;
    if (host && all_logits) out = logits.data() + begin * n_vocab;
    if (host && !all_logits && last) out = logits.data();
    FM_RETURN_IF_ERROR(run_rows(sequences, tokens.data() + begin, n, all_logits, std::span<float* const>(&out, 1)));
    FM_RETURN_IF_ERROR(state.kv.status());
  }
  return Status::ok();
}

Status CudaBackend::forward_batch(std::span<ForwardState* const> states, std::span<const int32_t> tokens,
                                  std::span<float* const> logits) {
  const int n = (int)states.size();
  if (n == 0) return Status::ok();
  if ((int)tokens.size() != n || (int)logits.size() != n) {
    return Status::error("forward_batch: one token and one logits row per sequence");
  }
  for (int32_t t : tokens) {
    if (t < 0 || t >= model_.n_vocab()) return Status::error("forward_batch: token id outside the vocabulary");
  }
  std::vector<SequenceRows> sequences;
  for (int i = 0; i < n; ++i) sequences.push_back({states[i], i, 1});
  FM_RETURN_IF_ERROR(run_rows(sequences, tokens.data(), n, false, logits));
  for (ForwardState* s : states) FM_RETURN_IF_ERROR(s->kv.status());
  return Status::ok();
}

}  // namespace fm::cuda
