// Long-text fidelity: after a long context of real prose, the next tokens of the same text
// are teacher-forced under each policy (so several selection cycles run), and each step's
// distribution is compared with full attention's: perplexity of the true text, top-1
// agreement with full, and mean KL(full || policy). Dense and cheap: every token counts,
// and it shows drift that short answers hide.
#pragma once

#include <string>
#include <vector>

#include "eval/policy_decode.h"

namespace fm::eval {

struct FidelityOutcome {
  std::string policy;
  double mean_nll = 0;         // nats per token of the true continuation
  double top1_agreement = 0;   // share of steps whose argmax equals full's
  double mean_kl = 0;          // nats, KL(full || policy), mean over steps
  PolicyOutcome decode;        // footprint and timing
  double ttft_s = 0;           // shared prefill plus this policy's suffix prefill
};

// tokens: context then continuation; the first context_tokens are the prompt. policies
// must include "full" (the reference).
Result<std::vector<FidelityOutcome>> measure_fidelity(engine::Engine& engine,
                                                      const Tokenizer& tokenizer,
                                                      const std::vector<int32_t>& tokens,
                                                      int context_tokens,
                                                      const std::vector<std::string>& policies,
                                                      const PolicyFactory& make_policy,
                                                      SharedPrefillOptions options);

// A long text from the essays in <data_dir>/haystack/paul_graham_essays (file-name order,
// starting at essay `first_essay` and wrapping around), blank lines between essays.
Result<std::string> essay_text(const std::string& data_dir, size_t first_essay, size_t min_bytes);

}  // namespace fm::eval
