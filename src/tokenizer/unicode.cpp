#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace fm::unicode {

namespace {

bool is_continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

bool in_ranges(uint32_t codepoint, const CodepointRange* ranges, size_t count) {
  const CodepointRange* end = ranges + count;
  // First range whose last >= codepoint; the tables are sorted and disjoint.
  const CodepointRange* it = std::lower_bound(
      ranges, end, codepoint, [](const CodepointRange& r, uint32_t cp) { return r.last < cp; });
  return it != end && it->first <= codepoint;
}

struct ByteLevelMaps {
  std::array<uint32_t, 256> byte_to_codepoint{};
  std::array<int16_t, 324> codepoint_to_byte{};  // every mapped code point is < 0x144
};

ByteLevelMaps build_byte_level_maps() {
  ByteLevelMaps maps;
  maps.codepoint_to_byte.fill(-1);
  auto printable = [](int byte) {
    return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
           (byte >= 0xAE && byte <= 0xFF);
  };
  uint32_t next_unprintable = 0x100;
  for (int byte = 0; byte < 256; ++byte) {
    const uint32_t cp = printable(byte) ? static_cast<uint32_t>(byte) : next_unprintable++;
    maps.byte_to_codepoint[byte] = cp;
    maps.codepoint_to_byte[cp] = static_cast<int16_t>(byte);
  }
  return maps;
}

const ByteLevelMaps& byte_level_maps() {
  static const ByteLevelMaps maps = build_byte_level_maps();
  return maps;
}

}  // namespace

std::vector<uint32_t> decode_utf8_lenient(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    const uint8_t b0 = bytes[i];
    if (b0 < 0x80) {
      out.push_back(b0);
      i += 1;
      continue;
    }
    // Sequence length from the lead byte; 0 marks a byte that cannot start one.
    size_t length = 0;
    if ((b0 & 0xE0) == 0xC0)
      length = 2;
    else if ((b0 & 0xF0) == 0xE0)
      length = 3;
    else if ((b0 & 0xF8) == 0xF0)
      length = 4;
    bool well_formed = length != 0 && i + length <= size;
    for (size_t k = 1; well_formed && k < length; ++k) well_formed = is_continuation(bytes[i + k]);
    if (!well_formed) {
      out.push_back(kReplacementCharacter);
      i += 1;
      continue;
    }
    uint32_t cp = b0 & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) cp = (cp << 6) | (bytes[i + k] & 0x3F);
    out.push_back(cp);
    i += length;
  }
  return out;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp > 0x10FFFF) cp = kReplacementCharacter;  // F5..F7 leads decode past the range
  if (cp <= 0x7F) {
    out.push_back(static_cast<char>(cp));
  } else if (cp <= 0x7FF) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0xFFFF) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_letter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(cp, kLetterRanges, kLetterRanges_count);
}

bool is_number(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(cp, kNumberRanges, kNumberRanges_count);
}

bool is_whitespace(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return in_ranges(cp, kWhitespaceRanges, kWhitespaceRanges_count);
}

uint32_t byte_to_codepoint(uint8_t byte) { return byte_level_maps().byte_to_codepoint[byte]; }

int codepoint_to_byte(uint32_t codepoint) {
  const auto& table = byte_level_maps().codepoint_to_byte;
  return codepoint < table.size() ? table[codepoint] : -1;
}

}  // namespace fm::unicode
