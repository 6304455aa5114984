// Element-wise and row-wise operations of the forward pass. All fp32, in place where the
// signature says so. Each has a scalar reference; SIMD variants are picked at run time.
#pragma once

#include <cstdint>

namespace fm::kernels {

// y = x / sqrt(mean(x^2) + eps) * weight, over rows of n. x and y may alias.
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);

// Rotary position embedding on one row of n_heads * head_dim values, in place, applied to
// the first rope_dims dims of each head.
//  neox = true: pairs (i, i + rope_dims/2) (Gemma, GPT-NeoX style);
//  neox = false: pairs (2i, 2i+1) (Llama as converted to GGUF).
// theta_i = pos * freq_scale * base^(-2i/rope_dims).
struct RopeParams {
  int head_dim = 0;
  int rope_dims = 0;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  bool neox = true;
};
void rope(float* x, int n_heads, int32_t pos, const RopeParams& params);

// GELU, tanh approximation (as Gemma's hidden_activation gelu_pytorch_tanh).
void gelu_tanh(float* x, int64_t n);
// x = gelu_tanh(gate) * up: the GeGLU feed-forward gate.
void geglu(const float* gate, const float* up, float* out, int64_t n);
// out = silu(gate) * up: the SwiGLU gate (Llama).
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// y += x
void add_inplace(float* y, const float* x, int64_t n);
// y *= s
void scale_inplace(float* y, float s, int64_t n);
// Row-wise: fp32 -> fp16 (for the KV cache).
void to_fp16(const float* x, uint16_t* y, int64_t n);
// Logit soft-capping: x = cap * tanh(x / cap).
void softcap_inplace(float* x, float cap, int64_t n);

}  // namespace fm::kernels
