#include "format/npy_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace fm::npy {

Status write(const std::string& path, const std::string& dtype, const std::vector<int64_t>& shape,
             const void* data, size_t element_bytes) {
  std::string dict = "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': (";
  int64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
    n *= shape[i];
  }
  dict += "), }";
  // Magic (6) + version (2) + header length (2) + dict, padded with spaces to a multiple
  // of 64 and ended by a newline.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  header += (char)(dict.size() & 0xff);
  header += (char)((dict.size() >> 8) & 0xff);
  header += dict;
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return Status::error("npy: cannot create " + path + ": " + std::strerror(errno));
  const size_t bytes = (size_t)n * element_bytes;
  if (std::fwrite(header.data(), 1, header.size(), f.get()) != header.size() ||
      (bytes > 0 && std::fwrite(data, 1, bytes, f.get()) != bytes)) {
    return Status::error("npy: writing " + path + " failed: " + std::strerror(errno));
  }
  if (std::fclose(f.release()) != 0) return Status::error("npy: closing " + path + " failed");
  return Status::ok();
}

}  // namespace fm::npy
