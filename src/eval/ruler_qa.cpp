#include "eval/ruler_qa.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/json.h"
#include "eval/ruler_calibration.h"
#include "eval/ruler_generators.h"
#include "eval/ruler_random.h"
#include "eval/ruler_templates.h"

namespace fm::eval {
namespace {

using ruler_template::replace_all;

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status field_error(const std::string& source, const std::string& where, const std::string& what) {
  return Status::error(source + ": " + where + ": " + what);
}

// Maps each distinct document to its index in byte order.
std::map<std::string, std::size_t> index_documents(const std::set<std::string>& distinct,
                                                   std::vector<std::string>& documents) {
  std::map<std::string, std::size_t> index;
  documents.assign(distinct.begin(), distinct.end());
  for (std::size_t i = 0; i < documents.size(); ++i) index[documents[i]] = i;
  return index;
}

}  // namespace

Result<QaCorpus> parse_squad_v2(std::string_view json_text, const std::string& source) {
  auto root = json::parse(json_text);
  if (!root) return root.status().with_context(source);
  const json::Value& articles = root->at("data");
  if (!articles.is_array()) return field_error(source, "data", "expected an array of articles");

  std::set<std::string> distinct;
  for (std::size_t a = 0; a < articles.array.size(); ++a) {
    const json::Value& paragraphs = articles.array[a].at("paragraphs");
    if (!paragraphs.is_array()) {
      return field_error(source, "data[" + std::to_string(a) + "].paragraphs", "expected an array");
    }
    for (std::size_t p = 0; p < paragraphs.array.size(); ++p) {
      const json::Value& context = paragraphs.array[p].at("context");
      if (!context.is_string()) {
        return field_error(source, "data[" + std::to_string(a) + "].paragraphs[" + std::to_string(p) + "].context",
                           "expected a string");
      }
      distinct.insert(context.string);
    }
  }
  QaCorpus corpus;
  const auto index = index_documents(distinct, corpus.documents);

  for (std::size_t a = 0; a < articles.array.size(); ++a) {
    const auto& paragraphs = articles.array[a].at("paragraphs").array;
    std::vector<std::size_t> article_docs;
    for (const auto& p : paragraphs) article_docs.push_back(index.at(p.at("context").string));
    for (std::size_t p = 0; p < paragraphs.size(); ++p) {
      const std::size_t gold = article_docs[p];
      const json::Value& qas = paragraphs[p].at("qas");
      const std::string where = "data[" + std::to_string(a) + "].paragraphs[" + std::to_string(p) + "].qas";
      if (!qas.is_array()) return field_error(source, where, "expected an array");
      for (std::size_t q = 0; q < qas.array.size(); ++q) {
        const json::Value& qa = qas.array[q];
        const std::string at = where + "[" + std::to_string(q) + "]";
        const json::Value& impossible = qa.at("is_impossible");
        if (impossible.kind == json::Value::Kind::kBool && impossible.boolean) continue;
        if (!qa.at("question").is_string()) return field_error(source, at + ".question", "expected a string");
        if (!qa.at("answers").is_array()) return field_error(source, at + ".answers", "expected an array");
        QaItem item;
        item.question = qa.at("question").string;
        for (const auto& answer : qa.at("answers").array) {
          if (!answer.at("text").is_string()) return field_error(source, at + ".answers", "answer without text");
          item.answers.push_back(answer.at("text").string);
        }
        if (item.answers.empty()) return field_error(source, at, "answerable question without answers");
        item.gold_documents = {gold};
        for (std::size_t d : article_docs) {
          if (d != gold) item.related_documents.push_back(d);
        }
        corpus.items.push_back(std::move(item));
      }
    }
  }
  if (corpus.items.empty()) return Status::error(source + ": no answerable questions");
  return corpus;
}

Result<QaCorpus> parse_hotpotqa(std::string_view json_text, const std::string& source) {
  auto root = json::parse(json_text);
  if (!root) return root.status().with_context(source);
  if (!root->is_array()) return field_error(source, "top level", "expected an array of questions");

  // A document is "title\n" + its sentences concatenated without separators.
  auto document_of = [](const json::Value& entry, std::string& out) -> bool {
    if (!entry.is_array() || entry.array.size() != 2 || !entry.array[0].is_string() ||
        !entry.array[1].is_array()) {
      return false;
    }
    out = entry.array[0].string + "\n";
    for (const auto& sentence : entry.array[1].array) {
      if (!sentence.is_string()) return false;
      out += sentence.string;
    }
    return true;
  };

  std::set<std::string> distinct;
  std::string doc;
  for (std::size_t i = 0; i < root->array.size(); ++i) {
    const json::Value& context = root->array[i].at("context");
    if (!context.is_array()) return field_error(source, "[" + std::to_string(i) + "].context", "expected an array");
    for (const auto& entry : context.array) {
      if (!document_of(entry, doc)) {
        return field_error(source, "[" + std::to_string(i) + "].context", "expected [title, [sentences]] pairs");
      }
      distinct.insert(doc);
    }
  }
  QaCorpus corpus;
  const auto index = index_documents(distinct, corpus.documents);
  for (std::size_t i = 0; i < root->array.size(); ++i) {
    const json::Value& entry = root->array[i];
    const std::string at = "[" + std::to_string(i) + "]";
    if (!entry.at("question").is_string()) return field_error(source, at + ".question", "expected a string");
    if (!entry.at("answer").is_string()) return field_error(source, at + ".answer", "expected a string");
    QaItem item;
    item.question = entry.at("question").string;
    item.answers = {entry.at("answer").string};
    for (const auto& c : entry.at("context").array) {
      document_of(c, doc);
      item.gold_documents.push_back(index.at(doc));
    }
    corpus.items.push_back(std::move(item));
  }
  if (corpus.items.empty()) return Status::error(source + ": no questions");
  return corpus;
}

Result<QaCorpus> load_squad_v2(const std::string& path) {
  auto text = read_text(path);
  if (!text) return text.status();
  return parse_squad_v2(*text, path);
}

Result<QaCorpus> load_hotpotqa(const std::string& path) {
  auto text = read_text(path);
  if (!text) return text.status();
  return parse_hotpotqa(*text, path);
}

Result<TaskSample> generate_qa(const QaCorpus& corpus, std::size_t index, std::uint64_t sample_seed,
                               std::size_t target_tokens, const TokenCounter& counter) {
  if (corpus.items.empty()) return Status::error("qa corpus has no questions");
  const QaItem& item = corpus.items[index % corpus.items.size()];
  const std::string prompt = replace_all(std::string(ruler_template::kQa), "{query}", item.question);
  const auto parts = ruler_template::split_at_context(prompt);

  auto build = [&](std::size_t num_docs) -> Result<TaskSample> {
    RulerRng rng(sample_seed);
    std::vector<std::size_t> chosen;
    const std::size_t gold = item.gold_documents.size();
    const std::size_t related = item.related_documents.size();
    if (num_docs < corpus.documents.size()) {
      chosen = item.gold_documents;
      if (num_docs - gold > related) {
        // Every related paragraph, then unrelated ones to make up the number.
        chosen.insert(chosen.end(), item.related_documents.begin(), item.related_documents.end());
        std::set<std::size_t> used(chosen.begin(), chosen.end());
        std::vector<std::size_t> others;
        for (std::size_t d = 0; d < corpus.documents.size(); ++d) {
          if (!used.count(d)) others.push_back(d);
        }
        const std::size_t wanted = std::min(num_docs - gold - related, others.size());
        for (std::size_t i : rng.sample(others.size(), wanted)) chosen.push_back(others[i]);
      } else {
        for (std::size_t i : rng.sample(related, num_docs - gold)) {
          chosen.push_back(item.related_documents[i]);
        }
      }
    } else {
      for (std::size_t i = 0; i < num_docs; ++i) chosen.push_back(i % corpus.documents.size());
    }
    rng.shuffle(chosen);

    std::string body;
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      if (i) body += "\n\n";
      std::string d = replace_all(std::string(ruler_template::kQaDocument), "{i}", std::to_string(i + 1));
      // The document last: its text may itself contain "{i}".
      body += replace_all(std::move(d), "{document}", corpus.documents[chosen[i]]);
    }
    TaskSample sample;
    fill_prompt(sample, parts.head, body, parts.tail);
    sample.answer_prefix = std::string(ruler_template::kQaAnswerPrefix);
    sample.answers = item.answers;
    return sample;
  };
  return calibrate_to_length(build, counter, target_tokens, item.gold_documents.size(), 10);
}

}  // namespace fm::eval
