#include "tokenizer/spm_encoder.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "tokenizer/unicode.h"

namespace fm {

namespace {

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// A run of bytes of the text, linked to its neighbours that are still alive.
struct Piece {
  size_t start = 0;
  size_t length = 0;  // 0 once merged into its left neighbour
  int prev = -1;
  int next = -1;
};

// A candidate merge of two adjacent pieces into a vocabulary token.
struct Candidate {
  int left = 0;
  int right = 0;
  float score = 0.0f;
  size_t length = 0;  // bytes of the merged text, to recognise stale candidates
};

// Max-heap order: higher score first; on equal scores the leftmost pair first.
struct LowerPriority {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

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
  // One piece per UTF-8 character; the lead byte alone decides the length, clipped at
  // the end of the text.
  std::vector<Piece> pieces;
  pieces.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t length = std::min(
        unicode::utf8_sequence_length(static_cast<uint8_t>(text[offset])), text.size() - offset);
    Piece piece;
    piece.start = offset;
    piece.length = length;
    piece.prev = static_cast<int>(pieces.size()) - 1;
    offset += length;
    piece.next = offset == text.size() ? -1 : static_cast<int>(pieces.size()) + 1;
    pieces.push_back(piece);
  }

  std::vector<Candidate> heap;
  heap.reserve(pieces.size());
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t length = pieces[left].length + pieces[right].length;
    const int32_t id = lookup_.find(text.substr(pieces[left].start, length));
    if (id == kNoToken) return;
    heap.push_back(Candidate{left, right, vocab_.scores[id], length});
    std::push_heap(heap.begin(), heap.end(), LowerPriority{});
  };
  for (int i = 1; i < static_cast<int>(pieces.size()); ++i) consider(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), LowerPriority{});
    const Candidate best = heap.back();
    heap.pop_back();
    Piece& left = pieces[best.left];
    Piece& right = pieces[best.right];
    // Stale if either side was merged away or grew since this candidate was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != best.length)
      continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) pieces[right.next].prev = best.left;
    consider(left.prev, best.left);
    consider(best.left, left.next);
  }

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
