#include "kv/kv_contents_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "kv/section_codec.h"

namespace fm {

namespace {

constexpr char kMagic[8] = {'F', 'M', 'K', 'V', 'S', 'N', 'A', 'P'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxMetadataBytes = 64ull << 20;

Status write_all(int fd, const uint8_t* data, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Status::error("writing '" + path + "': " + std::strerror(errno));
    data += w;
    n -= (size_t)w;
  }
  return Status::ok();
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

}  // namespace

Status save_kv_contents(const std::string& path, const std::string& metadata, const KvContents& c) {
  SectionWriter w;
  w.raw(kMagic, sizeof kMagic);
  w.value<uint32_t>(kVersion);
  w.section(metadata.data(), metadata.size());
  int32_t shape[kKvShapeFields + 1];  // the layout, then the number of tokens
  kv_shape_of(c.layout, shape);
  shape[kKvShapeFields] = c.n_tokens;
  w.section(shape, sizeof shape);
  for (const auto* arrays : {&c.global_k, &c.global_v, &c.local_k, &c.local_v}) {
    for (const std::vector<uint16_t>& a : *arrays) w.section(a.data(), a.size() * sizeof(uint16_t));
  }
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error("cannot write '" + tmp + "': " + std::strerror(errno));
  Status st = write_all(fd, w.out.data(), w.out.size(), tmp);
  if (st && ::fsync(fd) != 0) st = Status::error("syncing '" + tmp + "': " + std::strerror(errno));
  ::close(fd);
  if (st && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::error("renaming '" + tmp + "': " + std::strerror(errno));
  }
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  // The rename itself must reach the disk before the file counts as saved.
  const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::ok();
}

Status load_kv_contents(const std::string& path, const KvLayout& expected, std::string& metadata,
                        KvContents& c) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st_buf {};
  std::vector<uint8_t> bytes;
  Status st;
  if (::fstat(fd, &st_buf) != 0) {
    st = Status::error("cannot stat '" + path + "'");
  } else {
    bytes.resize((size_t)st_buf.st_size);
    size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += (size_t)r;
    }
    if (got != bytes.size()) st = Status::error("reading '" + path + "': short read");
  }
  ::close(fd);
  FM_RETURN_IF_ERROR(st);
  const std::string what = "session file '" + path + "'";
  SectionReader r{bytes.data(), bytes.size()};
  char magic[8];
  uint32_t version = 0;
  if (!r.raw(magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof magic) != 0) {
    return Status::error(what + ": not a FlashMemory KV file");
  }
  if (!r.value(version) || version != kVersion) return Status::error(what + ": unsupported version");
  std::vector<uint8_t> section;
  FM_RETURN_IF_ERROR(r.section(section, -1, kMaxMetadataBytes, what + " metadata"));
  metadata.assign(section.begin(), section.end());
  FM_RETURN_IF_ERROR(r.section(section, 7 * sizeof(int32_t), 0, what + " shape"));
  int32_t shape[7];
  std::memcpy(shape, section.data(), sizeof shape);
  const KvLayout layout = kv_layout_from_shape(shape);
  if (!same_kv_shape(layout, expected)) return Status::error(what + ": saved for another model or chunk size");
  if (shape[6] < 0) return Status::error(what + ": negative length");
  c.layout = expected;
  c.n_tokens = shape[6];
  const int64_t row_bytes = expected.row_bytes();
  const int64_t global_bytes = (int64_t)c.n_tokens * row_bytes, ring_bytes = (int64_t)c.ring_tokens() * row_bytes;
  // Sizes are checked against the file before anything is allocated for them.
  const int64_t needed = 2 * (expected.n_global_layers * global_bytes + expected.n_local_layers * ring_bytes);
  if (needed > (int64_t)r.left()) return Status::error(what + ": truncated");
  auto read_arrays = [&](std::vector<std::vector<uint16_t>>& arrays, int count, int64_t each,
                         const char* name) -> Status {
    arrays.assign(count, {});
    for (int i = 0; i < count; ++i) {
      FM_RETURN_IF_ERROR(r.section(section, each, 0, what + " " + name + " " + std::to_string(i)));
      arrays[i].resize((size_t)each / sizeof(uint16_t));
      std::memcpy(arrays[i].data(), section.data(), (size_t)each);
    }
    return Status::ok();
  };
  FM_RETURN_IF_ERROR(read_arrays(c.global_k, expected.n_global_layers, global_bytes, "global K"));
  FM_RETURN_IF_ERROR(read_arrays(c.global_v, expected.n_global_layers, global_bytes, "global V"));
  FM_RETURN_IF_ERROR(read_arrays(c.local_k, expected.n_local_layers, ring_bytes, "local K"));
  FM_RETURN_IF_ERROR(read_arrays(c.local_v, expected.n_local_layers, ring_bytes, "local V"));
  if (r.at != bytes.size()) return Status::error(what + ": trailing bytes");
  return Status::ok();
}

}  // namespace fm
