#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "tokenizer/bpe_encoder.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm_encoder.h"
#include "tokenizer/token_lookup.h"
#include "tokenizer/unicode.h"

namespace fm {

namespace {

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(text, pos, hit - pos);
    out.append(to);
  }
  out.append(text, pos, std::string::npos);
  text.swap(out);
}

// "<0x41>" -> 0x41; anything malformed reads as byte 0, as strtol would give.
char byte_of_byte_token(const std::string& text) {
  if (text.size() < 5) return 0;
  const std::string hex = text.substr(3, 2);
  return static_cast<char>(std::strtol(hex.c_str(), nullptr, 16));
}

// Undoes the byte-level view of a GPT-2 token. A code point that stands for no byte (a
// vocabulary that is not really byte-level) is spelled out the way llama.cpp does.
std::string decode_byte_level(const std::string& text) {
  std::string bytes;
  for (uint32_t cp : unicode::decode_utf8_lenient(text)) {
    const int byte = unicode::codepoint_to_byte(cp);
    if (byte >= 0) {
      bytes.push_back(static_cast<char>(byte));
      continue;
    }
    std::string utf8;
    unicode::append_utf8(cp, utf8);
    bytes += "[UNK_BYTE_0x";
    for (unsigned char c : utf8) {
      char hex[3];
      std::snprintf(hex, sizeof(hex), "%02x", c);
      bytes += hex;
    }
    bytes += text + "]";
  }
  return bytes;
}

std::string render_piece(const Vocab& vocab, int32_t id, bool is_spm) {
  const std::string& text = vocab.texts[id];
  switch (vocab.types[id]) {
    case TokenType::control:
    case TokenType::unknown:
    case TokenType::user_defined:
      return text;
    case TokenType::normal: {
      if (!is_spm) return decode_byte_level(text);
      std::string piece = text;
      replace_all(piece, "\xE2\x96\x81", " ");
      return piece;
    }
    case TokenType::byte:
      return std::string(1, byte_of_byte_token(text));
    case TokenType::unused:
    case TokenType::undefined:
      return std::string();
  }
  return std::string();
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(Vocab vocab) {
  FM_RETURN_IF_ERROR(validate_vocab(vocab));
  const bool is_spm = vocab.model_name == "llama";
  if (!is_spm && vocab.model_name != "gpt2") {
    return Status::error("unsupported tokenizer model '" + vocab.model_name +
                         "' (supported: llama, gpt2)");
  }
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer(std::move(vocab)));
  const Vocab& v = tokenizer->vocab_;
  tokenizer->lookup_ = std::make_unique<TokenLookup>(v);
  tokenizer->special_tokens_ = std::make_unique<SpecialTokenMatcher>(v);
  if (is_spm) {
    tokenizer->spm_ = std::make_unique<SpmEncoder>(v, *tokenizer->lookup_);
  } else {
    Result<std::unique_ptr<BpeEncoder>> bpe = BpeEncoder::create(v, *tokenizer->lookup_);
    if (!bpe) return bpe.status();
    tokenizer->bpe_ = std::move(bpe.value());
  }
  tokenizer->pieces_.reserve(v.size());
  for (size_t id = 0; id < v.size(); ++id) {
    tokenizer->pieces_.push_back(render_piece(v, static_cast<int32_t>(id), is_spm));
  }
  return tokenizer;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_bos && vocab_.add_bos) ids.push_back(vocab_.bos_id);
  // SentencePiece adds its space prefix to the first text and to text after a special token.
  bool at_sequence_start = true;
  for (const TextFragment& fragment : special_tokens_->partition(text, parse_special)) {
    if (fragment.is_token()) {
      ids.push_back(fragment.token);
      at_sequence_start = true;
      continue;
    }
    const std::string_view raw = text.substr(fragment.offset, fragment.length);
    if (spm_)
      spm_->encode(raw, at_sequence_start, ids);
    else
      bpe_->encode(raw, ids);
    at_sequence_start = false;
  }
  if (add_bos && vocab_.add_eos) ids.push_back(vocab_.eos_id);
  return ids;
}

const std::string& Tokenizer::decode_token(int32_t id) const {
  static const std::string kEmpty;
  return vocab_.contains(id) ? pieces_[id] : kEmpty;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string text;
  bool first = true;
  for (int32_t id : ids) {
    if (!vocab_.contains(id)) continue;
    const TokenType type = vocab_.types[id];
    std::string_view piece = pieces_[id];
    if (!render_special && (type == TokenType::control || type == TokenType::unknown)) piece = {};
    // Only the very first piece can carry the prefix space (llama.cpp's detokenize
    // strips it there and nowhere else).
    if (first && vocab_.add_space_prefix && !piece.empty() && piece.front() == ' ')
      piece.remove_prefix(1);
    first = false;
    text.append(piece);
  }
  return text;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  if (id == kNoToken) return false;
  if (id == vocab_.eos_id || id == vocab_.eot_id) return true;
  return std::binary_search(vocab_.end_of_generation_ids.begin(),
                            vocab_.end_of_generation_ids.end(), id);
}

}  // namespace fm
