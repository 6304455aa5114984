#include "core/json.h"

#include <cstdlib>

namespace fm::json {

const Value* Value::get(const std::string& key) const {
  if (kind != Kind::kObject) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}

const Value& Value::at(const std::string& key) const {
  static const Value null_value;
  const Value* v = get(key);
  return v ? *v : null_value;
}

namespace {

constexpr int kMaxDepth = 256;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<Value> parse_document() {
    Value v;
    Status st = value(v, 0);
    if (!st) return st;
    skip_space();
    if (i_ != s_.size()) return error("trailing characters");
    return v;
  }

 private:
  Status error(const std::string& what) const {
    return Status::error("json: " + what + " at byte " + std::to_string(i_));
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  bool consume(std::string_view word) {
    if (s_.substr(i_, word.size()) == word) {
      i_ += word.size();
      return true;
    }
    return false;
  }

  Status value(Value& out, int depth) {
    if (depth > kMaxDepth) return error("nesting too deep");
    skip_space();
    if (i_ >= s_.size()) return error("unexpected end of input");
    const char c = s_[i_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out.kind = Value::Kind::kString;
      return string(out.string);
    }
    if (consume("true")) {
      out.kind = Value::Kind::kBool;
      out.boolean = true;
      return Status::ok();
    }
    if (consume("false")) {
      out.kind = Value::Kind::kBool;
      return Status::ok();
    }
    if (consume("null")) {
      out.kind = Value::Kind::kNull;
      return Status::ok();
    }
    return number(out);
  }

  Status number(Value& out) {
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !std::isdigit((unsigned char)s_[i_])) return error("invalid value");
    while (i_ < s_.size() && (std::isdigit((unsigned char)s_[i_]) || s_[i_] == '.' || s_[i_] == 'e' ||
                              s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-')) {
      ++i_;
    }
    std::string text(s_.substr(start, i_ - start));
    char* end = nullptr;
    out.number = std::strtod(text.c_str(), &end);
    if (!end || *end) {
      i_ = start;
      return error("invalid number");
    }
    out.kind = Value::Kind::kNumber;
    return Status::ok();
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += (char)cp;
    } else if (cp < 0x800) {
      out += (char)(0xc0 | (cp >> 6));
      out += (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += (char)(0xe0 | (cp >> 12));
      out += (char)(0x80 | ((cp >> 6) & 0x3f));
      out += (char)(0x80 | (cp & 0x3f));
    } else {
      out += (char)(0xf0 | (cp >> 18));
      out += (char)(0x80 | ((cp >> 12) & 0x3f));
      out += (char)(0x80 | ((cp >> 6) & 0x3f));
      out += (char)(0x80 | (cp & 0x3f));
    }
  }

  Status hex4(uint32_t& cp) {
    if (i_ + 4 > s_.size()) return error("truncated \\u escape");
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= h - '0';
      else if (h >= 'a' && h <= 'f') cp |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') cp |= h - 'A' + 10;
      else return error("bad \\u escape");
    }
    return Status::ok();
  }

  Status string(std::string& out) {
    ++i_;  // opening quote
    while (true) {
      if (i_ >= s_.size()) return error("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return Status::ok();
      if ((unsigned char)c < 0x20) return error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) return error("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp;
          FM_RETURN_IF_ERROR(hex4(cp));
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(i_, 2) == "\\u") {
            i_ += 2;
            uint32_t low;
            FM_RETURN_IF_ERROR(hex4(low));
            if (low < 0xdc00 || low > 0xdfff) return error("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xd800 && cp < 0xe000) {
            cp = 0xfffd;  // lone surrogate
          }
          append_utf8(out, cp);
          break;
        }
        default: return error("bad escape");
      }
    }
  }

  Status array(Value& out, int depth) {
    out.kind = Value::Kind::kArray;
    ++i_;
    skip_space();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return Status::ok();
    }
    while (true) {
      out.array.emplace_back();
      FM_RETURN_IF_ERROR(value(out.array.back(), depth + 1));
      skip_space();
      if (i_ >= s_.size()) return error("unterminated array");
      if (s_[i_] == ',') { ++i_; continue; }
      if (s_[i_] == ']') { ++i_; return Status::ok(); }
      return error("expected ',' or ']'");
    }
  }

  Status object(Value& out, int depth) {
    out.kind = Value::Kind::kObject;
    ++i_;
    skip_space();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return Status::ok();
    }
    while (true) {
      skip_space();
      if (i_ >= s_.size() || s_[i_] != '"') return error("expected a key");
      std::string key;
      FM_RETURN_IF_ERROR(string(key));
      skip_space();
      if (i_ >= s_.size() || s_[i_] != ':') return error("expected ':'");
      ++i_;
      Value v;
      FM_RETURN_IF_ERROR(value(v, depth + 1));
      out.object[key] = std::move(v);
      skip_space();
      if (i_ >= s_.size()) return error("unterminated object");
      if (s_[i_] == ',') { ++i_; continue; }
      if (s_[i_] == '}') { ++i_; return Status::ok(); }
      return error("expected ',' or '}'");
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Result<Value> parse(std::string_view text) { return Parser(text).parse_document(); }

}  // namespace fm::json
