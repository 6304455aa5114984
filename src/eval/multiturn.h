// The multi-turn memory suite (the case LSA exists for): one long document, then several
// questions asked one after another in the same conversation, each about a different fact
// placed in a different, distant part of the document. A policy that evicted the part a
// later question needs cannot answer it; one that keeps evicted KV below the device and
// recalls it can. Generated here from word lists in the code: no data folder needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/task_sample.h"

namespace fm::eval {

struct MultiTurnSample {
  std::string id;
  std::string document;              // the long part, before the first question
  std::vector<std::string> questions;  // asked in this order, one per turn
  // The start of the model's reply to each question ("The pass code of the jade vault
  // is"), so that a small model answers with the fact rather than a run of digits.
  std::vector<std::string> answer_prefixes;
  std::vector<std::string> answers;    // what each question asks for
  std::vector<double> depths;          // where each asked fact sits in the document, [0, 1]
  size_t document_tokens = 0;
};

// A document of about target_tokens tokens (counted with `counter`) holding n_facts facts
// of four kinds (a vault's code, a gate's password, a parrot's name, a meeting's room) at
// depths spread evenly over it, and
// n_facts questions about them in an order that makes consecutive questions point to
// distant parts (never the neighbouring fact). Deterministic in (seed, index).
Result<MultiTurnSample> make_multiturn_sample(size_t target_tokens, int n_facts, uint64_t seed, size_t index,
                                              const TokenCounter& counter);

// A long-answer task (issue 15, item 2): the same kind of document with n_keys locker codes
// spread over it, and one question asking for all of them in order, so that the answer
// (about 8 tokens per locker) needs a different part of the document every few lines and
// several 64-step selection cycles must each find the next one. Scored with
// Metric::kOrderedAll.
Result<TaskSample> make_long_answer_sample(size_t target_tokens, int n_keys, uint64_t seed, size_t index,
                                           const TokenCounter& counter);

}  // namespace fm::eval
