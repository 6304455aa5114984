// `flashmem score-dump`: the C++ Memory Indexer's scores on a dump's samples, written as
// <out>/<id>.scores.npy [S, C], so that the trainer's PyTorch scores can be checked against
// the engine's (python/train_indexer/check_cpp_scores.py).
#include <cstdio>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/json.h"
#include "format/npy_reader.h"
#include "format/npy_writer.h"
#include "memory/indexer.h"

namespace fm::cli {

namespace {
int fail(const Status& s) {
  std::fprintf(stderr, "flashmem score-dump: %s\n", s.message().c_str());
  return 1;
}
}  // namespace

int cmd_score_dump(int argc, char** argv) {
  auto parsed = Args::parse(argc, argv, {});
  if (!parsed) return fail(parsed.status());
  const Args& args = *parsed;
  for (const auto& u : args.unknown({"--indexer", "--dump", "--split", "-o"})) {
    return fail(Status::error("unknown option " + u));
  }
  if (!args.has("--indexer") || !args.has("--dump") || !args.has("-o")) {
    return fail(Status::error("give --indexer W.safetensors --dump DIR -o OUT_DIR"));
  }
  auto indexer = MemoryIndexer::load(args.get("--indexer"));
  if (!indexer) return fail(indexer.status());
  const std::string dump = args.get("--dump"), out = args.get("-o"), split = args.get("--split", "val");
  std::ifstream manifest(dump + "/manifest.jsonl");
  if (!manifest) return fail(Status::error("cannot open " + dump + "/manifest.jsonl"));
  const IndexerConfig& c = indexer->config();
  std::string line;
  int documents = 0;
  while (std::getline(manifest, line)) {
    if (line.empty()) continue;
    auto entry = json::parse(line);
    if (!entry) return fail(entry.status());
    if (entry->at("split").string != split) continue;
    const std::string id = entry->at("id").string;
    const std::string dir = dump + "/" + entry->at("dir").string + "/";
    auto hidden = npy::read(dir + "hidden.npy");
    auto positions = npy::read(dir + "positions.npy");
    // Weights trained on entries score the dump's entry keys ([T, C, E, key_dim]) and give a
    // chunk its best entry's score, as LsaPolicy does.
    const bool entries = c.entry_tokens > 0;
    auto codes = npy::read(dir + (entries ? "entry_key_codes.npy" : "key_codes.npy"));
    auto scales = npy::read(dir + (entries ? "entry_key_scales.npy" : "key_scales.npy"));
    for (auto* r : {&hidden, &positions, &codes, &scales}) {
      if (!*r) return fail(r->status());
    }
    if (codes->shape.size() != (entries ? 4u : 3u)) return fail(Status::error(dir + ": unexpected key shape"));
    const int64_t S = hidden->shape.at(0), T = hidden->shape.at(1), C = codes->shape.at(1);
    const int64_t E = entries ? codes->shape.at(2) : 1;
    if (T != (int64_t)c.target_layers.size() || hidden->shape.at(2) != c.d_model || codes->shape.back() != c.key_dim ||
        hidden->dtype != "<f4" || codes->dtype != "|u1" || scales->dtype != "<f4" || positions->dtype != "<i4") {
      return fail(Status::error(dir + ": shapes or types do not match the indexer"));
    }
    std::vector<ChunkKeyStore> keys;
    for (int64_t t = 0; t < T; ++t) {
      keys.emplace_back(ChunkKeyShape{1, c.key_dim});
      for (int64_t k = 0; k < C * E; ++k) {
        keys.back().append_encoded(codes->as<uint8_t>() + (t * C * E + k) * c.key_dim, scales->as<float>()[t * C * E + k]);
      }
    }
    std::vector<const ChunkKeyStore*> key_ptrs;
    for (const auto& k : keys) key_ptrs.push_back(&k);
    std::vector<float> scores((size_t)(S * C)), entry_scores((size_t)(C * E));
    for (int64_t s = 0; s < S; ++s) {
      std::vector<const float*> rows;
      for (int64_t t = 0; t < T; ++t) rows.push_back(hidden->as<float>() + (s * T + t) * c.d_model);
      Status st = indexer->score(rows, positions->as<int32_t>()[s], key_ptrs, entry_scores);
      if (!st) return fail(st.with_context(id));
      for (int64_t ch = 0; ch < C; ++ch) {
        scores[s * C + ch] = *std::max_element(entry_scores.begin() + ch * E, entry_scores.begin() + (ch + 1) * E);
      }
    }
    if (Status st = npy::write(out + "/" + id + ".scores.npy", {S, C}, scores); !st) return fail(st);
    ++documents;
  }
  std::printf("scored %d %s documents into %s\n", documents, split.c_str(), out.c_str());
  return 0;
}

}  // namespace fm::cli
