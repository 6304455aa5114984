// Hand-made vocabularies for tokenizer tests that need no model file.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace fm::test {

// Appends a token and returns its id.
inline int32_t add_token(Vocab& vocab, std::string text, float score = 0.0f,
                         TokenType type = TokenType::normal) {
  vocab.texts.push_back(std::move(text));
  vocab.scores.push_back(score);
  vocab.types.push_back(type);
  return static_cast<int32_t>(vocab.texts.size() - 1);
}

// SentencePiece-style: <unk> <bos> <eos>, then all 256 <0xXX> byte pieces (ids 3..258).
inline Vocab make_spm_vocab() {
  Vocab vocab;
  vocab.model_name = "llama";
  vocab.unk_id = add_token(vocab, "<unk>", 0, TokenType::unknown);
  vocab.bos_id = add_token(vocab, "<bos>", 0, TokenType::control);
  vocab.eos_id = add_token(vocab, "<eos>", 0, TokenType::control);
  for (int byte = 0; byte < 256; ++byte) {
    char text[8];
    std::snprintf(text, sizeof(text), "<0x%02X>", byte);
    add_token(vocab, text, 0, TokenType::byte);
  }
  vocab.add_bos = true;
  return vocab;
}

inline int32_t byte_token(int byte) { return 3 + byte; }

// GPT-2 byte-level: one token per byte, shown through the byte-level map, ids 0..255 in
// byte order; merges are added by the test.
inline Vocab make_byte_level_vocab() {
  Vocab vocab;
  vocab.model_name = "gpt2";
  vocab.pre_tokenizer_name = "gpt-2";
  for (int byte = 0; byte < 256; ++byte) {
    std::string text;
    unicode::append_utf8(unicode::byte_to_codepoint(static_cast<uint8_t>(byte)), text);
    add_token(vocab, text);
  }
  return vocab;
}

// The byte-level text of a UTF-8 string ("Ġ" for a space, and so on).
inline std::string byte_level(std::string_view text) {
  std::string out;
  for (unsigned char byte : text) unicode::append_utf8(unicode::byte_to_codepoint(byte), out);
  return out;
}

inline std::unique_ptr<Tokenizer> must_create(Vocab vocab) {
  auto tokenizer = Tokenizer::create(std::move(vocab));
  if (!tokenizer) {
    std::fprintf(stderr, "Tokenizer::create failed: %s\n", tokenizer.status().message().c_str());
    return nullptr;
  }
  return std::move(tokenizer.value());
}

}  // namespace fm::test
