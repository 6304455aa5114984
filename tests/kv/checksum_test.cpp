#include "kv/checksum.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace fm {
namespace {

TEST(Crc32c, MatchesTheStandardCheckValue) {
  // The check value of CRC-32C over the ASCII digits 1-9 (RFC 3720, appendix B.4).
  const char* digits = "123456789";
  EXPECT_EQ(crc32c(digits, 9), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(digits, 9), 0xE3069283u);
  EXPECT_EQ(crc32c(digits, 0), 0u);
}

TEST(Crc32c, FastPathAgreesWithPortableAtEveryLengthAndAlignment) {
  std::mt19937 rng(3);
  std::vector<uint8_t> data(4096 + 16);
  for (auto& b : data) b = (uint8_t)rng();
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t n : {0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4096}) {
      ASSERT_EQ(crc32c(data.data() + offset, n), crc32c_portable(data.data() + offset, n)) << offset << " " << n;
    }
  }
}

TEST(Crc32c, ContinuingOverTwoPiecesEqualsOneCall) {
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = (uint8_t)(i * 31 + 7);
  const uint32_t whole = crc32c(data.data(), data.size());
  EXPECT_EQ(crc32c(data.data() + 333, 667, crc32c(data.data(), 333)), whole);
}

TEST(Crc32c, EverySingleBitFlipChangesTheChecksum) {
  std::vector<uint8_t> data(256);
  for (size_t i = 0; i < data.size(); ++i) data[i] = (uint8_t)(i ^ 0x5a);
  const uint32_t clean = crc32c(data.data(), data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      data[i] ^= (uint8_t)(1u << bit);
      ASSERT_NE(crc32c(data.data(), data.size()), clean);
      data[i] ^= (uint8_t)(1u << bit);
    }
  }
}

}  // namespace
}  // namespace fm
