// GPT-2-style byte-level BPE ("gpt2" tokenizer model; SmolLM, Llama 3, Qwen, ...), as
// llama.cpp performs it: the pre-tokenizer splits the text into words, each word's UTF-8
// bytes are shown as printable code points (bytes_to_unicode), and within a word the
// adjacent pair with the lowest merge rank is merged until no listed merge applies.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/bpe_pretokenizer.h"
#include "tokenizer/token_lookup.h"
#include "tokenizer/vocab.h"

namespace fm {

class BpeEncoder {
 public:
  // Fails for a pre-tokenizer (tokenizer.ggml.pre) that is not implemented.
  static Result<std::unique_ptr<BpeEncoder>> create(const Vocab& vocab, const TokenLookup& lookup);

  // Encodes one raw-text fragment (special tokens already split out).
  void encode(std::string_view fragment, std::vector<int32_t>& out) const;

 private:
  BpeEncoder(const Vocab& vocab, const TokenLookup& lookup,
             PreTokenizer pre_tokenizer);  // builds ranks
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // Rank of merging `left` with `right`, or -1 when the pair is not a listed merge.
  int32_t merge_rank(std::string_view left, std::string_view right, std::string& key_buffer) const;

  const TokenLookup& lookup_;
  PreTokenizer pre_tokenizer_;
  // "left right" -> rank. Byte-level texts never contain a plain space (it is shown as
  // U+0120), so joining with one is unambiguous.
  std::unordered_map<std::string, int32_t> ranks_;
};

}  // namespace fm
