#include "eval/run_plan.h"

#include <algorithm>

namespace fm::eval {

std::vector<PlannedRun> plan_runs(const std::vector<std::string>& policies, const std::vector<double>& budgets,
                                  const RowDone& done) {
  std::vector<PlannedRun> runs;
  for (const std::string& policy : policies) {
    const size_t first_of_policy = runs.size();
    for (size_t i = 0; i < budgets.size(); ++i) {
      if (done(policy, budgets[i])) continue;
      if (policy == "full") {
        if (runs.size() == first_of_policy) runs.push_back({policy, policy, budgets[i], {}});
        runs.back().row_budgets.push_back(budgets[i]);
        continue;
      }
      const std::string label = budgets.size() > 1 ? policy + "@" + std::to_string(i) : policy;
      runs.push_back({label, policy, budgets[i], {budgets[i]}});
    }
  }
  return runs;
}

void ensure_full_run(std::vector<PlannedRun>& runs, double budget) {
  if (plans_policy(runs, "full")) return;
  runs.insert(runs.begin(), PlannedRun{"full", "full", budget, {}});
}

bool plans_policy(const std::vector<PlannedRun>& runs, std::string_view policy) {
  return std::any_of(runs.begin(), runs.end(), [&](const PlannedRun& r) { return r.policy == policy; });
}

const PlannedRun* find_run(const std::vector<PlannedRun>& runs, std::string_view label) {
  for (const PlannedRun& r : runs) {
    if (r.label == label) return &r;
  }
  return nullptr;
}

}  // namespace fm::eval
