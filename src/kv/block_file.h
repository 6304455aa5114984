// Positioned reads and writes on one file: what the disk tier needs from the OS. An
// interface so tests can stand in a file that fails the way a full disk does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace fm {

class BlockFile {
 public:
  virtual ~BlockFile() = default;
  // All `bytes` or an error (a short write is an error: the disk is full).
  virtual Status write_at(int64_t offset, const void* src, int64_t bytes) = 0;
  // All `bytes` or an error (a file that ends early has been truncated).
  virtual Status read_at(int64_t offset, void* dst, int64_t bytes) const = 0;
  virtual const std::string& path() const = 0;
};

// A new, uniquely named file in `directory`, removed when the returned object is destroyed.
Result<std::unique_ptr<BlockFile>> create_temporary_block_file(const std::string& directory);

}  // namespace fm
