#include "eval/ruler_haystack.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fm::eval {
namespace {

Result<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error("cannot open " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

void split_whitespace(std::string_view text, std::vector<std::string>& out) {
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
}

bool is_closing(char c) { return c == '"' || c == '\'' || c == ')' || c == ']' || c == '*'; }
bool is_opening(char c) { return c == '"' || c == '\'' || c == '(' || c == '[' || c == '*'; }

// Words whose trailing period is part of an abbreviation rather than a sentence end
// (lowercase, without the final period).
constexpr std::array<std::string_view, 24> kAbbreviations = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e",
    "inc", "ltd", "co", "corp", "u.s", "u.k", "no", "gen", "gov", "mt", "approx", "cf"};

}  // namespace

Result<std::vector<std::string>> read_word_list(const std::string& path) {
  auto text = read_text(path);
  if (!text) return text.status();
  std::vector<std::string> words;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    std::size_t b = 0, e = line.size();
    while (b < e && is_space(line[b])) ++b;
    while (e > b && is_space(line[e - 1])) --e;
    if (e > b) words.push_back(line.substr(b, e - b));
  }
  if (words.empty()) return Status::error("word list is empty: " + path);
  return words;
}

Result<RulerHaystack> load_ruler_haystack(const std::string& data_dir) {
  namespace fs = std::filesystem;
  RulerHaystack haystack;
  const fs::path essay_dir = fs::path(data_dir) / "haystack" / "paul_graham_essays";
  std::error_code ec;
  if (!fs::is_directory(essay_dir, ec)) {
    return Status::error("essay haystack directory not found: " + essay_dir.string());
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(essay_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".txt" && name.rfind("LICENSE", 0) != 0) {
      files.push_back(entry.path());
    }
  }
  if (ec) return Status::error("cannot list " + essay_dir.string() + ": " + ec.message());
  if (files.empty()) return Status::error("no essays in " + essay_dir.string());
  std::sort(files.begin(), files.end());
  // Concatenated first, split after: an essay that ends without whitespace runs into
  // the next one's first word, exactly as in RULER's PaulGrahamEssays.json.
  std::string all;
  for (const auto& f : files) {
    auto text = read_text(f);
    if (!text) return text.status();
    all += *text;
  }
  split_whitespace(all, haystack.essay_words);

  const fs::path words_dir = fs::path(data_dir) / "words";
  auto adjectives = read_word_list((words_dir / "adjectivelist.txt").string());
  if (!adjectives) return adjectives.status();
  auto nouns = read_word_list((words_dir / "nounlist.txt").string());
  if (!nouns) return nouns.status();
  auto verbs = read_word_list((words_dir / "verblist.txt").string());
  if (!verbs) return verbs.status();
  haystack.adjectives = std::move(*adjectives);
  haystack.nouns = std::move(*nouns);
  haystack.verbs = std::move(*verbs);
  return haystack;
}

bool ends_sentence(std::string_view word, std::string_view next_word) {
  std::size_t end = word.size();
  while (end > 0 && is_closing(word[end - 1])) --end;
  if (end == 0) return false;
  const char last = word[end - 1];
  if (last != '.' && last != '!' && last != '?') return false;
  if (last == '.') {
    std::string stem;
    std::size_t start = 0;
    while (start < end && is_opening(word[start])) ++start;
    for (std::size_t i = start; i + 1 < end; ++i) {
      stem.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(word[i]))));
    }
    if (stem.size() == 1 && std::isalpha(static_cast<unsigned char>(stem[0]))) return false;  // initials
    if (std::find(kAbbreviations.begin(), kAbbreviations.end(), stem) != kAbbreviations.end()) {
      return false;
    }
  }
  std::size_t i = 0;
  while (i < next_word.size() && is_opening(next_word[i])) ++i;
  if (i == next_word.size()) return !next_word.empty();
  const unsigned char first = static_cast<unsigned char>(next_word[i]);
  return std::isupper(first) || std::isdigit(first);
}

std::vector<std::string> essay_sentences(const RulerHaystack& haystack, std::size_t word_count) {
  std::vector<std::string> sentences;
  const auto& words = haystack.essay_words;
  if (words.empty() || word_count == 0) return sentences;
  std::string current;
  for (std::size_t i = 0; i < word_count; ++i) {
    const std::string& word = words[i % words.size()];
    if (!current.empty()) current.push_back(' ');
    current += word;
    const bool last = i + 1 == word_count;
    if (last || ends_sentence(word, words[(i + 1) % words.size()])) {
      sentences.push_back(std::move(current));
      current.clear();
    }
  }
  return sentences;
}

}  // namespace fm::eval
