// Token text -> id, without allocating per query. Views point into the Vocab, which must
// outlive the lookup (the Tokenizer owns both).
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "tokenizer/vocab.h"

namespace fm {

class TokenLookup {
 public:
  explicit TokenLookup(const Vocab& vocab) {
    by_text_.reserve(vocab.size());
    // A text listed twice resolves to its last id, as in llama.cpp.
    for (size_t id = 0; id < vocab.size(); ++id)
      by_text_[vocab.texts[id]] = static_cast<int32_t>(id);
  }

  int32_t find(std::string_view text) const {
    auto it = by_text_.find(text);
    return it == by_text_.end() ? kNoToken : it->second;
  }

 private:
  std::unordered_map<std::string_view, int32_t> by_text_;
};

}  // namespace fm
