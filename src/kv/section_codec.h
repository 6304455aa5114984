// Byte buffers of checksummed sections, [u64 bytes][u32 crc32c][bytes] each: the framing of
// a saved session file and of the pages and tails a shared store holds. A reader checks
// every size against the buffer before it copies, so a truncated or corrupt buffer is an
// error, never an over-read.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/status.h"
#include "kv/checksum.h"
#include "kv/kv_layout.h"

namespace fm {

struct SectionWriter {
  std::vector<uint8_t> out;
  void raw(const void* data, size_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    out.insert(out.end(), p, p + n);
  }
  template <typename T>
  void value(T v) { raw(&v, sizeof v); }
  void section(const void* data, size_t n) {
    value<uint64_t>(n);
    value<uint32_t>(crc32c(data, n));
    raw(data, n);
  }
};

struct SectionReader {
  const uint8_t* in;
  size_t size;
  size_t at = 0;
  bool raw(void* dst, size_t n) {
    if (n > size - at) return false;
    std::memcpy(dst, in + at, n);
    at += n;
    return true;
  }
  template <typename T>
  bool value(T& v) { return raw(&v, sizeof v); }
  size_t left() const { return size - at; }
  // Reads a section of exactly `expected` bytes (or any size up to `limit` when expected
  // is negative) into bytes, checking its CRC.
  Status section(std::vector<uint8_t>& bytes, int64_t expected, uint64_t limit, const std::string& what) {
    uint64_t n = 0;
    uint32_t crc = 0;
    if (!value(n) || !value(crc)) return Status::error(what + ": truncated");
    if (expected >= 0 ? n != (uint64_t)expected : n > limit) return Status::error(what + ": wrong size");
    if (n > size - at) return Status::error(what + ": truncated");
    bytes.assign(in + at, in + at + n);
    at += n;
    if (crc32c(bytes.data(), bytes.size()) != crc) return Status::error(what + ": checksum mismatch (corrupt data)");
    return Status::ok();
  }
};

// A layout's shape as saved: global and local layers, KV heads, head dim, chunk and window tokens.
constexpr int kKvShapeFields = 6;
inline void kv_shape_of(const KvLayout& l, int32_t shape[kKvShapeFields]) {
  const int32_t fields[kKvShapeFields] = {l.n_global_layers, l.n_local_layers, l.n_kv_heads,
                                          l.head_dim,        l.chunk_tokens,   l.window_tokens};
  std::memcpy(shape, fields, sizeof fields);
}
inline KvLayout kv_layout_from_shape(const int32_t shape[kKvShapeFields]) {
  KvLayout l;
  l.n_global_layers = shape[0];
  l.n_local_layers = shape[1];
  l.n_kv_heads = shape[2];
  l.head_dim = shape[3];
  l.chunk_tokens = shape[4];
  l.window_tokens = shape[5];
  return l;
}

}  // namespace fm
