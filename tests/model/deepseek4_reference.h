// The committed DeepSeek-V4 references in tests/data/deepseek4 (python/deepseek4/
// export_reference.py), read by the parity tests and the tiered-store / LSA tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/json.h"
#include "support/test_paths.h"

namespace fm::test {

inline std::string deepseek4_config_dir(const std::string& config) {
  return source_dir() + "/tests/data/deepseek4/" + config;
}

struct ReferenceSequence {
  int64_t length = 0;
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // [length, n_vocab]
};

// `stem`.json (lengths, tokens, offsets) and `stem`.bin (float32 logits).
inline std::vector<ReferenceSequence> load_reference(const std::string& stem, int64_t& n_vocab) {
  std::vector<ReferenceSequence> out;
  auto header = json::parse(read_file(stem + ".json"));
  EXPECT_TRUE(header) << stem << ": " << header.status().message();
  if (!header) return out;
  const std::string blob = read_file(stem + ".bin");
  n_vocab = (int64_t)header->at("n_vocab").number;
  for (const json::Value& s : header->at("sequences").array) {
    ReferenceSequence seq;
    seq.length = (int64_t)s.at("length").number;
    for (const json::Value& t : s.at("tokens").array) seq.tokens.push_back((int32_t)t.number);
    const uint64_t offset_bytes = (uint64_t)s.at("offset_floats").number * 4;
    seq.logits.resize((size_t)(seq.length * n_vocab));
    const size_t bytes = seq.logits.size() * 4;
    EXPECT_LE(offset_bytes + bytes, blob.size()) << stem;
    if (offset_bytes + bytes > blob.size()) return {};
    std::memcpy(seq.logits.data(), blob.data() + offset_bytes, bytes);  // little-endian host
    out.push_back(std::move(seq));
  }
  return out;
}

}  // namespace fm::test
