#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

namespace fm::unicode {
namespace {

using Cps = std::vector<uint32_t>;

TEST(Unicode, LenientDecodingReplacesEachBadByteOnItsOwn) {
  EXPECT_EQ(decode_utf8_lenient("a\xC3\xA9"), (Cps{'a', 0xE9}));
  EXPECT_EQ(decode_utf8_lenient("\xF0\x9F\x98\x80"), (Cps{0x1F600}));
  // A lead byte with a bad continuation: only the lead is replaced, '(' survives.
  EXPECT_EQ(decode_utf8_lenient("\xC3("), (Cps{kReplacementCharacter, '('}));
  EXPECT_EQ(decode_utf8_lenient("\x80\xFF"), (Cps{kReplacementCharacter, kReplacementCharacter}));
  // Truncated at the end.
  EXPECT_EQ(decode_utf8_lenient("\xE2\x82"), (Cps{kReplacementCharacter, kReplacementCharacter}));
  EXPECT_TRUE(decode_utf8_lenient("").empty());
}

TEST(Unicode, EncodingRoundTripsEveryScalarValue) {
  for (uint32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string utf8;
    append_utf8(cp, utf8);
    EXPECT_EQ(decode_utf8_lenient(utf8), (Cps{cp})) << cp;
  }
}

TEST(Unicode, ClassesFollowTheUnicodeCategories) {
  EXPECT_TRUE(is_letter('a'));
  EXPECT_TRUE(is_letter(0xE9));    // é
  EXPECT_TRUE(is_letter(0x4E2D));  // 中
  EXPECT_TRUE(is_letter(0x05D0));  // א
  EXPECT_FALSE(is_letter('1'));
  EXPECT_FALSE(is_letter(0x0301));  // combining acute: a mark, not a letter
  EXPECT_TRUE(is_number('7'));
  EXPECT_TRUE(is_number(0x0663));  // Arabic-Indic three
  EXPECT_TRUE(is_number(0x00BD));  // ½ (No)
  EXPECT_TRUE(is_number(0x216B));  // Ⅻ (Nl)
  EXPECT_FALSE(is_number('x'));
  EXPECT_TRUE(is_whitespace(' '));
  EXPECT_TRUE(is_whitespace('\n'));
  EXPECT_TRUE(is_whitespace(0x3000));
  EXPECT_TRUE(is_whitespace(0x85));
  EXPECT_FALSE(is_whitespace(0x200B));  // zero width space is not White_Space
  EXPECT_FALSE(is_whitespace(0x1C));    // though Python's isspace() says so
}

TEST(Unicode, ByteLevelMapIsABijectionOntoPrintableCodePoints) {
  EXPECT_EQ(byte_to_codepoint('A'), static_cast<uint32_t>('A'));
  EXPECT_EQ(byte_to_codepoint(' '), 0x120u);
  EXPECT_EQ(byte_to_codepoint('\n'), 0x10Au);
  EXPECT_EQ(byte_to_codepoint(0xAD), 0x143u);
  for (int byte = 0; byte < 256; ++byte) {
    EXPECT_EQ(codepoint_to_byte(byte_to_codepoint(static_cast<uint8_t>(byte))), byte);
  }
  EXPECT_EQ(codepoint_to_byte(0x4E2D), -1);
}

}  // namespace
}  // namespace fm::unicode
