// The runs of one evaluation sample at several budgets: one per missing row, full once for
// all of its missing rows, unique labels that policy_kind reads back, and a full run added
// for others' sake that writes nothing.
#include <gtest/gtest.h>

#include <set>

#include "eval/policy_decode.h"
#include "eval/run_plan.h"

namespace fm::eval {
namespace {

const RowDone kNothingDone = [](const std::string&, double) { return false; };

TEST(RunPlan, FullRunsOnceForEveryBudgetAndTheOthersOncePerBudget) {
  const auto runs = plan_runs({"full", "lsa", "oracle"}, {0.1, 0.05}, kNothingDone);
  ASSERT_EQ(runs.size(), 5u);
  EXPECT_EQ(runs[0].label, "full");
  EXPECT_EQ(runs[0].row_budgets, (std::vector<double>{0.1, 0.05}));
  std::set<std::string> labels;
  for (const PlannedRun& r : runs) {
    labels.insert(r.label);
    EXPECT_EQ(policy_kind(r.label), r.policy);
    if (r.policy != "full") {
      EXPECT_EQ(r.row_budgets, std::vector<double>{r.budget}) << r.label;
    }
  }
  EXPECT_EQ(labels.size(), runs.size());
  EXPECT_EQ(find_run(runs, "lsa@1")->budget, 0.05);
  EXPECT_EQ(find_run(runs, "oracle@0")->budget, 0.1);
  EXPECT_EQ(find_run(runs, "lsa"), nullptr);
}

TEST(RunPlan, OneBudgetKeepsPlainNames) {
  const auto runs = plan_runs({"snapkv", "full"}, {0.1}, kNothingDone);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].label, "snapkv");
  EXPECT_EQ(runs[1].label, "full");
  EXPECT_EQ(runs[1].row_budgets, std::vector<double>{0.1});
}

TEST(RunPlan, DoneRowsAreNotPlannedAgain) {
  // A run stopped after the 10% rows: only the 5% ones remain, full among them once.
  const RowDone done = [](const std::string&, double b) { return b == 0.1; };
  const auto runs = plan_runs({"full", "lsa"}, {0.1, 0.05}, done);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].policy, "full");
  EXPECT_EQ(runs[0].budget, 0.05);
  EXPECT_EQ(runs[0].row_budgets, std::vector<double>{0.05});
  EXPECT_EQ(runs[1].label, "lsa@1");
  EXPECT_TRUE(plan_runs({"full", "lsa"}, {0.1}, done).empty());
}

TEST(RunPlan, AFullRunAddedForOthersWritesNoRow) {
  const RowDone full_done = [](const std::string& p, double) { return p == "full"; };
  auto runs = plan_runs({"full", "oracle"}, {0.1, 0.05}, full_done);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_FALSE(plans_policy(runs, "full"));
  ensure_full_run(runs, 0.1);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].label, "full");
  EXPECT_TRUE(runs[0].row_budgets.empty());
  ensure_full_run(runs, 0.1);  // once only
  EXPECT_EQ(runs.size(), 3u);
}

}  // namespace
}  // namespace fm::eval
