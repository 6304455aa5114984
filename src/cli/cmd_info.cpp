// `flashmem info` and `flashmem tokenize`: look inside a model file.
#include <cstdio>
#include <map>
#include <sstream>

#include "runtime/session.h"

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "cli/report.h"
#include "model/deepseek4/model.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {

namespace {
int fail(const Status& s) {
  std::fprintf(stderr, "flashmem: %s\n", s.message().c_str());
  return 1;
}
}  // namespace

int cmd_info(int argc, char** argv) {
  auto args = Args::parse(argc, argv, {});
  if (!args) return fail(args.status());
  if (!args->has("-m")) return fail(Status::error("give a model with -m MODEL.gguf"));
  auto model = Model::load(args->get("-m"));
  if (!model) return fail(model.status());
  const Model& m = **model;
  std::printf("%s\n", m.config().describe().c_str());
  std::printf("gguf v%u, %zu metadata keys, %zu tensors\n", m.file().version(),
              m.file().metadata().size(), m.file().tensors().size());
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  for (const auto& t : m.file().tensors()) {
    auto& e = by_type[std::string(traits(t.type).name)];
    e.first++;
    e.second += t.n_bytes;
  }
  for (const auto& [name, e] : by_type) {
    std::printf("  %-5s %4d tensors %s\n", name.c_str(), e.first, format_bytes((int64_t)e.second).c_str());
  }
  std::printf("weights read per decoded token: %s\n",
              format_bytes((int64_t)m.weight_bytes_per_token()).c_str());
  return 0;
}

int cmd_tokenize(int argc, char** argv) {
  auto args = Args::parse(argc, argv, {"--special", "--no-bos"});
  if (!args) return fail(args.status());
  if (!args->has("-m") || !args->has("-p")) return fail(Status::error("give -m MODEL and -p TEXT"));
  auto file = gguf::File::open(args->get("-m"));
  if (!file) return fail(file.status());
  auto vocab = load_vocab(**file);
  if (!vocab) return fail(vocab.status());
  auto tok = Tokenizer::create(std::move(vocab.value()));
  if (!tok) return fail(tok.status());
  auto ids = (*tok)->encode(args->get("-p"), !args->has("--no-bos"), args->has("--special"));
  for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
  std::printf("\n");
  return 0;
}

}  // namespace fm::cli

namespace fm::cli {

// `flashmem logits -m MODEL --ids "2 651 ..." -o FILE`: raw fp32 next-token logits after
// the given ids, for comparisons against reference engines (python/compare_logits.py).
int cmd_logits(int argc, char** argv) {
  auto args = Args::parse(argc, argv, {});
  if (!args) return fail(args.status());
  if (!args->has("-m") || !args->has("--ids") || !args->has("-o")) {
    return fail(Status::error("give -m MODEL --ids \"ID ID ...\" -o FILE"));
  }
  std::vector<int32_t> ids;
  {
    std::istringstream s(args->get("--ids"));
    long long id;
    while (s >> id) ids.push_back((int32_t)id);
  }
  if (deepseek4::is_deepseek4_file(args->get("-m"))) {
    // Not in the engine yet: its scalar reference forward, the last position's logits.
    if (ids.empty()) return fail(Status::error("give at least one id with --ids"));
    auto model = deepseek4::load_model(args->get("-m"));
    if (!model) return fail(model.status());
    auto all = deepseek4::forward_logits(**model, ids);
    if (!all) return fail(all.status());
    const size_t n_vocab = (size_t)(*model)->config.n_vocab;
    std::FILE* f = std::fopen(args->get("-o").c_str(), "wb");
    if (!f) return fail(Status::error("cannot write '" + args->get("-o") + "'"));
    const bool ok = std::fwrite(all->data() + all->size() - n_vocab, sizeof(float), n_vocab, f) == n_vocab;
    if (std::fclose(f) != 0 || !ok) return fail(Status::error("short write to '" + args->get("-o") + "'"));
    return 0;
  }
  auto threads = args->get_int("-t", ThreadPool::default_threads());
  if (!threads) return fail(threads.status());
  auto engine = engine::Engine::load(args->get("-m"), (int)*threads);
  if (!engine) return fail(engine.status());
  auto seq = (*engine)->open({});
  if (!seq) return fail(seq.status());
  Status st = (*seq)->add_tokens(ids);
  if (!st) return fail(st);
  std::FILE* f = std::fopen(args->get("-o").c_str(), "wb");
  if (!f) return fail(Status::error("cannot write '" + args->get("-o") + "'"));
  const auto logits = (*seq)->logits();
  const bool ok = std::fwrite(logits.data(), sizeof(float), logits.size(), f) == logits.size();
  if (std::fclose(f) != 0 || !ok) return fail(Status::error("short write to '" + args->get("-o") + "'"));
  return 0;
}

}  // namespace fm::cli
