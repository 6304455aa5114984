// Where `lsa` finds the trained indexer of a model when no --indexer is given: a file named
// after the model's shape (architecture, layers, width), so that any model of that shape
// (e.g. another quantization of Gemma 3 270M) finds the weights trained for it:
//   indexer-<architecture>-<n_layers>l-<n_embd>d.safetensors
// searched in $FLASHMEM_INDEXER_DIR, then <directory of the executable>/../weights (a
// build tree inside the repository), then <executable>/../share/flashmem/weights (an
// install).
#pragma once

#include <string>

#include "model/config.h"

namespace fm {

std::string default_indexer_file_name(const ModelConfig& model);
// The path of the first existing candidate, or "" when none exists.
std::string find_default_indexer(const ModelConfig& model);

}  // namespace fm
