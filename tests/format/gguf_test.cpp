#include "format/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "format/gguf_writer.h"
#include "support/test_paths.h"

namespace fm::gguf {
namespace {

using test_support::GgufWriter;
namespace values = test_support;

std::unique_ptr<File> parse_ok(const std::vector<uint8_t>& bytes) {
  auto result = File::parse(bytes.data(), bytes.size());
  EXPECT_TRUE(result.is_ok()) << result.status().message();
  if (!result.is_ok()) return nullptr;
  return std::move(result).value();
}

// Parses bytes that must be rejected and returns the error message.
std::string parse_error(const std::vector<uint8_t>& bytes) {
  auto result = File::parse(bytes.data(), bytes.size());
  EXPECT_FALSE(result.is_ok()) << "corrupt file was accepted";
  return result.is_ok() ? std::string() : result.status().message();
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

std::vector<uint8_t> bytes_of(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  return out;
}

// A file exercising every metadata type plus tensors of several block types.
GgufWriter full_writer() {
  GgufWriter w;
  w.add_string("general.architecture", "test")
      .add_u8("t.u8", 200)
      .add_i8("t.i8", -100)
      .add_u16("t.u16", 60000)
      .add_i16("t.i16", -30000)
      .add_u32("t.u32", 4000000000u)
      .add_i32("t.i32", -2000000000)
      .add_u64("t.u64", 18000000000000000000ull)
      .add_i64("t.i64", -9000000000000000000ll)
      .add_f32("t.f32", 1.5f)
      .add_f64("t.f64", -2.25e300)
      .add_bool("t.bool", true)
      .add_string("t.empty_string", "")
      .add_string_array("t.strings", {"a", "", "héllo"})
      .add_f32_array("t.floats", {0.5f, -1.0f})
      .add_i32_array("t.ints", {-1, 2, 3})
      .add_u32_array("t.empty_u32s", {})
      .add("t.nested", values::array_value(
                           ValueType::ARRAY,
                           {values::array_value(ValueType::INT16, {values::int_value(ValueType::INT16, -7)}),
                            values::array_value(ValueType::STRING, {values::string_value("x")})}));
  w.add_f32_tensor("a.f32", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  w.add_tensor("b.q4_0", TensorType::Q4_0, {64, 3}, bytes_of(6 * 18, 1));
  w.add_tensor("c.q4_k", TensorType::Q4_K, {256}, bytes_of(144, 2));
  w.add_tensor("d.f16", TensorType::F16, {3}, bytes_of(6, 3));
  return w;
}

TEST(Gguf, EveryMetadataTypeRoundTrips) {
  auto file = parse_ok(full_writer().serialize());
  ASSERT_TRUE(file);
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->metadata().size(), 18u);
  EXPECT_EQ(file->find("t.u8")->type, ValueType::UINT8);
  EXPECT_EQ(file->find("t.u8")->as_uint(), 200u);
  EXPECT_EQ(file->find("t.i8")->as_int(), -100);
  EXPECT_EQ(file->find("t.u16")->as_uint(), 60000u);
  EXPECT_EQ(file->find("t.i16")->as_int(), -30000);
  EXPECT_EQ(file->find("t.u32")->as_uint(), 4000000000u);
  EXPECT_EQ(file->find("t.i32")->as_int(), -2000000000);
  EXPECT_EQ(file->find("t.u64")->as_uint(), 18000000000000000000ull);
  EXPECT_FALSE(file->find("t.u64")->as_int().has_value()) << "does not fit in int64";
  EXPECT_EQ(file->find("t.i64")->as_int(), -9000000000000000000ll);
  EXPECT_EQ(file->find("t.f32")->type, ValueType::FLOAT32);
  EXPECT_EQ(file->find("t.f32")->as_float(), 1.5);
  EXPECT_EQ(file->find("t.f64")->as_float(), -2.25e300);
  EXPECT_EQ(file->find("t.bool")->as_bool(), true);
  EXPECT_EQ(*file->find("t.empty_string")->as_string(), "");
  EXPECT_EQ(file->get_string("general.architecture").value(), "test");

  EXPECT_EQ(file->get_string_array("t.strings").value(), (std::vector<std::string>{"a", "", "héllo"}));
  EXPECT_EQ(file->get_float_array("t.floats").value(), (std::vector<double>{0.5, -1.0}));
  EXPECT_EQ(file->get_int_array("t.ints").value(), (std::vector<int64_t>{-1, 2, 3}));
  const Array* empty = file->find("t.empty_u32s")->as_array();
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->element_type, ValueType::UINT32);
  EXPECT_TRUE(empty->items.empty());

  const Array* nested = file->find("t.nested")->as_array();
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->element_type, ValueType::ARRAY);
  ASSERT_EQ(nested->items.size(), 2u);
  const Array* inner0 = nested->items[0].as_array();
  ASSERT_NE(inner0, nullptr);
  EXPECT_EQ(inner0->element_type, ValueType::INT16);
  EXPECT_EQ(inner0->items.at(0).as_int(), -7);
  EXPECT_EQ(*nested->items[1].as_array()->items.at(0).as_string(), "x");
}

TEST(Gguf, Version2FilesAreReadLikeVersion3) {
  GgufWriter w = full_writer();
  w.set_version(2);
  auto file = parse_ok(w.serialize());
  ASSERT_TRUE(file);
  EXPECT_EQ(file->version(), 2u);
  EXPECT_EQ(file->tensors().size(), 4u);
}

TEST(Gguf, TypedGettersAcceptCompatibleTypes) {
  GgufWriter w;
  w.add_u8("u8", 7).add_i32("positive_i32", 9).add_u64("u64", 1ull << 40).add_f32("f32", 0.25f);
  w.add_f64("f64", 3.5).add_bool("flag", false);
  w.add("u8s", values::array_value(ValueType::UINT8, {values::uint_value(ValueType::UINT8, 255)}));
  w.add("i64s", values::array_value(ValueType::INT64, {values::int_value(ValueType::INT64, -5)}));
  w.add_i32_array("i32s", {4, -4});
  auto file = parse_ok(w.serialize());
  ASSERT_TRUE(file);
  EXPECT_EQ(file->get_uint("u8").value(), 7u);
  EXPECT_EQ(file->get_uint("positive_i32").value(), 9u);
  EXPECT_EQ(file->get_uint("u64").value(), 1ull << 40);
  EXPECT_EQ(file->get_float("f32").value(), 0.25);
  EXPECT_EQ(file->get_float("f64").value(), 3.5);
  EXPECT_EQ(file->get_bool("flag").value(), false);
  EXPECT_EQ(file->get_int_array("u8s").value(), std::vector<int64_t>{255});
  EXPECT_EQ(file->get_int_array("i64s").value(), std::vector<int64_t>{-5});
  EXPECT_EQ(file->get_float_array("i32s").value(), (std::vector<double>{4.0, -4.0}));
}

TEST(Gguf, TypedGettersNameTheKeyWhenMissingOrMistyped) {
  GgufWriter w;
  w.add_i32("negative", -3).add_u32("count", 3).add_string("name", "x").add_f32_array("floats", {1});
  w.add("big", values::array_value(ValueType::UINT64, {values::uint_value(ValueType::UINT64, ~0ull)}));
  auto file = parse_ok(w.serialize());
  ASSERT_TRUE(file);
  EXPECT_CONTAINS(file->get_uint("absent.key").status().message(), "'absent.key' not found");
  EXPECT_CONTAINS(file->get_uint("negative").status().message(), "'negative' is negative");
  EXPECT_CONTAINS(file->get_uint("name").status().message(), "'name' has type string");
  EXPECT_CONTAINS(file->get_float("count").status().message(), "'count' has type uint32");
  EXPECT_CONTAINS(file->get_string("count").status().message(), "'count'");
  EXPECT_CONTAINS(file->get_bool("count").status().message(), "'count'");
  EXPECT_CONTAINS(file->get_string_array("floats").status().message(), "'floats' is an array of float32");
  EXPECT_CONTAINS(file->get_int_array("floats").status().message(), "'floats'");
  EXPECT_CONTAINS(file->get_float_array("name").status().message(), "'name'");
  EXPECT_CONTAINS(file->get_int_array("big").status().message(), "'big': element 0");
}

TEST(Gguf, TensorTableAndDataPointersMatchWhatWasWritten) {
  GgufWriter::Layout layout;
  const std::vector<uint8_t> bytes = full_writer().serialize(&layout);
  auto file = parse_ok(bytes);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->data_offset(), layout.data_offset);
  EXPECT_EQ(file->data_offset() % 32, 0u);
  ASSERT_EQ(file->tensors().size(), 4u);

  const TensorInfo* a = file->find_tensor("a.f32");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type, TensorType::F32);
  EXPECT_EQ(a->dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(a->n_elements, 8u);
  EXPECT_EQ(a->n_bytes, 32u);
  EXPECT_EQ(a->offset, 0u);
  EXPECT_EQ(a->data, bytes.data() + layout.data_offset);
  float values[8];
  std::memcpy(values, a->data, sizeof values);
  EXPECT_EQ(values[7], 8.0f);

  const TensorInfo* b = file->find_tensor("b.q4_0");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, TensorType::Q4_0);
  EXPECT_EQ(b->n_elements, 192u);
  EXPECT_EQ(b->n_bytes, 6u * 18);
  EXPECT_EQ(b->offset, 32u);
  EXPECT_EQ(std::vector<uint8_t>(b->data, b->data + b->n_bytes), bytes_of(108, 1));

  const TensorInfo* c = file->find_tensor("c.q4_k");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->offset, 160u);  // 32 + 108 rounded up to 32
  EXPECT_EQ(c->n_bytes, 144u);
  const TensorInfo* d = file->find_tensor("d.f16");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->n_bytes, 6u);
  EXPECT_EQ(d->data + d->n_bytes, bytes.data() + bytes.size());
  EXPECT_EQ(file->find_tensor("missing"), nullptr);
  EXPECT_EQ(file->tensors()[0].name, "a.f32") << "table order is preserved";
}

TEST(Gguf, CustomAlignmentPlacesDataSectionAndTensors) {
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    GgufWriter w;
    w.set_alignment(alignment);
    w.add_f32_tensor("x", {3}, {1, 2, 3});
    w.add_f32_tensor("y", {5}, {1, 2, 3, 4, 5});
    GgufWriter::Layout layout;
    auto bytes = w.serialize(&layout);
    auto file = parse_ok(bytes);
    ASSERT_TRUE(file) << alignment;
    EXPECT_EQ(file->alignment(), alignment);
    EXPECT_EQ(file->data_offset() % alignment, 0u);
    EXPECT_EQ(file->data_offset(), layout.data_offset);
    EXPECT_EQ(file->find_tensor("y")->offset, (12 + alignment - 1) / alignment * alignment);
    EXPECT_EQ(file->find_tensor("y")->data + 20, bytes.data() + bytes.size());
  }
}

TEST(Gguf, AlignmentThatIsZeroOrNotAPowerOfTwoOrNotAnIntegerIsRejected) {
  EXPECT_CONTAINS(parse_error(GgufWriter().add_u32("general.alignment", 0).serialize()),
                  "'general.alignment' must be a non-zero power of two, got 0");
  EXPECT_CONTAINS(parse_error(GgufWriter().add_u32("general.alignment", 48).serialize()), "got 48");
  EXPECT_CONTAINS(parse_error(GgufWriter().add_string("general.alignment", "32").serialize()),
                  "'general.alignment' must be a non-negative integer, got string");
}

TEST(Gguf, TruncationAtEveryByteIsAnErrorNotACrash) {
  const std::vector<uint8_t> bytes = full_writer().serialize();
  ASSERT_TRUE(parse_ok(bytes));
  for (size_t n = 0; n < bytes.size(); ++n) {
    // An exactly-sized copy, so a sanitizer build would catch any read past the end.
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    auto result = File::parse(prefix.data(), prefix.size());
    ASSERT_FALSE(result.is_ok()) << "prefix of " << n << " bytes accepted";
    EXPECT_EQ(result.status().message().rfind("gguf: ", 0), 0u) << result.status().message();
  }
}

TEST(Gguf, TruncatedHeaderNamesTheFieldAndOffset) {
  std::vector<uint8_t> bytes = full_writer().serialize();
  bytes.resize(10);
  EXPECT_CONTAINS(parse_error(bytes), "file truncated: tensor count at offset 8 needs 8 bytes, only 2 left");
}

TEST(Gguf, BadMagicIsRejected) {
  std::vector<uint8_t> bytes = full_writer().serialize();
  bytes[0] = 'X';
  EXPECT_CONTAINS(parse_error(bytes), "bad magic");
  EXPECT_CONTAINS(parse_error({}), "magic");
}

TEST(Gguf, Version1AndUnknownVersionsAreRejected) {
  EXPECT_CONTAINS(parse_error(GgufWriter().set_version(1).serialize()), "version 1");
  EXPECT_CONTAINS(parse_error(GgufWriter().set_version(4).serialize()), "unsupported version 4");
  EXPECT_CONTAINS(parse_error(GgufWriter().set_version(0x03000000).serialize()), "big-endian");
}

TEST(Gguf, HugeStringLengthIsRejectedBeforeAllocating) {
  GgufWriter::Layout layout;
  auto bytes = GgufWriter().add_string("key", "value").serialize(&layout);
  const size_t value_length_offset = layout.metadata_entry_offsets[0] + 8 + 3 + 4;
  GgufWriter::patch<uint64_t>(bytes, value_length_offset, 1ull << 62);
  const std::string message = parse_error(bytes);
  EXPECT_CONTAINS(message, "metadata 'key'");
  EXPECT_CONTAINS(message, "string length 4611686018427387904 at offset " + std::to_string(value_length_offset));
  // And a corrupt key length.
  GgufWriter::patch<uint64_t>(bytes, layout.metadata_entry_offsets[0], ~0ull);
  EXPECT_CONTAINS(parse_error(bytes), "key of metadata entry #0: string length");
}

TEST(Gguf, HugeArrayCountIsRejectedBeforeAllocating) {
  GgufWriter::Layout layout;
  auto bytes = GgufWriter().add_f32_array("scores", {1, 2}).serialize(&layout);
  const size_t count_offset = layout.metadata_entry_offsets[0] + 8 + 6 + 4 + 4;
  GgufWriter::patch<uint64_t>(bytes, count_offset, 1ull << 60);
  const std::string message = parse_error(bytes);
  EXPECT_CONTAINS(message, "metadata 'scores': array count 1152921504606846976 at offset " +
                               std::to_string(count_offset) + " cannot fit");
}

TEST(Gguf, HugeMetadataAndTensorCountsAreRejected) {
  GgufWriter::Layout layout;
  auto bytes = full_writer().serialize(&layout);
  auto bad_kv = bytes;
  GgufWriter::patch<uint64_t>(bad_kv, layout.metadata_count_offset, 1ull << 50);
  EXPECT_CONTAINS(parse_error(bad_kv), "metadata count 1125899906842624 at offset 16 cannot fit");
  auto bad_tensors = bytes;
  GgufWriter::patch<uint64_t>(bad_tensors, layout.tensor_count_offset, ~0ull);
  EXPECT_CONTAINS(parse_error(bad_tensors), "tensor count 18446744073709551615 at offset 8 cannot fit");
}

TEST(Gguf, UnknownValueTypeIsRejected) {
  GgufWriter::Layout layout;
  auto bytes = GgufWriter().add_u32("k", 1).serialize(&layout);
  GgufWriter::patch<uint32_t>(bytes, layout.metadata_entry_offsets[0] + 8 + 1, 13);
  EXPECT_CONTAINS(parse_error(bytes), "metadata 'k': unknown value type 13");
  // And as an array's element type.
  bytes = GgufWriter().add_u32_array("arr", {1}).serialize(&layout);
  GgufWriter::patch<uint32_t>(bytes, layout.metadata_entry_offsets[0] + 8 + 3 + 4, 77);
  EXPECT_CONTAINS(parse_error(bytes), "elements of metadata 'arr': unknown value type 77");
}

TEST(Gguf, BoolOtherThanZeroOrOneIsRejected) {
  GgufWriter::Layout layout;
  auto bytes = GgufWriter().add_bool("flag", true).serialize(&layout);
  bytes[layout.metadata_entry_offsets[0] + 8 + 4 + 4] = 2;
  EXPECT_CONTAINS(parse_error(bytes), "metadata 'flag' at offset");
}

TEST(Gguf, DeeplyNestedArraysAreRejected) {
  Value v = values::array_value(ValueType::UINT8, {});
  for (int i = 0; i < 20; ++i) v = values::array_value(ValueType::ARRAY, {v});
  EXPECT_CONTAINS(parse_error(GgufWriter().add("deep", v).serialize()), "nested deeper");
}

TEST(Gguf, DuplicateMetadataKeysAreRejected) {
  EXPECT_CONTAINS(parse_error(GgufWriter().add_u32("k", 1).add_string("k", "x").serialize()),
                  "duplicate metadata key 'k' (entry #1");
}

TEST(Gguf, DuplicateTensorNamesAreRejected) {
  GgufWriter w;
  w.add_f32_tensor("w", {1}, {1}).add_f32_tensor("w", {1}, {2});
  EXPECT_CONTAINS(parse_error(w.serialize()), "duplicate tensor name 'w' (tensors #0 and #1)");
}

TEST(Gguf, UnknownTensorTypeIsRejected) {
  GgufWriter w;
  w.add_raw_tensor({"blk.0.ffn_up.weight", 99, {32}, bytes_of(32, 0), {}});
  EXPECT_CONTAINS(parse_error(w.serialize()), "tensor 'blk.0.ffn_up.weight' (entry at offset 24): unknown tensor type id 99");
}

TEST(Gguf, TensorDimsOutsideOneToFourAreRejected) {
  GgufWriter w5;
  w5.add_raw_tensor({"five", 0, {1, 1, 1, 1, 1}, bytes_of(4, 0), {}});
  EXPECT_CONTAINS(parse_error(w5.serialize()), "tensor 'five' (entry at offset 24): n_dims 5");
  GgufWriter w0;
  w0.add_raw_tensor({"zero", 0, {}, {}, {}});
  EXPECT_CONTAINS(parse_error(w0.serialize()), "n_dims 0");
}

TEST(Gguf, DimsWhoseProductOverflowsAreRejected) {
  GgufWriter w;
  w.add_raw_tensor({"huge", 0, {1ull << 32, 1ull << 32}, {}, {}});
  EXPECT_CONTAINS(parse_error(w.serialize()), "tensor 'huge' (entry at offset 24): element count of dims [4294967296, 4294967296] overflows");
  GgufWriter bytes_overflow;  // fits in 2^63 elements, but not in 2^64 bytes of F32
  bytes_overflow.add_raw_tensor({"wide", 0, {1ull << 62}, {}, {}});
  EXPECT_CONTAINS(parse_error(bytes_overflow.serialize()), "byte size");
}

TEST(Gguf, RowLengthThatIsNotAWholeNumberOfBlocksIsRejected) {
  GgufWriter w;
  w.add_raw_tensor({"q", static_cast<uint32_t>(TensorType::Q4_0), {33, 2}, bytes_of(72, 0), {}});
  EXPECT_CONTAINS(parse_error(w.serialize()), "tensor 'q' (entry at offset 24): row length dims[0] = 33 is not a multiple of the Q4_0 block size 32");
}

TEST(Gguf, MisalignedTensorOffsetIsRejected) {
  GgufWriter w;
  w.add_raw_tensor({"m", 0, {4}, bytes_of(16, 0), 16});
  EXPECT_CONTAINS(parse_error(w.serialize()), "tensor 'm' (entry at offset 24): data offset 16 at offset");
  EXPECT_CONTAINS(parse_error(w.serialize()), "is not a multiple of the alignment 32");
}

TEST(Gguf, TensorDataPastEndOfFileIsRejected) {
  GgufWriter w;
  w.add_f32_tensor("blk.0.attn_q.weight", {8}, std::vector<float>(8, 1.0f));
  GgufWriter::Layout layout;
  auto bytes = w.serialize(&layout);
  bytes.resize(bytes.size() - 1);
  EXPECT_CONTAINS(parse_error(bytes),
                  "gguf: tensor 'blk.0.attn_q.weight': data [offset " + std::to_string(layout.data_offset) +
                      ", 32 bytes] extends past end of file (size " + std::to_string(bytes.size()) + ")");
  // An offset so large that offset + size wraps around must not pass the check.
  GgufWriter wrap;
  wrap.add_raw_tensor({"wrap", 0, {8}, bytes_of(32, 0), ~0ull - 31});
  EXPECT_CONTAINS(parse_error(wrap.serialize()), "overflows 64 bits");
  // Start in range of uint64 but start + size wraps to 0: the data section starts at 64
  // here (24-byte header + 36-byte entry, rounded up), so the data would end at 2^64.
  GgufWriter wrap_end;
  wrap_end.add_raw_tensor({"wrap", 0, {8}, bytes_of(32, 0), 0ull - 96});
  GgufWriter::Layout layout_wrap;
  auto wrap_bytes = wrap_end.serialize(&layout_wrap);
  ASSERT_EQ(layout_wrap.data_offset, 64u);
  EXPECT_CONTAINS(parse_error(wrap_bytes), "data [offset 18446744073709551584, 32 bytes] extends past end of file");
}

TEST(Gguf, ZeroTensorFileNeedsNoDataSection) {
  auto file = parse_ok(GgufWriter().add_u32("k", 1).serialize());
  ASSERT_TRUE(file);
  EXPECT_TRUE(file->tensors().empty());
}

TEST(Gguf, OpenMapsAFileFromDisk) {
  const std::string path = ::testing::TempDir() + "/gguf_open_test_" + std::to_string(getpid()) + ".gguf";
  full_writer().write_file(path);
  auto result = File::open(path);
  ASSERT_TRUE(result.is_ok()) << result.status().message();
  const File& file = *result.value();
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.get_string("general.architecture").value(), "test");
  const TensorInfo* a = file.find_tensor("a.f32");
  ASSERT_NE(a, nullptr);
  float first;
  std::memcpy(&first, a->data, 4);
  EXPECT_EQ(first, 1.0f);
  std::remove(path.c_str());
}

TEST(Gguf, OpenNamesThePathWhenItFails) {
  auto missing = File::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_CONTAINS(missing.status().message(), "gguf: /nonexistent/dir/model.gguf: cannot open");

  const std::string path = ::testing::TempDir() + "/gguf_bad_test_" + std::to_string(getpid()) + ".gguf";
  GgufWriter().set_version(1).write_file(path);
  auto bad = File::open(path);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_CONTAINS(bad.status().message(), "gguf: " + path + ": version 1");
  std::remove(path.c_str());
}

// The real model, when FLASHMEM_MODEL points at the Gemma 3 GGUF.
TEST(Gguf, RealGemmaModelHasExpectedMetadataAndTensors) {
  const std::string path = test::model_from_env("FLASHMEM_MODEL");
  if (path.empty()) GTEST_SKIP() << "FLASHMEM_MODEL not set or not found";
  auto result = File::open(path);
  ASSERT_TRUE(result.is_ok()) << result.status().message();
  const File& file = *result.value();
  auto architecture = file.get_string("general.architecture");
  ASSERT_TRUE(architecture.is_ok()) << architecture.status().message();
  if (architecture.value() != "gemma3") GTEST_SKIP() << "FLASHMEM_MODEL is a " << architecture.value() << " model";
  auto blocks = file.get_uint("gemma3.block_count");
  ASSERT_TRUE(blocks.is_ok()) << blocks.status().message();
  EXPECT_GT(blocks.value(), 0u);
  EXPECT_TRUE(file.get_uint("gemma3.embedding_length").is_ok());
  auto tokens = file.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.is_ok()) << tokens.status().message();
  const TensorInfo* embedding = file.find_tensor("token_embd.weight");
  ASSERT_NE(embedding, nullptr);
  ASSERT_EQ(embedding->dims.size(), 2u);
  EXPECT_EQ(embedding->dims[0], file.get_uint("gemma3.embedding_length").value());
  EXPECT_EQ(embedding->dims[1], tokens.value().size());
  EXPECT_NE(file.find_tensor("blk.0.attn_q.weight"), nullptr);
  EXPECT_NE(file.find_tensor("blk." + std::to_string(blocks.value() - 1) + ".ffn_down.weight"), nullptr);
}

}  // namespace
}  // namespace fm::gguf
