// Where the evaluation data lives (haystack essays, word lists, in RULER's layout; never in
// the repository): $FLASHMEM_DATA. "" when it is unset or has no haystack folder. RULER's
// own data gives RULER's numbers; python/make_synthetic_eval_data.py writes a stand-in with
// the same layout that the tests run on.
#pragma once

#include <string>

namespace fm::eval {

std::string find_data_dir();

}  // namespace fm::eval
