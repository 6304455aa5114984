// Which decodes one evaluation sample still needs, when several policies run at several
// budgets on one shared prefill (`flashmem eval --budget 10%,5%`): one run per result row
// that is missing, except full attention, which does not depend on the budget and runs
// once for every budget whose row is missing. A run may also be planned only for what
// other runs need from it (full's tokens for agreement, its recording for the oracle):
// it then writes no row.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fm::eval {

struct PlannedRun {
  // Unique within a plan: what decode_under_policies calls the run. The policy itself when
  // the sample has one budget; "policy@i" (the i-th budget) when it has several, full
  // always plain (policy_kind in eval/policy_decode.h reads the part before '@').
  std::string label;
  std::string policy;
  double budget = 0;                // the budget the policy is built with
  std::vector<double> row_budgets;  // the rows it writes, one per budget; empty: none
};

// done(policy, budget): the result file already holds that row.
using RowDone = std::function<bool(const std::string& policy, double budget)>;

// In the order of `policies`, each policy's missing budgets in the order of `budgets`.
std::vector<PlannedRun> plan_runs(const std::vector<std::string>& policies, const std::vector<double>& budgets,
                                  const RowDone& done);

// Puts a run of full attention first, writing no row, unless full is planned already.
void ensure_full_run(std::vector<PlannedRun>& runs, double budget);

bool plans_policy(const std::vector<PlannedRun>& runs, std::string_view policy);

// The run called `label`; nullptr when there is none.
const PlannedRun* find_run(const std::vector<PlannedRun>& runs, std::string_view label);

}  // namespace fm::eval
