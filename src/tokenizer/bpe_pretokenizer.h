// Splits text into words before byte-level BPE, reproducing the regexes that llama.cpp
// applies for each tokenizer.ggml.pre value. Hand-written matchers instead of std::regex:
// std::regex has no Unicode classes and backtracks badly on long inputs; these run in one
// pass over the code points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace fm {

enum class PreTokenizer {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
  gpt2,
  // Every \p{N} code point on its own first, then the gpt2 pattern on what is between:
  // StarCoder-family vocabularies (SmolLM, Refact, Command-R, ...).
  gpt2_isolated_digits,
};

// nullopt for a tokenizer.ggml.pre value this engine does not implement.
std::optional<PreTokenizer> pre_tokenizer_for(std::string_view name);

// Word lengths, in code points, that partition `codepoints`.
std::vector<size_t> split_words(const std::vector<uint32_t>& codepoints, PreTokenizer kind);

}  // namespace fm
