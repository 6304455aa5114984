// Test helpers over fm::json for the tokenizer reference files.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/json.h"

namespace fm::test {

inline json::Value parse_json_or_throw(const std::string& text) {
  auto v = json::parse(text);
  if (!v) throw std::runtime_error(v.status().message());
  return std::move(v.value());
}

inline std::vector<int32_t> as_ids(const json::Value& v) {
  std::vector<int32_t> ids;
  for (const auto& item : v.array) ids.push_back(static_cast<int32_t>(item.number));
  return ids;
}

inline std::string bytes_from_hex(const std::string& hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace fm::test
