// The few Unicode facts the tokenizers need: lenient UTF-8 decoding (the way llama.cpp
// decodes prompts, so that malformed input tokenizes identically), code point classes for
// the BPE pre-tokenizer regexes (\p{L}, \p{N}, \s), and GPT-2's byte <-> code point map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fm::unicode {

// Length a UTF-8 sequence claims from its first byte alone (1 for continuation bytes and
// ASCII). SentencePiece-style splitting uses this and never validates the tail.
inline size_t utf8_sequence_length(uint8_t first_byte) {
  static constexpr uint8_t kByHighNibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kByHighNibble[first_byte >> 4];
}

constexpr uint32_t kReplacementCharacter = 0xFFFD;

// Decodes UTF-8; every byte that does not start a well-formed sequence becomes U+FFFD on
// its own (the next byte is retried). Overlong forms and surrogates are not rejected,
// matching llama.cpp, whose pre-tokenizer we must reproduce byte for byte.
std::vector<uint32_t> decode_utf8_lenient(std::string_view text);

void append_utf8(uint32_t codepoint, std::string& out);

// Code point classes, as llama.cpp's regex emulation sees them.
bool is_letter(uint32_t codepoint);      // general category L*
bool is_number(uint32_t codepoint);      // general category N*
bool is_whitespace(uint32_t codepoint);  // the White_Space property

// GPT-2 byte-level BPE shows every byte as a printable code point: bytes that are already
// printable Latin-1 map to themselves, the rest to U+0100 onwards, in byte order.
uint32_t byte_to_codepoint(uint8_t byte);
// Inverse of byte_to_codepoint; returns -1 for a code point that stands for no byte.
int codepoint_to_byte(uint32_t codepoint);

// Generated tables (unicode_tables.cpp).
struct CodepointRange {
  uint32_t first;
  uint32_t last;
};
extern const char kUnicodeDataVersion[];
extern const CodepointRange kLetterRanges[];
extern const size_t kLetterRanges_count;
extern const CodepointRange kNumberRanges[];
extern const size_t kNumberRanges_count;
extern const CodepointRange kWhitespaceRanges[];
extern const size_t kWhitespaceRanges_count;

}  // namespace fm::unicode
