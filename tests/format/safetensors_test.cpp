#include "format/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/fp8.h"

namespace fm::safetensors {
namespace {

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

// Builds a file from a literal header and a data section: the tests write the JSON by hand
// so that each corruption is exactly the one named.
std::vector<uint8_t> file_bytes(const std::string& header, const std::vector<uint8_t>& data) {
  const uint64_t n = header.size();
  std::vector<uint8_t> out(8 + header.size() + data.size());
  std::memcpy(out.data(), &n, 8);
  if (!header.empty()) std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}

template <typename T>
void append(std::vector<uint8_t>& out, T value) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  auto result = File::parse(bytes.data(), bytes.size());
  EXPECT_FALSE(result.is_ok()) << "corrupt file was accepted";
  return result.is_ok() ? std::string() : result.status().message();
}

// One tensor of every dtype, with known values.
std::vector<uint8_t> every_dtype_file() {
  std::vector<uint8_t> data;
  for (float v : {1.5f, -2.0f}) append(data, v);                                   // f32  [0, 8)
  for (float v : {0.5f, -3.0f, 65504.0f}) append(data, fp32_to_fp16(v));           // f16  [8, 14)
  for (float v : {1.0f, -0.15625f}) append(data, fp32_to_bf16(v));                 // bf16 [14, 18)
  for (uint8_t v : {0x38, 0xb8, 0x7e, 0x01}) append(data, v);                      // fp8  [18, 22)
  for (int32_t v : {-7, 9}) append(data, v);                                       // i32  [22, 30)
  append(data, int64_t{-1} << 40);                                                 // i64  [30, 38)
  for (uint8_t v : {1, 2, 3}) append(data, v);                                     // u8   [38, 41)
  const std::string header = R"({"__metadata__": {"format": "pt", "note": "x"},
    "f32": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "f16": {"dtype": "F16", "shape": [1, 3], "data_offsets": [8, 14]},
    "bf16": {"dtype": "BF16", "shape": [2], "data_offsets": [14, 18]},
    "fp8": {"dtype": "F8_E4M3", "shape": [2, 2], "data_offsets": [18, 22]},
    "i32": {"dtype": "I32", "shape": [2], "data_offsets": [22, 30]},
    "i64": {"dtype": "I64", "shape": [], "data_offsets": [30, 38]},
    "u8": {"dtype": "U8", "shape": [3], "data_offsets": [38, 41]},
    "empty": {"dtype": "F32", "shape": [0, 4], "data_offsets": [41, 41]}})";
  return file_bytes(header, data);
}

TEST(Safetensors, ReadsEveryDtypeShapeAndMetadata) {
  const std::vector<uint8_t> bytes = every_dtype_file();
  auto file = File::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  const File& f = *file.value();
  EXPECT_EQ(f.tensors().size(), 8u);
  ASSERT_NE(f.find_metadata("format"), nullptr);
  EXPECT_EQ(*f.find_metadata("format"), "pt");
  EXPECT_EQ(f.find_metadata("absent"), nullptr);

  auto f16 = read_as_f32(*f.find("f16"));
  ASSERT_TRUE(f16.is_ok());
  EXPECT_EQ(f16.value(), (std::vector<float>{0.5f, -3.0f, 65504.0f}));
  EXPECT_EQ(f.find("f16")->shape, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(read_as_f32(*f.find("f32")).value(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(read_as_f32(*f.find("bf16")).value(), (std::vector<float>{1.0f, -0.15625f}));
  EXPECT_EQ(read_as_f32(*f.find("fp8")).value(), (std::vector<float>{1.0f, -1.0f, 448.0f, 0.001953125f}));

  const TensorView* i64 = f.find("i64");
  EXPECT_TRUE(i64->shape.empty());
  EXPECT_EQ(i64->n_elements, 1u);
  int64_t v;
  std::memcpy(&v, i64->data, 8);
  EXPECT_EQ(v, int64_t{-1} << 40);
  EXPECT_EQ(f.find("u8")->data[2], 3);
  EXPECT_EQ(f.find("empty")->n_elements, 0u);

  auto not_float = read_as_f32(*f.find("i32"));
  ASSERT_FALSE(not_float.is_ok());
  EXPECT_CONTAINS(not_float.status().message(), "'i32'");
  // Tensors are listed in file order.
  for (size_t i = 1; i < f.tensors().size(); ++i) {
    EXPECT_LE(f.tensors()[i - 1].data_offset, f.tensors()[i].data_offset);
  }
}

TEST(Safetensors, OpensFromDiskThroughMmap) {
  const std::vector<uint8_t> bytes = every_dtype_file();
  char path[] = "/tmp/flashmem_safetensors_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fd);
  auto file = File::open(path);
  unlink(path);
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  EXPECT_EQ(file.value()->path(), path);
  EXPECT_EQ(read_as_f32(*file.value()->find("f32")).value(), (std::vector<float>{1.5f, -2.0f}));
}

TEST(Safetensors, MissingFileIsAnErrorNamingThePath) {
  auto file = File::open("/nonexistent/weights.safetensors");
  ASSERT_FALSE(file.is_ok());
  EXPECT_CONTAINS(file.status().message(), "/nonexistent/weights.safetensors");
}

TEST(Safetensors, TruncatedOrOversizedHeaderLengthIsRejected) {
  EXPECT_CONTAINS(parse_error({1, 2, 3}), "shorter than the 8-byte");
  std::vector<uint8_t> bytes = file_bytes("{}", {});
  bytes[0] = 200;  // header length 200 in a 10-byte file
  EXPECT_CONTAINS(parse_error(bytes), "runs past the end");
  std::vector<uint8_t> huge(16, 0);
  huge[7] = 0x7f;
  EXPECT_CONTAINS(parse_error(huge), "exceeds");
}

TEST(Safetensors, MalformedHeadersAreErrorsNotCrashes) {
  EXPECT_CONTAINS(parse_error(file_bytes("{\"a\": ", {})), "json");
  EXPECT_CONTAINS(parse_error(file_bytes("[1, 2]", {})), "not a JSON object");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t": 5})", {})), "'t': entry is not an object");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", {0, 0, 0, 0})),
                  "dtype missing");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})",
                                         std::vector<uint8_t>(8))),
                  "unsupported dtype 'F64'");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t": {"dtype": "F32", "data_offsets": [0, 4]}})", {0, 0, 0, 0})),
                  "shape missing");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
                                         {0, 0, 0, 0})),
                  "shape[0]");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
                                         {0, 0, 0, 0})),
                  "non-negative integer");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"t": {"dtype": "F32", "shape": [1]}})", {0, 0, 0, 0})),
                  "data_offsets missing");
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"__metadata__": {"k": 1}})", {})), "not a string");
}

TEST(Safetensors, OffsetsAndSizesAreCheckedAgainstTheFile) {
  // Past the end of the data section: names the tensor and the offsets.
  std::string msg = parse_error(
      file_bytes(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", std::vector<uint8_t>(8)));
  EXPECT_CONTAINS(msg, "'w'");
  EXPECT_CONTAINS(msg, "[0, 16)");
  // Span disagrees with dtype * shape.
  msg = parse_error(
      file_bytes(R"({"w": {"dtype": "F16", "shape": [3], "data_offsets": [2, 10]}})", std::vector<uint8_t>(16)));
  EXPECT_CONTAINS(msg, "'w'");
  EXPECT_CONTAINS(msg, "at offset 2");
  EXPECT_CONTAINS(msg, "needs 6");
  // end < begin.
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [4, 0]}})",
                                         std::vector<uint8_t>(8))),
                  "< begin");
  // Shape product overflows 64 bits.
  EXPECT_CONTAINS(
      parse_error(file_bytes(
          R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}})", {})),
      "overflows");
  // Offsets beyond 2^53 cannot be represented exactly in JSON numbers: refused.
  EXPECT_CONTAINS(parse_error(file_bytes(
                      R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [1e300, 1e300]}})", {1})),
                  "below 2^53");
  // Overlapping tensors.
  EXPECT_CONTAINS(parse_error(file_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                              "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                                         std::vector<uint8_t>(8))),
                  "overlaps");
}

TEST(Safetensors, FileWithOnlyMetadataHasNoTensors) {
  auto bytes = file_bytes(R"({"__metadata__": {}})", {});
  auto file = File::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  EXPECT_TRUE(file.value()->tensors().empty());
}

// Random byte corruptions of a valid file must parse or fail, never crash; every accepted
// tensor's bytes lie inside the buffer (AddressSanitizer builds check the reads too).
TEST(Safetensors, RandomCorruptionsNeverReadOutOfBounds) {
  const std::vector<uint8_t> original = every_dtype_file();
  std::mt19937 rng(7);
  int accepted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> bytes = original;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    auto file = File::parse(bytes.data(), bytes.size());
    if (!file.is_ok()) {
      EXPECT_FALSE(file.status().message().empty());
      continue;
    }
    ++accepted;
    for (const TensorView& t : file.value()->tensors()) {
      ASSERT_GE(t.data, bytes.data());
      ASSERT_LE(t.data + t.n_bytes, bytes.data() + bytes.size());
      auto values = read_as_f32(t);
      if (values.is_ok()) {
        EXPECT_EQ(values.value().size(), t.n_elements);
      }
    }
  }
  EXPECT_GT(accepted, 0);  // some corruptions only touch data bytes
}

}  // namespace
}  // namespace fm::safetensors
