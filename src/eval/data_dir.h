// Where the shared evaluation data lives (haystack essays, word lists: ../shared/data from
// the repository root, never copied into the repository): $FLASHMEM_DATA, else
// <executable>/../../shared/data (a build folder in the repository), else ../shared/data
// from the working directory, else /work/shared/data. "" when none exists.
#pragma once

#include <string>

namespace fm::eval {

std::string find_shared_data_dir();

}  // namespace fm::eval
