// RoPE for the Memory Indexer's query heads, with the YaRN frequency correction.
//
// Layout (as in the released FlashMemory-DS-V4 retriever): the rotated dims are the *last*
// rope_dims of each head, taken as interleaved pairs (2i, 2i+1) -> a complex number rotated
// by position * freq_i. (The engine's model RoPE in kernels/ops.h rotates the first dims
// and supports the NeoX half-split pairing; the indexer needs neither.)
//
// YaRN (Peng et al. 2023, "YaRN: Efficient Context Window Extension of Large Language
// Models", section 3.2 "NTK-by-parts"), as DeepSeek's releases compute it:
//   freq_i     = base^(-2i / rope_dims),                i in [0, rope_dims / 2)
//   corr(r)    = rope_dims * ln(original_context / (2 pi r)) / (2 ln base)
//                (the pair index whose wavelength spans r rotations of the original context)
//   low        = max(floor(corr(beta_fast)), 0),  high = min(ceil(corr(beta_slow)), rope_dims/2 - 1)
//   ramp_i     = 0 for i < low, 1 for i >= high, (i - low) / max(high - low, 1) between
//   freq'_i    = freq_i * (1 - ramp_i) + (freq_i / factor) * ramp_i
// High-frequency pairs (small i) keep their frequency, low-frequency pairs are interpolated
// by `factor`. YaRN's attention temperature (mscale) scales softmax logits; the indexer has
// no softmax over keys, and the released retriever does not apply it, so neither do we.
// Arithmetic is fp32 in the order the reference uses, so angles match it bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/indexer_config.h"

namespace fm {

// Per-pair frequencies [rope_dims / 2] for a config (YaRN-corrected when enabled).
std::vector<float> indexer_rope_frequencies(const IndexerConfig& config);

// Rotates the last rope_dims dims of one head x[head_dim] in place at `position`
// (clamped to [0, max_position)).
void indexer_apply_rope(float* head, int head_dim, const std::vector<float>& frequencies,
                        int64_t position, int64_t max_position);

}  // namespace fm
