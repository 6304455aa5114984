// Variable tracking (RULER scripts/data/synthetic/variable_tracking.py): chains
// "VAR A = 12345", "VAR B = VAR A ", ... hidden among noise lines; the model must list
// every variable that ends up holding the value. As in RULER, the prompt opens with one
// worked example (3-letter variables, at most 500 tokens) followed by its answer.
#include <algorithm>
#include <set>

#include "eval/ruler_calibration.h"
#include "eval/ruler_generators.h"
#include "eval/ruler_random.h"
#include "eval/ruler_templates.h"

namespace fm::eval {
namespace {

using ruler_template::replace_all;

// RULER calibrates its worked example to this many tokens.
constexpr std::size_t kExampleTokens = 500;

struct Chains {
  std::vector<std::vector<std::string>> variables;  // [chain][hop + 1]
  std::vector<std::vector<std::string>> lines;      // [chain][hop + 1]
};

// Distinct upper-case names of `name_length` letters; the first variable of each chain
// holds a 5-digit value (numpy randint(10000, 99999): 10000..99998) and each hop copies
// the previous variable. Hop lines keep RULER's trailing space.
Chains make_chains(RulerRng& rng, int num_chains, int num_hops, int name_length) {
  Chains c;
  std::set<std::string> taken;
  for (int chain = 0; chain < num_chains; ++chain) {
    std::vector<std::string> names;
    while (names.size() < static_cast<std::size_t>(num_hops + 1)) {
      std::string name;
      for (int i = 0; i < name_length; ++i) name.push_back(static_cast<char>('A' + rng.below(26)));
      if (taken.insert(name).second) names.push_back(name);
    }
    std::vector<std::string> lines;
    lines.push_back("VAR " + names[0] + " = " + std::to_string(rng.between(10000, 99998)));
    for (int hop = 0; hop < num_hops; ++hop) {
      lines.push_back("VAR " + names[hop + 1] + " = VAR " + names[hop] + " ");
    }
    c.variables.push_back(std::move(names));
    c.lines.push_back(std::move(lines));
  }
  return c;
}

// One filled prompt on a noise haystack of `units` lines, as `sample`.
TaskSample build_prompt(RulerRng& rng, int num_chains, int num_hops, int name_length,
                        std::size_t units, std::string_view example) {
  Chains chains = make_chains(rng, num_chains, num_hops, name_length);
  const std::string value = chains.lines[0][0].substr(chains.lines[0][0].rfind(' ') + 1);

  std::vector<std::string> lines(units, std::string(kRulerNoiseSentence));
  for (const auto& chain : chains.lines) {
    // Each chain's lines go to sorted distinct positions of the current list; the j-th
    // line shifts by j for the j lines inserted before it.
    std::vector<std::size_t> positions = rng.sample(lines.size(), chain.size());
    std::sort(positions.begin(), positions.end());
    for (std::size_t j = 0; j < chain.size(); ++j) {
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(positions[j] + j), chain[j]);
    }
  }
  std::string body;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i) body.push_back('\n');
    body += lines[i];
  }
  body = replace_all(std::move(body), ". \n", ".\n");  // RULER's clean-up; no-op on noise

  std::string prompt = replace_all(std::string(ruler_template::kVariableTracking), "{query}", value);
  std::string prefix = std::string(ruler_template::kVariableTrackingAnswerPrefix);
  prefix = replace_all(std::move(prefix), "{num_v}", std::to_string(num_hops + 1));
  prefix = replace_all(std::move(prefix), "{query}", value);

  const auto parts = ruler_template::split_at_context(prompt);
  TaskSample sample;
  fill_prompt(sample, std::string(example) + parts.head, body, parts.tail);
  sample.answer_prefix = std::move(prefix);
  sample.answers = chains.variables[0];
  return sample;
}

}  // namespace

Result<TaskSample> generate_variable_tracking(const RulerTaskConfig& task,
                                              std::uint64_t sample_seed,
                                              std::size_t target_tokens,
                                              const TokenCounter& counter) {
  if (task.num_chains < 1 || task.num_hops < 1) return Status::error(task.name + ": bad chain shape");
  const std::size_t min_units = static_cast<std::size_t>(task.num_hops + 1);

  // The worked example: its own prompt with its answer prompt appended, as RULER builds
  // it ("input answer_prefix" + " " + answers + "\n", then "\n" before the real task).
  const std::uint64_t example_seed = RulerRng::derive_seed(sample_seed, "vt-example", 0);
  const int example_hops = std::min(10, task.num_hops);
  auto example = calibrate_to_length(
      [&](std::size_t units) -> Result<TaskSample> {
        RulerRng rng(example_seed);
        TaskSample s = build_prompt(rng, task.num_chains, example_hops, 3, units, "");
        // Counted with its answer prefix, as RULER counts the example's input.
        s.question += s.answer_prefix;
        return s;
      },
      counter, kExampleTokens, min_units, 5);
  if (!example) return example.status().with_context(task.name + " worked example");
  std::string example_text = example->context + example->question;
  for (std::size_t i = 0; i < example->answers.size(); ++i) example_text += " " + example->answers[i];
  example_text += "\n\n";

  return calibrate_to_length(
      [&](std::size_t units) -> Result<TaskSample> {
        RulerRng rng(sample_seed);
        return build_prompt(rng, task.num_chains, task.num_hops, 5, units, example_text);
      },
      counter, target_tokens, min_units, 10);
}

}  // namespace fm::eval
