// The .npy writer: numpy's format 1.0 header (magic, version, 64-byte aligned dict) and
// raw little-endian data after it.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "format/npy_writer.h"

namespace fm {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(NpyWriter, WritesAnAlignedHeaderFollowedByTheData) {
  const std::string path = ::testing::TempDir() + "/npy_writer_test.npy";
  const std::vector<float> values{1.5f, -2.0f, 3.25f, 0.0f, 8.0f, 9.5f};
  ASSERT_TRUE(npy::write(path, {2, 3}, values));
  const std::string bytes = read_all(path);
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], 1);
  EXPECT_EQ(bytes[7], 0);
  const size_t header_len = (uint8_t)bytes[8] | ((size_t)(uint8_t)bytes[9] << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  const std::string dict = bytes.substr(10, header_len);
  EXPECT_NE(dict.find("'descr': '<f4'"), std::string::npos);
  EXPECT_NE(dict.find("'shape': (2, 3)"), std::string::npos);
  EXPECT_EQ(dict.back(), '\n');
  ASSERT_EQ(bytes.size(), 10 + header_len + values.size() * 4);
  EXPECT_EQ(std::memcmp(bytes.data() + 10 + header_len, values.data(), values.size() * 4), 0);
}

TEST(NpyWriter, OneDimensionalShapesKeepTheTrailingComma) {
  const std::string path = ::testing::TempDir() + "/npy_writer_1d.npy";
  ASSERT_TRUE(npy::write(path, {3}, std::vector<int32_t>{1, 2, 3}));
  EXPECT_NE(read_all(path).find("'shape': (3,)"), std::string::npos);
}

TEST(NpyWriter, RejectsDataThatDoesNotFillTheShape) {
  const std::string path = ::testing::TempDir() + "/npy_writer_bad.npy";
  EXPECT_FALSE(npy::write(path, {2, 2}, std::vector<int32_t>{1, 2, 3}));
}

}  // namespace
}  // namespace fm
