// RULER's QA tasks on small fixtures in the published SQuAD v2.0 / HotpotQA formats.
#include "eval/ruler_qa.h"

#include <gtest/gtest.h>

#include <regex>

#include "eval/ruler_tasks.h"
#include "eval/ruler_test_data.h"

namespace fm::eval {
namespace {

using test::count_occurrences;
using test::whitespace_tokens;

const TokenCounter kWords = [](std::string_view text) { return whitespace_tokens(text); };

std::string fixture(const char* name) { return std::string(FLASHMEM_SOURCE_DIR) + "/tests/data/eval/" + name; }

const std::string kQaHead =
    "Answer the question based on the given documents. Only give me the answer and do not output any "
    "other words.\n\nThe following are given documents.\n\n";
const std::string kQaTail =
    "\n\nAnswer the question based on the given documents. Only give me the answer and do not output "
    "any other words.\n\n";

TEST(RulerQaSquad, SkipsUnanswerableQuestionsAndSortsDistinctParagraphs) {
  auto corpus = load_squad_v2(fixture("squad_v2_dev_sample.json"));
  ASSERT_TRUE(corpus.is_ok()) << corpus.status().message();
  EXPECT_EQ(corpus->documents.size(), 5u);
  EXPECT_TRUE(std::is_sorted(corpus->documents.begin(), corpus->documents.end()));
  ASSERT_EQ(corpus->items.size(), 5u);  // fx0002 is_impossible
  const QaItem& first = corpus->items[0];
  EXPECT_EQ(first.question, "In what year was the Harrow Point lighthouse first lit?");
  EXPECT_EQ(first.answers, (std::vector<std::string>{"1871", "in 1871"}));
  ASSERT_EQ(first.gold_documents.size(), 1u);
  EXPECT_EQ(corpus->documents[first.gold_documents[0]].rfind("The Harrow Point lighthouse", 0), 0u);
  EXPECT_EQ(first.related_documents.size(), 2u);  // the other paragraphs of its article
  EXPECT_EQ(corpus->items[4].related_documents.size(), 1u);
}

TEST(RulerQaHotpot, DocumentsAreTitleNewlineAndConcatenatedSentences) {
  auto corpus = load_hotpotqa(fixture("hotpotqa_dev_distractor_sample.json"));
  ASSERT_TRUE(corpus.is_ok()) << corpus.status().message();
  EXPECT_EQ(corpus->documents.size(), 5u);  // shared paragraphs are stored once
  ASSERT_EQ(corpus->items.size(), 2u);
  EXPECT_EQ(corpus->items[0].answers, std::vector<std::string>{"Velmar Ostrand"});
  EXPECT_EQ(corpus->items[0].gold_documents.size(), 4u);
  EXPECT_EQ(corpus->items[1].gold_documents.size(), 3u);
  EXPECT_EQ(corpus->documents[corpus->items[0].gold_documents[0]],
            "Tallow Mill\nTallow Mill is a restored watermill on the River Greyfen. It ground grain until 1952.");
}

TEST(RulerQaParsers, RejectMalformedFilesWithTheFieldInTheError) {
  auto bad_json = parse_squad_v2("{\"data\": [", "squad.json");
  ASSERT_FALSE(bad_json.is_ok());
  EXPECT_NE(bad_json.status().message().find("squad.json"), std::string::npos);
  auto no_context = parse_squad_v2(R"({"data": [{"paragraphs": [{"qas": []}]}]})", "squad.json");
  ASSERT_FALSE(no_context.is_ok());
  EXPECT_NE(no_context.status().message().find("data[0].paragraphs[0].context"), std::string::npos);
  auto bad_context = parse_hotpotqa(R"([{"question": "q", "answer": "a", "context": [["t", "not a list"]]}])", "hp.json");
  ASSERT_FALSE(bad_context.is_ok());
  EXPECT_NE(bad_context.status().message().find("[0].context"), std::string::npos);
  EXPECT_FALSE(parse_hotpotqa("{}", "hp.json").is_ok());
  EXPECT_FALSE(load_squad_v2(fixture("missing.json")).is_ok());
}

TEST(RulerQaPrompt, FollowsTheTemplateAndAlwaysHoldsTheGoldParagraph) {
  auto corpus = load_squad_v2(fixture("squad_v2_dev_sample.json"));
  ASSERT_TRUE(corpus.is_ok());
  for (std::size_t target : {100u, 160u, 1000u}) {
    auto s = generate_qa(*corpus, 0, 99, target, kWords);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    ASSERT_EQ(s->context.rfind(kQaHead, 0), 0u);
    EXPECT_EQ(s->question, "Question: In what year was the Harrow Point lighthouse first lit?");
    EXPECT_EQ(s->answer_prefix, " Answer:");
    EXPECT_EQ(s->context.substr(s->context.size() - kQaTail.size()), kQaTail);
    EXPECT_NE(s->context.find(corpus->documents[corpus->items[0].gold_documents[0]]), std::string::npos);
    EXPECT_LE(whitespace_tokens(s->context + s->question), target);
    // Documents are numbered 1..n in order.
    const std::regex numbering("Document ([0-9]+):\n");
    std::size_t expected = 1;
    for (std::sregex_iterator it(s->context.begin(), s->context.end(), numbering), end; it != end; ++it) {
      EXPECT_EQ((*it)[1].str(), std::to_string(expected++));
    }
    if (target == 1000u) {
      EXPECT_GT(expected - 1, corpus->documents.size());  // past the corpus: repeated
      EXPECT_GE(whitespace_tokens(s->context + s->question), 900u);
    }
  }
}

TEST(RulerQaPrompt, SmallTargetsKeepTheGoldParagraphAndPreferRelatedOnes) {
  auto corpus = load_squad_v2(fixture("squad_v2_dev_sample.json"));
  ASSERT_TRUE(corpus.is_ok());
  // Two documents fit: the gold paragraph and one from the same article.
  auto s = generate_qa(*corpus, 0, 5, 120, kWords);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(count_occurrences(s->context, "Document "), 2u);
  std::size_t related = 0;
  for (std::size_t d : corpus->items[0].related_documents) {
    related += count_occurrences(s->context, corpus->documents[d]);
  }
  EXPECT_EQ(related, 1u);
}

TEST(RulerQaTasks, GenerateThroughTheTaskListWithStringMatchPart) {
  auto squad = load_squad_v2(fixture("squad_v2_dev_sample.json"));
  auto hotpot = load_hotpotqa(fixture("hotpotqa_dev_distractor_sample.json"));
  ASSERT_TRUE(squad.is_ok() && hotpot.is_ok());
  RulerData data;
  auto missing = generate_ruler_sample(*find_ruler_task("qa_1"), 500, 1, 0, data, kWords);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("squad.json"), std::string::npos);
  data.squad = std::move(*squad);
  data.hotpotqa = std::move(*hotpot);
  auto a = generate_ruler_sample(*find_ruler_task("qa_2"), 500, 1, 1, data, kWords);
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  EXPECT_EQ(a->question, "Question: Are both Copper Lane and the market square in the same town?");
  EXPECT_EQ(a->answers, std::vector<std::string>{"yes"});
  EXPECT_EQ(a->metric, Metric::kStringMatchPart);
  EXPECT_EQ(a->max_new_tokens, 32);
  auto b = generate_ruler_sample(*find_ruler_task("qa_2"), 500, 1, 1, data, kWords);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(a->context, b->context);
  auto c = generate_ruler_sample(*find_ruler_task("qa_1"), 500, 1, 2, data, kWords);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->answers, std::vector<std::string>{"twenty-two nautical miles"});
}

}  // namespace
}  // namespace fm::eval
