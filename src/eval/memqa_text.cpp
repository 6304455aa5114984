#include "eval/memqa_text.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fm::eval::memqa {

std::uint64_t Rng::next() {
  state_ += 0x9E3779B97F4A7C15ull;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::size_t Rng::below(std::size_t n) {
  FM_ASSERT(n > 0);
  // Rejection removes the modulo bias; the loop almost never repeats.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do {
    x = next();
  } while (x >= limit);
  return static_cast<std::size_t>(x % n);
}

int Rng::between(int lo, int hi) {
  FM_ASSERT(hi >= lo);
  return lo + static_cast<int>(below(static_cast<std::size_t>(hi - lo) + 1));
}

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  Rng r(a);
  std::uint64_t h = r.next() ^ (b * 0xD6E8FEB86659FD93ull);
  Rng r2(h);
  h = r2.next() ^ (c * 0x9E3779B97F4A7C15ull);
  Rng r3(h);
  return r3.next();
}

namespace {

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  static const int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

int days_in_year(int year) { return is_leap(year) ? 366 : 365; }

}  // namespace

long days_since_2000(const Date& date) {
  long days = 0;
  for (int y = 2000; y < date.year; ++y) days += days_in_year(y);
  for (int y = date.year; y < 2000; ++y) days -= days_in_year(y);
  for (int m = 1; m < date.month; ++m) days += days_in_month(date.year, m);
  return days + date.day - 1;
}

Date date_from_days_since_2000(long days) {
  Date d{2000, 1, 1};
  while (days < 0) {
    --d.year;
    days += days_in_year(d.year);
  }
  while (days >= days_in_year(d.year)) {
    days -= days_in_year(d.year);
    ++d.year;
  }
  while (days >= days_in_month(d.year, d.month)) {
    days -= days_in_month(d.year, d.month);
    ++d.month;
  }
  d.day = static_cast<int>(days) + 1;
  return d;
}

std::string format_iso(const Date& date) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02d", date.year, date.month, date.day);
  return buffer;
}

std::vector<std::string> lowercase_words(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      current.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!current.empty()) {
      words.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

void ReservedWords::add(std::string_view phrase) {
  for (auto& w : lowercase_words(phrase)) words_.insert(std::move(w));
}

bool ReservedWords::hits(std::string_view text) const {
  if (words_.empty()) return false;
  for (const auto& w : lowercase_words(text)) {
    if (words_.count(w)) return true;
  }
  return false;
}

std::string with_article(const std::string& word) {
  const char c =
      word.empty() ? 'x' : static_cast<char>(std::tolower(static_cast<unsigned char>(word[0])));
  const bool vowel = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
  return (vowel ? "an " : "a ") + word;
}

std::string capitalized(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

namespace {

Result<std::vector<std::string>> read_word_list(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::error("memqa: cannot open word list " + path.string());
  std::vector<std::string> words;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    // Only plain lowercase words: proper nouns and acronyms ("ATM") read oddly in templates.
    const bool plain = !line.empty() && std::all_of(line.begin(), line.end(),
                                                    [](char c) { return c >= 'a' && c <= 'z'; });
    if (plain) words.push_back(line);
  }
  if (words.size() < 50) return Status::error("memqa: word list too short: " + path.string());
  return words;
}

// Splits essay prose into sentences fit for chat turns: 6-45 words, starting with a
// capital letter, without footnote marks or links.
void append_sentences(const std::string& text, std::vector<std::string>& out) {
  std::string collapsed;
  collapsed.reserve(text.size());
  for (char c : text) {
    const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space) {
      if (!collapsed.empty() && collapsed.back() != ' ') collapsed.push_back(' ');
    } else {
      // The essays lost their paragraph breaks ("slope.But"): restore the space so the
      // sentence split below sees a boundary.
      const bool glued =
          std::isupper(static_cast<unsigned char>(c)) && collapsed.size() >= 2 &&
          (collapsed.back() == '.' || collapsed.back() == '?' || collapsed.back() == '!') &&
          std::islower(static_cast<unsigned char>(collapsed[collapsed.size() - 2]));
      if (glued) collapsed.push_back(' ');
      collapsed.push_back(c);
    }
  }
  std::size_t start = 0;
  bool first = true;  // the first sentence of an essay is glued to its date line
  for (std::size_t i = 0; i < collapsed.size(); ++i) {
    const char c = collapsed[i];
    const bool end = (c == '.' || c == '?' || c == '!') &&
                     (i + 1 == collapsed.size() || collapsed[i + 1] == ' ');
    if (!end) continue;
    std::string s = collapsed.substr(start, i + 1 - start);
    start = i + 2;
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    if (first) {
      first = false;
      continue;
    }
    const std::size_t words = static_cast<std::size_t>(std::count(s.begin(), s.end(), ' ')) + 1;
    const bool clean = s.find('[') == std::string::npos && s.find(']') == std::string::npos &&
                       s.find("http") == std::string::npos && s.find('"') == std::string::npos &&
                       s.find('(') == std::string::npos && s.find(')') == std::string::npos;
    const bool ascii = std::all_of(s.begin(), s.end(),
                                   [](char ch) { return static_cast<unsigned char>(ch) < 0x80; });
    if (words >= 6 && words <= 45 && clean && ascii &&
        std::isupper(static_cast<unsigned char>(s[0]))) {
      out.push_back(std::move(s));
    }
  }
}

}  // namespace

Result<FillerSource> FillerSource::load(const std::string& data_dir) {
  namespace fs = std::filesystem;
  const fs::path root(data_dir);
  FillerSource source;
  auto adjectives = read_word_list(root / "words" / "adjectivelist.txt");
  if (!adjectives) return adjectives.status();
  auto nouns = read_word_list(root / "words" / "nounlist.txt");
  if (!nouns) return nouns.status();
  auto verbs = read_word_list(root / "words" / "verblist.txt");
  if (!verbs) return verbs.status();
  source.adjectives_ = std::move(*adjectives);
  source.nouns_ = std::move(*nouns);
  source.verbs_ = std::move(*verbs);

  const fs::path essays = root / "haystack" / "paul_graham_essays";
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(essays, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".txt" && name.rfind("LICENSE", 0) != 0)
      files.push_back(entry.path());
  }
  if (ec)
    return Status::error("memqa: cannot list essays in " + essays.string() + ": " + ec.message());
  // Directory order is unspecified; sorting keeps samples identical across file systems.
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    append_sentences(ss.str(), source.sentences_);
  }
  if (source.sentences_.size() < 100) {
    return Status::error("memqa: too few essay sentences under " + essays.string());
  }
  return source;
}

std::string FillerSource::word(Rng& rng, const std::vector<std::string>& list,
                               const ReservedWords& reserved) const {
  for (;;) {
    const std::string& w = rng.pick(list);
    if (!reserved.contains_word(w)) return w;
  }
}

std::string FillerSource::sentence(Rng& rng, const ReservedWords& reserved) const {
  for (int attempt = 0;; ++attempt) {
    const std::string& s = rng.pick(sentences_);
    // A blocklist of a few words rejects a small share of sentences; the bound only
    // guards against a pathological blocklist.
    if (!reserved.hits(s) || attempt > 10000) return s;
  }
}

std::string FillerSource::sentences(Rng& rng, const ReservedWords& reserved, int count) const {
  std::string out;
  for (int i = 0; i < count; ++i) {
    if (i) out += ' ';
    out += sentence(rng, reserved);
  }
  return out;
}

Exchange FillerSource::exchange(Rng& rng, const ReservedWords& reserved) const {
  auto adj = [&] { return word(rng, adjectives_, reserved); };
  auto noun = [&] { return word(rng, nouns_, reserved); };
  auto verb = [&] { return word(rng, verbs_, reserved); };
  auto prose = [&](int lo, int hi) { return sentences(rng, reserved, rng.between(lo, hi)); };
  static const std::vector<std::string> kOpeners = {
      "Good question.",
      "Here is how I would look at it.",
      "That comes up a lot.",
      "There is no single rule, but a few ideas help.",
      "Happy to think this through with you.",
      "Let me offer a perspective.",
      "Interesting thing to wonder about."};
  static const std::vector<std::string> kClosers = {"",
                                                    " Start small and see what feels right.",
                                                    " Let me know how it goes.",
                                                    " Does that help at all?",
                                                    " Take it one step at a time.",
                                                    " It is worth revisiting after a week or two."};

  Exchange e;
  e.user.from_user = true;
  e.assistant.from_user = false;
  switch (rng.below(8)) {
    case 0: {
      const std::string v = verb(), a = adj(), n = noun();
      e.user.text = "Do you have any advice on how to " + v + " " + with_article(a) + " " + n + "?";
      e.assistant.text = rng.pick(kOpeners) + " " + prose(2, 4) + rng.pick(kClosers);
      break;
    }
    case 1:
      e.user.text = "I came across this line today: \"" + sentence(rng, reserved) +
                    "\" What do you make of it?";
      e.assistant.text = "It is a thought worth unpacking. " + prose(2, 4);
      break;
    case 2: {
      const std::string a = adj();
      e.user.text = "What is a nice way to spend " + with_article(a) + " afternoon?";
      e.assistant.text = "You could " + verb() + " " + with_article(noun()) + ", or " + verb() +
                         " something " + adj() + " with friends. " + prose(1, 3) +
                         rng.pick(kClosers);
      break;
    }
    case 3: {
      const std::string n1 = noun(), n2 = noun();
      e.user.text =
          "Can you explain how " + with_article(n1) + " differs from " + with_article(n2) + "?";
      e.assistant.text = prose(1, 3) + " Put simply, " + with_article(n1) + " tends to be more " +
                         adj() + ", while " + with_article(n2) + " is usually " + adj() + ".";
      break;
    }
    case 4: {
      const std::string a = adj();
      e.user.text = "I am feeling a bit " + a + " today, honestly.";
      e.assistant.text = "Thanks for telling me. " + prose(1, 2) + " Maybe " + verb() +
                         " something small today, even just tidying " + with_article(noun()) + ".";
      break;
    }
    case 5: {
      const std::string v1 = verb(), v2 = verb(), a = adj();
      e.user.text =
          "Quick one: when things get " + a + ", is it better to " + v1 + " or to " + v2 + "?";
      e.assistant.text =
          prose(2, 3) + " If I had to choose, I would " + v1 + " first and " + v2 + " later.";
      break;
    }
    case 6: {
      const std::string n = noun();
      e.user.text = "A coworker keeps going on about " + with_article(adj()) + " " + n +
                    ". Should I pay attention?";
      e.assistant.text = rng.pick(kOpeners) + " " + prose(1, 3) + " Whether " + with_article(n) +
                         " matters depends on what you want from it.";
      break;
    }
    default:
      e.user.text = sentence(rng, reserved) + " Do you think that is true?";
      e.assistant.text = "Partly. " + prose(2, 5) + rng.pick(kClosers);
      break;
  }
  return e;
}

}  // namespace fm::eval::memqa
