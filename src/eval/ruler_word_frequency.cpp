// The two aggregation tasks of RULER: common words extraction
// (scripts/data/synthetic/common_words_extraction.py: a numbered list where 10 words
// repeat often and the rest rarely) and frequent words extraction
// (freq_words_extraction.py: coded 6-letter words with Zipf-distributed counts).
#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_set>

#include "eval/ruler_calibration.h"
#include "eval/ruler_generators.h"
#include "eval/ruler_random.h"
#include "eval/ruler_templates.h"

namespace fm::eval {
namespace {

using ruler_template::replace_all;

// RULER switches to a smaller few-shot example and lower repeat counts below this
// max_seq_length.
constexpr std::size_t kShortContextTokens = 4096;

// The cwe vocabulary: RULER's sorted set of wonderwords nouns + adjectives + verbs.
std::vector<std::string> single_words(const RulerHaystack& haystack) {
  std::set<std::string> all;
  for (const auto* list : {&haystack.nouns, &haystack.adjectives, &haystack.verbs}) {
    all.insert(list->begin(), list->end());
  }
  return {all.begin(), all.end()};
}

// `count` distinct words in random order. RULER samples from the wonderwords lists and,
// when more words are needed than those hold, from a larger English list
// (english_words.json) that is not part of our data; beyond the lists we add distinct
// "adjective-noun" compounds instead.
std::vector<std::string> distinct_words(const std::vector<std::string>& singles,
                                        const RulerHaystack& haystack, std::size_t count,
                                        RulerRng& rng) {
  std::vector<std::string> words;
  if (count <= singles.size()) {
    for (std::size_t i : rng.sample(singles.size(), count)) words.push_back(singles[i]);
    return words;
  }
  words = singles;
  std::unordered_set<std::string> seen(singles.begin(), singles.end());
  const std::uint64_t pairs = haystack.adjectives.size() * haystack.nouns.size();
  while (words.size() < count) {
    const std::uint64_t pick = rng.below(pairs);
    std::string w = haystack.adjectives[pick / haystack.nouns.size()] + "-" +
                    haystack.nouns[pick % haystack.nouns.size()];
    if (seen.insert(w).second) words.push_back(std::move(w));
  }
  rng.shuffle(words);
  return words;
}

std::string numbered(const std::vector<std::string>& words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i) out.push_back(' ');
    out += std::to_string(i + 1) + ". " + words[i];
  }
  return out;
}

struct WordList {
  std::string text;                  // "1. w 2. w ..."
  std::vector<std::string> common;   // the words repeated `common_repeats` times
};

// RULER's get_example: the first `num_common` sampled words repeat `common_repeats`
// times, the others `uncommon_repeats` times, all shuffled together.
WordList word_list(const std::vector<std::string>& singles, const RulerHaystack& haystack,
                   std::size_t num_words, int common_repeats, int uncommon_repeats,
                   std::size_t num_common, RulerRng& rng) {
  std::vector<std::string> words = distinct_words(singles, haystack, num_words, rng);
  WordList out;
  const std::size_t split = std::min(num_common, words.size());
  out.common.assign(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(split));
  std::vector<std::string> repeated;
  for (int r = 0; r < common_repeats; ++r) repeated.insert(repeated.end(), out.common.begin(), out.common.end());
  for (int r = 0; r < uncommon_repeats; ++r) {
    repeated.insert(repeated.end(), words.begin() + static_cast<std::ptrdiff_t>(split), words.end());
  }
  rng.shuffle(repeated);
  out.text = numbered(repeated);
  return out;
}

// k^-s. Integer exponents use plain multiplication so that the counts (floored below)
// are the same on every platform; std::pow is not correctly rounded everywhere.
double inverse_power(double k, double s) {
  if (s == std::floor(s) && s >= 1 && s <= 16) {
    double p = 1;
    for (int i = 0; i < static_cast<int>(s); ++i) p *= k;
    return 1.0 / p;
  }
  return std::pow(k, -s);
}

// Riemann zeta for s > 1 (scipy.special.zeta in RULER): pi^2/6 for the published
// alpha of 2, otherwise a partial sum plus the Euler-Maclaurin tail, accurate far
// beyond what floor(count) needs.
double riemann_zeta(double s) {
  constexpr double kPi = 3.14159265358979323846;
  if (s == 2.0) return kPi * kPi / 6.0;
  constexpr int kTerms = 1000;
  double sum = 0;
  for (int n = 1; n < kTerms; ++n) sum += inverse_power(double(n), s);
  const double N = kTerms;
  return sum + std::pow(N, 1 - s) / (s - 1) + 0.5 * std::pow(N, -s) + s * std::pow(N, -s - 1) / 12;
}

}  // namespace

Result<TaskSample> generate_common_words(const RulerTaskConfig& task, const RulerHaystack& haystack,
                                         std::uint64_t sample_seed, std::size_t target_tokens,
                                         const TokenCounter& counter) {
  const std::vector<std::string> singles = single_words(haystack);
  if (singles.empty() || haystack.adjectives.empty() || haystack.nouns.empty()) {
    return Status::error(task.name + ": word lists are not loaded");
  }
  const std::size_t num_common = static_cast<std::size_t>(task.num_common);
  const bool short_context = target_tokens < kShortContextTokens;
  const auto prompt_parts = ruler_template::split_at_context(ruler_template::kCommonWords);
  const std::string prefix(ruler_template::kCommonWordsAnswerPrefix);

  auto build = [&](std::size_t num_words) -> Result<TaskSample> {
    RulerRng rng(sample_seed);
    // One solved example first: the full prompt, the answer prefix, then the answer.
    const WordList example = short_context
                                 ? word_list(singles, haystack, 20, 3, 1, num_common, rng)
                                 : word_list(singles, haystack, 40, 10, 3, num_common, rng);
    const WordList list =
        short_context ? word_list(singles, haystack, num_words, 6, 1, num_common, rng)
                      : word_list(singles, haystack, num_words, task.common_repeats,
                                  task.uncommon_repeats, num_common, rng);
    std::string head = prompt_parts.head + example.text + prompt_parts.tail + prefix + " " +
                       numbered(example.common) + "\n" + prompt_parts.head;
    TaskSample sample;
    fill_prompt(sample, head, list.text, prompt_parts.tail);
    sample.answer_prefix = prefix;
    sample.answers = list.common;
    return sample;
  };
  return calibrate_to_length(build, counter, target_tokens, num_common, 256);
}

Result<TaskSample> generate_frequent_words(const RulerTaskConfig& task, std::uint64_t sample_seed,
                                           std::size_t target_tokens, const TokenCounter& counter) {
  if (task.zipf_alpha <= 1.0 || task.coded_word_length < 3) {
    return Status::error(task.name + ": needs alpha > 1 and coded words of 3+ letters");
  }
  // RULER: vocab_size = (max_seq_length - tokens_to_generate) // 50, our prompt budget.
  const std::size_t vocab_size = std::max<std::size_t>(target_tokens / 50, 5);
  const double zeta = riemann_zeta(task.zipf_alpha);
  const auto prompt_parts = ruler_template::split_at_context(ruler_template::kFrequentWords);

  auto build = [&](std::size_t num_words) -> Result<TaskSample> {
    RulerRng rng(sample_seed);
    std::set<std::string> distinct;
    while (distinct.size() < vocab_size) {
      std::string w;
      for (int i = 0; i < task.coded_word_length; ++i) w.push_back(static_cast<char>('a' + rng.below(26)));
      distinct.insert(std::move(w));
    }
    std::vector<std::string> vocab(distinct.begin(), distinct.end());
    rng.shuffle(vocab);
    vocab[0] = "...";  // the top-ranked word is noise the prompt tells the model to ignore
    // Word of rank k appears floor(num_words * k^-alpha / zeta(alpha)) times.
    std::vector<std::string> words;
    for (std::size_t k = 1; k <= vocab.size(); ++k) {
      const auto count = static_cast<std::size_t>(
          double(num_words) * inverse_power(double(k), task.zipf_alpha) / zeta);
      if (count == 0) break;  // counts only fall with rank
      words.insert(words.end(), count, vocab[k - 1]);
    }
    rng.shuffle(words);
    std::string body;
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (i) body.push_back(' ');
      body += words[i];
    }
    TaskSample sample;
    fill_prompt(sample, prompt_parts.head, body, prompt_parts.tail);
    sample.answer_prefix = std::string(ruler_template::kFrequentWordsAnswerPrefix);
    sample.answers.assign(vocab.begin() + 1, vocab.begin() + 4);
    return sample;
  };
  // At 100 words the ranks 2..5 already get distinct counts (15, 6, 3, 2).
  return calibrate_to_length(build, counter, target_tokens, 100, 1000);
}

}  // namespace fm::eval
