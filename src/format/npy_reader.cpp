#include "format/npy_reader.h"

#include <cstring>
#include <fstream>
#include <iterator>

namespace fm::npy {

int64_t Array::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

Status npy_error(const std::string& path, const std::string& what) {
  return Status::error("npy: " + path + ": " + what);
}

// The value of 'key' in the header's Python dict literal, up to the next top-level comma.
std::string dict_value(const std::string& header, const std::string& key) {
  const size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return "";
  size_t i = header.find(':', at);
  if (i == std::string::npos) return "";
  ++i;
  while (i < header.size() && header[i] == ' ') ++i;
  int depth = 0;
  size_t end = i;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  if (depth == 0 && end < header.size() && header[end] == ')') ++end;
  return header.substr(i, end - i + (header[end] == ')' ? 1 : 0));
}

}  // namespace

Result<Array> read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return npy_error(path, "cannot open");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < 10 || data.compare(0, 6, "\x93NUMPY") != 0) return npy_error(path, "not an .npy file");
  const int major = (uint8_t)data[6];
  size_t header_len, header_at;
  if (major == 1) {
    header_len = (uint8_t)data[8] | ((size_t)(uint8_t)data[9] << 8);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12) return npy_error(path, "truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= (size_t)(uint8_t)data[8 + i] << (8 * i);
    header_at = 12;
  } else {
    return npy_error(path, "unsupported format version " + std::to_string(major));
  }
  if (header_at + header_len > data.size()) return npy_error(path, "truncated header");
  const std::string header = data.substr(header_at, header_len);
  Array a;
  std::string descr = dict_value(header, "descr");
  if (descr.size() < 2) return npy_error(path, "no 'descr'");
  a.dtype = descr.substr(1, descr.size() - 2);
  size_t element = 0;
  if (a.dtype == "<f4" || a.dtype == "<i4") element = 4;
  else if (a.dtype == "<i8") element = 8;
  else if (a.dtype == "|u1") element = 1;
  else return npy_error(path, "unsupported dtype '" + a.dtype + "'");
  if (dict_value(header, "fortran_order").rfind("False", 0) != 0) return npy_error(path, "Fortran order is not supported");
  const std::string shape = dict_value(header, "shape");
  if (shape.empty() || shape.front() != '(') return npy_error(path, "no 'shape'");
  for (size_t i = 1; i < shape.size();) {
    if (shape[i] >= '0' && shape[i] <= '9') {
      int64_t v = 0;
      while (i < shape.size() && shape[i] >= '0' && shape[i] <= '9') {
        if (v > (int64_t{1} << 40)) return npy_error(path, "dimension too large");
        v = v * 10 + (shape[i++] - '0');
      }
      a.shape.push_back(v);
    } else {
      ++i;
    }
  }
  const size_t body = header_at + header_len;
  const int64_t n = a.elements();
  if ((uint64_t)n * element != data.size() - body) {
    return npy_error(path, "holds " + std::to_string(data.size() - body) + " data bytes, its shape needs " +
                               std::to_string((uint64_t)n * element));
  }
  a.bytes.assign(data.begin() + (std::ptrdiff_t)body, data.end());
  return a;
}

}  // namespace fm::npy
