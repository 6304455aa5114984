// The haystack material of the RULER tasks (NVIDIA/RULER, scripts/data/synthetic):
// the Paul Graham essays as one word stream, the repeated "noise" sentence, and the
// English adjective/noun/verb lists that RULER takes from the `wonderwords` package.
// All of it is read from a data directory given by the caller (the runner passes
// $FLASHMEM_DATA); nothing is bundled into the binary.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fm::eval {

// RULER's "noise" haystack: this sentence repeated once per haystack unit.
inline constexpr std::string_view kRulerNoiseSentence =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

struct RulerHaystack {
  // The essays concatenated in file-name order with nothing between them (as RULER's
  // download script builds PaulGrahamEssays.json), then split on runs of whitespace.
  std::vector<std::string> essay_words;
  // The word lists, one entry per non-empty line, in file order.
  std::vector<std::string> adjectives;
  std::vector<std::string> nouns;
  std::vector<std::string> verbs;
};

// Reads <data_dir>/haystack/paul_graham_essays/*.txt (except LICENSE*) and
// <data_dir>/words/{adjectivelist,nounlist,verblist}.txt.
Result<RulerHaystack> load_ruler_haystack(const std::string& data_dir);

// One entry per non-empty line (trimmed).
Result<std::vector<std::string>> read_word_list(const std::string& path);

// Whether a sentence ends between `word` and `next_word` of whitespace-split prose.
// A stand-in for NLTK's punkt tokenizer that RULER uses: terminal punctuation (possibly
// followed by closing quotes or brackets), not a known abbreviation, and a next word
// that starts like a sentence (capital letter, digit or opening quote).
bool ends_sentence(std::string_view word, std::string_view next_word);

// The first `word_count` essay words (the stream repeats when shorter, as RULER does),
// grouped into sentences, each sentence's words joined by single spaces.
std::vector<std::string> essay_sentences(const RulerHaystack& haystack, std::size_t word_count);

}  // namespace fm::eval
