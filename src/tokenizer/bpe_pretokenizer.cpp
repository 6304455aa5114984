#include "tokenizer/bpe_pretokenizer.h"

#include <array>

#include "tokenizer/unicode.h"

namespace fm {

namespace {

// Character classes of one code point as the GPT-2 pattern sees them. Positions outside
// the range being split belong to no class at all, which is how llama.cpp's matcher stops
// at range ends (it splits ranges produced by earlier patterns independently).
struct CharClass {
  bool in_range = false;
  bool letter = false;
  bool number = false;
  bool whitespace = false;
  bool other() const { return in_range && !letter && !number && !whitespace; }
};

class Gpt2Splitter {
 public:
  Gpt2Splitter(const std::vector<uint32_t>& cps, size_t begin, size_t end,
               std::vector<size_t>& lengths)
      : cps_(cps), begin_(begin), end_(end), word_start_(begin), lengths_(lengths) {}

  void run() {
    size_t pos = begin_;
    while (pos < end_) {
      const uint32_t cp = cps_[pos];
      // 's|'t|'re|'ve|'m|'ll|'d  (lowercase only, as in GPT-2)
      if (cp == '\'' && pos + 1 < end_) {
        const uint32_t next = cps_[pos + 1];
        if (next == 's' || next == 't' || next == 'm' || next == 'd') {
          pos = emit(pos + 2);
          continue;
        }
        if (pos + 2 < end_) {
          const uint32_t next2 = cps_[pos + 2];
          if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') ||
              (next == 'l' && next2 == 'l')) {
            pos = emit(pos + 3);
            continue;
          }
        }
      }
      // " ?X+" for X in letters, numbers, and everything else that is not whitespace:
      // an optional single leading space joins the run that follows it.
      const size_t run_start = pos + (cp == ' ' ? 1 : 0);
      const CharClass lead = class_at(run_start);
      if (lead.letter) {
        pos = emit(skip_while(run_start, [](const CharClass& c) { return c.letter; }));
        continue;
      }
      if (lead.number) {
        pos = emit(skip_while(run_start, [](const CharClass& c) { return c.number; }));
        continue;
      }
      if (lead.other()) {
        pos = emit(skip_while(run_start, [](const CharClass& c) { return c.other(); }));
        continue;
      }
      const size_t whitespace_end =
          skip_while(pos, [](const CharClass& c) { return c.whitespace; });
      const size_t whitespace_count = whitespace_end - pos;
      // \s+(?!\S): a whitespace run followed by more text leaves its last character to
      // lead the next word; at the end of the range the whole run goes.
      if (whitespace_count > 1 && whitespace_end < end_) {
        pos = emit(whitespace_end - 1);
        continue;
      }
      if (whitespace_count > 0) {
        pos = emit(whitespace_end);
        continue;
      }
      pos = emit(pos + 1);
    }
  }

 private:
  CharClass class_at(size_t pos) const {
    CharClass c;
    if (pos < begin_ || pos >= end_) return c;
    const uint32_t cp = cps_[pos];
    c.in_range = true;
    c.letter = unicode::is_letter(cp);
    c.number = !c.letter && unicode::is_number(cp);
    c.whitespace = unicode::is_whitespace(cp);
    return c;
  }

  template <typename Predicate>
  size_t skip_while(size_t pos, Predicate matches) const {
    while (matches(class_at(pos))) ++pos;
    return pos;
  }

  // Closes the current word at `end` and returns `end`.
  size_t emit(size_t end) {
    if (end > word_start_) lengths_.push_back(end - word_start_);
    word_start_ = end;
    return end;
  }

  const std::vector<uint32_t>& cps_;
  const size_t begin_;
  const size_t end_;
  size_t word_start_;
  std::vector<size_t>& lengths_;
};

// \p{N} as llama.cpp's collapsed-text std::regex sees it: ASCII digits, and non-ASCII
// number code points that are not whitespace.
bool is_isolated_digit(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return unicode::is_number(cp) && !unicode::is_whitespace(cp);
}

}  // namespace

std::optional<PreTokenizer> pre_tokenizer_for(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kGpt2 = {
      "gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "roberta-bpe", "jina-v1-en", "exaone4",
  };
  static constexpr std::array<std::string_view, 8> kIsolatedDigits = {
      "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2",
  };
  for (std::string_view known : kGpt2) {
    if (name == known) return PreTokenizer::gpt2;
  }
  for (std::string_view known : kIsolatedDigits) {
    if (name == known) return PreTokenizer::gpt2_isolated_digits;
  }
  return std::nullopt;
}

std::vector<size_t> split_words(const std::vector<uint32_t>& cps, PreTokenizer kind) {
  std::vector<size_t> lengths;
  if (cps.empty()) return lengths;
  if (kind == PreTokenizer::gpt2) {
    Gpt2Splitter(cps, 0, cps.size(), lengths).run();
    return lengths;
  }
  // First pass isolates digits; the GPT-2 pattern then splits each stretch between them.
  size_t stretch_start = 0;
  auto split_stretch = [&](size_t end) {
    if (end > stretch_start) Gpt2Splitter(cps, stretch_start, end, lengths).run();
  };
  for (size_t i = 0; i < cps.size(); ++i) {
    if (!is_isolated_digit(cps[i])) continue;
    split_stretch(i);
    lengths.push_back(1);
    stretch_start = i + 1;
  }
  split_stretch(cps.size());
  return lengths;
}

}  // namespace fm
