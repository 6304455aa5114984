#include "eval/results_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include "core/json.h"

namespace fm::eval {

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += (char)c;
        }
    }
  }
  return out + "\"";
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

std::string ResultRow::key() const {
  return suite + "|" + task + "|" + std::to_string(length) + "|" + std::to_string(index) + "|" + policy + "|" +
         number(budget);
}

std::string ResultRow::to_json() const {
  std::string answers_json = "[";
  for (size_t i = 0; i < answers.size(); ++i) answers_json += (i ? ", " : "") + quote(answers[i]);
  answers_json += "]";
  return "{\"suite\": " + quote(suite) + ", \"task\": " + quote(task) + ", \"length\": " + std::to_string(length) +
         ", \"index\": " + std::to_string(index) + ", \"policy\": " + quote(policy) + ", \"budget\": " +
         number(budget) + ", \"score\": " + number(score) + ", \"score_first\": " + number(score_first) + ", \"score_forced\": " + number(score_forced) + ", \"kv_a_mean_percent\": " + number(kv_a_mean_percent) +
         ", \"kv_a_peak_percent\": " + number(kv_a_peak_percent) + ", \"kv_b_mean_percent\": " +
         number(kv_b_mean_percent) + ", \"attended_mean_percent\": " + number(attended_mean_percent) +
         ", \"pages_recalled\": " + std::to_string(pages_recalled) + ", \"chunks_discarded\": " +
         std::to_string(chunks_discarded) + ", \"decode_tok_s\": " + number(decode_tok_s) + ", \"ttft_s\": " +
         number(ttft_s) + ", \"agreement_with_full\": " + number(agreement_with_full) + ", \"prompt_tokens\": " +
         std::to_string(prompt_tokens) + ", \"mean_nll\": " + number(mean_nll) + ", \"mean_kl\": " +
         number(mean_kl) + ", \"answer_logprob\": " + number(answer_logprob) +
         ", \"answer_tokens\": " + std::to_string(answer_tokens) + ", \"prediction\": " + quote(prediction) + ", \"answers\": " +
         answers_json + "}";
}

Result<std::vector<ResultRow>> read_result_rows(const std::string& path) {
  std::vector<ResultRow> rows;
  std::ifstream in(path);
  if (!in) return rows;  // no file yet: nothing done
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto v = json::parse(line);
    // A line cut short by an interrupted run is skipped (it is redone), not fatal.
    if (!v) {
      std::fprintf(stderr, "flashmem eval: %s:%lld: skipping an unreadable line (%s)\n", path.c_str(),
                   (long long)line_no, v.status().message().c_str());
      continue;
    }
    ResultRow r;
    r.suite = v->at("suite").string;
    r.task = v->at("task").string;
    r.policy = v->at("policy").string;
    r.length = (int64_t)v->at("length").number;
    r.index = (int64_t)v->at("index").number;
    r.budget = v->at("budget").number;
    r.score = v->at("score").number;
    r.score_first = v->has("score_first") ? v->at("score_first").number : -1;
    r.score_forced = v->has("score_forced") ? v->at("score_forced").number : -1;
    r.kv_a_mean_percent = v->at("kv_a_mean_percent").number;
    r.kv_a_peak_percent = v->at("kv_a_peak_percent").number;
    r.kv_b_mean_percent = v->at("kv_b_mean_percent").number;
    r.attended_mean_percent = v->has("attended_mean_percent") ? v->at("attended_mean_percent").number : -1;
    r.pages_recalled = v->has("pages_recalled") ? (int64_t)v->at("pages_recalled").number : -1;
    r.chunks_discarded = v->has("chunks_discarded") ? (int64_t)v->at("chunks_discarded").number : -1;
    r.decode_tok_s = v->at("decode_tok_s").number;
    r.ttft_s = v->at("ttft_s").number;
    r.agreement_with_full = v->has("agreement_with_full") ? v->at("agreement_with_full").number : -1;
    r.prompt_tokens = (int64_t)v->at("prompt_tokens").number;
    r.mean_nll = v->has("mean_nll") ? v->at("mean_nll").number : -1;
    r.mean_kl = v->has("mean_kl") ? v->at("mean_kl").number : -1;
    r.answer_logprob = v->has("answer_logprob") ? v->at("answer_logprob").number : 0;
    r.answer_tokens = v->has("answer_tokens") ? (int64_t)v->at("answer_tokens").number : 0;
    r.prediction = v->at("prediction").string;
    for (const json::Value& a : v->at("answers").array) r.answers.push_back(a.string);
    if (r.suite.empty() || r.task.empty() || r.policy.empty()) {
      return Status::error(path + ":" + std::to_string(line_no) + ": missing suite, task or policy");
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

namespace {

// The two-sided 95% quantile of Student's t with df degrees of freedom: exact values to
// df 30, then t ~ z + (z^3 + z) / (4 df) (the first term of its expansion in 1/df).
double t_975(int64_t df) {
  static const double kTable[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                    2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                    2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df >= 1 && df <= 30) return kTable[df - 1];
  const double z = 1.959964;
  return z + (z * z * z + z) / (4.0 * (double)df);
}

struct MeanAcc {
  // One sample says nothing about spread: for a score in [0, 1] the widest interval it can
  // have; for an unbounded quantity, infinity.
  double one_sample_half_width = 1.0;
  int64_t n = 0;
  double sum = 0, sum_sq = 0;
  void add(double v) {
    ++n;
    sum += v;
    sum_sq += v * v;
  }
  MeanInterval get() const {
    MeanInterval m;
    m.n = n;
    if (n == 0) return m;
    m.mean = sum / n;
    const double var = n > 1 ? std::max(0.0, (sum_sq - n * m.mean * m.mean) / (n - 1)) : 0.0;
    m.half_width_95 = n > 1 ? t_975(n - 1) * std::sqrt(var / n) : one_sample_half_width;
    return m;
  }
};

// suite|task|length|index|budget: the sample a row belongs to, whatever its policy.
std::string sample_key(const ResultRow& r) {
  return r.suite + "|" + r.task + "|" + std::to_string(r.length) + "|" + std::to_string(r.index) + "|" +
         number(r.budget);
}

}  // namespace

std::map<SummaryKey, SummaryCell> summarize(const std::vector<ResultRow>& rows) {
  struct Acc {
    MeanAcc score, first, forced, answer_diff{std::numeric_limits<double>::infinity()};
    double kv_a = 0, kv_a_peak = 0, kv_b = 0, tps = 0, ttft = 0, agree = 0;
    int64_t n_agree = 0;
  };
  std::map<std::string, const ResultRow*> full_rows;
  for (const ResultRow& r : rows) {
    if (r.policy == "full") full_rows[sample_key(r)] = &r;
  }
  // The "all tasks" row compares policies on the same samples: a sample counts there only
  // when every policy of its (suite, length, budget) has a row for it (a run that stopped
  // part way, or a policy added later, would otherwise weigh the tasks differently).
  std::map<std::tuple<std::string, int64_t, double>, std::set<std::string>> group_policies;
  std::map<std::string, std::set<std::string>> sample_policies;
  for (const ResultRow& r : rows) {
    group_policies[{r.suite, r.length, r.budget}].insert(r.policy);
    sample_policies[sample_key(r)].insert(r.policy);
  }
  std::map<SummaryKey, Acc> acc;
  for (const ResultRow& r : rows) {
    const bool complete = sample_policies[sample_key(r)].size() == group_policies[{r.suite, r.length, r.budget}].size();
    for (const std::string& task : {r.task, std::string("all")}) {
      if (task == "all" && !complete) continue;
      Acc& a = acc[{r.suite, task, r.length, r.budget, r.policy}];
      a.score.add(r.score);
      if (r.score_first >= 0) a.first.add(r.score_first);
      if (r.score_forced >= 0) a.forced.add(r.score_forced);
      a.kv_a += r.kv_a_mean_percent;
      a.kv_a_peak += r.kv_a_peak_percent;
      a.kv_b += r.kv_b_mean_percent;
      a.tps += r.decode_tok_s;
      a.ttft += r.ttft_s;
      if (r.agreement_with_full >= 0) {
        a.agree += r.agreement_with_full;
        ++a.n_agree;
      }
      auto full = full_rows.find(sample_key(r));
      if (r.answer_tokens > 0 && full != full_rows.end() && full->second->answer_tokens == r.answer_tokens) {
        a.answer_diff.add((r.answer_logprob - full->second->answer_logprob) / (double)r.answer_tokens);
      }
    }
  }
  std::map<SummaryKey, SummaryCell> out;
  for (const auto& [key, a] : acc) {
    SummaryCell c;
    const MeanInterval score = a.score.get();
    c.n = score.n;
    c.mean = score.mean;
    c.half_width_95 = score.half_width_95;
    c.kv_a_mean_percent = a.kv_a / c.n;
    c.kv_a_peak_percent = a.kv_a_peak / c.n;
    c.kv_b_mean_percent = a.kv_b / c.n;
    c.decode_tok_s = a.tps / c.n;
    c.ttft_s = a.ttft / c.n;
    c.agreement = a.n_agree ? a.agree / a.n_agree : -1;
    c.answer_logprob_diff = a.answer_diff.get();
    c.first_answer = a.first.get();
    c.forced_spans = a.forced.get();
    out[key] = c;
  }
  return out;
}

namespace {

// One markdown table over every (suite, task, length, budget) with a cell for which
// `has` holds; `format` writes a cell.
std::string markdown_table(const std::map<SummaryKey, SummaryCell>& cells,
                           const std::function<bool(const SummaryCell&)>& has,
                           const std::function<std::string(const SummaryCell&)>& format) {
  std::vector<std::string> policies;
  std::set<std::tuple<std::string, std::string, int64_t, double>> row_keys;
  for (const auto& [key, c] : cells) {
    if (!has(c)) continue;
    const std::string& p = std::get<4>(key);
    if (std::find(policies.begin(), policies.end(), p) == policies.end()) policies.push_back(p);
    row_keys.insert({std::get<0>(key), std::get<1>(key), std::get<2>(key), std::get<3>(key)});
  }
  if (row_keys.empty()) return "";
  std::ostringstream md;
  md << "| suite | task | length | budget |";
  for (const auto& p : policies) md << " " << p << " |";
  md << "\n|---|---|---|---|";
  for (size_t i = 0; i < policies.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& [suite, task, length, budget] : row_keys) {
    md << "| " << suite << " | " << task << " | " << length << " | " << number(100 * budget) << "% |";
    for (const auto& p : policies) {
      auto it = cells.find({suite, task, length, budget, p});
      md << " " << (it == cells.end() || !has(it->second) ? "-" : format(it->second)) << " |";
    }
    md << "\n";
  }
  return md.str();
}

}  // namespace

std::string summary_markdown(const std::vector<ResultRow>& rows) {
  const auto cells = summarize(rows);
  char buf[128];
  std::string md = markdown_table(
      cells, [](const SummaryCell&) { return true; },
      [&](const SummaryCell& c) {
        std::snprintf(buf, sizeof buf, "%.1f ± %.1f (n=%lld, kv %.1f%%)", 100 * c.mean, 100 * c.half_width_95,
                      (long long)c.n, c.kv_a_mean_percent);
        return std::string(buf);
      });
  const std::string answers = markdown_table(
      cells, [](const SummaryCell& c) { return c.answer_logprob_diff.n > 0; },
      [&](const SummaryCell& c) {
        std::snprintf(buf, sizeof buf, "%+.3f ± %.3f (n=%lld)", c.answer_logprob_diff.mean,
                      c.answer_logprob_diff.half_width_95, (long long)c.answer_logprob_diff.n);
        return std::string(buf);
      });
  // A score table over the samples that measured it: mean ± 95% half-width in %.
  const auto score_table = [&](MeanInterval SummaryCell::*score) {
    return markdown_table(
        cells, [score](const SummaryCell& c) { return (c.*score).n > 0; },
        [&buf, score](const SummaryCell& c) {
          const MeanInterval& m = c.*score;
          std::snprintf(buf, sizeof buf, "%.1f ± %.1f (n=%lld)", 100 * m.mean, 100 * m.half_width_95, (long long)m.n);
          return std::string(buf);
        });
  };
  const std::string first = score_table(&SummaryCell::first_answer);
  if (!first.empty()) {
    md += "\nFirst answer only: the same metric on the text up to the first line break (or the model's own "
          "next \"Question:\"), and 0 when that answer names the other option or a superseded value.\n\n" +
          first;
  }
  const std::string forced = score_table(&SummaryCell::forced_spans);
  if (!forced.empty()) {
    md += "\nTeacher-forced reference answer: the share of its scored spans (a long answer's codes) whose every "
          "token is the policy's top-1 given the reference so far.\n\n" +
          forced;
  }
  // Over all tasks of a suite: the rest of what each policy costs and how close it stays.
  std::map<SummaryKey, SummaryCell> all_tasks;
  for (const auto& [key, c] : cells) {
    if (std::get<1>(key) == "all") all_tasks[key] = c;
  }
  const std::string costs = markdown_table(
      all_tasks, [](const SummaryCell&) { return true; },
      [&](const SummaryCell& c) {
        char agree[16] = "-";
        if (c.agreement >= 0) std::snprintf(agree, sizeof agree, "%.1f%%", 100 * c.agreement);
        std::snprintf(buf, sizeof buf, "agree %s, %.1f tok/s, ttft %.1f s, kv (a) %.1f%% / %.1f%%, (b) %.1f%%", agree,
                      c.decode_tok_s, c.ttft_s, c.kv_a_mean_percent, c.kv_a_peak_percent, c.kv_b_mean_percent);
        return std::string(buf);
      });
  md += "\nPer policy over all tasks: greedy-token agreement with full, decode tok/s (the rate each sequence "
        "advanced at; policies decode as one batch, so this is not a single-stream speed: see `flashmem "
        "bench`), time to first token (shared prefill + the policy's own suffix), footprint (a) mean / "
        "peak and (b) mean, as % of full attention.\n\n" +
        costs;
  if (!answers.empty()) {
    md += "\nAnswer-token log-likelihood against full: per sample, (ln p of the reference answer under the "
          "policy - under full) / answer tokens, in nats per token (0 = as likely as under full, negative = "
          "less likely), mean ± 95% half-width over the samples that measured it.\n\n" +
          answers;
  }
  return md;
}

}  // namespace fm::eval
