#include "memory/hadamard.h"

#include <cmath>

#include "core/status.h"

namespace fm {

void hadamard_transform(float* x, int n) {
  FM_ASSERT(is_power_of_two(n));
  // Butterflies pair element i with i + span inside blocks of 2 * span, span = 1, 2, 4, ...
  for (int span = 1; span < n; span *= 2) {
    for (int block = 0; block < n; block += 2 * span) {
      for (int i = block; i < block + span; ++i) {
        const float a = x[i];
        const float b = x[i + span];
        x[i] = a + b;
        x[i + span] = a - b;
      }
    }
  }
  // Divide (not multiply by the reciprocal): the published reference divides by sqrt(n).
  const float norm = static_cast<float>(std::sqrt(static_cast<double>(n)));
  for (int i = 0; i < n; ++i) x[i] /= norm;
}

}  // namespace fm
