// GGUF reader. Every read goes through Cursor, which checks the bytes left before it
// copies anything, and every count read from the file is checked against the bytes its
// elements would need *before* anything is reserved, so a corrupt count cannot make us
// allocate more than a small multiple of the file size.
//
// Layout (all little-endian; see the spec linked from gguf.h):
//   "GGUF" u32 version, u64 n_tensors, u64 n_kv
//   n_kv    x { string key, u32 value_type, value }
//   n_tensors x { string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset }
//   padding to `general.alignment`, then the data section.
// A string is u64 length + bytes (no terminator); an array is u32 element type, u64 count,
// elements.
#include "format/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>

namespace fm::gguf {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader copies little-endian fields straight into host integers");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;
// Real files nest arrays at most one level deep; the cap keeps recursion (and the
// recursive destructor of Value) off the end of the stack for hostile files.
constexpr int kMaxArrayNesting = 8;
// Smallest possible encodings, used to bound counts before reserving memory.
constexpr uint64_t kMinMetadataEntryBytes = 8 + 4 + 1;       // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim

std::string string_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string string_printf(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  char stack_buffer[512];
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(stack_buffer, sizeof stack_buffer, fmt, copy);
  va_end(copy);
  std::string out;
  if (n < 0) {
    out = "(formatting error)";
  } else if (static_cast<size_t>(n) < sizeof stack_buffer) {
    out.assign(stack_buffer, static_cast<size_t>(n));
  } else {
    out.resize(static_cast<size_t>(n));
    std::vsnprintf(out.data(), out.size() + 1, fmt, args);
  }
  va_end(args);
  return out;
}

Status error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status error(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  char buffer[1024];
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return Status::error(std::string("gguf: ") + buffer);
}

// Keys and names come from the file: cap what goes into a message, and make control
// bytes visible, so an error about a 1 GB garbage name stays one readable line.
std::string printable(const std::string& s) {
  constexpr size_t kMaxShown = 80;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      out += string_printf("\\x%02x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxShown) out += string_printf("...(%zu bytes)", s.size());
  return out;
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
bool checked_add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

uint64_t min_encoded_bytes(ValueType type) {
  switch (type) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: return 8;      // length only
    case ValueType::ARRAY: return 4 + 8;   // element type + count
  }
  return 1;
}

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

bool is_float_type(ValueType t) { return t == ValueType::FLOAT32 || t == ValueType::FLOAT64; }

// A bounds-checked read position over the whole file.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t offset() const { return offset_; }
  size_t size() const { return size_; }
  size_t remaining() const { return size_ - offset_; }

  template <typename T>
  bool read(T& out) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(&out, data_ + offset_, sizeof(T));
    offset_ += sizeof(T);
    return true;
  }
  // Caller has checked n <= remaining().
  void read_bytes(std::string& out, size_t n) {
    out.assign(reinterpret_cast<const char*>(data_ + offset_), n);
    offset_ += n;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t offset_ = 0;
};

// Names a value in error messages: "metadata 'key'" or "metadata 'key'[3]". Built into a
// string only when an error is reported, so reading a 262k-entry vocabulary allocates no
// per-element labels.
struct Label {
  const std::string& base;
  std::optional<uint64_t> index;
  std::string str() const {
    return index ? string_printf("%s[%llu]", base.c_str(), (unsigned long long)*index) : base;
  }
};

// Parses header, metadata and tensor table into the File's fields.
class Parser {
 public:
  Parser(const uint8_t* data, size_t size) : cursor_(data, size) {}

  Status truncated(const std::string& what, size_t needed) const {
    return error("file truncated: %s at offset %zu needs %zu bytes, only %zu left (file size %zu)",
                 what.c_str(), cursor_.offset(), needed, cursor_.remaining(), cursor_.size());
  }

  template <typename T>
  Status read_field(T& out, const std::string& what) {
    if (cursor_.read(out)) return Status::ok();
    return truncated(what, sizeof(T));
  }

  Status read_string(std::string& out, const Label& label) {
    const size_t length_offset = cursor_.offset();
    uint64_t length = 0;
    if (!cursor_.read(length)) return truncated("string length of " + label.str(), 8);
    if (length > cursor_.remaining()) {
      return error("%s: string length %llu at offset %zu exceeds the %zu bytes left (file size %zu)",
                   label.str().c_str(), (unsigned long long)length, length_offset,
                   cursor_.remaining(), cursor_.size());
    }
    cursor_.read_bytes(out, static_cast<size_t>(length));
    return Status::ok();
  }
  Status read_string(std::string& out, const std::string& what) {
    return read_string(out, Label{what, std::nullopt});
  }

  Status read_value(ValueType type, const Label& label, int depth, Value& out) {
    out.type = type;
    switch (type) {
      case ValueType::UINT8: return read_number<uint8_t, uint64_t>(label, out);
      case ValueType::INT8: return read_number<int8_t, int64_t>(label, out);
      case ValueType::UINT16: return read_number<uint16_t, uint64_t>(label, out);
      case ValueType::INT16: return read_number<int16_t, int64_t>(label, out);
      case ValueType::UINT32: return read_number<uint32_t, uint64_t>(label, out);
      case ValueType::INT32: return read_number<int32_t, int64_t>(label, out);
      case ValueType::UINT64: return read_number<uint64_t, uint64_t>(label, out);
      case ValueType::INT64: return read_number<int64_t, int64_t>(label, out);
      case ValueType::FLOAT32: return read_number<float, double>(label, out);
      case ValueType::FLOAT64: return read_number<double, double>(label, out);
      case ValueType::BOOL: {
        const size_t at = cursor_.offset();
        uint8_t byte = 0;
        if (!cursor_.read(byte)) return truncated(label.str() + " (bool)", 1);
        if (byte > 1) {
          return error("%s at offset %zu: bool byte is %u, expected 0 or 1", label.str().c_str(),
                       at, byte);
        }
        out.data = byte == 1;
        return Status::ok();
      }
      case ValueType::STRING: {
        std::string s;
        FM_RETURN_IF_ERROR(read_string(s, label));
        out.data = std::move(s);
        return Status::ok();
      }
      case ValueType::ARRAY: {
        Array array;
        FM_RETURN_IF_ERROR(read_array(label.str(), depth, array));
        out.data = std::move(array);
        return Status::ok();
      }
    }
    return error("%s: unknown value type %u", label.str().c_str(), static_cast<uint32_t>(type));
  }

  Status read_value_type(ValueType& out, const std::string& what) {
    const size_t at = cursor_.offset();
    uint32_t id = 0;
    FM_RETURN_IF_ERROR(read_field(id, "value type of " + what));
    if (!is_known_value_type(id)) {
      return error("%s: unknown value type %u at offset %zu", what.c_str(), id, at);
    }
    out = static_cast<ValueType>(id);
    return Status::ok();
  }

  Cursor& cursor() { return cursor_; }

 private:
  template <typename Stored, typename Held>
  Status read_number(const Label& label, Value& out) {
    Stored v{};
    if (!cursor_.read(v)) {
      return truncated(label.str() + " (" + value_type_name(out.type) + ")", sizeof(Stored));
    }
    out.data = static_cast<Held>(v);
    return Status::ok();
  }

  Status read_array(const std::string& label, int depth, Array& out) {
    if (depth >= kMaxArrayNesting) {
      return error("%s at offset %zu: arrays nested deeper than %d levels", label.c_str(),
                   cursor_.offset(), kMaxArrayNesting);
    }
    FM_RETURN_IF_ERROR(read_value_type(out.element_type, "elements of " + label));
    const size_t count_offset = cursor_.offset();
    uint64_t count = 0;
    FM_RETURN_IF_ERROR(read_field(count, "element count of " + label));
    // Bound the count by what the file can hold before reserving anything.
    const uint64_t min_bytes = min_encoded_bytes(out.element_type);
    if (count > cursor_.remaining() / min_bytes) {
      return error("%s: array count %llu at offset %zu cannot fit: %s elements need at least %llu "
                   "bytes each and only %zu bytes are left (file size %zu)",
                   label.c_str(), (unsigned long long)count, count_offset,
                   value_type_name(out.element_type), (unsigned long long)min_bytes,
                   cursor_.remaining(), cursor_.size());
    }
    out.items.resize(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) {
      FM_RETURN_IF_ERROR(read_value(out.element_type, Label{label, i}, depth + 1, out.items[i]));
    }
    return Status::ok();
  }

  Cursor cursor_;
};

Status parse_header(Parser& parser, uint32_t& version, uint64_t& n_tensors, uint64_t& n_kv) {
  Cursor& cursor = parser.cursor();
  uint32_t magic = 0;
  FM_RETURN_IF_ERROR(parser.read_field(magic, "magic"));
  if (magic != kMagic) {
    return error("bad magic 0x%08x at offset 0 (expected \"GGUF\" = 0x%08x): not a GGUF file",
                 magic, kMagic);
  }
  FM_RETURN_IF_ERROR(parser.read_field(version, "version"));
  if (version == 1) {
    return error("version 1 at offset 4 is not supported (v1 used 32-bit counts); only GGUF v2 "
                 "and v3 are read, re-convert the model");
  }
  if (version != 2 && version != 3) {
    // A big-endian file stores 3 as 0x03000000.
    const uint32_t swapped = __builtin_bswap32(version);
    if (swapped == 2 || swapped == 3) {
      return error("version field 0x%08x at offset 4 is byte-swapped: big-endian GGUF files are "
                   "not supported", version);
    }
    return error("unsupported version %u at offset 4 (supported: 2, 3)", version);
  }
  FM_RETURN_IF_ERROR(parser.read_field(n_tensors, "tensor count"));
  FM_RETURN_IF_ERROR(parser.read_field(n_kv, "metadata count"));
  if (n_kv > cursor.remaining() / kMinMetadataEntryBytes) {
    return error("metadata count %llu at offset 16 cannot fit: each entry needs at least %llu bytes "
                 "and only %zu bytes are left (file size %zu)",
                 (unsigned long long)n_kv, (unsigned long long)kMinMetadataEntryBytes,
                 cursor.remaining(), cursor.size());
  }
  if (n_tensors > cursor.remaining() / kMinTensorInfoBytes) {
    return error("tensor count %llu at offset 8 cannot fit: each tensor entry needs at least %llu "
                 "bytes and only %zu bytes are left (file size %zu)",
                 (unsigned long long)n_tensors, (unsigned long long)kMinTensorInfoBytes,
                 cursor.remaining(), cursor.size());
  }
  return Status::ok();
}

// Reads one tensor-table entry and checks everything that does not depend on where the
// data section starts: dims, type, block multiple, byte size, offset alignment.
Status parse_tensor_info(Parser& parser, uint64_t index, uint64_t alignment, TensorInfo& info) {
  Cursor& cursor = parser.cursor();
  const size_t entry_offset = cursor.offset();
  FM_RETURN_IF_ERROR(parser.read_string(info.name, string_printf("name of tensor #%llu", (unsigned long long)index)));
  const std::string label = string_printf("tensor '%s' (entry at offset %zu)", printable(info.name).c_str(),
                                   entry_offset);

  const size_t n_dims_offset = cursor.offset();
  uint32_t n_dims = 0;
  FM_RETURN_IF_ERROR(parser.read_field(n_dims, "n_dims of " + label));
  if (n_dims == 0 || n_dims > kMaxDims) {
    return error("%s: n_dims %u at offset %zu is outside 1..%u", label.c_str(), n_dims,
                 n_dims_offset, kMaxDims);
  }
  info.dims.resize(n_dims);
  // ggml counts elements in int64_t, so the product must stay below 2^63.
  constexpr uint64_t kMaxElements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t n_elements = 1;
  bool overflow = false;
  for (uint32_t d = 0; d < n_dims; ++d) {
    FM_RETURN_IF_ERROR(parser.read_field(info.dims[d], string_printf("dims[%u] of %s", d, label.c_str())));
    if (!checked_mul(n_elements, info.dims[d], n_elements) || n_elements > kMaxElements ||
        info.dims[d] > kMaxElements) {
      overflow = true;
    }
  }
  if (overflow) {
    std::string dims;
    for (uint64_t d : info.dims) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    return error("%s: element count of dims [%s] overflows 2^63", label.c_str(), dims.c_str());
  }
  info.n_elements = n_elements;

  const size_t type_offset = cursor.offset();
  uint32_t type_id = 0;
  FM_RETURN_IF_ERROR(parser.read_field(type_id, "type of " + label));
  const TensorTypeTraits* traits = tensor_type_traits(type_id);
  if (traits == nullptr) {
    return error("%s: unknown tensor type id %u at offset %zu", label.c_str(), type_id, type_offset);
  }
  info.type = static_cast<TensorType>(type_id);
  // Blocks never straddle rows, so the row length (dims[0]) must be a whole number of blocks.
  if (info.dims[0] % traits->block_elements != 0) {
    return error("%s: row length dims[0] = %llu is not a multiple of the %.*s block size %u",
                 label.c_str(), (unsigned long long)info.dims[0], (int)traits->name.size(),
                 traits->name.data(), traits->block_elements);
  }
  if (!checked_mul(n_elements / traits->block_elements, traits->block_bytes, info.n_bytes)) {
    return error("%s: byte size of %llu %.*s elements overflows 64 bits", label.c_str(),
                 (unsigned long long)n_elements, (int)traits->name.size(), traits->name.data());
  }

  const size_t offset_offset = cursor.offset();
  FM_RETURN_IF_ERROR(parser.read_field(info.offset, "data offset of " + label));
  if (info.offset % alignment != 0) {
    return error("%s: data offset %llu at offset %zu is not a multiple of the alignment %llu",
                 label.c_str(), (unsigned long long)info.offset, offset_offset,
                 (unsigned long long)alignment);
  }
  return Status::ok();
}

}  // namespace

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

bool is_known_value_type(uint32_t type_id) {
  return type_id <= static_cast<uint32_t>(ValueType::FLOAT64);
}

// ---- Value accessors ----

std::optional<uint64_t> Value::as_uint() const {
  if (const auto* u = std::get_if<uint64_t>(&data)) return *u;
  if (const auto* i = std::get_if<int64_t>(&data)) {
    if (*i >= 0) return static_cast<uint64_t>(*i);
  }
  return std::nullopt;
}

std::optional<int64_t> Value::as_int() const {
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(*u);
    }
  }
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  return std::nullopt;
}

const std::string* Value::as_string() const { return std::get_if<std::string>(&data); }
const Array* Value::as_array() const { return std::get_if<Array>(&data); }

// ---- File ----

File::~File() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_size_);
}

Result<std::unique_ptr<File>> File::open(const std::string& path) {
  auto with_path = [&](const Status& status) {
    // "gguf: <detail>" becomes "gguf: <path>: <detail>".
    const std::string& message = status.message();
    const std::string prefix = "gguf: ";
    if (message.rfind(prefix, 0) == 0) {
      return Status::error(prefix + path + ": " + message.substr(prefix.size()));
    }
    return status.with_context(path);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return with_path(error("cannot open: %s", std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    return with_path(error("cannot stat: %s", std::strerror(saved)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return with_path(error("not a regular file"));
  }
  if (st.st_size == 0) {
    ::close(fd);
    return with_path(error("file is empty"));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int saved = errno;
  ::close(fd);  // the mapping keeps its own reference to the file
  if (mapping == MAP_FAILED) return with_path(error("mmap failed: %s", std::strerror(saved)));

  std::unique_ptr<File> file(new File());
  file->path_ = path;
  file->mapping_ = mapping;
  file->mapping_size_ = size;
  Status status = file->parse_all(static_cast<const uint8_t*>(mapping), size);
  if (!status.is_ok()) return with_path(status);
  return file;
}

Result<std::unique_ptr<File>> File::parse(const uint8_t* data, size_t size) {
  if (data == nullptr && size != 0) return error("null buffer of size %zu", size);
  std::unique_ptr<File> file(new File());
  FM_RETURN_IF_ERROR(file->parse_all(data, size));
  return file;
}

Status File::parse_all(const uint8_t* data, size_t size) {
  file_size_ = size;
  Parser parser(data, size);
  Cursor& cursor = parser.cursor();

  uint64_t n_tensors = 0, n_kv = 0;
  FM_RETURN_IF_ERROR(parse_header(parser, version_, n_tensors, n_kv));

  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t entry_offset = cursor.offset();
    std::string key;
    FM_RETURN_IF_ERROR(parser.read_string(key, string_printf("key of metadata entry #%llu", (unsigned long long)i)));
    const std::string label = "metadata '" + printable(key) + "'";
    if (metadata_.count(key) != 0) {
      return error("duplicate metadata key '%s' (entry #%llu at offset %zu)",
                   printable(key).c_str(), (unsigned long long)i, entry_offset);
    }
    ValueType type = ValueType::UINT8;
    FM_RETURN_IF_ERROR(parser.read_value_type(type, label));
    Value value;
    FM_RETURN_IF_ERROR(parser.read_value(type, Label{label, std::nullopt}, 0, value));
    metadata_.emplace(std::move(key), std::move(value));
  }

  alignment_ = kDefaultAlignment;
  if (const Value* value = find("general.alignment")) {
    const std::optional<uint64_t> alignment = value->as_uint();
    if (!alignment || !is_integer_type(value->type)) {
      return error("metadata 'general.alignment' must be a non-negative integer, got %s",
                   value_type_name(value->type));
    }
    if (*alignment == 0 || !std::has_single_bit(*alignment)) {
      return error("metadata 'general.alignment' must be a non-zero power of two, got %llu",
                   (unsigned long long)*alignment);
    }
    alignment_ = *alignment;
  }

  tensors_.resize(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo& info = tensors_[i];
    FM_RETURN_IF_ERROR(parse_tensor_info(parser, i, alignment_, info));
    auto [it, inserted] = tensor_index_.emplace(info.name, static_cast<size_t>(i));
    if (!inserted) {
      return error("duplicate tensor name '%s' (tensors #%zu and #%llu)",
                   printable(info.name).c_str(), it->second, (unsigned long long)i);
    }
  }

  // The data section starts at the first aligned offset after the tensor table.
  const uint64_t table_end = cursor.offset();
  const uint64_t remainder = table_end % alignment_;
  uint64_t data_offset = table_end;
  if (remainder != 0 && !checked_add(table_end, alignment_ - remainder, data_offset)) {
    return error("data section offset overflows (table ends at %llu, alignment %llu)",
                 (unsigned long long)table_end, (unsigned long long)alignment_);
  }
  data_offset_ = data_offset;

  for (TensorInfo& info : tensors_) {
    uint64_t begin = 0, end = 0;
    if (!checked_add(data_offset_, info.offset, begin)) {
      return error("tensor '%s': data offset %llu past the data section start %llu overflows 64 bits",
                   printable(info.name).c_str(), (unsigned long long)info.offset,
                   (unsigned long long)data_offset_);
    }
    if (!checked_add(begin, info.n_bytes, end) || end > size) {
      return error("tensor '%s': data [offset %llu, %llu bytes] extends past end of file (size %zu)",
                   printable(info.name).c_str(), (unsigned long long)begin,
                   (unsigned long long)info.n_bytes, size);
    }
    info.data = data + begin;
  }
  return Status::ok();
}

const Value* File::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorInfo* File::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

// ---- Typed getters ----

namespace {

Status missing(const std::string& key) {
  return error("metadata key '%s' not found", printable(key).c_str());
}

Status wrong_type(const std::string& key, const Value& value, const char* expected) {
  return error("metadata key '%s' has type %s, expected %s", printable(key).c_str(),
               value_type_name(value.type), expected);
}

Status wrong_element_type(const std::string& key, const Array& array, const char* expected) {
  return error("metadata key '%s' is an array of %s, expected an array of %s",
               printable(key).c_str(), value_type_name(array.element_type), expected);
}

}  // namespace

Result<uint64_t> File::get_uint(const std::string& key) const {
  const Value* value = find(key);
  if (value == nullptr) return missing(key);
  if (!is_integer_type(value->type)) return wrong_type(key, *value, "an unsigned integer");
  const std::optional<uint64_t> u = value->as_uint();
  if (!u) {
    return error("metadata key '%s' is negative (%lld), expected an unsigned integer",
                 printable(key).c_str(), (long long)value->as_int().value_or(0));
  }
  return *u;
}

Result<double> File::get_float(const std::string& key) const {
  const Value* value = find(key);
  if (value == nullptr) return missing(key);
  const std::optional<double> f = value->as_float();
  if (!f) return wrong_type(key, *value, "float32 or float64");
  return *f;
}

Result<std::string> File::get_string(const std::string& key) const {
  const Value* value = find(key);
  if (value == nullptr) return missing(key);
  const std::string* s = value->as_string();
  if (s == nullptr) return wrong_type(key, *value, "string");
  return *s;
}

Result<bool> File::get_bool(const std::string& key) const {
  const Value* value = find(key);
  if (value == nullptr) return missing(key);
  const std::optional<bool> b = value->as_bool();
  if (!b) return wrong_type(key, *value, "bool");
  return *b;
}

Result<std::vector<std::string>> File::get_string_array(const std::string& key) const {
  const Value* value = find(key);
  if (value == nullptr) return missing(key);
  const Array* array = value->as_array();
  if (array == nullptr) return wrong_type(key, *value, "an array of strings");
  if (array->element_type != ValueType::STRING) return wrong_element_type(key, *array, "string");
  std::vector<std::string> out;
  out.reserve(array->items.size());
  for (const Value& item : array->items) out.push_back(*item.as_string());
  return out;
}

Result<std::vector<double>> File::get_float_array(const std::string& key) const {
  const Value* value = find(key);
  if (value == nullptr) return missing(key);
  const Array* array = value->as_array();
  if (array == nullptr) return wrong_type(key, *value, "an array of numbers");
  const bool floats = is_float_type(array->element_type);
  if (!floats && !is_integer_type(array->element_type)) {
    return wrong_element_type(key, *array, "floats or integers");
  }
  std::vector<double> out;
  out.reserve(array->items.size());
  for (const Value& item : array->items) {
    if (floats) {
      out.push_back(*item.as_float());
    } else if (const auto* u = std::get_if<uint64_t>(&item.data)) {
      out.push_back(static_cast<double>(*u));
    } else {
      out.push_back(static_cast<double>(std::get<int64_t>(item.data)));
    }
  }
  return out;
}

Result<std::vector<int64_t>> File::get_int_array(const std::string& key) const {
  const Value* value = find(key);
  if (value == nullptr) return missing(key);
  const Array* array = value->as_array();
  if (array == nullptr) return wrong_type(key, *value, "an array of integers");
  if (!is_integer_type(array->element_type)) return wrong_element_type(key, *array, "integers");
  std::vector<int64_t> out;
  out.reserve(array->items.size());
  for (size_t i = 0; i < array->items.size(); ++i) {
    const std::optional<int64_t> v = array->items[i].as_int();
    if (!v) {
      return error("metadata key '%s': element %zu does not fit in int64", printable(key).c_str(), i);
    }
    out.push_back(*v);
  }
  return out;
}

}  // namespace fm::gguf
