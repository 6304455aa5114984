#include "tokenizer/special_tokens.h"

#include <algorithm>
#include <unordered_set>

namespace fm {

namespace {

bool is_candidate_type(TokenType type) {
  return type == TokenType::control || type == TokenType::user_defined ||
         type == TokenType::unknown;
}

// Without parse_special only user-defined tokens are split out; control and unknown
// tokens then read as the plain text they spell.
bool allowed(TokenType type, bool parse_special) {
  return parse_special || type == TokenType::user_defined;
}

}  // namespace

SpecialTokenMatcher::SpecialTokenMatcher(const Vocab& vocab) : vocab_(vocab) {
  std::vector<int32_t> candidates;
  for (size_t id = 0; id < vocab.size(); ++id) {
    if (is_candidate_type(vocab.types[id])) candidates.push_back(static_cast<int32_t>(id));
  }
  // Longest text first; equal lengths by id so the order is deterministic.
  std::stable_sort(candidates.begin(), candidates.end(), [&](int32_t a, int32_t b) {
    return vocab.texts[a].size() > vocab.texts[b].size();
  });
  rank_by_token_.assign(vocab.size(), -1);
  for (size_t rank = 0; rank < candidates.size(); ++rank)
    rank_by_token_[candidates[rank]] = static_cast<int32_t>(rank);

  nodes_.emplace_back();
  for (int32_t id : candidates) {
    uint32_t node = 0;
    for (unsigned char byte : vocab.texts[id]) {
      const uint64_t key = (static_cast<uint64_t>(node) << 8) | byte;
      auto it = children_.find(key);
      if (it == children_.end()) {
        nodes_.emplace_back();
        it = children_.emplace(key, static_cast<uint32_t>(nodes_.size() - 1)).first;
      }
      node = it->second;
    }
    // Two candidates with one text: the later id wins, like the text lookup.
    nodes_[node].token = id;
  }
}

std::vector<int32_t> SpecialTokenMatcher::candidates_present(std::string_view text,
                                                             bool parse_special) const {
  std::unordered_set<int32_t> seen;
  for (size_t start = 0; start < text.size(); ++start) {
    uint32_t node = 0;
    for (size_t i = start; i < text.size(); ++i) {
      auto it =
          children_.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]));
      if (it == children_.end()) break;
      node = it->second;
      const int32_t token = nodes_[node].token;
      if (token != kNoToken && allowed(vocab_.types[token], parse_special)) seen.insert(token);
    }
  }
  std::vector<int32_t> present(seen.begin(), seen.end());
  std::sort(present.begin(), present.end(),
            [&](int32_t a, int32_t b) { return rank_by_token_[a] < rank_by_token_[b]; });
  return present;
}

std::vector<TextFragment> SpecialTokenMatcher::partition(std::string_view text,
                                                         bool parse_special) const {
  std::vector<TextFragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back(TextFragment{kNoToken, 0, text.size()});

  std::vector<TextFragment> next;
  for (int32_t token : candidates_present(text, parse_special)) {
    const std::string_view needle = vocab_.texts[token];
    next.clear();
    for (const TextFragment& fragment : fragments) {
      if (fragment.is_token()) {
        next.push_back(fragment);
        continue;
      }
      size_t begin = fragment.offset;
      const size_t end = fragment.offset + fragment.length;
      const std::string_view window = text.substr(0, end);
      while (begin < end) {
        const size_t match = window.find(needle, begin);
        if (match == std::string_view::npos) break;
        if (match > begin) next.push_back(TextFragment{kNoToken, begin, match - begin});
        next.push_back(TextFragment{token, match, needle.size()});
        begin = match + needle.size();
      }
      if (begin < end) next.push_back(TextFragment{kNoToken, begin, end - begin});
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace fm
