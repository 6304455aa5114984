// Result files: rows survive a write/read round trip (the resume key with them), a cut
// line is skipped rather than fatal, and the summary's intervals follow the definition.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "eval/results_file.h"

namespace fm::eval {
namespace {

ResultRow row(const std::string& policy, int64_t index, double score) {
  ResultRow r;
  r.suite = "ruler";
  r.task = "niah_single_1";
  r.length = 4096;
  r.index = index;
  r.policy = policy;
  r.budget = 0.1;
  r.score = score;
  r.kv_a_mean_percent = policy == "full" ? 100 : 12.5;
  r.prediction = "it is \"42\"\nand\ttabs \x01";
  r.answers = {"42", "forty-two"};
  return r;
}

TEST(ResultsFile, RowsRoundTripAndACutLineIsSkipped) {
  const std::string path = ::testing::TempDir() + "/results_file_test.jsonl";
  {
    std::ofstream out(path, std::ios::trunc);
    out << row("full", 0, 1).to_json() << "\n" << row("lsa", 0, 0).to_json() << "\n";
    out << "{\"suite\": \"ruler\", \"task\": ";  // an interrupted write
  }
  auto rows = read_result_rows(path);
  ASSERT_TRUE(rows) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].key(), row("full", 0, 1).key());
  EXPECT_EQ((*rows)[1].prediction, row("lsa", 0, 0).prediction);
  EXPECT_EQ((*rows)[1].answers, row("lsa", 0, 0).answers);
  EXPECT_EQ((*rows)[1].kv_a_mean_percent, 12.5);
  EXPECT_NE(row("full", 0, 1).key(), row("full", 1, 1).key());
  EXPECT_TRUE(read_result_rows(path + ".absent"));  // no file: nothing done yet
}

TEST(ResultsFile, SummaryGivesMeansAndStudentTIntervals) {
  std::vector<ResultRow> rows;
  for (int i = 0; i < 4; ++i) rows.push_back(row("lsa", i, i < 3 ? 1.0 : 0.0));
  const auto cells = summarize(rows);
  const SummaryCell& c = cells.at({"ruler", "niah_single_1", 4096, 0.1, "lsa"});
  EXPECT_EQ(c.n, 4);
  EXPECT_DOUBLE_EQ(c.mean, 0.75);
  // sd = 0.5 (sample), half width = t(0.975, 3 df) * 0.5 / 2 = 3.182 * 0.25.
  EXPECT_NEAR(c.half_width_95, 3.182 * 0.25, 1e-9);
  EXPECT_EQ(cells.at({"ruler", "all", 4096, 0.1, "lsa"}).n, 4);
  EXPECT_NE(summary_markdown(rows).find("75.0 ± 79.5"), std::string::npos);
  EXPECT_EQ(c.answer_logprob_diff.n, 0);  // nothing measured it
  EXPECT_EQ(c.first_answer.n, 0);
  EXPECT_EQ(summary_markdown(rows).find("First answer only"), std::string::npos);
}

TEST(ResultsFile, FirstAnswerScoresRoundTripAndGetTheirOwnTable) {
  std::vector<ResultRow> rows;
  for (int i = 0; i < 3; ++i) {
    rows.push_back(row("lsa", i, 1.0));
    rows.back().score_first = i == 0 ? 1.0 : 0.0;  // the whole text matched; the first answer did not
  }
  const std::string path = ::testing::TempDir() + "/results_first_test.jsonl";
  {
    std::ofstream out(path, std::ios::trunc);
    for (const ResultRow& r : rows) out << r.to_json() << "\n";
  }
  auto back = read_result_rows(path);
  ASSERT_TRUE(back);
  EXPECT_DOUBLE_EQ((*back)[0].score_first, 1.0);
  EXPECT_DOUBLE_EQ((*back)[1].score_first, 0.0);
  EXPECT_DOUBLE_EQ((*back)[0].score_forced, -1.0);  // not measured
  EXPECT_EQ(summary_markdown(*back).find("Teacher-forced"), std::string::npos);
  const auto cells = summarize(*back);
  const SummaryCell& c = cells.at({"ruler", "niah_single_1", 4096, 0.1, "lsa"});
  EXPECT_DOUBLE_EQ(c.mean, 1.0);
  EXPECT_EQ(c.first_answer.n, 3);
  EXPECT_NEAR(c.first_answer.mean, 1.0 / 3.0, 1e-12);
  EXPECT_NE(summary_markdown(*back).find("First answer only"), std::string::npos);
  EXPECT_NE(summary_markdown(*back).find("33.3 ±"), std::string::npos);
}

TEST(ResultsFile, TeacherForcedSpanScoresRoundTripAndGetTheirOwnTable) {
  std::vector<ResultRow> rows;
  for (int i = 0; i < 4; ++i) {
    rows.push_back(row("lsa", i, 0.0));
    rows.back().suite = "longanswer";
    rows.back().score_forced = i < 3 ? 0.75 : 0.25;
  }
  const std::string path = ::testing::TempDir() + "/results_forced_test.jsonl";
  {
    std::ofstream out(path, std::ios::trunc);
    for (const ResultRow& r : rows) out << r.to_json() << "\n";
  }
  auto back = read_result_rows(path);
  ASSERT_TRUE(back);
  EXPECT_DOUBLE_EQ((*back)[3].score_forced, 0.25);
  const auto cells = summarize(*back);
  const SummaryCell& c = cells.at({"longanswer", "niah_single_1", 4096, 0.1, "lsa"});
  EXPECT_EQ(c.forced_spans.n, 4);
  EXPECT_NEAR(c.forced_spans.mean, 0.625, 1e-12);
  EXPECT_NE(summary_markdown(*back).find("Teacher-forced"), std::string::npos);
  EXPECT_NE(summary_markdown(*back).find("62.5 ±"), std::string::npos);
}

// A policy that has not run every sample yet: per task it shows what it has; the "all"
// row compares every policy on the samples all of them have.
TEST(ResultsFile, TheAllTasksRowUsesOnlySamplesEveryPolicyHas) {
  std::vector<ResultRow> rows;
  for (int i = 0; i < 4; ++i) rows.push_back(row("full", i, i < 2 ? 1.0 : 0.0));
  for (int i = 0; i < 2; ++i) rows.push_back(row("lsa", i, 1.0));
  const auto cells = summarize(rows);
  EXPECT_EQ(cells.at({"ruler", "niah_single_1", 4096, 0.1, "full"}).n, 4);
  EXPECT_EQ(cells.at({"ruler", "niah_single_1", 4096, 0.1, "lsa"}).n, 2);
  EXPECT_EQ(cells.at({"ruler", "all", 4096, 0.1, "full"}).n, 2);
  EXPECT_DOUBLE_EQ(cells.at({"ruler", "all", 4096, 0.1, "full"}).mean, 1.0);
  EXPECT_EQ(cells.at({"ruler", "all", 4096, 0.1, "lsa"}).n, 2);
}

TEST(ResultsFile, BudgetsAreSummarizedApart) {
  std::vector<ResultRow> rows{row("lsa", 0, 1.0), row("lsa", 0, 0.0)};
  rows[1].budget = 0.2;
  const auto cells = summarize(rows);
  EXPECT_DOUBLE_EQ(cells.at({"ruler", "niah_single_1", 4096, 0.1, "lsa"}).mean, 1.0);
  EXPECT_DOUBLE_EQ(cells.at({"ruler", "niah_single_1", 4096, 0.2, "lsa"}).mean, 0.0);
  const std::string md = summary_markdown(rows);
  EXPECT_NE(md.find("| 10% |"), std::string::npos);
  EXPECT_NE(md.find("| 20% |"), std::string::npos);
}

// Per sample (policy - full) / answer tokens, paired by sample; the field round-trips.
TEST(ResultsFile, AnswerLogprobDifferenceIsPairedWithFullPerSample) {
  std::vector<ResultRow> rows;
  const double full_lp[] = {-2.0, -4.0, -1.0}, lsa_lp[] = {-3.0, -4.0, -4.0};
  for (int i = 0; i < 3; ++i) {
    rows.push_back(row("full", i, 1));
    rows.back().answer_logprob = full_lp[i];
    rows.back().answer_tokens = 2;
    rows.push_back(row("lsa", i, 0));
    rows.back().answer_logprob = lsa_lp[i];
    rows.back().answer_tokens = 2;
  }
  rows.push_back(row("lsa", 3, 0));  // no full row for sample 3: left out
  rows.back().answer_logprob = -9;
  rows.back().answer_tokens = 2;
  const std::string path = ::testing::TempDir() + "/results_answer_test.jsonl";
  {
    std::ofstream out(path, std::ios::trunc);
    for (const ResultRow& r : rows) out << r.to_json() << "\n";
  }
  auto back = read_result_rows(path);
  ASSERT_TRUE(back);
  const auto cells = summarize(*back);
  const SummaryCell& c = cells.at({"ruler", "niah_single_1", 4096, 0.1, "lsa"});
  // Differences per token: -0.5, 0, -1.5 -> mean -2/3, sample sd sqrt(7/12).
  EXPECT_EQ(c.answer_logprob_diff.n, 3);
  EXPECT_NEAR(c.answer_logprob_diff.mean, -2.0 / 3.0, 1e-12);
  EXPECT_NEAR(c.answer_logprob_diff.half_width_95, 4.303 * std::sqrt(7.0 / 12.0 / 3.0), 1e-12);  // t, 2 df
  EXPECT_NE(summary_markdown(*back).find("-0.667"), std::string::npos);
}

}  // namespace
}  // namespace fm::eval
