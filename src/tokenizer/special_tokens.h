// Splits input text around special tokens before any subword algorithm sees it.
//
// Candidates are the control, user-defined and unknown tokens; user-defined ones are always
// matched, control and unknown ones only when the caller asks to parse special tokens.
// Matching follows llama.cpp exactly: candidates are tried longest text first, and each one
// claims all its non-overlapping occurrences (leftmost first) in the text still unclaimed.
// That is not leftmost-longest matching, and the difference shows on overlapping tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace fm {

// Either a special token, or raw text [offset, offset + length) of the input.
struct TextFragment {
  int32_t token = kNoToken;
  size_t offset = 0;
  size_t length = 0;
  bool is_token() const { return token != kNoToken; }
};

class SpecialTokenMatcher {
 public:
  explicit SpecialTokenMatcher(const Vocab& vocab);

  std::vector<TextFragment> partition(std::string_view text, bool parse_special) const;

 private:
  // Which candidates occur anywhere in `text` (a trie walk from every position), so the
  // llama.cpp-ordered passes run only for those few instead of for thousands of candidates.
  std::vector<int32_t> candidates_present(std::string_view text, bool parse_special) const;

  struct TrieNode {
    int32_t token = kNoToken;  // candidate whose text ends here
  };
  const Vocab& vocab_;
  std::vector<TrieNode> nodes_;                      // node 0 is the root
  std::unordered_map<uint64_t, uint32_t> children_;  // (node << 8 | byte) -> child node
  std::vector<int32_t> rank_by_token_;               // position in longest-first order, or -1
};

}  // namespace fm
