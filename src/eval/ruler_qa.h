// RULER's two QA tasks (scripts/data/synthetic/qa.py): a real question whose gold
// paragraph(s) are mixed with distractor paragraphs from the same dataset until the
// prompt reaches the target length. qa_1 reads SQuAD v2.0 dev (dev-v2.0.json), qa_2
// HotpotQA dev in the distractor setting (hotpot_dev_distractor_v1.json).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/task_sample.h"

namespace fm::eval {

struct QaItem {
  std::string question;
  std::vector<std::string> answers;
  std::vector<std::size_t> gold_documents;     // indices into QaCorpus::documents
  std::vector<std::size_t> related_documents;  // SQuAD: other paragraphs of the same article
};

struct QaCorpus {
  // Distinct documents in byte order (RULER's sorted(set(...))). SQuAD: a paragraph's
  // context; HotpotQA: "title\n" + the paragraph's sentences concatenated.
  std::vector<std::string> documents;
  std::vector<QaItem> items;  // in file order; SQuAD's unanswerable questions are skipped
};

// Parsers of the published file formats; `source` names the input in errors.
Result<QaCorpus> parse_squad_v2(std::string_view json_text, const std::string& source);
Result<QaCorpus> parse_hotpotqa(std::string_view json_text, const std::string& source);
Result<QaCorpus> load_squad_v2(const std::string& path);
Result<QaCorpus> load_hotpotqa(const std::string& path);

// Prompt for question `index % items` at the largest number of documents with
// counter(context + question) <= target_tokens. The gold documents are always present;
// the rest are related paragraphs first, then random others, then (past the corpus
// size) the whole corpus repeated, all shuffled, as RULER does.
Result<TaskSample> generate_qa(const QaCorpus& corpus, std::size_t index, std::uint64_t sample_seed,
                               std::size_t target_tokens, const TokenCounter& counter);

}  // namespace fm::eval
