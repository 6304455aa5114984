#include "model/family.h"

namespace fm {

namespace {

constexpr ModelFamilyInfo kFamilies[] = {
    {"gemma3", ModelFamily::kGemma3, configure_gemma3},
    {"llama", ModelFamily::kLlama, configure_llama},
};

}  // namespace

const ModelFamilyInfo* find_model_family(std::string_view architecture) {
  for (const ModelFamilyInfo& f : kFamilies) {
    if (architecture == f.architecture) return &f;
  }
  return nullptr;
}

std::string supported_architectures() {
  std::string out;
  for (const ModelFamilyInfo& f : kFamilies) out += (out.empty() ? "" : ", ") + std::string(f.architecture);
  return out;
}

float read_float_or(const gguf::File& f, const std::string& key, float fallback) {
  if (!f.find(key)) return fallback;
  auto v = f.get_float(key);
  return v ? (float)*v : fallback;
}

}  // namespace fm
