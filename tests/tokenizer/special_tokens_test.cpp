// Special-token partitioning: which tokens are split out of raw text, and in which order
// overlapping candidates claim it (llama.cpp's longest-first passes).
#include "tokenizer/special_tokens.h"

#include <gtest/gtest.h>

#include "tiny_vocab.h"

namespace fm {
namespace {

using test::add_token;

// "T<id>" for a token, the raw text otherwise.
std::vector<std::string> describe(std::string_view text,
                                  const std::vector<TextFragment>& fragments) {
  std::vector<std::string> out;
  for (const TextFragment& f : fragments) {
    out.push_back(f.is_token() ? "T" + std::to_string(f.token)
                               : std::string(text.substr(f.offset, f.length)));
  }
  return out;
}

using Parts = std::vector<std::string>;

Vocab base_vocab() {
  Vocab vocab;
  vocab.model_name = "llama";
  add_token(vocab, "a");
  return vocab;
}

TEST(SpecialTokenMatcher, UserDefinedTokensAreSplitOutEvenWithoutSpecialParsing) {
  Vocab vocab = base_vocab();
  const int32_t user = add_token(vocab, "<u>", 0, TokenType::user_defined);
  const int32_t control = add_token(vocab, "<c>", 0, TokenType::control);
  SpecialTokenMatcher matcher(vocab);
  const std::string text = "x<u>y<c>z";
  EXPECT_EQ(describe(text, matcher.partition(text, false)),
            (Parts{"x", "T" + std::to_string(user), "y<c>z"}));
  EXPECT_EQ(describe(text, matcher.partition(text, true)),
            (Parts{"x", "T" + std::to_string(user), "y", "T" + std::to_string(control), "z"}));
}

TEST(SpecialTokenMatcher, NormalTokensAreNeverSplitOut) {
  Vocab vocab = base_vocab();
  add_token(vocab, "<n>");
  SpecialTokenMatcher matcher(vocab);
  EXPECT_EQ(describe("x<n>y", matcher.partition("x<n>y", true)), (Parts{"x<n>y"}));
}

TEST(SpecialTokenMatcher, LongerCandidatesClaimTextBeforeShorterOnes) {
  // "aaa" is tried before "ba" although "ba" starts further left: llama.cpp's order,
  // not leftmost-longest.
  Vocab vocab = base_vocab();
  const int32_t aaa = add_token(vocab, "aaa", 0, TokenType::user_defined);
  add_token(vocab, "ba", 0, TokenType::user_defined);
  SpecialTokenMatcher matcher(vocab);
  EXPECT_EQ(describe("baaa", matcher.partition("baaa", false)),
            (Parts{"b", "T" + std::to_string(aaa)}));
}

TEST(SpecialTokenMatcher, RepeatedAndAdjacentOccurrencesAreAllClaimed) {
  Vocab vocab = base_vocab();
  const int32_t nl = add_token(vocab, "\n", 0, TokenType::user_defined);
  const int32_t nl2 = add_token(vocab, "\n\n", 0, TokenType::user_defined);
  SpecialTokenMatcher matcher(vocab);
  const std::string text = "a\n\n\nb\n";
  const std::string t1 = "T" + std::to_string(nl), t2 = "T" + std::to_string(nl2);
  EXPECT_EQ(describe(text, matcher.partition(text, false)), (Parts{"a", t2, t1, "b", t1}));
}

TEST(SpecialTokenMatcher, EmptyTextHasNoFragments) {
  Vocab vocab = base_vocab();
  SpecialTokenMatcher matcher(vocab);
  EXPECT_TRUE(matcher.partition("", true).empty());
}

}  // namespace
}  // namespace fm
