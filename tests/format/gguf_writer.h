// A small GGUF writer for tests: builds files in memory (or on disk) so that tests can
// make tiny models and deliberately corrupt ones. Header-only test support; the library
// itself never writes GGUF.
//
// Typical use:
//   fm::gguf::test_support::GgufWriter w;
//   w.add_string("general.architecture", "llama").add_u32("llama.block_count", 2);
//   w.add_f32_tensor("token_embd.weight", {8, 16}, embeddings);  // dims in ggml order
//   std::vector<uint8_t> bytes = w.serialize();
//
// For corruption tests, add_raw_tensor() writes any type id / offset / byte count, add()
// accepts duplicate keys, set_version() any version, and serialize(&layout) reports where
// each header field landed so a test can overwrite it.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "format/gguf.h"
#include "format/tensor_type.h"

namespace fm::gguf::test_support {

// ---- Value builders (the reader's own Value type, so round trips compare directly) ----

inline Value uint_value(ValueType type, uint64_t v) {
  Value out;
  out.type = type;
  out.data = v;
  return out;
}
inline Value int_value(ValueType type, int64_t v) {
  Value out;
  out.type = type;
  out.data = v;
  return out;
}
inline Value float_value(ValueType type, double v) {
  Value out;
  out.type = type;
  out.data = v;
  return out;
}
inline Value bool_value(bool v) {
  Value out;
  out.type = ValueType::BOOL;
  out.data = v;
  return out;
}
inline Value string_value(std::string v) {
  Value out;
  out.type = ValueType::STRING;
  out.data = std::move(v);
  return out;
}
inline Value array_value(ValueType element_type, std::vector<Value> items) {
  Value out;
  out.type = ValueType::ARRAY;
  out.data = Array{element_type, std::move(items)};
  return out;
}

class GgufWriter {
 public:
  // Byte offsets of fields in the last serialized file, for tests that corrupt them.
  struct Layout {
    size_t version_offset = 4;
    size_t tensor_count_offset = 8;
    size_t metadata_count_offset = 16;
    std::vector<size_t> metadata_entry_offsets;  // where each key's u64 length starts
    std::vector<size_t> tensor_entry_offsets;    // where each tensor name's u64 length starts
    size_t data_offset = 0;                      // start of the data section
  };

  // One tensor-table entry. `offset` defaults to the next aligned slot of the data section;
  // `data` is written at that natural slot regardless, so an explicit offset can lie.
  struct RawTensor {
    std::string name;
    uint32_t type_id = 0;
    std::vector<uint64_t> dims;  // ggml order: dims[0] is the contiguous dimension
    std::vector<uint8_t> data;
    std::optional<uint64_t> offset;
  };

  GgufWriter& set_version(uint32_t version) {
    version_ = version;
    return *this;
  }

  // Pads the data section to `alignment` and records it as general.alignment (u32).
  GgufWriter& set_alignment(uint32_t alignment) {
    alignment_ = alignment;
    for (auto& [key, value] : metadata_) {
      if (key == "general.alignment") {
        value = uint_value(ValueType::UINT32, alignment);
        return *this;
      }
    }
    return add("general.alignment", uint_value(ValueType::UINT32, alignment));
  }

  // Appends a metadata entry as is (duplicates included).
  GgufWriter& add(std::string key, Value value) {
    metadata_.emplace_back(std::move(key), std::move(value));
    return *this;
  }

  GgufWriter& add_u8(std::string k, uint8_t v) { return add(std::move(k), uint_value(ValueType::UINT8, v)); }
  GgufWriter& add_i8(std::string k, int8_t v) { return add(std::move(k), int_value(ValueType::INT8, v)); }
  GgufWriter& add_u16(std::string k, uint16_t v) { return add(std::move(k), uint_value(ValueType::UINT16, v)); }
  GgufWriter& add_i16(std::string k, int16_t v) { return add(std::move(k), int_value(ValueType::INT16, v)); }
  GgufWriter& add_u32(std::string k, uint32_t v) { return add(std::move(k), uint_value(ValueType::UINT32, v)); }
  GgufWriter& add_i32(std::string k, int32_t v) { return add(std::move(k), int_value(ValueType::INT32, v)); }
  GgufWriter& add_u64(std::string k, uint64_t v) { return add(std::move(k), uint_value(ValueType::UINT64, v)); }
  GgufWriter& add_i64(std::string k, int64_t v) { return add(std::move(k), int_value(ValueType::INT64, v)); }
  GgufWriter& add_f32(std::string k, float v) { return add(std::move(k), float_value(ValueType::FLOAT32, v)); }
  GgufWriter& add_f64(std::string k, double v) { return add(std::move(k), float_value(ValueType::FLOAT64, v)); }
  GgufWriter& add_bool(std::string k, bool v) { return add(std::move(k), bool_value(v)); }
  GgufWriter& add_string(std::string k, std::string v) {
    return add(std::move(k), string_value(std::move(v)));
  }

  GgufWriter& add_string_array(std::string k, const std::vector<std::string>& v) {
    std::vector<Value> items;
    for (const auto& s : v) items.push_back(string_value(s));
    return add(std::move(k), array_value(ValueType::STRING, std::move(items)));
  }
  GgufWriter& add_f32_array(std::string k, const std::vector<float>& v) {
    std::vector<Value> items;
    for (float f : v) items.push_back(float_value(ValueType::FLOAT32, f));
    return add(std::move(k), array_value(ValueType::FLOAT32, std::move(items)));
  }
  GgufWriter& add_i32_array(std::string k, const std::vector<int32_t>& v) {
    std::vector<Value> items;
    for (int32_t i : v) items.push_back(int_value(ValueType::INT32, i));
    return add(std::move(k), array_value(ValueType::INT32, std::move(items)));
  }
  GgufWriter& add_u32_array(std::string k, const std::vector<uint32_t>& v) {
    std::vector<Value> items;
    for (uint32_t u : v) items.push_back(uint_value(ValueType::UINT32, u));
    return add(std::move(k), array_value(ValueType::UINT32, std::move(items)));
  }

  // A tensor whose bytes are already encoded in `type`; throws if the byte count does not
  // match dims (use add_raw_tensor to write inconsistent entries on purpose).
  GgufWriter& add_tensor(std::string name, TensorType type, std::vector<uint64_t> dims,
                         std::vector<uint8_t> data) {
    const TensorTypeTraits* traits = tensor_type_traits(static_cast<uint32_t>(type));
    uint64_t n_elements = 1;
    for (uint64_t d : dims) n_elements *= d;
    if (traits == nullptr || dims.empty() || dims[0] % traits->block_elements != 0 ||
        n_elements / traits->block_elements * traits->block_bytes != data.size()) {
      throw std::invalid_argument("GgufWriter::add_tensor: bytes do not match type and dims for '" +
                                  name + "'");
    }
    return add_raw_tensor(
        RawTensor{std::move(name), static_cast<uint32_t>(type), std::move(dims), std::move(data), {}});
  }

  GgufWriter& add_f32_tensor(std::string name, std::vector<uint64_t> dims, const std::vector<float>& values) {
    std::vector<uint8_t> bytes(values.size() * sizeof(float));
    if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
    return add_tensor(std::move(name), TensorType::F32, std::move(dims), std::move(bytes));
  }

  GgufWriter& add_raw_tensor(RawTensor tensor) {
    tensors_.push_back(std::move(tensor));
    return *this;
  }

  std::vector<uint8_t> serialize(Layout* layout = nullptr) const {
    Layout local;
    Layout& out_layout = layout != nullptr ? *layout : local;
    out_layout = Layout{};
    std::vector<uint8_t> out;
    put(out, uint32_t{0x46554747});  // "GGUF"
    put(out, version_);
    put(out, static_cast<uint64_t>(tensors_.size()));
    put(out, static_cast<uint64_t>(metadata_.size()));
    for (const auto& [key, value] : metadata_) {
      out_layout.metadata_entry_offsets.push_back(out.size());
      put_string(out, key);
      put(out, static_cast<uint32_t>(value.type));
      put_value(out, value);
    }
    // Data slots: each tensor at the next multiple of the alignment.
    std::vector<uint64_t> slots;
    uint64_t data_size = 0;
    for (const RawTensor& t : tensors_) {
      data_size = align_up(data_size);
      slots.push_back(data_size);
      data_size += t.data.size();
    }
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const RawTensor& t = tensors_[i];
      out_layout.tensor_entry_offsets.push_back(out.size());
      put_string(out, t.name);
      put(out, static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims) put(out, d);
      put(out, t.type_id);
      put(out, t.offset.value_or(slots[i]));
    }
    out.resize(align_up(out.size()), 0);
    out_layout.data_offset = out.size();
    for (size_t i = 0; i < tensors_.size(); ++i) {
      out.resize(out_layout.data_offset + slots[i], 0);
      out.insert(out.end(), tensors_[i].data.begin(), tensors_[i].data.end());
    }
    return out;
  }

  // Throws std::runtime_error when the file cannot be written.
  void write_file(const std::string& path) const {
    const std::vector<uint8_t> bytes = serialize();
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!file) throw std::runtime_error("GgufWriter: cannot write " + path);
  }

  // Overwrites a little-endian field in serialized bytes (for corruption tests).
  template <typename T>
  static void patch(std::vector<uint8_t>& bytes, size_t offset, T value) {
    if (offset + sizeof(T) > bytes.size()) throw std::out_of_range("GgufWriter::patch");
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
  }

 private:
  template <typename T>
  static void put(std::vector<uint8_t>& out, T value) {
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &value, sizeof(T));
  }
  static void put_string(std::vector<uint8_t>& out, const std::string& s) {
    put(out, static_cast<uint64_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  static void put_value(std::vector<uint8_t>& out, const Value& v) {
    switch (v.type) {
      case ValueType::UINT8: put(out, static_cast<uint8_t>(std::get<uint64_t>(v.data))); break;
      case ValueType::INT8: put(out, static_cast<int8_t>(std::get<int64_t>(v.data))); break;
      case ValueType::UINT16: put(out, static_cast<uint16_t>(std::get<uint64_t>(v.data))); break;
      case ValueType::INT16: put(out, static_cast<int16_t>(std::get<int64_t>(v.data))); break;
      case ValueType::UINT32: put(out, static_cast<uint32_t>(std::get<uint64_t>(v.data))); break;
      case ValueType::INT32: put(out, static_cast<int32_t>(std::get<int64_t>(v.data))); break;
      case ValueType::UINT64: put(out, std::get<uint64_t>(v.data)); break;
      case ValueType::INT64: put(out, std::get<int64_t>(v.data)); break;
      case ValueType::FLOAT32: put(out, static_cast<float>(std::get<double>(v.data))); break;
      case ValueType::FLOAT64: put(out, std::get<double>(v.data)); break;
      case ValueType::BOOL: put(out, static_cast<uint8_t>(std::get<bool>(v.data) ? 1 : 0)); break;
      case ValueType::STRING: put_string(out, std::get<std::string>(v.data)); break;
      case ValueType::ARRAY: {
        const Array& a = std::get<Array>(v.data);
        put(out, static_cast<uint32_t>(a.element_type));
        put(out, static_cast<uint64_t>(a.items.size()));
        for (const Value& item : a.items) put_value(out, item);
        break;
      }
    }
  }
  uint64_t align_up(uint64_t n) const { return (n + alignment_ - 1) / alignment_ * alignment_; }

  uint32_t version_ = 3;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<RawTensor> tensors_;
};

}  // namespace fm::gguf::test_support
