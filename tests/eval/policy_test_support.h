// What the eval tests share: a tokenizer sized to the tiny model's vocabulary, and a
// policy factory at one budget fraction (the oracle built from the recorded trace).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "eval/policy_decode.h"
#include "tokenizer/tiny_vocab.h"

namespace fm::test {

inline std::unique_ptr<Tokenizer> tiny_tokenizer(int n_vocab) {
  Vocab vocab = make_spm_vocab();
  while ((int)vocab.texts.size() < n_vocab) add_token(vocab, "w" + std::to_string(vocab.texts.size()));
  auto tok = Tokenizer::create(std::move(vocab));
  EXPECT_TRUE(tok);
  return std::move(tok.value());
}

inline eval::PolicyFactory policy_factory(double fraction) {
  return [fraction](const std::string& name, const AttentionMassTrace* trace) -> Result<std::unique_ptr<Policy>> {
    PolicyBudget budget;
    budget.fraction = fraction;
    if (name == "oracle") {
      if (!trace) return Status::error("no recording");
      return std::unique_ptr<Policy>(new OraclePolicy(budget, *trace));
    }
    return make_policy(name, budget, 7);
  };
}

}  // namespace fm::test
