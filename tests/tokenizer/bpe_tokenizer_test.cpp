// Byte-level BPE on hand-made vocabularies: merge ranking, the byte-level view of text,
// and the pre-tokenizer's word boundaries, without a model file.
#include <gtest/gtest.h>

#include <chrono>

#include "tiny_vocab.h"
#include "tokenizer/bpe_pretokenizer.h"
#include "tokenizer/unicode.h"

namespace fm {
namespace {

using test::add_token;
using test::byte_level;
using test::make_byte_level_vocab;
using test::must_create;
using Ids = std::vector<int32_t>;

// Words of `text` under a pre-tokenizer, as UTF-8 strings.
std::vector<std::string> words(std::string_view text, PreTokenizer kind) {
  const std::vector<uint32_t> cps = unicode::decode_utf8_lenient(text);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t length : split_words(cps, kind)) {
    std::string word;
    for (size_t i = start; i < start + length; ++i) unicode::append_utf8(cps[i], word);
    out.push_back(word);
    start += length;
  }
  return out;
}

using Words = std::vector<std::string>;

TEST(BpeTokenizer, LowestRankedMergeIsAppliedFirst) {
  Vocab vocab = make_byte_level_vocab();
  const int32_t bc = add_token(vocab, "bc");
  add_token(vocab, "ab");
  vocab.merges = {{"b", "c"}, {"a", "b"}};
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("abc", false, false), (Ids{'a', bc}));
}

TEST(BpeTokenizer, MergeResultsMergeFurtherByRank) {
  Vocab vocab = make_byte_level_vocab();
  add_token(vocab, "bc");
  const int32_t abc = add_token(vocab, "abc");
  vocab.merges = {{"b", "c"}, {"a", "bc"}};
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("abc", false, false), (Ids{abc}));
  EXPECT_EQ(tokenizer->encode("abcabc", false, false), (Ids{abc, abc}));
}

TEST(BpeTokenizer, EqualRanksMergeTheLeftmostPairFirst) {
  Vocab vocab = make_byte_level_vocab();
  const int32_t aa = add_token(vocab, "aa");
  vocab.merges = {{"a", "a"}};
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("aaa", false, false), (Ids{aa, 'a'}));
}

TEST(BpeTokenizer, SpacesAndNonAsciiBytesGoThroughTheByteLevelMap) {
  Vocab vocab = make_byte_level_vocab();
  const int32_t space_a = add_token(vocab, byte_level(" a"));  // "Ġa"
  vocab.merges = {{byte_level(" "), "a"}};
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(byte_level(" "), "\xC4\xA0");  // U+0120
  EXPECT_EQ(tokenizer->encode("a a", false, false), (Ids{'a', space_a}));
  // Without merges, "é" is its two UTF-8 bytes, each a token in byte order.
  EXPECT_EQ(tokenizer->encode("\xC3\xA9", false, false), (Ids{0xC3, 0xA9}));
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("a a \xC3\xA9!", false, false)), "a a \xC3\xA9!");
}

TEST(BpeTokenizer, MergesNeverCrossWordBoundaries) {
  Vocab vocab = make_byte_level_vocab();
  add_token(vocab, "a!");
  vocab.merges = {{"a", "!"}};
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  // Letters and punctuation are different words under the GPT-2 pattern.
  EXPECT_EQ(tokenizer->encode("a!", false, false), (Ids{'a', '!'}));
}

TEST(BpeTokenizer, MalformedUtf8BecomesReplacementCharacters) {
  auto tokenizer = must_create(make_byte_level_vocab());
  ASSERT_TRUE(tokenizer);
  // 0xFF is no UTF-8; it is read as U+FFFD (EF BF BD), as llama.cpp reads it.
  EXPECT_EQ(tokenizer->encode("\xFF", false, false), (Ids{0xEF, 0xBF, 0xBD}));
}

TEST(BpeTokenizer, UnsupportedPreTokenizerIsAnError) {
  Vocab vocab = make_byte_level_vocab();
  vocab.pre_tokenizer_name = "some-future-model";
  auto tokenizer = Tokenizer::create(std::move(vocab));
  ASSERT_FALSE(tokenizer.is_ok());
  EXPECT_NE(tokenizer.status().message().find("some-future-model"), std::string::npos);
}

TEST(BpeTokenizer, LongWordEncodesQuickly) {
  Vocab vocab = make_byte_level_vocab();
  add_token(vocab, "ab");
  add_token(vocab, "abab");
  vocab.merges = {{"a", "b"}, {"ab", "ab"}};
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "ab";
  const auto start = std::chrono::steady_clock::now();
  const Ids ids = tokenizer->encode(text, false, false);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ids.size(), 25000u);
  EXPECT_LT(seconds, 1.0);
}

TEST(Gpt2PreTokenizer, SplitsLettersNumbersAndPunctuationWithOneLeadingSpace) {
  EXPECT_EQ(words("Hello world, 42 times!", PreTokenizer::gpt2),
            (Words{"Hello", " world", ",", " 42", " times", "!"}));
}

TEST(Gpt2PreTokenizer, SplitsEnglishContractionsButOnlyLowercaseOnes) {
  EXPECT_EQ(words("it's we'll I'M", PreTokenizer::gpt2),
            (Words{"it", "'s", " we", "'ll", " I", "'", "M"}));
}

TEST(Gpt2PreTokenizer, WhitespaceRunLeavesItsLastCharacterToTheNextWord) {
  EXPECT_EQ(words("a   b", PreTokenizer::gpt2), (Words{"a", "  ", " b"}));
  EXPECT_EQ(words("a\n\nb", PreTokenizer::gpt2), (Words{"a", "\n", "\n", "b"}));
  // At the end of the text the whole run is one word.
  EXPECT_EQ(words("a   ", PreTokenizer::gpt2), (Words{"a", "   "}));
}

TEST(Gpt2PreTokenizer, UsesUnicodeLetterAndNumberClasses) {
  EXPECT_EQ(words("caf\xC3\xA9 \xD9\xA3\xD9\xA4 \xE4\xB8\xAD\xE6\x96\x87!", PreTokenizer::gpt2),
            (Words{"caf\xC3\xA9", " \xD9\xA3\xD9\xA4", " \xE4\xB8\xAD\xE6\x96\x87", "!"}));
}

TEST(Gpt2PreTokenizer, IsolatedDigitVariantSplitsEveryDigit) {
  EXPECT_EQ(words("abc123 4", PreTokenizer::gpt2_isolated_digits),
            (Words{"abc", "1", "2", "3", " ", "4"}));
}

TEST(Gpt2PreTokenizer, KnowsTheSmolLMAndGpt2Names) {
  EXPECT_EQ(pre_tokenizer_for("smollm"), PreTokenizer::gpt2_isolated_digits);
  EXPECT_EQ(pre_tokenizer_for("gpt-2"), PreTokenizer::gpt2);
  EXPECT_FALSE(pre_tokenizer_for("llama3").has_value());
}

}  // namespace
}  // namespace fm
