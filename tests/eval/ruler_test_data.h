// Shared by the RULER tests: the data directory, a whitespace token counter, and small
// text helpers.
#pragma once

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <cstdlib>
#include <fstream>

#include "eval/ruler_tasks.h"

namespace fm::eval::test {

// $FLASHMEM_DATA (scripts/test.sh points it at python/make_synthetic_eval_data.py's output
// unless it is set); "" when unset.
inline std::string ruler_data_dir() {
  const char* env = std::getenv("FLASHMEM_DATA");
  return env && *env ? std::string(env) : std::string();
}

// Under CI=true a missing data folder fails the test instead of skipping it.
inline bool ci() {
  const char* env = std::getenv("CI");
  return env && std::string(env) == "true";
}

// The data is loaded once for the whole test binary; nullptr when it is not present.
inline const RulerData* ruler_data() {
  static const RulerData* data = [] () -> const RulerData* {
    if (ruler_data_dir().empty() || !std::filesystem::exists(ruler_data_dir() + "/haystack/paul_graham_essays")) {
      return nullptr;
    }
    auto loaded = load_ruler_data(ruler_data_dir());
    if (!loaded) return nullptr;
    return new RulerData(std::move(*loaded));
  }();
  return data;
}

inline std::vector<std::string> split_words(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::vector<std::string> words;
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

inline std::size_t whitespace_tokens(std::string_view text) { return split_words(text).size(); }

inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = text.find('\n', start);
    lines.emplace_back(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) return lines;
    start = nl + 1;
  }
}

inline std::size_t count_occurrences(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace fm::eval::test

#define FM_REQUIRE_RULER_DATA()                                              \
  do {                                                                       \
    if (::fm::eval::test::ruler_data() == nullptr) {                         \
      if (::fm::eval::test::ci()) FAIL() << "CI=true: no RULER data (FLASHMEM_DATA)"; \
      GTEST_SKIP() << "RULER data not found (set FLASHMEM_DATA)";           \
    }                                                                        \
  } while (0)
