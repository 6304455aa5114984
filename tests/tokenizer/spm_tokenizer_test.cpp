// SentencePiece-style encoding on hand-made vocabularies: merge order, byte fallback,
// space handling and special-token partitioning, without a model file.
#include <gtest/gtest.h>

#include <chrono>

#include "tiny_vocab.h"

namespace fm {
namespace {

using test::add_token;
using test::byte_token;
using test::make_spm_vocab;
using test::must_create;
using Ids = std::vector<int32_t>;

TEST(SpmTokenizer, HigherScoringMergeWinsEvenWhenItIsNotLeftmost) {
  Vocab vocab = make_spm_vocab();
  const int32_t a = add_token(vocab, "a");
  add_token(vocab, "b");
  const int32_t c = add_token(vocab, "c");
  const int32_t ab = add_token(vocab, "ab", -5.0f);
  const int32_t bc = add_token(vocab, "bc", -1.0f);
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("abc", false, false), (Ids{a, bc}));
  // With no competing pair the low-scoring merge still happens.
  EXPECT_EQ(tokenizer->encode("cab", false, false), (Ids{c, ab}));
}

TEST(SpmTokenizer, EqualScoresMergeTheLeftmostPairFirst) {
  Vocab vocab = make_spm_vocab();
  add_token(vocab, "a");
  add_token(vocab, "b");
  const int32_t c = add_token(vocab, "c");
  const int32_t ab = add_token(vocab, "ab", -1.0f);
  add_token(vocab, "bc", -1.0f);
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("abc", false, false), (Ids{ab, c}));
}

TEST(SpmTokenizer, MergesOnlyThroughPairsThatAreTokens) {
  // "abc" is a token, but neither "ab" nor "bc" is, so nothing can grow into it.
  Vocab vocab = make_spm_vocab();
  const int32_t a = add_token(vocab, "a"), b = add_token(vocab, "b"), c = add_token(vocab, "c");
  add_token(vocab, "abc", 10.0f);
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("abc", false, false), (Ids{a, b, c}));
}

TEST(SpmTokenizer, MergedPiecesKeepMergingIntoLongerTokens) {
  Vocab vocab = make_spm_vocab();
  add_token(vocab, "a");
  add_token(vocab, "b");
  add_token(vocab, "ab", -2.0f);
  const int32_t abab = add_token(vocab, "abab", -3.0f);
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("abab", false, false), (Ids{abab}));
}

TEST(SpmTokenizer, UnknownCharactersFallBackToTheirUtf8Bytes) {
  Vocab vocab = make_spm_vocab();
  const int32_t x = add_token(vocab, "x");
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  // "é" is C3 A9; "😀" is F0 9F 98 80.
  EXPECT_EQ(tokenizer->encode("x\xC3\xA9", false, false),
            (Ids{x, byte_token(0xC3), byte_token(0xA9)}));
  EXPECT_EQ(tokenizer->encode("\xF0\x9F\x98\x80", false, false),
            (Ids{byte_token(0xF0), byte_token(0x9F), byte_token(0x98), byte_token(0x80)}));
  // Malformed UTF-8 goes through the same path byte by byte.
  EXPECT_EQ(tokenizer->encode("\xFF", false, false), (Ids{byte_token(0xFF)}));
}

TEST(SpmTokenizer, ByteTokensDecodeBackIntoTheOriginalCharacter) {
  Vocab vocab = make_spm_vocab();
  add_token(vocab, "\xE2\x96\x81");  // the escaped space
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  const Ids ids = tokenizer->encode("\xC3\xA9 \xE4\xB8\xAD", false, false);
  EXPECT_EQ(ids.size(), 2u + 1u + 3u);
  EXPECT_EQ(tokenizer->decode_token(byte_token(0xC3)), "\xC3");
  EXPECT_EQ(tokenizer->decode(ids), "\xC3\xA9 \xE4\xB8\xAD");
}

TEST(SpmTokenizer, SpacesAreEscapedAsLowerOneEighthBlock) {
  Vocab vocab = make_spm_vocab();
  const int32_t space_a = add_token(vocab,
                                    "\xE2\x96\x81"
                                    "a",
                                    -1.0f);
  add_token(vocab, "\xE2\x96\x81");
  add_token(vocab, "a");
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode(" a", false, false), (Ids{space_a}));
  EXPECT_EQ(tokenizer->decode_token(space_a), " a");
}

TEST(SpmTokenizer, SpacePrefixIsAddedAtTheStartAndAfterSpecialTokens) {
  Vocab vocab = make_spm_vocab();
  vocab.add_space_prefix = true;
  const int32_t space_a = add_token(vocab,
                                    "\xE2\x96\x81"
                                    "a",
                                    -1.0f);
  add_token(vocab, "\xE2\x96\x81");
  add_token(vocab, "a");
  const int32_t turn = add_token(vocab, "<turn>", 0, TokenType::control);
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("a", false, false), (Ids{space_a}));
  EXPECT_EQ(tokenizer->encode("a<turn>a", false, true), (Ids{space_a, turn, space_a}));
  EXPECT_EQ(tokenizer->encode("a", true, false), (Ids{1, space_a}));
  // Decoding drops the prefix again, so text round-trips.
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("a a", false, false)), "a a");
}

TEST(SpmTokenizer, BosIsAddedOnlyWhenAskedAndTheVocabularyWantsIt) {
  Vocab vocab = make_spm_vocab();
  const int32_t a = add_token(vocab, "a");
  vocab.add_eos = true;
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->encode("a", true, false), (Ids{1, a, 2}));
  EXPECT_EQ(tokenizer->encode("a", false, false), (Ids{a}));
  EXPECT_EQ(tokenizer->encode("", true, false), (Ids{1, 2}));
  EXPECT_EQ(tokenizer->encode("", false, false), Ids{});
}

TEST(SpmTokenizer, UserDefinedTokensAreAlwaysMatchedControlTokensOnlyWhenParsingSpecial) {
  Vocab vocab = make_spm_vocab();
  for (char c : std::string("<>abdeginrstu_")) add_token(vocab, std::string(1, c));
  const int32_t user = add_token(vocab, "<b>", 0, TokenType::user_defined);
  const int32_t control = add_token(vocab, "<start>", 0, TokenType::control);
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  const Ids plain = tokenizer->encode("<b><start>", false, false);
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(plain.front(), user);
  EXPECT_EQ(plain.size(), 1u + 7u);  // <start> spelled out character by character
  EXPECT_EQ(tokenizer->encode("<b><start>", false, true), (Ids{user, control}));
  // Control tokens render as their text, so special-parsed text round-trips too.
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("a<start>b", false, true)), "a<start>b");
  EXPECT_EQ(
      tokenizer->decode(tokenizer->encode("a<start>b", false, true), /*render_special=*/false),
      "ab");
}

TEST(SpmTokenizer, LongTextWithoutSpacesEncodesQuickly) {
  Vocab vocab = make_spm_vocab();
  add_token(vocab, "a");
  add_token(vocab, "aa", -1.0f);
  add_token(vocab, "aaaa", -2.0f);
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  const std::string text(200000, 'a');
  const auto start = std::chrono::steady_clock::now();
  const Ids ids = tokenizer->encode(text, false, false);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ids.size(), 50000u);
  EXPECT_LT(seconds, 1.0);
}

TEST(SpmTokenizer, EndOfGenerationCoversEosAndEndOfTurn) {
  Vocab vocab = make_spm_vocab();
  const int32_t a = add_token(vocab, "a");
  const int32_t eot = add_token(vocab, "<end_of_turn>", 0, TokenType::control);
  vocab.eot_id = eot;
  auto tokenizer = must_create(std::move(vocab));
  ASSERT_TRUE(tokenizer);
  EXPECT_TRUE(tokenizer->is_end_of_generation(2));
  EXPECT_TRUE(tokenizer->is_end_of_generation(eot));
  EXPECT_FALSE(tokenizer->is_end_of_generation(a));
  EXPECT_FALSE(tokenizer->is_end_of_generation(kNoToken));
}

TEST(Tokenizer, CreateRejectsInconsistentVocabularies) {
  Vocab out_of_range = make_spm_vocab();
  out_of_range.bos_id = 100000;
  EXPECT_FALSE(Tokenizer::create(std::move(out_of_range)).is_ok());

  Vocab ragged = make_spm_vocab();
  ragged.scores.pop_back();
  EXPECT_FALSE(Tokenizer::create(std::move(ragged)).is_ok());

  Vocab unknown_model = make_spm_vocab();
  unknown_model.model_name = "bert";
  EXPECT_FALSE(Tokenizer::create(std::move(unknown_model)).is_ok());

  EXPECT_FALSE(Tokenizer::create(Vocab{}).is_ok());
}

TEST(Tokenizer, InvalidIdsDecodeToNothing) {
  auto tokenizer = must_create(make_spm_vocab());
  ASSERT_TRUE(tokenizer);
  EXPECT_EQ(tokenizer->decode_token(-1), "");
  EXPECT_EQ(tokenizer->decode_token(1 << 30), "");
  const Ids ids = {-5, byte_token('h'), 1 << 30, byte_token('i')};
  EXPECT_EQ(tokenizer->decode(ids), "hi");
}

}  // namespace
}  // namespace fm
