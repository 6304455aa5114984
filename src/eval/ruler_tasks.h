// The RULER benchmark's tasks (Hsieh et al. 2024, "RULER: What's the Real Context Size
// of Your Long-Context Language Models?", github.com/NVIDIA/RULER): the 13 task
// configurations of scripts/synthetic.yaml, and a deterministic generator that builds
// sample `index` of a task at a target prompt length.
//
// A sample reproduces RULER's prompt text: `context + question` is RULER's "input"
// (the task template filled in, few-shot example included) and `answer_prefix` is the
// published answer prefix (leading space included). Length calibration differs in one
// accounting detail: RULER fits input + answer prefix + tokens_to_generate into
// max_seq_length, here counter(context + question) <= target_tokens; a runner wanting
// RULER's budget passes target = max_seq_length - max_new_tokens - template overhead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/ruler_haystack.h"
#include "eval/ruler_qa.h"
#include "eval/task_sample.h"

namespace fm::eval {

enum class RulerTaskKind { kNeedle, kVariableTracking, kCommonWords, kFrequentWords, kQa };
enum class RulerHaystackKind { kNoise, kEssay, kNeedle };  // "needle": distractor needles
enum class RulerNeedleType { kWords, kNumbers, kUuids };
enum class RulerQaDataset { kSquad, kHotpotQa };

struct RulerTaskConfig {
  std::string name;
  RulerTaskKind kind = RulerTaskKind::kNeedle;
  Metric metric = Metric::kStringMatchAll;
  int max_new_tokens = 128;  // RULER's tokens_to_generate

  // Needle in a haystack.
  RulerHaystackKind haystack = RulerHaystackKind::kEssay;
  RulerNeedleType key_type = RulerNeedleType::kWords;
  RulerNeedleType value_type = RulerNeedleType::kNumbers;
  int num_keys = 1;     // needles with distinct keys (raised to num_queries)
  int num_values = 1;   // values per key, one needle each
  int num_queries = 1;  // keys asked about

  // Variable tracking.
  int num_chains = 1;
  int num_hops = 4;

  // Common words extraction.
  int common_repeats = 30;    // freq_cw
  int uncommon_repeats = 3;   // freq_ucw
  int num_common = 10;        // num_cw

  // Frequent words extraction.
  double zipf_alpha = 2.0;
  int coded_word_length = 6;

  // QA.
  RulerQaDataset qa_dataset = RulerQaDataset::kSquad;
};

// The 13 tasks in RULER's order: niah_single_1..3, niah_multikey_1..3, niah_multivalue,
// niah_multiquery, vt, cwe, fwe, qa_1, qa_2.
const std::vector<RulerTaskConfig>& ruler_task_configs();
// RULER-13 without the two QA tasks, which need downloaded datasets.
std::vector<std::string> ruler11_task_names();
const RulerTaskConfig* find_ruler_task(std::string_view name);

// The depths, in percent of a haystack's sentences, at which RULER may place a needle:
// numpy's round(linspace(0, 100, 40)), i.e. 0, 3, 5, 8, ..., 97, 100.
const std::vector<int>& ruler_needle_depths();

// Everything the generators read. The QA corpora are optional: qa_1/qa_2 fail with an
// error naming the missing file when they are absent.
struct RulerData {
  RulerHaystack haystack;
  std::optional<QaCorpus> squad;
  std::optional<QaCorpus> hotpotqa;
};

// Loads the haystack from `data_dir` (see load_ruler_haystack) and, when present,
// <data_dir>/qa/squad.json (SQuAD v2.0 dev) and <data_dir>/qa/hotpotqa.json (HotpotQA
// dev distractor), the files RULER's download_qa_dataset.sh fetches.
Result<RulerData> load_ruler_data(const std::string& data_dir);

// Sample `index` of `task`, calibrated so that counter(context + question) <=
// target_tokens and as close to it as the haystack granularity allows. Byte-identical
// for equal (task, target_tokens, seed, index, data, counter).
Result<TaskSample> generate_ruler_sample(const RulerTaskConfig& task, std::size_t target_tokens,
                                         std::uint64_t seed, std::size_t index,
                                         const RulerData& data, const TokenCounter& counter);

}  // namespace fm::eval
