// Needle in a haystack (RULER scripts/data/synthetic/niah.py): needles "One of the
// special magic {values} for {key} is: {value}." hidden in essays, in the repeated noise
// sentence, or among distractor needles; the question asks for the values of some keys.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "eval/ruler_calibration.h"
#include "eval/ruler_generators.h"
#include "eval/ruler_random.h"
#include "eval/ruler_templates.h"

namespace fm::eval {
namespace {

using ruler_template::replace_all;

std::string_view type_name(RulerNeedleType type) {
  switch (type) {
    case RulerNeedleType::kWords: return "words";
    case RulerNeedleType::kNumbers: return "numbers";
    case RulerNeedleType::kUuids: return "uuids";
  }
  return "numbers";
}

// A version-4 UUID from 128 random bits, as Python's uuid.UUID(int=..., version=4):
// the version nibble becomes 4 and the variant bits 10.
std::string random_uuid(RulerRng& rng) {
  std::uint64_t high = rng.next();
  std::uint64_t low = rng.next();
  high = (high & ~std::uint64_t{0xF000}) | 0x4000;
  low = (low & ~(std::uint64_t{3} << 62)) | (std::uint64_t{2} << 62);
  char text[37];
  std::snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xFFFF),
                static_cast<unsigned>(high & 0xFFFF), static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFull));
  return text;
}

// RULER's three needle kinds: a 7-digit number, an "adjective-noun" word (uniform over
// all pairs of the wonderwords lists), or a UUID.
std::string random_needle_part(RulerNeedleType type, const RulerHaystack& haystack, RulerRng& rng) {
  switch (type) {
    case RulerNeedleType::kNumbers:
      return std::to_string(rng.between(1000000, 9999999));
    case RulerNeedleType::kWords: {
      const std::uint64_t pairs = haystack.adjectives.size() * haystack.nouns.size();
      const std::uint64_t pick = rng.below(pairs);
      return haystack.adjectives[pick / haystack.nouns.size()] + "-" +
             haystack.nouns[pick % haystack.nouns.size()];
    }
    case RulerNeedleType::kUuids:
      return random_uuid(rng);
  }
  return {};
}

// A draw that differs from every string in `taken`, which it then joins. RULER does
// not check; the collisions it allows are rare but would make a test's count wrong.
std::string fresh_needle_part(RulerNeedleType type, const RulerHaystack& haystack, RulerRng& rng,
                              std::set<std::string>& taken) {
  for (;;) {
    std::string s = random_needle_part(type, haystack, rng);
    if (taken.insert(s).second) return s;
  }
}

std::string format_needle(std::string_view value_type, const std::string& key, const std::string& value) {
  std::string s(ruler_template::kNeedle);
  s = replace_all(std::move(s), "{type_needle_v}", value_type);
  s = replace_all(std::move(s), "{key}", key);
  return replace_all(std::move(s), "{value}", value);
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

Result<TaskSample> build_niah(const RulerTaskConfig& task, const RulerHaystack& haystack,
                              std::uint64_t sample_seed, std::size_t units) {
  RulerRng rng(sample_seed);
  const std::string_view value_type = type_name(task.value_type);
  const int num_keys = std::max(task.num_keys, task.num_queries);

  std::set<std::string> taken_keys, taken_values;
  std::vector<std::string> keys;
  std::vector<std::vector<std::string>> values;
  std::vector<std::string> needles;
  for (int k = 0; k < num_keys; ++k) {
    keys.push_back(fresh_needle_part(task.key_type, haystack, rng, taken_keys));
    values.emplace_back();
    for (int v = 0; v < task.num_values; ++v) {
      values.back().push_back(fresh_needle_part(task.value_type, haystack, rng, taken_values));
      needles.push_back(format_needle(value_type, keys.back(), values.back().back()));
    }
  }
  rng.shuffle(needles);

  // Which keys are asked about, and the answers in that order.
  std::vector<std::string> queries;
  TaskSample sample;
  for (std::size_t i : rng.sample(static_cast<std::size_t>(num_keys),
                                  static_cast<std::size_t>(task.num_queries))) {
    queries.push_back(keys[i]);
    for (const auto& v : values[i]) sample.answers.push_back(v);
  }

  std::string body;
  if (task.haystack == RulerHaystackKind::kEssay) {
    // Needles go between sentences, at distinct depths drawn from the 40 RULER depths.
    const std::vector<std::string> sentences = essay_sentences(haystack, units);
    const std::vector<int>& depths = ruler_needle_depths();
    std::vector<std::size_t> positions;
    for (std::size_t d : rng.sample(depths.size(), needles.size())) {
      // Python's int(len(sents) * (depth / 100)): the same double arithmetic, truncated.
      positions.push_back(static_cast<std::size_t>(
          static_cast<double>(sentences.size()) * (static_cast<double>(depths[d]) / 100.0)));
    }
    std::sort(positions.begin(), positions.end());
    positions.insert(positions.begin(), 0);
    positions.push_back(sentences.size());
    // Chunks joined by single spaces, empty chunks included, as RULER joins them (so a
    // needle at depth 0 is preceded by one space).
    std::vector<std::string> chunks;
    for (std::size_t i = 1; i < positions.size(); ++i) {
      std::vector<std::string> run(sentences.begin() + static_cast<std::ptrdiff_t>(positions[i - 1]),
                                   sentences.begin() + static_cast<std::ptrdiff_t>(positions[i]));
      chunks.push_back(join(run, " "));
      if (i - 1 < needles.size()) chunks.push_back(needles[i - 1]);
    }
    body = join(chunks, " ");
  } else {
    std::vector<std::string> lines;
    lines.reserve(units + needles.size());
    for (std::size_t i = 0; i < units; ++i) {
      if (task.haystack == RulerHaystackKind::kNoise) {
        lines.emplace_back(kRulerNoiseSentence);
      } else {
        std::string key = random_needle_part(task.key_type, haystack, rng);
        std::string value = random_needle_part(task.value_type, haystack, rng);
        while (taken_keys.count(key)) key = random_needle_part(task.key_type, haystack, rng);
        while (taken_values.count(value)) value = random_needle_part(task.value_type, haystack, rng);
        lines.push_back(format_needle(value_type, key, value));
      }
    }
    // Line indices drawn without replacement, inserted from the back so that earlier
    // indices still point where they were drawn.
    std::vector<std::size_t> indexes = rng.sample(units, needles.size());
    std::sort(indexes.rbegin(), indexes.rend());
    for (std::size_t i = 0; i < needles.size(); ++i) {
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(indexes[i]), needles[i]);
    }
    body = join(lines, "\n");
  }

  std::string query = queries.back();
  if (queries.size() > 1) {
    std::vector<std::string> head(queries.begin(), queries.end() - 1);
    query = join(head, ", ") + ", and " + queries.back();
  }
  std::string prompt(ruler_template::kNiah);
  std::string prefix(ruler_template::kNiahAnswerPrefix);
  std::string shown_type(value_type);
  if (task.num_queries * task.num_values == 1) {
    prompt = ruler_template::singularize(std::move(prompt));
    prefix = ruler_template::singularize(std::move(prefix));
    shown_type.pop_back();  // "numbers" -> "number"
  }
  for (std::string* s : {&prompt, &prefix}) {
    *s = replace_all(std::move(*s), "{type_needle_v}", shown_type);
    *s = replace_all(std::move(*s), "{query}", query);
  }
  const auto parts = ruler_template::split_at_context(prompt);
  fill_prompt(sample, parts.head, body, parts.tail);
  sample.answer_prefix = std::move(prefix);
  return sample;
}

}  // namespace

const std::vector<int>& ruler_needle_depths() {
  static const std::vector<int> depths = [] {
    std::vector<int> d;
    for (int i = 0; i < 40; ++i) d.push_back(static_cast<int>(std::lround(100.0 * i / 39.0)));
    return d;
  }();
  return depths;
}

Result<TaskSample> generate_niah(const RulerTaskConfig& task, const RulerHaystack& haystack,
                                 std::uint64_t sample_seed, std::size_t target_tokens,
                                 const TokenCounter& counter) {
  const bool needs_words = task.key_type == RulerNeedleType::kWords ||
                           task.value_type == RulerNeedleType::kWords;
  if (needs_words && (haystack.adjectives.empty() || haystack.nouns.empty())) {
    return Status::error(task.name + ": word lists are not loaded");
  }
  if (task.haystack == RulerHaystackKind::kEssay && haystack.essay_words.empty()) {
    return Status::error(task.name + ": essays are not loaded");
  }
  const std::size_t needles = static_cast<std::size_t>(std::max(task.num_keys, task.num_queries) *
                                                       task.num_values);
  // RULER's increments: 500 essay words, or 25 lines of noise / distractor needles.
  const bool essay = task.haystack == RulerHaystackKind::kEssay;
  const std::size_t min_units = essay ? 1 : needles;
  const std::size_t probe_units = essay ? 500 : 25;
  return calibrate_to_length(
      [&](std::size_t units) { return build_niah(task, haystack, sample_seed, units); }, counter,
      target_tokens, min_units, probe_units);
}

void fill_prompt(TaskSample& sample, std::string_view head, std::string_view body,
                 std::string_view tail) {
  const std::size_t last_line = tail.rfind('\n');
  const std::size_t cut = last_line == std::string_view::npos ? 0 : last_line + 1;
  sample.context.reserve(head.size() + body.size() + cut);
  sample.context.assign(head);
  sample.context.append(body);
  sample.context.append(tail.substr(0, cut));
  sample.question.assign(tail.substr(cut));
}

}  // namespace fm::eval
