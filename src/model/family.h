// What differs between model families, one file per family (family_gemma3.cpp,
// family_llama.cpp): the hyper-parameters and defaults its GGUF metadata leaves out, and
// the switches (ModelConfig::qk_norm, sandwich_norms, ffn_activation) by which the one
// forward pass, the weight binder and the CUDA backend follow the family. A new family is
// a new file and a line in the table in family.cpp; the others are not touched.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "format/gguf.h"
#include "model/config.h"

namespace fm {

struct ModelFamilyInfo {
  const char* architecture;  // GGUF general.architecture
  ModelFamily id;
  // Reads the family's own metadata and sets its defaults and switches; called after
  // read_model_config has read the keys every family shares (prefix: "<architecture>.").
  Status (*configure)(const gguf::File& file, const std::string& prefix, ModelConfig& config);
};

// nullptr for an architecture no family supports.
const ModelFamilyInfo* find_model_family(std::string_view architecture);
// "gemma3, llama": for error messages.
std::string supported_architectures();

// One file each.
Status configure_gemma3(const gguf::File& file, const std::string& prefix, ModelConfig& config);
Status configure_llama(const gguf::File& file, const std::string& prefix, ModelConfig& config);

// Shared by the families' files: a float key, or the fallback when absent or not a float.
float read_float_or(const gguf::File& file, const std::string& key, float fallback);

}  // namespace fm
