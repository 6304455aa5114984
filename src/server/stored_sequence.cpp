#include "server/stored_sequence.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

#include "kv/section_codec.h"

namespace fm::server {

using json = nlohmann::json;

namespace {

constexpr char kPageMagic[8] = {'F', 'M', 'P', 'A', 'G', 'E', '0', '1'};
constexpr char kTailMagic[8] = {'F', 'M', 'T', 'A', 'I', 'L', '0', '1'};
constexpr uint64_t kMaxMetadataBytes = 256ull << 20;

std::string to_string(const SectionWriter& w) { return std::string(w.out.begin(), w.out.end()); }

bool check_magic(SectionReader& r, const char (&magic)[8]) {
  char got[8];
  return r.raw(got, sizeof got) && std::memcmp(got, magic, sizeof got) == 0;
}

// The shape a blob is written for; a reader with another model or chunk size refuses it.
void write_shape(SectionWriter& w, const KvLayout& l) {
  int32_t shape[kKvShapeFields];
  kv_shape_of(l, shape);
  w.section(shape, sizeof shape);
}

Status read_shape(SectionReader& r, const KvLayout& expected, const std::string& what) {
  std::vector<uint8_t> bytes;
  FM_RETURN_IF_ERROR(r.section(bytes, kKvShapeFields * sizeof(int32_t), 0, what + " shape"));
  int32_t shape[kKvShapeFields];
  std::memcpy(shape, bytes.data(), sizeof shape);
  const KvLayout l = kv_layout_from_shape(shape);
  if (!same_kv_shape(l, expected) || l.chunk_tokens != expected.chunk_tokens) {
    return Status::error(what + ": written for another model or chunk size");
  }
  return Status::ok();
}

// Reads a section of exactly `elements` fp16 values into dst.
Status read_rows(SectionReader& r, uint16_t* dst, int64_t elements, const std::string& what) {
  std::vector<uint8_t> bytes;
  FM_RETURN_IF_ERROR(r.section(bytes, elements * (int64_t)sizeof(uint16_t), 0, what));
  if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
  return Status::ok();
}

}  // namespace

uint64_t content_hash(const void* data, size_t bytes, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < bytes; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  // splitmix64's finaliser: FNV's low bits mix poorly on their own.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

std::string hex64(uint64_t value) {
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) out[i] = digits[value & 15];
  return out;
}

std::vector<uint64_t> page_prefix_hashes(const std::vector<int32_t>& tokens, int chunk_tokens, uint64_t model_seed) {
  std::vector<uint64_t> out;
  uint64_t h = model_seed;
  for (size_t end = (size_t)chunk_tokens; end <= tokens.size(); end += (size_t)chunk_tokens) {
    h = content_hash(tokens.data() + end - chunk_tokens, (size_t)chunk_tokens * sizeof(int32_t), h);
    out.push_back(h);
  }
  return out;
}

std::string encode_page(const KvContents& c, int64_t page, uint64_t prefix_hash) {
  const KvLayout& l = c.layout;
  const int64_t row = l.row_elements(), first = page * l.chunk_tokens;
  SectionWriter w;
  w.raw(kPageMagic, sizeof kPageMagic);
  write_shape(w, l);
  const uint64_t id[2] = {(uint64_t)page, prefix_hash};
  w.section(id, sizeof id);
  for (const auto* arrays : {&c.global_k, &c.global_v}) {
    for (const std::vector<uint16_t>& a : *arrays) {
      w.section(a.data() + first * row, (size_t)l.chunk_tokens * row * sizeof(uint16_t));
    }
  }
  return to_string(w);
}

Status decode_page(const std::string& blob, int64_t page, uint64_t prefix_hash, KvContents& c) {
  const KvLayout& l = c.layout;
  const std::string what = "stored page " + std::to_string(page);
  SectionReader r{reinterpret_cast<const uint8_t*>(blob.data()), blob.size()};
  if (!check_magic(r, kPageMagic)) return Status::error(what + ": not a FlashMemory page");
  FM_RETURN_IF_ERROR(read_shape(r, l, what));
  std::vector<uint8_t> bytes;
  FM_RETURN_IF_ERROR(r.section(bytes, 2 * sizeof(uint64_t), 0, what + " id"));
  uint64_t id[2];
  std::memcpy(id, bytes.data(), sizeof id);
  if (id[0] != (uint64_t)page || id[1] != prefix_hash) return Status::error(what + ": belongs to another prefix");
  const int64_t row = l.row_elements(), first = page * l.chunk_tokens, elements = (int64_t)l.chunk_tokens * row;
  if ((page + 1) * l.chunk_tokens > c.n_tokens) return Status::error(what + ": beyond the sequence");
  for (auto* arrays : {&c.global_k, &c.global_v}) {
    for (size_t g = 0; g < arrays->size(); ++g) {
      FM_RETURN_IF_ERROR(read_rows(r, (*arrays)[g].data() + first * row, elements, what + " layer " + std::to_string(g)));
    }
  }
  if (r.left() != 0) return Status::error(what + ": trailing bytes");
  return Status::ok();
}

std::string encode_tail(const StoredSequence& s) {
  const KvContents& c = s.contents;
  const KvLayout& l = c.layout;
  SectionWriter w;
  w.raw(kTailMagic, sizeof kTailMagic);
  write_shape(w, l);
  // The text may end inside a UTF-8 character: json::dump would refuse it, so it goes as bytes.
  const std::string meta = json{{"n_tokens", c.n_tokens}, {"tokens", s.tokens}, {"pending", s.pending}}.dump();
  w.section(meta.data(), meta.size());
  w.section(s.text.data(), s.text.size());
  w.section(s.last_logits.data(), s.last_logits.size() * sizeof(float));
  const int64_t row = l.row_elements(), open_first = (int64_t)(c.n_tokens / l.chunk_tokens) * l.chunk_tokens;
  for (const auto* arrays : {&c.global_k, &c.global_v}) {
    for (const std::vector<uint16_t>& a : *arrays) {
      w.section(a.data() + open_first * row, (size_t)(c.n_tokens - open_first) * row * sizeof(uint16_t));
    }
  }
  for (const auto* arrays : {&c.local_k, &c.local_v}) {
    for (const std::vector<uint16_t>& a : *arrays) w.section(a.data(), a.size() * sizeof(uint16_t));
  }
  return to_string(w);
}

Status decode_tail(const std::string& blob, const KvLayout& expected, int64_t max_tokens, StoredSequence& s) {
  const std::string what = "stored tail";
  SectionReader r{reinterpret_cast<const uint8_t*>(blob.data()), blob.size()};
  if (!check_magic(r, kTailMagic)) return Status::error(what + ": not a FlashMemory tail");
  FM_RETURN_IF_ERROR(read_shape(r, expected, what));
  std::vector<uint8_t> bytes;
  FM_RETURN_IF_ERROR(r.section(bytes, -1, kMaxMetadataBytes, what + " metadata"));
  const json meta = json::parse(bytes.begin(), bytes.end(), nullptr, false);
  int64_t n_tokens = -1;
  try {
    n_tokens = meta.at("n_tokens").get<int64_t>();
    s.tokens = meta.at("tokens").get<std::vector<int32_t>>();
    s.pending = meta.at("pending").get<std::vector<int32_t>>();
  } catch (const std::exception&) {
    return Status::error(what + ": bad metadata");
  }
  if (n_tokens < 0 || n_tokens != (int64_t)s.tokens.size() || n_tokens > max_tokens) {
    return Status::error(what + ": tokens and KV disagree");
  }
  FM_RETURN_IF_ERROR(r.section(bytes, -1, kMaxMetadataBytes, what + " text"));
  s.text.assign(bytes.begin(), bytes.end());
  FM_RETURN_IF_ERROR(r.section(bytes, -1, kMaxMetadataBytes, what + " logits"));
  if (bytes.size() % sizeof(float)) return Status::error(what + ": logits of a partial float");
  s.last_logits.resize(bytes.size() / sizeof(float));
  if (!bytes.empty()) std::memcpy(s.last_logits.data(), bytes.data(), bytes.size());
  KvContents& c = s.contents;
  c.layout = expected;
  c.n_tokens = (int32_t)n_tokens;
  const int64_t row = expected.row_elements(), open_first = (int64_t)(c.n_tokens / expected.chunk_tokens) * expected.chunk_tokens;
  // Every size is checked against the blob before the arrays are allocated for it.
  const int64_t needed = 2 * ((int64_t)expected.n_global_layers * (c.n_tokens - open_first) +
                              (int64_t)expected.n_local_layers * c.ring_tokens()) * row * 2;
  if (needed > (int64_t)r.left()) return Status::error(what + ": truncated");
  for (auto* arrays : {&c.global_k, &c.global_v}) {
    arrays->assign(expected.n_global_layers, std::vector<uint16_t>((size_t)c.n_tokens * row));
    for (int g = 0; g < expected.n_global_layers; ++g) {
      FM_RETURN_IF_ERROR(read_rows(r, (*arrays)[g].data() + open_first * row, (c.n_tokens - open_first) * row,
                                   what + " open page, layer " + std::to_string(g)));
    }
  }
  for (auto* arrays : {&c.local_k, &c.local_v}) {
    arrays->assign(expected.n_local_layers, std::vector<uint16_t>((size_t)c.ring_tokens() * row));
    for (int l = 0; l < expected.n_local_layers; ++l) {
      FM_RETURN_IF_ERROR(read_rows(r, (*arrays)[l].data(), (int64_t)c.ring_tokens() * row,
                                   what + " ring, layer " + std::to_string(l)));
    }
  }
  if (r.left() != 0) return Status::error(what + ": trailing bytes");
  return Status::ok();
}

}  // namespace fm::server
