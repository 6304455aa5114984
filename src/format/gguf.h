// GGUF (v2/v3) reader: memory-maps the file, parses metadata and the tensor table, and
// validates every count, offset and size against the file before anything is read, so a
// truncated or corrupt file yields a Status naming the field and offset, never a crash.
// Format: github.com/ggml-org/ggml/blob/master/docs/gguf.md
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "format/tensor_type.h"

namespace fm::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

// "uint8", "string", ...; "unknown" for ids outside the enum.
const char* value_type_name(ValueType type);
bool is_known_value_type(uint32_t type_id);

// A metadata value. Arrays hold one element type; nested arrays are allowed by the spec.
struct Value;
struct Array {
  ValueType element_type = ValueType::UINT8;
  std::vector<Value> items;
};
struct Value {
  ValueType type = ValueType::UINT8;
  // Unsigned types are held as uint64_t, signed as int64_t, FLOAT32/FLOAT64 as double.
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

  // Lossless-where-possible accessors; nullopt when the type does not fit.
  // as_uint: unsigned, or signed and non-negative. as_int: signed, or unsigned <= INT64_MAX.
  // as_float: FLOAT32/FLOAT64 only (an integer is not silently taken for a float).
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;
  const Array* as_array() const;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the contiguous (row) dimension
  TensorType type = TensorType::F32;
  uint64_t offset = 0;         // from the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // points into the mapping, checked in bounds
};

class File {
 public:
  // Maps and parses a file from disk.
  static Result<std::unique_ptr<File>> open(const std::string& path);
  // Parses a buffer that the caller keeps alive (fuzzing, tests).
  static Result<std::unique_ptr<File>> parse(const uint8_t* data, size_t size);
  ~File();
  File(const File&) = delete;  // owns the mapping
  File& operator=(const File&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::string& path() const { return path_; }  // empty for parse()
  // Byte offset of the data section (tensor offsets are relative to it) and file size.
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return file_size_; }

  const std::map<std::string, Value>& metadata() const { return metadata_; }
  const Value* find(const std::string& key) const;
  // Typed lookups; Status names the key when it is missing or of the wrong type.
  Result<uint64_t> get_uint(const std::string& key) const;
  Result<double> get_float(const std::string& key) const;
  Result<std::string> get_string(const std::string& key) const;
  Result<bool> get_bool(const std::string& key) const;
  Result<std::vector<std::string>> get_string_array(const std::string& key) const;
  Result<std::vector<double>> get_float_array(const std::string& key) const;
  Result<std::vector<int64_t>> get_int_array(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;

 private:
  File() = default;
  Status parse_all(const uint8_t* data, size_t size);

  std::string path_;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  uint64_t file_size_ = 0;
  std::map<std::string, Value> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace fm::gguf
