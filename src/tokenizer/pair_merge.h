// The merge loop both subword algorithms share: start from one piece per UTF-8
// character, then repeatedly join the adjacent pair of highest priority until no pair
// qualifies. SentencePiece ranks a pair by the vocabulary score of the joined token, BPE by
// the rank of the merge rule; ties go to the leftmost pair, as in llama.cpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "tokenizer/unicode.h"

namespace fm {

// A run of text bytes in a doubly linked list of pieces.
struct MergePiece {
  size_t start = 0;
  size_t length = 0;  // 0 once merged into its left neighbour
  int prev = -1;
  int next = -1;
};

// One piece per UTF-8 character; the lead byte alone decides the length, clipped at the
// end of the text.
inline std::vector<MergePiece> split_into_characters(std::string_view text) {
  std::vector<MergePiece> pieces;
  pieces.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t length = std::min(
        unicode::utf8_sequence_length(static_cast<uint8_t>(text[offset])), text.size() - offset);
    MergePiece piece;
    piece.start = offset;
    piece.length = length;
    piece.prev = static_cast<int>(pieces.size()) - 1;
    offset += length;
    piece.next = offset == text.size() ? -1 : static_cast<int>(pieces.size()) + 1;
    pieces.push_back(piece);
  }
  return pieces;
}

// priority(left, right) -> std::optional<double>: nullopt when the pair may not merge,
// else its priority (higher merges first). Afterwards the surviving pieces are those
// reachable from pieces[0] through `next`.
template <typename Priority>
void merge_adjacent_pieces(std::vector<MergePiece>& pieces, const Priority& priority) {
  struct Candidate {
    int left = 0;
    int right = 0;
    double priority = 0;
    size_t length = 0;  // bytes of the merged text, to recognise stale candidates
  };
  // Max-heap order: higher priority first; on equal priorities the leftmost pair first.
  auto lower = [](const Candidate& a, const Candidate& b) {
    return a.priority < b.priority || (a.priority == b.priority && a.left > b.left);
  };
  std::vector<Candidate> heap;
  heap.reserve(pieces.size());
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::optional<double> p = priority(pieces[left], pieces[right]);
    if (!p) return;
    heap.push_back(Candidate{left, right, *p, pieces[left].length + pieces[right].length});
    std::push_heap(heap.begin(), heap.end(), lower);
  };
  for (int i = 1; i < static_cast<int>(pieces.size()); ++i) consider(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower);
    const Candidate best = heap.back();
    heap.pop_back();
    MergePiece& left = pieces[best.left];
    MergePiece& right = pieces[best.right];
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
}

}  // namespace fm
