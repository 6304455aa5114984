#include "core/text_file.h"
#include "eval/longmemeval_loader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

#include "core/json.h"
#include "eval/memqa_facts.h"

namespace fm::eval {

bool LongMemEvalItem::is_abstention() const {
  const std::string_view suffix = "_abs";
  return question_id.size() >= suffix.size() &&
         question_id.compare(question_id.size() - suffix.size(), suffix.size(), suffix) == 0;
}

namespace {

Status field_error(std::size_t index, const std::string& field, const std::string& what) {
  return Status::error("longmemeval: item " + std::to_string(index) + ": field '" + field + "' " +
                       what);
}

std::string number_text(double x) {
  if (std::floor(x) == x && std::fabs(x) < 1e15) return std::to_string(static_cast<long long>(x));
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", x);
  return buffer;
}

Status read_string(const json::Value& item, std::size_t index, const std::string& field,
                   std::string& out) {
  const json::Value* v = item.get(field);
  if (!v) return field_error(index, field, "is missing");
  if (!v->is_string()) return field_error(index, field, "is not a string");
  out = v->string;
  return Status::ok();
}

Status read_string_list(const json::Value& item, std::size_t index, const std::string& field,
                        std::vector<std::string>& out) {
  const json::Value* v = item.get(field);
  if (!v) return field_error(index, field, "is missing");
  if (!v->is_array()) return field_error(index, field, "is not a list");
  for (std::size_t i = 0; i < v->array.size(); ++i) {
    if (!v->array[i].is_string())
      return field_error(index, field + "[" + std::to_string(i) + "]", "is not a string");
    out.push_back(v->array[i].string);
  }
  return Status::ok();
}

Result<LongMemEvalItem> parse_item(const json::Value& v, std::size_t index) {
  if (!v.is_object())
    return Status::error("longmemeval: item " + std::to_string(index) + " is not an object");
  LongMemEvalItem item;
  FM_RETURN_IF_ERROR(read_string(v, index, "question_id", item.question_id));
  FM_RETURN_IF_ERROR(read_string(v, index, "question_type", item.question_type));
  FM_RETURN_IF_ERROR(read_string(v, index, "question", item.question));
  FM_RETURN_IF_ERROR(read_string(v, index, "question_date", item.question_date));
  // Counting answers are stored as JSON numbers in the published files.
  const json::Value* answer = v.get("answer");
  if (!answer) return field_error(index, "answer", "is missing");
  if (answer->is_string()) {
    item.answer = answer->string;
  } else if (answer->is_number()) {
    item.answer = number_text(answer->number);
  } else {
    return field_error(index, "answer", "is neither a string nor a number");
  }
  FM_RETURN_IF_ERROR(read_string_list(v, index, "haystack_dates", item.haystack_dates));
  if (v.has("haystack_session_ids")) {
    FM_RETURN_IF_ERROR(
        read_string_list(v, index, "haystack_session_ids", item.haystack_session_ids));
  }
  if (v.has("answer_session_ids")) {
    FM_RETURN_IF_ERROR(read_string_list(v, index, "answer_session_ids", item.answer_session_ids));
  }
  const json::Value* sessions = v.get("haystack_sessions");
  if (!sessions) return field_error(index, "haystack_sessions", "is missing");
  if (!sessions->is_array()) return field_error(index, "haystack_sessions", "is not a list");
  for (std::size_t s = 0; s < sessions->array.size(); ++s) {
    const json::Value& session = sessions->array[s];
    const std::string where = "haystack_sessions[" + std::to_string(s) + "]";
    if (!session.is_array()) return field_error(index, where, "is not a list of turns");
    std::vector<LongMemEvalTurn> turns;
    for (std::size_t t = 0; t < session.array.size(); ++t) {
      const json::Value& turn = session.array[t];
      const std::string turn_where = where + "[" + std::to_string(t) + "]";
      const json::Value* role = turn.get("role");
      const json::Value* content = turn.get("content");
      if (!role || !role->is_string())
        return field_error(index, turn_where + ".role", "is missing or not a string");
      if (!content || !content->is_string()) {
        return field_error(index, turn_where + ".content", "is missing or not a string");
      }
      const json::Value* has_answer = turn.get("has_answer");
      turns.push_back(
          {role->string, content->string,
           has_answer && has_answer->kind == json::Value::Kind::kBool && has_answer->boolean});
    }
    item.haystack_sessions.push_back(std::move(turns));
  }
  if (item.haystack_dates.size() != item.haystack_sessions.size()) {
    return field_error(index, "haystack_dates",
                       "has " + std::to_string(item.haystack_dates.size()) + " entries for " +
                           std::to_string(item.haystack_sessions.size()) + " sessions");
  }
  if (!item.haystack_session_ids.empty() &&
      item.haystack_session_ids.size() != item.haystack_sessions.size()) {
    return field_error(index, "haystack_session_ids",
                       "has " + std::to_string(item.haystack_session_ids.size()) + " entries for " +
                           std::to_string(item.haystack_sessions.size()) + " sessions");
  }
  return item;
}

// "\u" and four lowercase hex digits of one UTF-16 unit, as Python writes them.
void append_utf16_escape(std::string& out, unsigned unit) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(unit >> shift) & 0xF]);
}

// json.dumps of one session after has_answer is dropped: keys in the file's order
// (role, content), ", " and ": " separators.
std::string python_json_session(const std::vector<LongMemEvalTurn>& turns) {
  std::string out = "[";
  for (std::size_t i = 0; i < turns.size(); ++i) {
    if (i) out += ", ";
    out += "{\"role\": " + python_json_string(turns[i].role) +
           ", \"content\": " + python_json_string(turns[i].content) + "}";
  }
  return out + "]";
}

std::string strip(const std::string& s) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  std::size_t b = 0, e = s.size();
  while (b < e && space(s[b])) ++b;
  while (e > b && space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string python_json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20) {
            append_utf16_escape(out, c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence; malformed bytes become U+FFFD.
    const int length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    unsigned code = 0xFFFD;
    int used = 1;
    if (length && i + static_cast<std::size_t>(length) <= s.size()) {
      unsigned cp = c & (0x7F >> length);
      bool ok = true;
      for (int k = 1; k < length; ++k) {
        const unsigned char cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
        if ((cc & 0xC0) != 0x80) ok = false;
        cp = (cp << 6) | (cc & 0x3F);
      }
      if (ok) {
        code = cp;
        used = length;
      }
    }
    if (code >= 0x10000) {
      code -= 0x10000;
      append_utf16_escape(out, 0xD800 + (code >> 10));
      append_utf16_escape(out, 0xDC00 + (code & 0x3FF));
    } else {
      append_utf16_escape(out, code);
    }
    i += static_cast<std::size_t>(used);
  }
  return out + "\"";
}

Result<std::vector<LongMemEvalItem>> parse_longmemeval(std::string_view json_text) {
  auto doc = json::parse(json_text);
  if (!doc) return doc.status().with_context("longmemeval");
  if (!doc->is_array()) return Status::error("longmemeval: the document is not a list of items");
  std::vector<LongMemEvalItem> items;
  items.reserve(doc->array.size());
  for (std::size_t i = 0; i < doc->array.size(); ++i) {
    auto item = parse_item(doc->array[i], i);
    if (!item) return item.status();
    items.push_back(std::move(*item));
  }
  return items;
}

Result<std::vector<LongMemEvalItem>> load_longmemeval_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return text.status().with_context("longmemeval");
  auto items = parse_longmemeval(*text);
  if (!items) return items.status().with_context(path);
  return items;
}

TaskSample longmemeval_to_sample(const LongMemEvalItem& item, const LongMemEvalOptions& options) {
  // The published reader sorts sessions by their date strings (a stable sort).
  std::vector<std::size_t> order(item.haystack_sessions.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return item.haystack_dates[a] < item.haystack_dates[b];
  });
  std::string history;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto& session = item.haystack_sessions[order[i]];
    std::string content;
    if (options.history_format == LongMemEvalHistoryFormat::kJson) {
      content = "\n" + python_json_session(session);
    } else {
      for (const auto& turn : session) content += "\n\n" + turn.role + ": " + strip(turn.content);
    }
    history += "\n### Session " + std::to_string(i + 1) +
               ":\nSession Date: " + item.haystack_dates[order[i]] + "\nSession Content:\n" +
               content + "\n";
  }
  TaskSample t;
  std::string type = item.question_type;
  std::replace(type.begin(), type.end(), '-', '_');
  t.task = "longmemeval_" + type;
  t.id = item.question_id;
  t.context =
      "I will give you several history chats between you and a user. Please answer the question "
      "based on "
      "the relevant chat history.\n\n\nHistory Chats:\n\n" +
      history;
  t.question = "\n\nCurrent Date: " + item.question_date + "\nQuestion: " + item.question;
  t.answer_prefix = "Answer:";
  if (item.is_abstention()) {
    t.answers = memqa_decline_phrases();
    t.metric = Metric::kAbstention;
  } else {
    t.answers = {item.answer};
    t.metric = Metric::kNormalizedExact;
  }
  t.max_new_tokens = 64;
  return t;
}

Result<std::vector<TaskSample>> load_longmemeval_samples(const std::string& path,
                                                         const LongMemEvalOptions& options) {
  auto items = load_longmemeval_file(path);
  if (!items) return items.status();
  std::vector<TaskSample> samples;
  for (const auto& item : *items) {
    if (item.question_type == "single-session-preference" && !options.include_preference) continue;
    samples.push_back(longmemeval_to_sample(item, options));
  }
  return samples;
}

}  // namespace fm::eval
