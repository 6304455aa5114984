// SentencePiece-style subword encoding ("llama" tokenizer model; Gemma, Llama 2), as
// llama.cpp performs it: spaces become U+2581, the text is split into UTF-8 characters,
// and adjacent pieces are merged greedily, highest vocabulary score first (ties go to the
// leftmost pair), as long as the merged text is itself a token. Characters that never
// became a token are emitted as <0xXX> byte-fallback tokens.
//
// The whole fragment is merged at once with a priority queue: O(n log n) in its length.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/token_lookup.h"
#include "tokenizer/vocab.h"

namespace fm {

class SpmEncoder {
 public:
  SpmEncoder(const Vocab& vocab, const TokenLookup& lookup);

  // Encodes one raw-text fragment (special tokens already split out). `at_sequence_start`
  // is true for the first fragment and for fragments right after a special token, where
  // a space prefix is added if the vocabulary asks for one.
  void encode(std::string_view fragment, bool at_sequence_start, std::vector<int32_t>& out) const;

 private:
  // Pieces of the escaped text, merged in place; a piece of length 0 was absorbed.
  void merge_pieces(std::string_view text, std::vector<int32_t>& out) const;
  void append_byte_fallback(uint8_t byte, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  const TokenLookup& lookup_;
  int32_t byte_tokens_[256];  // <0xXX> (or the bare byte) per byte value; kNoToken if absent
};

}  // namespace fm
