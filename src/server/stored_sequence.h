// A sequence as a shared store holds it, cut so that what sequences share is stored once:
// every full page of global-layer KV is a blob keyed by the token prefix that ends it
// (the model's KV for a position depends only on the tokens up to it), and the rest (the
// open page, the local layers' rings, the token ids and the consumed text) is a "tail"
// blob keyed by the consumed text. Every blob carries CRC32C sections and its own shape,
// so a corrupt, truncated or foreign blob is an error, never a wrong KV.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "kv/kv_contents.h"

namespace fm::server {

// Enough to continue a sequence in any process: its KV, tokens and text.
struct StoredSequence {
  std::string text;              // consumed text (the KV's tokens plus pending, detokenized)
  std::vector<int32_t> tokens;   // in the KV
  std::vector<int32_t> pending;  // sampled, not yet run
  // The next-token logits at the end of the KV, kept only when nothing is pending (a prompt
  // that a prefill process handed on): the decode process samples from them directly.
  std::vector<float> last_logits;
  KvContents contents;
};

// 64-bit FNV-1a with a final mix; `seed` chains hashes (a prefix's hash is the seed of the
// next part). Collisions are not trusted: a loaded tail's text and tokens are compared.
uint64_t content_hash(const void* data, size_t bytes, uint64_t seed);
std::string hex64(uint64_t value);

// Hashes of tokens[0 : (p+1) * chunk_tokens) for every full page p, seeded by `model_seed`.
std::vector<uint64_t> page_prefix_hashes(const std::vector<int32_t>& tokens, int chunk_tokens, uint64_t model_seed);

std::string encode_page(const KvContents& c, int64_t page, uint64_t prefix_hash);
// Copies page `page`'s rows into c (whose global arrays are sized for c.n_tokens).
Status decode_page(const std::string& blob, int64_t page, uint64_t prefix_hash, KvContents& c);

// The tail: metadata JSON (tokens, pending), the text, the last logits (often none), the
// open page's global rows and the rings.
std::string encode_tail(const StoredSequence& s);
// Fills s.text/tokens/pending and s.contents (layout `expected`, global arrays sized for
// every token, the full pages' rows left for decode_page). A tail longer than max_tokens
// (the reader's context) is refused before anything is allocated for it.
Status decode_tail(const std::string& blob, const KvLayout& expected, int64_t max_tokens, StoredSequence& s);

}  // namespace fm::server
