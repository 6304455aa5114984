#include "tokenizer/bpe_encoder.h"

#include <algorithm>

#include "tokenizer/pair_merge.h"
#include "tokenizer/unicode.h"

namespace fm {

Result<std::unique_ptr<BpeEncoder>> BpeEncoder::create(const Vocab& vocab,
                                                       const TokenLookup& lookup) {
  std::optional<PreTokenizer> pre = pre_tokenizer_for(vocab.pre_tokenizer_name);
  if (!pre) {
    return Status::error(
        "unsupported BPE pre-tokenizer '" + vocab.pre_tokenizer_name +
        "' (tokenizer.ggml.pre); implemented: gpt-2 and smollm/starcoder families");
  }
  return std::unique_ptr<BpeEncoder>(new BpeEncoder(vocab, lookup, *pre));
}

BpeEncoder::BpeEncoder(const Vocab& vocab, const TokenLookup& lookup, PreTokenizer pre_tokenizer)
    : lookup_(lookup), pre_tokenizer_(pre_tokenizer) {
  ranks_.reserve(vocab.merges.size());
  for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    const auto& [left, right] = vocab.merges[rank];
    if (left.empty() || right.empty()) continue;
    // A pair listed twice keeps its first (lowest) rank.
    ranks_.emplace(left + " " + right, static_cast<int32_t>(rank));
  }
}

int32_t BpeEncoder::merge_rank(std::string_view left, std::string_view right,
                               std::string& key) const {
  key.assign(left);
  key.push_back(' ');
  key.append(right);
  auto it = ranks_.find(key);
  return it == ranks_.end() ? -1 : it->second;
}

void BpeEncoder::encode(std::string_view fragment, std::vector<int32_t>& out) const {
  const std::vector<uint32_t> cps = unicode::decode_utf8_lenient(fragment);
  const std::vector<size_t> word_lengths = split_words(cps, pre_tokenizer_);
  std::string utf8;
  std::string word;
  size_t start = 0;
  for (size_t length : word_lengths) {
    // Re-encode the code points (malformed input became U+FFFD), then show each byte as
    // its byte-level code point.
    utf8.clear();
    for (size_t i = start; i < start + length; ++i) unicode::append_utf8(cps[i], utf8);
    start += length;
    word.clear();
    for (unsigned char byte : utf8) unicode::append_utf8(unicode::byte_to_codepoint(byte), word);
    encode_word(word, out);
  }
}

void BpeEncoder::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<MergePiece> pieces = split_into_characters(word);
  std::string key;
  // Lower merge rank first: priority = -rank.
  merge_adjacent_pieces(pieces, [&](const MergePiece& l, const MergePiece& r) -> std::optional<double> {
    const int32_t rank =
        merge_rank(word.substr(l.start, l.length), word.substr(r.start, r.length), key);
    if (rank < 0) return std::nullopt;
    return -static_cast<double>(rank);
  });

  for (int i = 0; i != -1; i = pieces[i].next) {
    const std::string_view piece_text = word.substr(pieces[i].start, pieces[i].length);
    const int32_t id = lookup_.find(piece_text);
    if (id != kNoToken) {
      out.push_back(id);
      continue;
    }
    // A merge result missing from the vocabulary: fall back to single-byte tokens where the
    // vocabulary has them, dropping the rest, exactly as llama.cpp does.
    for (char byte : piece_text) {
      const int32_t byte_id = lookup_.find(std::string_view(&byte, 1));
      if (byte_id != kNoToken) out.push_back(byte_id);
    }
  }
}

}  // namespace fm
