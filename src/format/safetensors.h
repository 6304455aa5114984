// safetensors reader: memory-maps the file, parses the JSON header with fm::json, and
// checks every dtype, shape and offset against the file before a tensor is handed out, so a
// truncated or hostile file yields a Status naming the tensor and the offset, never a crash.
//
// Layout (huggingface.co/docs/safetensors, "Format"):
//   u64 little-endian N | N bytes of UTF-8 JSON | data
//   JSON: { "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//           "__metadata__": {"<key>": "<string>", ...} }   (metadata is optional)
//   Offsets are bytes relative to the start of the data section; end is exclusive.
// Shapes are row-major, outermost dimension first (the opposite of GGUF's dims order).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace fm::safetensors {

// The element types we read. Names are the format's own spellings.
enum class DType { F32, F16, BF16, F8_E4M3, I32, I64, U8 };

const char* dtype_name(DType dtype);
size_t dtype_bytes(DType dtype);
// "F8_E4M3" -> DType; error naming the string for anything else.
Result<DType> parse_dtype(const std::string& name);

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;  // outermost first; empty for a scalar
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t data_offset = 0;       // from the start of the data section
  const uint8_t* data = nullptr;  // points into the mapping; may be unaligned
};

class File {
 public:
  // Largest header we accept: real headers are kilobytes; the cap bounds the JSON parse.
  static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

  static Result<std::unique_ptr<File>> open(const std::string& path);
  // Parses a buffer that the caller keeps alive (fuzzing, tests).
  static Result<std::unique_ptr<File>> parse(const uint8_t* data, size_t size);
  ~File();
  File(const File&) = delete;  // owns the mapping
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }  // empty for parse()
  uint64_t file_size() const { return file_size_; }
  uint64_t data_section_offset() const { return data_section_offset_; }  // 8 + header bytes

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const std::string* find_metadata(const std::string& key) const;

  // Tensors in ascending data offset order (the order of the bytes in the file).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;

 private:
  File() = default;
  Status parse_all(const uint8_t* data, size_t size);

  std::string path_;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  uint64_t file_size_ = 0;
  uint64_t data_section_offset_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
};

// Converts a floating-point tensor (F32, F16, BF16, F8_E4M3) to fp32, row-major. Error for
// integer dtypes; the error names the tensor.
Status read_as_f32(const TensorView& tensor, std::span<float> out);
Result<std::vector<float>> read_as_f32(const TensorView& tensor);

// "[2, 3]" for messages.
std::string shape_string(const std::vector<uint64_t>& shape);

}  // namespace fm::safetensors
