// Text <-> token ids for a model, built from its Vocab and token-exact with llama.cpp's
// llama_tokenize / llama_token_to_piece for the supported tokenizer models:
//   "llama" - SentencePiece-style score merges with byte fallback (Gemma 3, Llama 2)
//   "gpt2"  - byte-level BPE with a pre-tokenizer regex (SmolLM2 and the GPT-2 family)
// Special tokens are split out first (special_tokens.h), then each remaining text
// fragment goes through the model's subword algorithm. All methods are const and safe to
// call from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/vocab.h"

namespace fm {

class TokenLookup;
class SpecialTokenMatcher;
class SpmEncoder;
class BpeEncoder;

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(Vocab vocab);
  ~Tokenizer();

  // add_bos: add the special tokens the model wants around a sequence (bos when
  //   vocab().add_bos, eos when vocab().add_eos), as llama_tokenize's add_special does.
  // parse_special: also recognise control tokens written in the text ("<start_of_turn>");
  //   otherwise only user-defined tokens are, and control tokens read as plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  // The bytes a token stands for, as llama.cpp's token_to_piece renders them with
  // special=true: control tokens as their text, byte tokens as the raw byte (so a piece
  // can be part of a UTF-8 character), unused tokens as nothing. Empty for invalid ids.
  const std::string& decode_token(int32_t id) const;

  // Concatenated pieces. With render_special=false, control and unknown tokens render as
  // nothing (for showing generated text). The space a SentencePiece vocabulary adds in
  // front of the text is removed from the first piece, so decode(encode(s)) == s for text
  // whose tokens round-trip.
  std::string decode(std::span<const int32_t> ids, bool render_special = true) const;

  const Vocab& vocab() const { return vocab_; }
  bool is_end_of_generation(int32_t id) const;

 private:
  explicit Tokenizer(Vocab vocab);

  Vocab vocab_;
  std::unique_ptr<TokenLookup> lookup_;
  std::unique_ptr<SpecialTokenMatcher> special_tokens_;
  std::unique_ptr<SpmEncoder> spm_;  // exactly one of spm_ and bpe_ is set
  std::unique_ptr<BpeEncoder> bpe_;
  std::vector<std::string> pieces_;  // decode_token for every id, computed once
};

}  // namespace fm
