#include "eval/results_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
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
         number(budget) + ", \"score\": " + number(score) + ", \"kv_a_mean_percent\": " + number(kv_a_mean_percent) +
         ", \"kv_a_peak_percent\": " + number(kv_a_peak_percent) + ", \"kv_b_mean_percent\": " +
         number(kv_b_mean_percent) + ", \"decode_tok_s\": " + number(decode_tok_s) + ", \"ttft_s\": " +
         number(ttft_s) + ", \"agreement_with_full\": " + number(agreement_with_full) + ", \"prompt_tokens\": " +
         std::to_string(prompt_tokens) + ", \"mean_nll\": " + number(mean_nll) + ", \"mean_kl\": " +
         number(mean_kl) + ", \"prediction\": " + quote(prediction) + ", \"answers\": " +
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
    r.kv_a_mean_percent = v->at("kv_a_mean_percent").number;
    r.kv_a_peak_percent = v->at("kv_a_peak_percent").number;
    r.kv_b_mean_percent = v->at("kv_b_mean_percent").number;
    r.decode_tok_s = v->at("decode_tok_s").number;
    r.ttft_s = v->at("ttft_s").number;
    r.agreement_with_full = v->has("agreement_with_full") ? v->at("agreement_with_full").number : -1;
    r.prompt_tokens = (int64_t)v->at("prompt_tokens").number;
    r.mean_nll = v->has("mean_nll") ? v->at("mean_nll").number : -1;
    r.mean_kl = v->has("mean_kl") ? v->at("mean_kl").number : -1;
    r.prediction = v->at("prediction").string;
    for (const json::Value& a : v->at("answers").array) r.answers.push_back(a.string);
    if (r.suite.empty() || r.task.empty() || r.policy.empty()) {
      return Status::error(path + ":" + std::to_string(line_no) + ": missing suite, task or policy");
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::map<std::tuple<std::string, std::string, int64_t, std::string>, SummaryCell> summarize(
    const std::vector<ResultRow>& rows) {
  struct Acc {
    int64_t n = 0;
    double sum = 0, sum_sq = 0, kv_a = 0, kv_b = 0, tps = 0, agree = 0;
    int64_t n_agree = 0;
  };
  std::map<std::tuple<std::string, std::string, int64_t, std::string>, Acc> acc;
  for (const ResultRow& r : rows) {
    for (const std::string& task : {r.task, std::string("all")}) {
      Acc& a = acc[{r.suite, task, r.length, r.policy}];
      ++a.n;
      a.sum += r.score;
      a.sum_sq += r.score * r.score;
      a.kv_a += r.kv_a_mean_percent;
      a.kv_b += r.kv_b_mean_percent;
      a.tps += r.decode_tok_s;
      if (r.agreement_with_full >= 0) {
        a.agree += r.agreement_with_full;
        ++a.n_agree;
      }
    }
  }
  std::map<std::tuple<std::string, std::string, int64_t, std::string>, SummaryCell> out;
  for (const auto& [key, a] : acc) {
    SummaryCell c;
    c.n = a.n;
    c.mean = a.sum / a.n;
    const double var = a.n > 1 ? std::max(0.0, (a.sum_sq - a.n * c.mean * c.mean) / (a.n - 1)) : 0.0;
    c.half_width_95 = a.n > 1 ? 1.96 * std::sqrt(var / a.n) : 1.0;
    c.kv_a_mean_percent = a.kv_a / a.n;
    c.kv_b_mean_percent = a.kv_b / a.n;
    c.decode_tok_s = a.tps / a.n;
    c.agreement = a.n_agree ? a.agree / a.n_agree : -1;
    out[key] = c;
  }
  return out;
}

std::string summary_markdown(const std::vector<ResultRow>& rows) {
  const auto cells = summarize(rows);
  std::vector<std::string> policies;
  for (const auto& [key, c] : cells) {
    const std::string& p = std::get<3>(key);
    if (std::find(policies.begin(), policies.end(), p) == policies.end()) policies.push_back(p);
  }
  std::ostringstream md;
  md << "| suite | task | length |";
  for (const auto& p : policies) md << " " << p << " |";
  md << "\n|---|---|---|";
  for (size_t i = 0; i < policies.size(); ++i) md << "---|";
  md << "\n";
  std::set<std::tuple<std::string, std::string, int64_t>> row_keys;
  for (const auto& [key, c] : cells) row_keys.insert({std::get<0>(key), std::get<1>(key), std::get<2>(key)});
  char buf[128];
  for (const auto& [suite, task, length] : row_keys) {
    md << "| " << suite << " | " << task << " | " << length << " |";
    for (const auto& p : policies) {
      auto it = cells.find({suite, task, length, p});
      if (it == cells.end()) {
        md << " - |";
        continue;
      }
      const SummaryCell& c = it->second;
      std::snprintf(buf, sizeof buf, " %.1f ± %.1f (n=%lld, kv %.1f%%) |", 100 * c.mean, 100 * c.half_width_95,
                    (long long)c.n, c.kv_a_mean_percent);
      md << buf;
    }
    md << "\n";
  }
  return md.str();
}

}  // namespace fm::eval
