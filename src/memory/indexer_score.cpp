#include "memory/indexer_score.h"

#include <array>

#include "core/cpu_features.h"
#include "core/fp8.h"
#include "memory/indexer_score_impl.h"

namespace fm {

const float* e4m3_decode_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int code = 0; code < 256; ++code) t[code] = fp8::e4m3_to_fp32(static_cast<uint8_t>(code));
    return t;
  }();
  return table.data();
}

void score_chunks_scalar(const ChunkScoringInputs& in, float* scratch, float* logits) {
  score_chunks_impl(in, scratch, logits);
}

namespace {
using ScoreFn = void (*)(const ChunkScoringInputs&, float*, float*);
ScoreFn best_score_fn() {
  static const ScoreFn fn = cpu_features().has_avx2_set() ? &score_chunks_avx2 : &score_chunks_scalar;
  return fn;
}
}  // namespace

void score_chunks(const ChunkScoringInputs& in, float* scratch, float* logits) {
  best_score_fn()(in, scratch, logits);
}

const char* score_chunks_isa() { return best_score_fn() == &score_chunks_avx2 ? "avx2" : "scalar"; }

}  // namespace fm
