// Building blocks of the memory-QA generator (memqa_generator.h): a platform-independent
// random source, calendar dates, a word-level blocklist, and the filler small talk that
// buries the facts. The filler draws on the shared word lists and essay prose so that two
// samples rarely share a sentence; its templates are this evaluation's own and must not be
// reused by the training-data generators (a model trained on them would learn the haystack).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fm::eval::memqa {

// splitmix64: a fixed algorithm, so a seed gives the same sample with every standard
// library (std::uniform_int_distribution is implementation-defined).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [0, n); n > 0.
  std::size_t below(std::size_t n);
  // Uniform in [lo, hi], inclusive.
  int between(int lo, int hi);
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }

 private:
  std::uint64_t state_;
};

// Mixes several integers into one seed (order matters).
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b, std::uint64_t c);

// A proleptic Gregorian calendar day.
struct Date {
  int year = 2023;
  int month = 1;
  int day = 1;
};
// Days since 2000-01-01 (negative before it).
long days_since_2000(const Date& date);
Date date_from_days_since_2000(long days);
std::string format_iso(const Date& date);  // "2023-05-14"

// Lowercase runs of ASCII letters; "Half-brother's" -> {"half", "brother", "s"}.
std::vector<std::string> lowercase_words(std::string_view text);

// Words that must not appear in filler: the subject of an abstention question, the values
// of the facts being asked about. Matching is by whole lowercase word.
class ReservedWords {
 public:
  void add(std::string_view phrase);
  bool hits(std::string_view text) const;
  bool contains_word(const std::string& lowercase_word) const {
    return words_.count(lowercase_word) != 0;
  }

 private:
  std::set<std::string> words_;
};

struct Turn {
  bool from_user = true;
  std::string text;
};

// One user message and the assistant's reply.
struct Exchange {
  Turn user;
  Turn assistant;
};

// Generates varied small-talk and advice exchanges from word lists and essay sentences.
class FillerSource {
 public:
  // Reads words/{adjectivelist,nounlist,verblist}.txt and haystack/paul_graham_essays/*.txt
  // under data_dir (the evaluation data folder, $FLASHMEM_DATA; never in the repository).
  static Result<FillerSource> load(const std::string& data_dir);

  // One exchange whose text avoids every reserved word.
  Exchange exchange(Rng& rng, const ReservedWords& reserved) const;

  // Single list words and essay sentences that avoid every reserved word.
  std::string adjective(Rng& rng, const ReservedWords& reserved) const {
    return word(rng, adjectives_, reserved);
  }
  std::string noun(Rng& rng, const ReservedWords& reserved) const {
    return word(rng, nouns_, reserved);
  }
  std::string sentences(Rng& rng, const ReservedWords& reserved, int count) const;

  std::size_t sentence_count() const { return sentences_.size(); }

 private:
  std::string word(Rng& rng, const std::vector<std::string>& list,
                   const ReservedWords& reserved) const;
  std::string sentence(Rng& rng, const ReservedWords& reserved) const;

  std::vector<std::string> adjectives_;
  std::vector<std::string> nouns_;
  std::vector<std::string> verbs_;
  std::vector<std::string> sentences_;  // whole essay sentences, whitespace collapsed
};

// "a" or "an" before a word, by its first letter (good enough for list words).
std::string with_article(const std::string& word);
std::string capitalized(std::string text);

}  // namespace fm::eval::memqa
