// A small JSON value and parser (RFC 8259) for reference files and, later, HTTP bodies.
// Parsing untrusted text returns an error with the byte offset; depth is bounded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fm::json {

class Value {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Value> array;
  std::map<std::string, Value> object;

  bool is_null() const { return kind == Kind::kNull; }
  bool is_number() const { return kind == Kind::kNumber; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_object() const { return kind == Kind::kObject; }
  // nullptr when absent or not an object.
  const Value* get(const std::string& key) const;
  bool has(const std::string& key) const { return get(key) != nullptr; }
  // The member, or a null value when absent: safe to chain on untrusted documents.
  const Value& at(const std::string& key) const;
};

Result<Value> parse(std::string_view text);

}  // namespace fm::json
