// The scorers on crafted predictions.
#include "eval/scoring.h"

#include <gtest/gtest.h>

namespace fm::eval {
namespace {

TEST(RulerPostprocess, StripsAndTurnsControlCharactersIntoNewlines) {
  EXPECT_EQ(ruler_postprocess("  \t 1234\x01""567\r\n "), "1234\n567");
  EXPECT_EQ(ruler_postprocess("\x02 answer \x1f"), "answer");
  EXPECT_EQ(ruler_postprocess(""), "");
}

TEST(RulerStringMatch, AllIsTheFractionOfReferencesFoundIgnoringCase) {
  const std::vector<std::string> refs = {"1234567", "7654321", "Blue-Whale", "KQJZB"};
  EXPECT_DOUBLE_EQ(string_match_all("1234567, 7654321, blue-whale and kqjzb.", refs), 1.0);
  EXPECT_DOUBLE_EQ(string_match_all("The numbers are 1234567 and 7654321.", refs), 0.5);
  EXPECT_DOUBLE_EQ(string_match_all("BLUE-WHALE", refs), 0.25);
  EXPECT_DOUBLE_EQ(string_match_all("nothing here", refs), 0.0);
  // Containment, not token match: RULER credits a reference inside a longer number.
  EXPECT_DOUBLE_EQ(string_match_all("91234567", {"1234567"}), 1.0);
  // A control character inside a reference's span breaks it, as in RULER.
  EXPECT_DOUBLE_EQ(string_match_all("1234\x01""567", {"1234567"}), 0.0);
  EXPECT_DOUBLE_EQ(string_match_all("anything", {}), 0.0);
}

TEST(RulerStringMatch, PartIsOneWhenAnyReferenceIsFound) {
  const std::vector<std::string> refs = {"1871", "in 1871"};
  EXPECT_DOUBLE_EQ(string_match_part("It was first lit in 1871.", refs), 1.0);
  EXPECT_DOUBLE_EQ(string_match_part("1870", refs), 0.0);
  EXPECT_DOUBLE_EQ(string_match_part("Whale Oil", {"whale oil", "oil"}), 1.0);
}

TEST(NormalizedExactMatch, NormalizesLikeSquad) {
  EXPECT_EQ(normalize_answer("The  Eiffel Tower!"), "eiffel tower");
  EXPECT_EQ(normalize_answer("An apple, a day"), "apple day");
  EXPECT_EQ(normalize_answer("theater"), "theater");  // articles only as whole words
  EXPECT_EQ(normalize_answer("  U.S.A. "), "usa");
  EXPECT_EQ(normalize_answer("a the an"), "");
}

TEST(NormalizedExactMatch, AcceptsEqualityOrWholeWordContainment) {
  const std::vector<std::string> refs = {"Velmar Ostrand"};
  EXPECT_DOUBLE_EQ(normalized_exact_match("velmar ostrand.", refs), 1.0);
  EXPECT_DOUBLE_EQ(normalized_exact_match("It was designed by Velmar Ostrand.", refs), 1.0);
  EXPECT_DOUBLE_EQ(normalized_exact_match("Ostrand", refs), 0.0);
  EXPECT_DOUBLE_EQ(normalized_exact_match("1990", {"199"}), 0.0);  // no partial words
  EXPECT_DOUBLE_EQ(normalized_exact_match("the 5th of May", {"5th of may"}), 1.0);
  EXPECT_DOUBLE_EQ(normalized_exact_match("something", {"the"}), 0.0);  // empty after normalising
  EXPECT_DOUBLE_EQ(normalized_exact_match("", {"a"}), 1.0);
}

TEST(ChoiceLetter, ReadsTheLetterFromCommonAnswerShapes) {
  EXPECT_EQ(extract_choice_letter("The correct answer is (B)"), 'B');
  EXPECT_EQ(extract_choice_letter("The correct answer is C."), 'C');
  EXPECT_EQ(extract_choice_letter("After reading the text, the correct answer is: (d)"), 'D');
  EXPECT_EQ(extract_choice_letter("Answer: A"), 'A');
  EXPECT_EQ(extract_choice_letter("(B)"), 'B');
  EXPECT_EQ(extract_choice_letter("B"), 'B');
  EXPECT_EQ(extract_choice_letter("  C.  Because the author says so."), 'C');
  EXPECT_EQ(extract_choice_letter("**D**"), 'D');
  EXPECT_EQ(extract_choice_letter("I think (A) is right"), 'A');
  EXPECT_EQ(extract_choice_letter("Option B"), 'B');
}

TEST(ChoiceLetter, FindsNoLetterInProseOrOutOfRange) {
  EXPECT_EQ(extract_choice_letter("A good question, hard to say."), std::nullopt);
  EXPECT_EQ(extract_choice_letter("The correct answer is Beta"), std::nullopt);
  EXPECT_EQ(extract_choice_letter("E"), std::nullopt);
  EXPECT_EQ(extract_choice_letter(""), std::nullopt);
  EXPECT_EQ(extract_choice_letter("Definitely"), std::nullopt);
}

TEST(ChoiceLetter, ScoresAgainstTheFirstAnswer) {
  EXPECT_DOUBLE_EQ(choice_letter_match("The correct answer is (B)", {"B"}), 1.0);
  EXPECT_DOUBLE_EQ(choice_letter_match("The correct answer is (B)", {"C"}), 0.0);
  EXPECT_DOUBLE_EQ(choice_letter_match("no idea", {"C"}), 0.0);
  EXPECT_DOUBLE_EQ(choice_letter_match("B", {}), 0.0);
}

TEST(Abstention, RecognisesDecliningPhrasesInAnyCase) {
  EXPECT_TRUE(is_abstention("That is not mentioned in our conversation.", {}));
  EXPECT_TRUE(is_abstention("I don't know.", {}));
  EXPECT_TRUE(is_abstention("I don\xE2\x80\x99t know.", {}));  // typographic apostrophe
  EXPECT_TRUE(is_abstention("There is NO INFORMATION about her sister.", {}));
  EXPECT_TRUE(is_abstention("It cannot be determined from the chat.", {}));
  EXPECT_FALSE(is_abstention("Her sister lives in Lisbon.", {}));
  EXPECT_FALSE(is_abstention("Your dog is named Biscuit.", {"never told"}));
  EXPECT_TRUE(is_abstention("You never told me her name.", {"never told"}));
}

TEST(ScorePrediction, DispatchesOnTheSampleMetric) {
  TaskSample sample;
  sample.answers = {"1234567", "7654321"};
  sample.metric = Metric::kStringMatchAll;
  EXPECT_DOUBLE_EQ(score_prediction(sample, "1234567"), 0.5);
  sample.metric = Metric::kStringMatchPart;
  EXPECT_DOUBLE_EQ(score_prediction(sample, "1234567"), 1.0);
  EXPECT_DOUBLE_EQ(score_prediction(Metric::kNormalizedExact, "The Lisbon", {"lisbon"}), 1.0);
  EXPECT_DOUBLE_EQ(score_prediction(Metric::kChoiceLetter, "(C)", {"C"}), 1.0);
  EXPECT_DOUBLE_EQ(score_prediction(Metric::kAbstention, "I do not know", {}), 1.0);
  EXPECT_DOUBLE_EQ(score_prediction(Metric::kAbstention, "Lisbon", {}), 0.0);
}

TEST(FirstAnswer, StopsAtTheLineBreakOrTheModelsOwnNextQuestion) {
  EXPECT_EQ(first_answer("  The kayak.\nQuestion: Which came first, the tent or the kayak?"), "The kayak.");
  EXPECT_EQ(first_answer("The kayak. Question: and the tent?"), "The kayak.");
  EXPECT_EQ(first_answer("\n\n Lisbon \r\nmore"), "Lisbon");
  EXPECT_EQ(first_answer("question: who?"), "");
  EXPECT_EQ(first_answer(""), "");
}

// "Which came first, the tent or the kayak?" with the tent first.
TaskSample which_came_first() {
  TaskSample s;
  s.answers = {"the tent", "tent"};
  s.wrong_answers = {"kayak"};
  s.metric = Metric::kNormalizedExact;
  return s;
}

TEST(ScoreFirstAnswer, TheEchoedQuestionIsNotCredited) {
  const TaskSample s = which_came_first();
  const std::string echo = "I am not sure.\nQuestion: Which came first, the tent or the kayak?";
  EXPECT_DOUBLE_EQ(score_prediction(s, echo), 1.0);  // the whole text names the tent
  EXPECT_DOUBLE_EQ(score_first_answer(s, echo), 0.0);
  EXPECT_DOUBLE_EQ(score_first_answer(s, "The tent.\nQuestion: Which came first, the kayak or the tent?"), 1.0);
}

TEST(ScoreFirstAnswer, NamingBothOptionsFails) {
  const TaskSample s = which_came_first();
  EXPECT_DOUBLE_EQ(score_first_answer(s, "The tent or the kayak."), 0.0);
  EXPECT_DOUBLE_EQ(score_first_answer(s, "The kayak, then the tent."), 0.0);
  EXPECT_DOUBLE_EQ(score_first_answer(s, "The kayak."), 0.0);
  EXPECT_DOUBLE_EQ(score_first_answer(s, "You bought the tent first."), 1.0);
}

TEST(ScoreFirstAnswer, TheSupersededValueFailsButACorrectAnswerContainingItsWordDoesNot) {
  TaskSample s;
  s.answers = {"road bike"};
  s.wrong_answers = {"bike"};  // the old value is a word of the new one
  s.metric = Metric::kNormalizedExact;
  EXPECT_DOUBLE_EQ(score_first_answer(s, "A road bike."), 1.0);
  EXPECT_DOUBLE_EQ(score_first_answer(s, "A road bike; before that a bike."), 0.0);
  TaskSample update;
  update.answers = {"Denver"};
  update.wrong_answers = {"Boston"};
  update.metric = Metric::kNormalizedExact;
  EXPECT_DOUBLE_EQ(score_first_answer(update, "Denver"), 1.0);
  EXPECT_DOUBLE_EQ(score_first_answer(update, "You moved from Boston to Denver."), 0.0);
  EXPECT_DOUBLE_EQ(score_first_answer(update, "Boston"), 0.0);
}

TEST(ScoreFirstAnswer, WithoutWrongAnswersItIsTheMetricOnTheFirstAnswer) {
  TaskSample s;
  s.answers = {"1234567"};
  s.metric = Metric::kStringMatchAll;
  EXPECT_DOUBLE_EQ(score_first_answer(s, "1234567\nThe other number is 7654321."), 1.0);
  EXPECT_DOUBLE_EQ(score_first_answer(s, "none\n1234567"), 0.0);
  EXPECT_DOUBLE_EQ(score_prediction(s, "none\n1234567"), 1.0);
}

TEST(OrderedMatchAll, CountsTheAnswersFoundInTheirOrder) {
  const std::vector<std::string> codes = {"11111", "22222", "33333", "44444"};
  EXPECT_DOUBLE_EQ(ordered_match_all("locker A: 11111\nlocker B: 22222\nlocker C: 33333\nlocker D: 44444", codes), 1.0);
  EXPECT_DOUBLE_EQ(ordered_match_all("11111 22222 44444", codes), 0.75);  // one missing
  // Out of order: after 33333 is taken, 22222 is not found again further on.
  EXPECT_DOUBLE_EQ(ordered_match_all("11111 33333 22222 44444", codes), 0.75);
  EXPECT_DOUBLE_EQ(ordered_match_all("", codes), 0.0);
  EXPECT_DOUBLE_EQ(ordered_match_all("11111", {}), 0.0);
}

TEST(ScoreFirstAnswer, ALongAnswerKeepsItsLinesAndStopsAtTheModelsNextQuestion) {
  TaskSample s;
  s.answers = {"11111", "22222"};
  s.metric = Metric::kOrderedAll;
  EXPECT_DOUBLE_EQ(score_first_answer(s, " 11111\nlocker B: 22222\n"), 1.0);
  EXPECT_DOUBLE_EQ(score_first_answer(s, " 11111\nQuestion: and locker B? 22222"), 0.5);
}

}  // namespace
}  // namespace fm::eval
