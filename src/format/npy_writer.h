// Writes numpy .npy files (format 1.0, little-endian, C order): the shard format of
// `flashmem dump`, read by the Python indexer trainer with np.load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace fm::npy {

// dtype: a numpy type string such as "<f4", "<i4", "<i8", "|u1". data holds
// product(shape) elements of that type.
Status write(const std::string& path, const std::string& dtype, const std::vector<int64_t>& shape,
             const void* data, size_t element_bytes);

template <typename T>
const char* dtype_of();
template <> inline const char* dtype_of<float>() { return "<f4"; }
template <> inline const char* dtype_of<int32_t>() { return "<i4"; }
template <> inline const char* dtype_of<int64_t>() { return "<i8"; }
template <> inline const char* dtype_of<uint8_t>() { return "|u1"; }

template <typename T>
Status write(const std::string& path, const std::vector<int64_t>& shape, const std::vector<T>& values) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (n != (int64_t)values.size()) {
    return Status::error("npy: " + path + ": shape holds " + std::to_string(n) + " elements, data " +
                         std::to_string(values.size()));
  }
  return write(path, dtype_of<T>(), shape, values.data(), sizeof(T));
}

}  // namespace fm::npy
