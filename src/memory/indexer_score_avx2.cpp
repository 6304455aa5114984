// Compiled with -mavx2 -mfma -mf16c (CMake rule for *_avx2.cpp); called only after
// cpu_features() has confirmed those instructions.
#include "memory/indexer_score_impl.h"

namespace fm {

void score_chunks_avx2(const ChunkScoringInputs& in, float* scratch, float* logits) {
  score_chunks_impl(in, scratch, logits);
}

}  // namespace fm
