// A model's vocabulary as its GGUF file describes it (tokenizer.ggml.* keys), with the
// conventions llama.cpp applies on load (default special ids, end-of-generation tokens
// recognised by their text) already resolved, so a tokenizer needs nothing else.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace fm::gguf {
class File;
}

namespace fm {

// tokenizer.ggml.token_type values (SentencePiece's piece types plus "byte").
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,       // <bos>, <start_of_turn>, ...: only matched in text when asked to
  user_defined = 4,  // always matched verbatim in text before subword splitting
  unused = 5,
  byte = 6,  // <0xXX> byte-fallback pieces
};

constexpr int32_t kNoToken = -1;

struct Vocab {
  // tokenizer.ggml.model: "llama" (SentencePiece-style) or "gpt2" (byte-level BPE).
  std::string model_name;
  // tokenizer.ggml.pre: the BPE pre-tokenizer regex family ("smollm", "gpt-2", ...).
  std::string pre_tokenizer_name;

  // Indexed by token id; all three have the same length.
  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<TokenType> types;

  // BPE merges, rank = index (lower merges first): pairs of token texts.
  std::vector<std::pair<std::string, std::string>> merges;

  int32_t bos_id = kNoToken;
  int32_t eos_id = kNoToken;
  int32_t unk_id = kNoToken;
  int32_t pad_id = kNoToken;
  int32_t eot_id = kNoToken;  // end of turn: <end_of_turn>, <|im_end|>, <|eot_id|>, ...
  // Every id that ends generation (eos, eot and the like), sorted.
  std::vector<int32_t> end_of_generation_ids;

  bool add_bos = false;           // prepend bos when encoding with special tokens
  bool add_eos = false;           // append eos when encoding with special tokens
  bool add_space_prefix = false;  // SentencePiece: a space before the text (and after specials)

  // Chat formatting hints: general.architecture and tokenizer.chat_template (may be empty).
  std::string architecture;
  std::string chat_template;

  size_t size() const { return texts.size(); }
  bool contains(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < texts.size(); }
};

// Reads tokenizer.ggml.* (and general.architecture) from a GGUF file. Every special id is
// checked to be inside the vocabulary, and array lengths must agree.
Result<Vocab> load_vocab(const gguf::File& file);

// Structural checks shared by load_vocab and Tokenizer::create (hand-made vocabularies).
Status validate_vocab(const Vocab& vocab);

}  // namespace fm
