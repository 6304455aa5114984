#include "core/text_file.h"
#include "eval/longbench_v2.h"

#include <fstream>
#include <sstream>

#include "core/json.h"

namespace fm::eval {
namespace {

Status field_error(std::size_t index, const std::string& field, const std::string& what) {
  return Status::error("longbench_v2: item " + std::to_string(index) + ": field '" + field + "' " +
                       what);
}

Status read_string(const json::Value& item, std::size_t index, const std::string& field,
                   std::string& out) {
  const json::Value* v = item.get(field);
  if (!v) return field_error(index, field, "is missing");
  if (!v->is_string()) return field_error(index, field, "is not a string");
  out = v->string;
  return Status::ok();
}

Result<LongBenchV2Item> parse_item(const json::Value& v, std::size_t index) {
  if (!v.is_object())
    return Status::error("longbench_v2: item " + std::to_string(index) + " is not an object");
  LongBenchV2Item item;
  FM_RETURN_IF_ERROR(read_string(v, index, "_id", item.id));
  FM_RETURN_IF_ERROR(read_string(v, index, "domain", item.domain));
  FM_RETURN_IF_ERROR(read_string(v, index, "sub_domain", item.sub_domain));
  FM_RETURN_IF_ERROR(read_string(v, index, "difficulty", item.difficulty));
  FM_RETURN_IF_ERROR(read_string(v, index, "length", item.length));
  FM_RETURN_IF_ERROR(read_string(v, index, "question", item.question));
  static const char* kChoiceFields[4] = {"choice_A", "choice_B", "choice_C", "choice_D"};
  for (int c = 0; c < 4; ++c)
    FM_RETURN_IF_ERROR(read_string(v, index, kChoiceFields[c], item.choices[c]));
  std::string answer;
  FM_RETURN_IF_ERROR(read_string(v, index, "answer", answer));
  if (answer.size() != 1 || answer[0] < 'A' || answer[0] > 'D') {
    return field_error(index, "answer", "is \"" + answer + "\", not one of A, B, C, D");
  }
  item.answer = answer[0];
  FM_RETURN_IF_ERROR(read_string(v, index, "context", item.context));
  return item;
}

std::string strip(std::string_view s) {
  const auto space = [](char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
  };
  std::size_t b = 0, e = s.size();
  while (b < e && space(s[b])) ++b;
  while (e > b && space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

// Moves a cut point back to the start of a UTF-8 character.
std::size_t char_boundary(std::string_view s, std::size_t at) {
  while (at > 0 && at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return at;
}

const char* kContextHead =
    "Please read the following text and answer the question below.\n\n<text>\n";
const char* kContextTail = "\n</text>\n\n";

std::string render_context(const std::string& document) {
  return kContextHead + document + kContextTail;
}

// The first and last keep/2 bytes of the document.
std::string keep_ends(const std::string& document, std::size_t keep) {
  const std::size_t head = char_boundary(document, keep / 2);
  const std::size_t tail = char_boundary(document, document.size() - keep / 2);
  return document.substr(0, head) + document.substr(tail);
}

}  // namespace

Result<std::vector<LongBenchV2Item>> parse_longbench_v2(std::string_view text) {
  std::vector<json::Value> values;
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '[') {
    auto doc = json::parse(text);
    if (!doc) return doc.status().with_context("longbench_v2");
    values = std::move(doc->array);
  } else {
    // JSON Lines: one item per non-blank line.
    std::size_t line_number = 0;
    for (std::size_t start = 0; start < text.size(); ++line_number) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view line = text.substr(start, end - start);
      start = end + 1;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      auto doc = json::parse(line);
      if (!doc)
        return doc.status().with_context("longbench_v2: line " + std::to_string(line_number + 1));
      values.push_back(std::move(*doc));
    }
  }
  std::vector<LongBenchV2Item> items;
  items.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto item = parse_item(values[i], i);
    if (!item) return item.status();
    items.push_back(std::move(*item));
  }
  return items;
}

Result<std::vector<LongBenchV2Item>> load_longbench_v2_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return text.status().with_context("longbench_v2");
  auto items = parse_longbench_v2(*text);
  if (!items) return items.status().with_context(path);
  return items;
}

Result<TaskSample> longbench_v2_to_sample(const LongBenchV2Item& item,
                                          const LongBenchV2Options& options) {
  TaskSample t;
  t.task = "longbench_v2";
  t.id = item.id;
  t.question =
      "What is the correct answer to this question: " + strip(item.question) + "\nChoices:\n(A) " +
      strip(item.choices[0]) + "\n(B) " + strip(item.choices[1]) + "\n(C) " +
      strip(item.choices[2]) + "\n(D) " + strip(item.choices[3]) +
      "\n\nFormat your response as follows: \"The correct answer is (insert answer here)\".";
  std::string document = strip(item.context);
  t.context = render_context(document);
  t.answer_prefix = options.prefill_answer ? "The correct answer is (" : "";
  t.answers = {std::string(1, item.answer)};
  t.metric = Metric::kChoiceLetter;
  t.max_new_tokens = 128;  // as pred.py without chain-of-thought
  if (options.max_prompt_tokens == 0) {
    if (options.counter) t.length_tokens = options.counter(t.context + t.question);
    return t;
  }
  if (!options.counter)
    return Status::error("longbench_v2: max_prompt_tokens needs a token counter");
  t.length_tokens = options.counter(t.context + t.question);
  if (t.length_tokens <= options.max_prompt_tokens) return t;
  // Largest number of kept document bytes whose prompt fits, by bisection (token counts
  // grow with the kept bytes).
  std::size_t lo = 0, hi = document.size();
  if (options.counter(render_context("") + t.question) > options.max_prompt_tokens) {
    return Status::error("longbench_v2: item " + item.id + ": question and choices alone exceed " +
                         std::to_string(options.max_prompt_tokens) + " tokens");
  }
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo + 1) / 2;
    if (options.counter(render_context(keep_ends(document, mid)) + t.question) <=
        options.max_prompt_tokens) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  t.context = render_context(keep_ends(document, lo));
  t.length_tokens = options.counter(t.context + t.question);
  return t;
}

}  // namespace fm::eval
