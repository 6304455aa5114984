// `flashmem dump`: the training shards of the Memory Indexer (docs/indexer-training.md).
// For every document of a corpus manifest: prefill with full attention, teacher-force the
// prompt's tail one token at a time, then generate; every decode step records each global
// layer's attention mass per chunk, and every --sample-every steps the hidden states the
// runtime would give the indexer are kept with the golden chunks of the next window.
// The model is run once here; training never loads it.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "cli/report.h"
#include "core/json.h"
#include "core/text_file.h"
#include "format/npy_writer.h"
#include "memory/chunk_keys.h"
#include "memory/golden_chunks.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {

namespace {

int fail(const Status& s) {
  std::fprintf(stderr, "flashmem dump: %s\n", s.message().c_str());
  return 1;
}

struct DumpSettings {
  int chunk_tokens = 64;
  int window_steps = 64;
  // A sample whose window runs past the end of generation (the model stopped: a short
  // answer) is kept when at least this many steps remain; its mass is averaged over them.
  // The default (= window_steps) drops it, which loses the sample at the end of a prefill
  // whose window is the whole answer to a question.
  int min_window_steps = 64;
  int tail_tokens = 128;     // prompt tokens teacher-forced as decode steps
  int generate_tokens = 128;
  int sample_every = 8;
  int max_tokens = 8192;
  int recency_tokens = 128;  // the runtime's recency tail (PolicyBudget), kept outside labels
  int entry_tokens = 0;      // > 0: also one pooled key per entry of this many tokens
                             // (the runtime's --indexer-entry-tokens), entry_key_*.npy
  GoldenRule golden;
};

// The token ids of one manifest document: plain text, or a chat whose last user message
// the model answers.
Result<std::vector<int32_t>> document_ids(const Tokenizer& tok, const json::Value& entry,
                                          const std::string& corpus_dir, int max_tokens) {
  const std::string path = corpus_dir + "/" + entry.at("path").string;
  auto text = read_text_file(path);
  if (!text) return text.status();
  std::vector<int32_t> ids;
  if (entry.at("format").string == "chat") {
    auto doc = json::parse(*text);
    if (!doc) return doc.status().with_context(path);
    std::vector<ChatMessage> messages;
    for (const json::Value& m : doc->at("messages").array) {
      messages.push_back({m.at("role").string, m.at("content").string});
    }
    if (messages.empty()) return Status::error(path + ": no messages");
    auto chat = chat_template_for(tok.vocab());
    if (!chat) return chat.status();
    auto rendered = render_chat(*chat, messages, /*add_generation_prompt=*/true);
    if (!rendered) return rendered.status();
    ids = tok.encode(*rendered, chat->bos_text.empty(), /*parse_special=*/true);
  } else {
    ids = tok.encode(*text, true, false);
  }
  // Too long: keep the start and the end (the request, when the document ends with one),
  // drop the middle. Questions ask about the first 40% of a document, so the fact usually
  // stays; cutting the end instead would drop the request and leave a plain continuation.
  if ((int)ids.size() > max_tokens) {
    const int keep_end = std::min(512, max_tokens / 4);
    std::vector<int32_t> cut(ids.begin(), ids.begin() + (max_tokens - keep_end));
    cut.insert(cut.end(), ids.end() - keep_end, ids.end());
    ids.swap(cut);
  }
  return ids;
}

struct DocumentDump {
  int64_t n_prompt_tokens = 0, n_tokens = 0, n_samples = 0, n_chunks = 0;
  double golden_size_fraction = 0;  // sum over samples of |golden| / history chunks
  double golden_mass_held = 0;      // sum over samples
};

Result<DocumentDump> dump_document(engine::Engine& engine, const Tokenizer& tok, const std::vector<int32_t>& ids,
                                   const std::vector<int>& targets, const DumpSettings& s,
                                   const std::string& out_dir) {
  const ModelConfig& cfg = engine.config();
  engine::SequenceOptions options;  // full attention, the KV all on the device
  options.memory.chunk_tokens = s.chunk_tokens;
  options.memory.max_context_tokens = (int)ids.size() + s.generate_tokens + 1;
  auto seq = engine.open(options);
  if (!seq) return seq.status();
  // The recorder and the captured hidden states are the session's own instruments.
  Session& session = (*seq)->session();
  const KvLayout layout = kv_layout_for(cfg, s.chunk_tokens);
  LayerMassRecorder recorder(s.chunk_tokens, layout.n_global_layers);
  session.set_attention_hook(&recorder);
  session.set_capture_layers(targets);

  const int tail = std::min<int>(s.tail_tokens, (int)ids.size() / 4);
  const int prefix = (int)ids.size() - tail;
  FM_RETURN_IF_ERROR(session.prefill(std::span<const int32_t>(ids.data(), prefix)));
  recorder.clear();  // prefill queries are not decode steps

  const size_t n_embd = (size_t)cfg.n_embd;
  std::vector<float> hidden;       // [S, T, n_embd]
  std::vector<int32_t> positions, history, steps;
  std::vector<uint8_t> generated;
  int32_t next = 0;
  for (int step = 0;; ++step) {
    const bool in_tail = step < tail;
    if (!in_tail) {
      if (step - tail >= s.generate_tokens) break;
      next = Sampler::argmax(session.last_logits());
      if (tok.is_end_of_generation(next)) break;
    } else {
      next = ids[prefix + step];
    }
    if (step % s.sample_every == 0) {
      const std::span<const float> h = session.captured_hidden();
      hidden.insert(hidden.end(), h.begin(), h.end());
      positions.push_back(session.n_past());
      history.push_back(session.n_past() / s.chunk_tokens);
      steps.push_back(step);
      generated.push_back(in_tail ? 0 : 1);
    }
    FM_RETURN_IF_ERROR(session.decode(next));
  }
  // Keep the samples whose window has at least min_window_steps steps.
  const int64_t n_steps = (int64_t)recorder.trace().size();
  size_t n_samples = 0;
  while (n_samples < steps.size() && steps[n_samples] + s.min_window_steps <= n_steps) ++n_samples;
  hidden.resize(n_samples * targets.size() * n_embd);
  positions.resize(n_samples);
  history.resize(n_samples);
  steps.resize(n_samples);
  generated.resize(n_samples);

  // Pooled keys of every sealed chunk, per target layer: the bytes the runtime stores. One
  // key per entry_tokens tokens, in chunk order (entry_tokens = chunk: one key per chunk).
  const KvStore& kv = session.kv();
  const int64_t n_chunks = kv.n_tokens() / s.chunk_tokens;
  const int key_dim = layout.n_kv_heads * layout.head_dim;
  std::vector<kernels::KvRun> runs;
  // KvStore global-layer slot of each target layer.
  std::vector<int> slots;
  for (int target : targets) {
    int slot = 0;
    for (int l = 0; l < target; ++l) slot += cfg.layer_is_local[l] ? 0 : 1;
    slots.push_back(slot);
  }
  auto pooled_keys = [&](int entry_tokens, std::vector<uint8_t>& codes, std::vector<float>& scales) {
    const int per_chunk = s.chunk_tokens / entry_tokens;
    const size_t n = (size_t)n_chunks * per_chunk;
    for (size_t t = 0; t < targets.size(); ++t) {
      ChunkKeyStore keys(ChunkKeyShape{layout.n_kv_heads, layout.head_dim});
      kv.global_runs(slots[t], runs);
      for (int64_t c = 0; c < n_chunks; ++c) {
        for (int e = 0; e < per_chunk; ++e) {
          keys.append_from_token_keys(runs[c].k + (size_t)e * entry_tokens * key_dim, entry_tokens);
        }
      }
      codes.insert(codes.end(), keys.codes(), keys.codes() + n * key_dim);
      scales.insert(scales.end(), keys.scales(), keys.scales() + n);
    }
  };
  std::vector<uint8_t> codes, entry_codes;
  std::vector<float> scales, entry_scales;
  pooled_keys(s.chunk_tokens, codes, scales);
  // Finer keys for entry-level scoring.
  const int per_chunk = s.entry_tokens > 0 ? s.chunk_tokens / s.entry_tokens : 0;
  if (per_chunk > 0) pooled_keys(s.entry_tokens, entry_codes, entry_scales);
  FM_RETURN_IF_ERROR(kv.status());

  DocumentDump d;
  std::vector<float> mass(n_samples * targets.size() * n_chunks, 0.0f);
  std::vector<float> peak(mass.size(), 0.0f);
  std::vector<int64_t> indptr{0};
  std::vector<int32_t> indices;
  std::vector<float> scores;
  for (size_t i = 0; i < n_samples; ++i) {
    const auto window = window_mass(recorder.trace(), steps[i], s.window_steps, history[i]);
    const auto window_peak = window_peak_mass(recorder.trace(), steps[i], s.window_steps, history[i]);
    for (size_t t = 0; t < targets.size(); ++t) {
      const int slot = slots[t];
      const size_t at = (i * targets.size() + t) * n_chunks;
      std::copy(window[slot].begin(), window[slot].end(), mass.begin() + at);
      std::copy(window_peak[slot].begin(), window_peak[slot].end(), peak.begin() + at);
    }
    // The sink chunk and the recency tail (as lsa_select keeps them) are not contested.
    std::vector<bool> always_kept((size_t)history[i], false);
    const int64_t tail_from = std::max<int64_t>(0, ((int64_t)positions[i] - s.recency_tokens) / s.chunk_tokens);
    for (int64_t c = 0; c < history[i]; ++c) always_kept[c] = c == 0 || c >= tail_from;
    const GoldenSet g = golden_chunks(window, s.golden, &always_kept);
    indices.insert(indices.end(), g.chunks.begin(), g.chunks.end());
    scores.insert(scores.end(), g.scores.begin(), g.scores.end());
    indptr.push_back((int64_t)indices.size());
    d.golden_size_fraction += history[i] > 0 ? (double)g.chunks.size() / history[i] : 0.0;
    d.golden_mass_held += g.mass_held;
  }
  const int64_t S = (int64_t)n_samples, T = (int64_t)targets.size();
  if (mkdir(out_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::error("cannot create " + out_dir);
  }
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/hidden.npy", {S, T, (int64_t)n_embd}, hidden));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/positions.npy", {S}, positions));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/history_chunks.npy", {S}, history));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/steps.npy", {S}, steps));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/generated.npy", {S}, generated));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/key_codes.npy", {T, n_chunks, (int64_t)key_dim}, codes));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/key_scales.npy", {T, n_chunks}, scales));
  if (per_chunk > 0) {
    FM_RETURN_IF_ERROR(npy::write(out_dir + "/entry_key_codes.npy", {T, n_chunks, per_chunk, (int64_t)key_dim},
                                  entry_codes));
    FM_RETURN_IF_ERROR(npy::write(out_dir + "/entry_key_scales.npy", {T, n_chunks, per_chunk}, entry_scales));
  }
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/mass.npy", {S, T, n_chunks}, mass));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/mass_peak.npy", {S, T, n_chunks}, peak));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/golden_indptr.npy", {S + 1}, indptr));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/golden_indices.npy", {(int64_t)indices.size()}, indices));
  FM_RETURN_IF_ERROR(npy::write(out_dir + "/golden_scores.npy", {(int64_t)scores.size()}, scores));
  d.n_prompt_tokens = (int64_t)ids.size();
  d.n_tokens = kv.n_tokens();
  d.n_samples = S;
  d.n_chunks = n_chunks;
  return d;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

int cmd_dump(int argc, char** argv) {
  auto parsed = Args::parse(argc, argv, {});
  if (!parsed) return fail(parsed.status());
  const Args& args = *parsed;
  for (const auto& u : args.unknown({"-m", "--corpus", "-o", "-t", "--chunk", "--window", "--min-window", "--tail",
                                     "--generate", "--sample-every", "--max-tokens", "--golden-mass",
                                     "--golden-min-layers", "--limit", "--skip", "--entry-tokens"})) {
    return fail(Status::error("unknown option " + u));
  }
  if (!args.has("-m") || !args.has("--corpus") || !args.has("-o")) {
    return fail(Status::error("give -m MODEL --corpus CORPUS_DIR -o DUMP_DIR"));
  }
  DumpSettings s;
  auto threads = args.get_int("-t", ThreadPool::default_threads());
  auto chunk = args.get_int("--chunk", s.chunk_tokens);
  auto window = args.get_int("--window", s.window_steps);
  auto min_window = args.get_int("--min-window", window.status().is_ok() ? *window : s.window_steps);
  auto tail = args.get_int("--tail", s.tail_tokens);
  auto gen = args.get_int("--generate", s.generate_tokens);
  auto every = args.get_int("--sample-every", s.sample_every);
  auto max_tokens = args.get_int("--max-tokens", s.max_tokens);
  auto min_layers = args.get_int("--golden-min-layers", s.golden.min_layers);
  auto limit = args.get_int("--limit", 0);
  auto skip = args.get_int("--skip", 0);
  auto entry_tokens = args.get_int("--entry-tokens", 0);
  auto golden_mass = args.get_float("--golden-mass", s.golden.mass_fraction);
  for (const Status* st : {&threads.status(), &chunk.status(), &window.status(), &min_window.status(), &tail.status(),
                           &gen.status(), &every.status(), &max_tokens.status(), &min_layers.status(),
                           &limit.status(), &skip.status(), &golden_mass.status(), &entry_tokens.status()}) {
    if (!st->is_ok()) return fail(*st);
  }
  if (*chunk < 1 || *window < 1 || *min_window < 1 || *min_window > *window || *tail < 0 || *gen < 0 || *every < 1 || *max_tokens < 256 ||
      *golden_mass <= 0 || *golden_mass > 1 || *min_layers < 1 || *entry_tokens < 0) {
    return fail(Status::error("bad numeric option"));
  }
  if (*entry_tokens > 0 && *chunk % *entry_tokens != 0) {
    return fail(Status::error("--entry-tokens must divide the chunk size"));
  }
  s.entry_tokens = (int)*entry_tokens;
  s.chunk_tokens = (int)*chunk;
  s.window_steps = (int)*window;
  s.min_window_steps = (int)*min_window;
  s.tail_tokens = (int)*tail;
  s.generate_tokens = (int)*gen;
  s.sample_every = (int)*every;
  s.max_tokens = (int)*max_tokens;
  s.golden.mass_fraction = *golden_mass;
  s.golden.min_layers = (int)*min_layers;

  const std::string corpus = args.get("--corpus"), out = args.get("-o");
  auto manifest_text = read_text_file(corpus + "/manifest.jsonl");
  if (!manifest_text) return fail(manifest_text.status());
  auto engine = engine::Engine::load(args.get("-m"), (int)*threads);
  if (!engine) return fail(engine.status());
  const ModelConfig& cfg = (*engine)->config();
  auto tokenizer = (*engine)->tokenizer();
  if (!tokenizer) return fail(tokenizer.status());
  const Tokenizer* tok = *tokenizer;
  std::vector<int> targets;
  for (int l = 0; l < cfg.n_layers; ++l) {
    if (!cfg.layer_is_local[l]) targets.push_back(l);
  }
  if (mkdir(out.c_str(), 0755) != 0 && errno != EEXIST) return fail(Status::error("cannot create " + out));
  const KvLayout layout = kv_layout_for(cfg, s.chunk_tokens);
  {
    std::ofstream config(out + "/dump_config.json");
    std::string layers;
    for (size_t i = 0; i < targets.size(); ++i) layers += (i ? ", " : "") + std::to_string(targets[i]);
    config << "{\"model\": \"" << json_escape(cfg.describe()) << "\", \"chunk_tokens\": " << s.chunk_tokens
           << ", \"window_steps\": " << s.window_steps << ", \"min_window_steps\": " << s.min_window_steps
           << ", \"target_layers\": [" << layers
           << "], \"d_model\": " << cfg.n_embd << ", \"key_dim\": " << layout.n_kv_heads * layout.head_dim
           << ", \"n_kv_heads\": " << layout.n_kv_heads << ", \"kv_head_dim\": " << layout.head_dim
           << ", \"golden_mass\": " << s.golden.mass_fraction << ", \"golden_min_layers\": "
           << s.golden.min_layers << ", \"golden_contested\": true, \"sink_tokens\": 4, \"recency_tokens\": "
           << s.recency_tokens << ", \"rope_base\": "
           << cfg.rope_base_global << ", \"rms_eps\": " << cfg.rms_eps << ", \"tail_tokens\": "
           << s.tail_tokens << ", \"generate_tokens\": " << s.generate_tokens << ", \"sample_every\": "
           << s.sample_every << ", \"entry_tokens\": " << s.entry_tokens << "}\n";
    if (!config) return fail(Status::error("cannot write " + out + "/dump_config.json"));
  }
  // Appends, so that an interrupted dump resumes with --skip.
  std::ofstream manifest(out + "/manifest.jsonl", *skip > 0 ? std::ios::app : std::ios::trunc);
  std::istringstream lines(*manifest_text);
  std::string line;
  int64_t index = 0, done = 0, samples = 0;
  double size_fraction = 0, mass_held = 0;
  const double t0 = now_seconds();
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (index++ < *skip) continue;
    if (*limit > 0 && done >= *limit) break;
    auto entry = json::parse(line);
    if (!entry) return fail(entry.status().with_context("manifest line " + std::to_string(index)));
    const std::string id = entry->at("id").string;
    if (id.empty() || id.find('/') != std::string::npos) return fail(Status::error("bad document id"));
    auto ids = document_ids(*tok, *entry, corpus, s.max_tokens);
    if (!ids) return fail(ids.status());
    auto d = dump_document(**engine, *tok, *ids, targets, s, out + "/" + id);
    if (!d) return fail(d.status().with_context("document " + id));
    manifest << "{\"id\": \"" << json_escape(id) << "\", \"split\": \"" << json_escape(entry->at("split").string)
             << "\", \"kind\": \"" << json_escape(entry->at("kind").string) << "\", \"ending\": \""
             << json_escape(entry->at("ending").string) << "\", \"dir\": \""
             << json_escape(id) << "\", \"n_prompt_tokens\": " << d->n_prompt_tokens
             << ", \"n_tokens\": " << d->n_tokens << ", \"n_samples\": " << d->n_samples
             << ", \"n_chunks\": " << d->n_chunks << "}\n";
    manifest.flush();
    ++done;
    samples += d->n_samples;
    size_fraction += d->golden_size_fraction;
    mass_held += d->golden_mass_held;
    std::fprintf(stderr, "\r[%lld] %s: %lld tokens, %lld samples (%.0f s)          ", (long long)done, id.c_str(),
                 (long long)d->n_tokens, (long long)d->n_samples, now_seconds() - t0);
  }
  std::fprintf(stderr, "\n");
  std::printf("documents %lld, samples %lld; golden set: %.1f%% of history chunks, holding %.1f%% "
              "of the window's history mass (mean over samples and layers)\n",
              (long long)done, (long long)samples, samples ? 100 * size_fraction / samples : 0.0,
              samples ? 100 * mass_held / samples : 0.0);
  return 0;
}

}  // namespace fm::cli
