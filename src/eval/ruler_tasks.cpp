#include "eval/ruler_tasks.h"

#include <filesystem>

#include "eval/ruler_generators.h"
#include "eval/ruler_random.h"

namespace fm::eval {
namespace {

RulerTaskConfig niah(std::string name, RulerHaystackKind haystack, RulerNeedleType key,
                     RulerNeedleType value, int keys, int values, int queries) {
  RulerTaskConfig c;
  c.name = std::move(name);
  c.kind = RulerTaskKind::kNeedle;
  c.metric = Metric::kStringMatchAll;
  c.max_new_tokens = 128;
  c.haystack = haystack;
  c.key_type = key;
  c.value_type = value;
  c.num_keys = keys;
  c.num_values = values;
  c.num_queries = queries;
  return c;
}

std::vector<RulerTaskConfig> make_configs() {
  using H = RulerHaystackKind;
  using N = RulerNeedleType;
  // scripts/synthetic.yaml, in its order.
  std::vector<RulerTaskConfig> tasks = {
      niah("niah_single_1", H::kNoise, N::kWords, N::kNumbers, 1, 1, 1),
      niah("niah_single_2", H::kEssay, N::kWords, N::kNumbers, 1, 1, 1),
      niah("niah_single_3", H::kEssay, N::kWords, N::kUuids, 1, 1, 1),
      niah("niah_multikey_1", H::kEssay, N::kWords, N::kNumbers, 4, 1, 1),
      niah("niah_multikey_2", H::kNeedle, N::kWords, N::kNumbers, 1, 1, 1),
      niah("niah_multikey_3", H::kNeedle, N::kUuids, N::kUuids, 1, 1, 1),
      niah("niah_multivalue", H::kEssay, N::kWords, N::kNumbers, 1, 4, 1),
      niah("niah_multiquery", H::kEssay, N::kWords, N::kNumbers, 1, 1, 4),
  };
  RulerTaskConfig vt;
  vt.name = "vt";
  vt.kind = RulerTaskKind::kVariableTracking;
  vt.haystack = H::kNoise;
  vt.num_chains = 1;
  vt.num_hops = 4;
  vt.max_new_tokens = 30;
  tasks.push_back(vt);

  RulerTaskConfig cwe;
  cwe.name = "cwe";
  cwe.kind = RulerTaskKind::kCommonWords;
  cwe.common_repeats = 30;
  cwe.uncommon_repeats = 3;
  cwe.num_common = 10;
  cwe.max_new_tokens = 120;
  tasks.push_back(cwe);

  RulerTaskConfig fwe;
  fwe.name = "fwe";
  fwe.kind = RulerTaskKind::kFrequentWords;
  fwe.zipf_alpha = 2.0;
  fwe.coded_word_length = 6;
  fwe.max_new_tokens = 50;
  tasks.push_back(fwe);

  for (auto [name, dataset] : {std::pair{"qa_1", RulerQaDataset::kSquad},
                               std::pair{"qa_2", RulerQaDataset::kHotpotQa}}) {
    RulerTaskConfig qa;
    qa.name = name;
    qa.kind = RulerTaskKind::kQa;
    qa.qa_dataset = dataset;
    qa.metric = Metric::kStringMatchPart;
    qa.max_new_tokens = 32;
    tasks.push_back(qa);
  }
  return tasks;
}

}  // namespace

const std::vector<RulerTaskConfig>& ruler_task_configs() {
  static const std::vector<RulerTaskConfig> tasks = make_configs();
  return tasks;
}

std::vector<std::string> ruler11_task_names() {
  std::vector<std::string> names;
  for (const auto& t : ruler_task_configs()) {
    if (t.kind != RulerTaskKind::kQa) names.push_back(t.name);
  }
  return names;
}

const RulerTaskConfig* find_ruler_task(std::string_view name) {
  for (const auto& t : ruler_task_configs()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<RulerData> load_ruler_data(const std::string& data_dir) {
  namespace fs = std::filesystem;
  auto haystack = load_ruler_haystack(data_dir);
  if (!haystack) return haystack.status();
  RulerData data;
  data.haystack = std::move(*haystack);
  std::error_code ec;
  const fs::path squad = fs::path(data_dir) / "qa" / "squad.json";
  if (fs::exists(squad, ec)) {
    auto corpus = load_squad_v2(squad.string());
    if (!corpus) return corpus.status();
    data.squad = std::move(*corpus);
  }
  const fs::path hotpot = fs::path(data_dir) / "qa" / "hotpotqa.json";
  if (fs::exists(hotpot, ec)) {
    auto corpus = load_hotpotqa(hotpot.string());
    if (!corpus) return corpus.status();
    data.hotpotqa = std::move(*corpus);
  }
  return data;
}

Result<TaskSample> generate_ruler_sample(const RulerTaskConfig& task, std::size_t target_tokens,
                                         std::uint64_t seed, std::size_t index,
                                         const RulerData& data, const TokenCounter& counter) {
  const std::uint64_t sample_seed = RulerRng::derive_seed(seed, task.name, index);
  Result<TaskSample> sample = Status::error("unknown task kind");
  switch (task.kind) {
    case RulerTaskKind::kNeedle:
      sample = generate_niah(task, data.haystack, sample_seed, target_tokens, counter);
      break;
    case RulerTaskKind::kVariableTracking:
      sample = generate_variable_tracking(task, sample_seed, target_tokens, counter);
      break;
    case RulerTaskKind::kCommonWords:
      sample = generate_common_words(task, data.haystack, sample_seed, target_tokens, counter);
      break;
    case RulerTaskKind::kFrequentWords:
      sample = generate_frequent_words(task, sample_seed, target_tokens, counter);
      break;
    case RulerTaskKind::kQa: {
      const bool squad = task.qa_dataset == RulerQaDataset::kSquad;
      const std::optional<QaCorpus>& corpus = squad ? data.squad : data.hotpotqa;
      if (!corpus) {
        return Status::error(task.name + ": " + (squad ? "qa/squad.json (SQuAD v2.0 dev)"
                                                       : "qa/hotpotqa.json (HotpotQA dev distractor)") +
                             " is not loaded");
      }
      sample = generate_qa(*corpus, index, sample_seed, target_tokens, counter);
      break;
    }
  }
  if (!sample) return sample.status().with_context(task.name + " sample " + std::to_string(index));
  sample->task = task.name;
  sample->id = task.name + "-" + std::to_string(target_tokens) + "-" + std::to_string(seed) + "-" +
               std::to_string(index);
  sample->metric = task.metric;
  sample->max_new_tokens = task.max_new_tokens;
  return sample;
}

}  // namespace fm::eval
