// safetensors reader. The header is JSON, so the only parsing of our own is the 8-byte
// length; everything else is validating what fm::json hands back: that each entry is an
// object with a known dtype, a shape of non-negative integers whose product does not
// overflow, and data offsets that lie inside the data section and span exactly
// product(shape) * dtype size bytes. Only then is a pointer into the mapping handed out.
#include "format/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "core/fp16.h"
#include "core/json.h"
#include "core/fp8.h"

namespace fm::safetensors {

static_assert(std::endian::native == std::endian::little,
              "the safetensors reader copies little-endian values straight into host types");

namespace {

constexpr size_t kLengthPrefixBytes = 8;
// JSON numbers arrive as doubles: integers above 2^53 cannot be told apart, so we refuse
// them (no real file has a 9-petabyte tensor).
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53
constexpr size_t kMaxRank = 8;

Status error(const std::string& message) { return Status::error("safetensors: " + message); }

// Names come from the file: cap what goes into a message and make control bytes visible.
std::string printable(const std::string& s) {
  constexpr size_t kMaxShown = 80;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  return out;
}

Result<uint64_t> as_index(const json::Value& value, const std::string& what) {
  if (!value.is_number()) return error(what + " is not a number");
  const double d = value.number;
  if (!(d >= 0) || d > kMaxExactInteger || d != static_cast<double>(static_cast<uint64_t>(d))) {
    return error(what + " is not a non-negative integer below 2^53");
  }
  return static_cast<uint64_t>(d);
}

Status parse_metadata(const json::Value& value, std::map<std::string, std::string>& out) {
  if (!value.is_object()) return error("__metadata__ is not an object");
  for (const auto& [key, item] : value.object) {
    if (!item.is_string()) {
      return error("__metadata__ value of '" + printable(key) + "' is not a string");
    }
    out[key] = item.string;
  }
  return Status::ok();
}

// Validates one header entry against a data section of `data_bytes` bytes.
Result<TensorView> parse_entry(const std::string& name, const json::Value& entry,
                               uint64_t data_bytes) {
  const std::string where = "tensor '" + printable(name) + "'";
  if (!entry.is_object()) return error(where + ": entry is not an object");

  const json::Value& dtype_value = entry.at("dtype");
  if (!dtype_value.is_string()) return error(where + ": dtype missing or not a string");
  auto dtype = parse_dtype(dtype_value.string);
  if (!dtype.is_ok()) return dtype.status().with_context(where);

  TensorView view;
  view.name = name;
  view.dtype = dtype.value();

  const json::Value& shape = entry.at("shape");
  if (!shape.is_array()) return error(where + ": shape missing or not an array");
  if (shape.array.size() > kMaxRank) {
    return error(where + ": rank " + std::to_string(shape.array.size()) + " exceeds " +
                 std::to_string(kMaxRank));
  }
  uint64_t n_elements = 1;
  bool has_zero = false;
  for (size_t i = 0; i < shape.array.size(); ++i) {
    auto dim = as_index(shape.array[i], where + ": shape[" + std::to_string(i) + "]");
    if (!dim.is_ok()) return dim.status();
    view.shape.push_back(dim.value());
    if (dim.value() == 0) has_zero = true;
  }
  // Product with an overflow check (a zero anywhere makes it 0 and cannot overflow).
  if (has_zero) {
    n_elements = 0;
  } else {
    for (uint64_t dim : view.shape) {
      if (__builtin_mul_overflow(n_elements, dim, &n_elements)) {
        return error(where + ": shape " + shape_string(view.shape) + " overflows 64 bits");
      }
    }
  }
  uint64_t n_bytes = 0;
  if (__builtin_mul_overflow(n_elements, static_cast<uint64_t>(dtype_bytes(view.dtype)), &n_bytes)) {
    return error(where + ": byte size of shape " + shape_string(view.shape) + " overflows");
  }
  view.n_elements = n_elements;
  view.n_bytes = n_bytes;

  const json::Value& offsets = entry.at("data_offsets");
  if (!offsets.is_array() || offsets.array.size() != 2) {
    return error(where + ": data_offsets missing or not a [begin, end] pair");
  }
  auto begin = as_index(offsets.array[0], where + ": data_offsets[0]");
  if (!begin.is_ok()) return begin.status();
  auto end = as_index(offsets.array[1], where + ": data_offsets[1]");
  if (!end.is_ok()) return end.status();
  if (end.value() < begin.value()) {
    return error(where + ": data_offsets end " + std::to_string(end.value()) + " < begin " +
                 std::to_string(begin.value()));
  }
  if (end.value() > data_bytes) {
    return error(where + ": data_offsets [" + std::to_string(begin.value()) + ", " +
                 std::to_string(end.value()) + ") run past the data section of " +
                 std::to_string(data_bytes) + " bytes");
  }
  if (end.value() - begin.value() != n_bytes) {
    return error(where + ": data_offsets span " + std::to_string(end.value() - begin.value()) +
                 " bytes at offset " + std::to_string(begin.value()) + " but " +
                 dtype_name(view.dtype) + " " + shape_string(view.shape) + " needs " +
                 std::to_string(n_bytes));
  }
  view.data_offset = begin.value();
  return view;
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F8_E4M3: return "F8_E4M3";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
  }
  return "?";
}

size_t dtype_bytes(DType dtype) {
  switch (dtype) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::F8_E4M3: case DType::U8: return 1;
    case DType::I64: return 8;
  }
  return 0;
}

Result<DType> parse_dtype(const std::string& name) {
  static constexpr DType kAll[] = {DType::F32, DType::F16,  DType::BF16, DType::F8_E4M3,
                                   DType::I32, DType::I64, DType::U8};
  for (DType d : kAll) {
    if (name == dtype_name(d)) return d;
  }
  return error("unsupported dtype '" + printable(name) +
               "' (supported: F32, F16, BF16, F8_E4M3, I32, I64, U8)");
}

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

Result<std::unique_ptr<File>> File::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return error("cannot stat '" + path + "': " + std::strerror(e));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < kLengthPrefixBytes) {
    ::close(fd);
    return error("'" + path + "' is " + std::to_string(size) +
                 " bytes, shorter than the 8-byte header length");
  }
  void* mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) return error("cannot mmap '" + path + "': " + std::strerror(map_errno));

  std::unique_ptr<File> file(new File());
  file->path_ = path;
  file->mapping_ = mapping;
  file->mapping_size_ = size;
  Status st_parse = file->parse_all(static_cast<const uint8_t*>(mapping), size);
  if (!st_parse) return st_parse.with_context("'" + path + "'");
  return file;
}

Result<std::unique_ptr<File>> File::parse(const uint8_t* data, size_t size) {
  std::unique_ptr<File> file(new File());
  Status st = file->parse_all(data, size);
  if (!st) return st;
  return file;
}

File::~File() {
  if (mapping_) munmap(mapping_, mapping_size_);
}

Status File::parse_all(const uint8_t* data, size_t size) {
  file_size_ = size;
  if (size < kLengthPrefixBytes) {
    return error("file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  }
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, data, kLengthPrefixBytes);
  if (header_bytes > kMaxHeaderBytes) {
    return error("header length " + std::to_string(header_bytes) + " at offset 0 exceeds the " +
                 std::to_string(kMaxHeaderBytes) + "-byte limit");
  }
  if (header_bytes > size - kLengthPrefixBytes) {
    return error("header length " + std::to_string(header_bytes) + " at offset 0 runs past the end of a " +
                 std::to_string(size) + "-byte file");
  }
  data_section_offset_ = kLengthPrefixBytes + header_bytes;
  const uint64_t data_bytes = size - data_section_offset_;

  const std::string_view header(reinterpret_cast<const char*>(data + kLengthPrefixBytes),
                                static_cast<size_t>(header_bytes));
  auto parsed = json::parse(header);
  if (!parsed.is_ok()) return parsed.status().with_context("safetensors: header (from offset 8)");
  const json::Value& root = parsed.value();
  if (!root.is_object()) return error("header is not a JSON object");

  for (const auto& [name, entry] : root.object) {
    if (name == "__metadata__") {
      FM_RETURN_IF_ERROR(parse_metadata(entry, metadata_));
      continue;
    }
    auto view = parse_entry(name, entry, data_bytes);
    if (!view.is_ok()) return view.status();
    view->data = data + data_section_offset_ + view->data_offset;
    tensors_.push_back(std::move(view.value()));
  }
  std::sort(tensors_.begin(), tensors_.end(), [](const TensorView& a, const TensorView& b) {
    return a.data_offset != b.data_offset ? a.data_offset < b.data_offset : a.name < b.name;
  });
  // Overlapping tensors would be harmless to read, but no writer produces them and the
  // format forbids them; refusing them catches corrupt offset tables early.
  for (size_t i = 1; i < tensors_.size(); ++i) {
    const TensorView& prev = tensors_[i - 1];
    const TensorView& cur = tensors_[i];
    if (cur.n_bytes > 0 && prev.n_bytes > 0 && cur.data_offset < prev.data_offset + prev.n_bytes) {
      return error("tensor '" + printable(cur.name) + "' at offset " + std::to_string(cur.data_offset) +
                   " overlaps tensor '" + printable(prev.name) + "'");
    }
  }
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  return Status::ok();
}

const std::string* File::find_metadata(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorView* File::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status read_as_f32(const TensorView& tensor, std::span<float> out) {
  if (out.size() != tensor.n_elements) {
    return error("tensor '" + printable(tensor.name) + "': output holds " + std::to_string(out.size()) +
                 " floats, tensor has " + std::to_string(tensor.n_elements));
  }
  const uint8_t* p = tensor.data;
  const size_t n = static_cast<size_t>(tensor.n_elements);
  // Data may sit at any byte offset, so values are copied out with memcpy, not cast.
  switch (tensor.dtype) {
    case DType::F32:
      if (n) std::memcpy(out.data(), p, n * 4);
      return Status::ok();
    case DType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = fp16_to_fp32(h);
      }
      return Status::ok();
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = bf16_to_fp32(h);
      }
      return Status::ok();
    case DType::F8_E4M3:
      for (size_t i = 0; i < n; ++i) out[i] = fp8::e4m3_to_fp32(p[i]);
      return Status::ok();
    case DType::I32:
    case DType::I64:
    case DType::U8:
      break;
  }
  return error("tensor '" + printable(tensor.name) + "' has dtype " + dtype_name(tensor.dtype) +
               ", not a floating-point type");
}

Result<std::vector<float>> read_as_f32(const TensorView& tensor) {
  std::vector<float> out(static_cast<size_t>(tensor.n_elements));
  Status st = read_as_f32(tensor, out);
  if (!st) return st;
  return out;
}

}  // namespace fm::safetensors
