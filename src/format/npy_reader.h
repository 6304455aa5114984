// Reads numpy .npy files (format 1.x/2.x, little-endian, C order) of the types `flashmem
// dump` writes: checks of the indexer against the trainer run the C++ side on the dump.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace fm::npy {

struct Array {
  std::string dtype;            // "<f4", "<i4", "<i8", "|u1"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;   // product(shape) elements

  int64_t elements() const;
  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(bytes.data()); }
};

// Errors name the file and what is wrong (magic, header, dtype, Fortran order, size).
Result<Array> read(const std::string& path);

}  // namespace fm::npy
