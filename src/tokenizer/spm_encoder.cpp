#include "tokenizer/spm_encoder.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "tokenizer/pair_merge.h"
#include "tokenizer/unicode.h"

namespace fm {

namespace {

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

}  // namespace

SpmEncoder::SpmEncoder(const Vocab& vocab, const TokenLookup& lookup)
    : vocab_(vocab), lookup_(lookup) {
  for (int byte = 0; byte < 256; ++byte) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "<0x%02X>", byte);
    int32_t id = lookup.find(hex);
    if (id == kNoToken && byte != 0) {
      // Some vocabularies spell byte pieces as the bare byte.
      const char bare = static_cast<char>(byte);
      id = lookup.find(std::string_view(&bare, 1));
    }
    byte_tokens_[byte] = id;
  }
}

void SpmEncoder::append_byte_fallback(uint8_t byte, std::vector<int32_t>& out) const {
  // A vocabulary without a piece for this byte cannot represent it; unk is the honest
  // stand-in (llama.cpp gives up with an exception here).
  const int32_t id = byte_tokens_[byte] != kNoToken ? byte_tokens_[byte] : vocab_.unk_id;
  if (id != kNoToken) out.push_back(id);
}

void SpmEncoder::encode(std::string_view fragment, bool at_sequence_start,
                        std::vector<int32_t>& out) const {
  std::string text;
  text.reserve(fragment.size() + 8);
  if (vocab_.add_space_prefix && at_sequence_start) text += kEscapedSpace;
  for (char c : fragment) {
    if (c == ' ')
      text += kEscapedSpace;
    else
      text.push_back(c);
  }
  merge_pieces(text, out);
}

void SpmEncoder::merge_pieces(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<MergePiece> pieces = split_into_characters(text);
  // A pair may merge when the joined text is a token; higher vocabulary score first.
  merge_adjacent_pieces(pieces, [&](const MergePiece& l, const MergePiece& r) -> std::optional<double> {
    const int32_t id = lookup_.find(text.substr(l.start, l.length + r.length));
    if (id == kNoToken) return std::nullopt;
    return static_cast<double>(vocab_.scores[id]);
  });

  // Every merged piece is a token by construction; a lone character may not be.
  for (int i = 0; i != -1; i = pieces[i].next) {
    const std::string_view piece_text = text.substr(pieces[i].start, pieces[i].length);
    const int32_t id = lookup_.find(piece_text);
    if (id != kNoToken) {
      out.push_back(id);
      continue;
    }
    for (char byte : piece_text) append_byte_fallback(static_cast<uint8_t>(byte), out);
  }
}

}  // namespace fm
