// The `flashmem` command line.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"

namespace {
void usage(FILE* out) {
  // fputs, not printf: the text has '%' signs ("--budget 10%").
  std::fputs(
               "usage: flashmem <command> [options]\n"
               "commands:\n"
               "  generate  -m MODEL (-p TEXT | -f FILE) [-n N] [--chat] [-t THREADS]\n"
               "            [--temp T] [--top-k K] [--top-p P] [--seed S] [--chunk TOKENS]\n"
               "            [--policy full|recency|random|streaming|snapkv|quest|oracle|lsa|lsa-indexer]\n"
               "            [--budget 10%] [--indexer F|random] [--lsa-prompt-share 0.5]\n"
               "            [--level2-top-k K] [--device-budget MIB] [--host-budget MIB]\n"
               "            [--disk DIR] [--chunks-per-page N] [--trace FILE.jsonl]\n"
               "            [--indexer-queries N] [--indexer-combine max|mean]\n"
               "            [--indexer-entry-tokens N] [--lsa-cycle 64]   (also for bench, eval, serve)\n"
               "  bench     -m MODEL [--context N[,N...]] [--decode N] [--rounds R] [-t THREADS]\n"
               "            [--policy P[,P...]] [--budget 10%] [--device-budget MIB]\n"
               "            [--recall-lead STEPS] [--json]   prefill and decode speed, footprint;\n"
               "            --rounds decodes every (context, policy) in interleaved rounds\n"
               "  info      -m MODEL            model metadata and tensor summary\n"
               "  tokenize  -m MODEL -p TEXT    token ids of a text\n"
               "  recall    -m MODEL -f TEXT [--budget 10%] [--decode 128] [--indexer F]\n"
               "            decode attention mass kept by each policy at the same budget\n"
               "  dump      -m MODEL --corpus DIR -o DUMP_DIR [--max-tokens 8192] [--tail 128] [--min-window 64]\n"
               "            [--generate 128] [--sample-every 8]   indexer training shards\n"
               "  eval      -m MODEL [--suite ruler|memqa|fidelity|multiturn|longanswer] [--tasks T,...] [--lengths 4k,8k]\n"
               "            [--policies full,lsa,...] [--budget 10%[,5%...]] [--samples N] [--out F.jsonl]\n"
               "            [--turns 4] [--keys 8] every policy on generated tasks from one shared prefill; resumes\n"
               "  eval      --report F.jsonl[,F2...]   the summary table from result files\n"
               "  score-dump --indexer W --dump DIR -o OUT [--split val]   C++ indexer scores\n"
               "            of a dump's samples, for checking against the trainer\n"
               "  logits    -m MODEL --ids \"ID ...\" -o FILE   raw next-token logits\n"
               "  deepseek4-lsa -m MODEL --ids \"ID ...\" [-n 256] [--page-entries 64] [--kmax 4]\n"
               "            [--threshold 0.5] [--cycle 64] [--sink-entries 1] [--recency-entries 16]\n"
               "            [--evict host|disk] [--disk DIR] [--no-lsa] [--fp32-index-keys] [--compare-full]\n"
               "            greedy DeepSeek-V4 decoding with LSA over the tiered store; prints the footprint\n"
               "  serve     -m MODEL [--host 127.0.0.1] [--port 8080] [--policy lsa --budget 10%]\n"
               "            [--device-budget MIB] [--host-budget MIB] [--disk DIR] [--parallel N]\n"
               "            [--api-key KEY] [--queue N] [--queue-timeout S] [--max-tokens N] [--ctx N]\n"
               "            [--store redis://HOST:PORT] [--role both|prefill]\n"
               "            OpenAI-compatible server; sessions keep their KV (docs/server.md), shared\n"
               "            by every process on one store (docs/distributed.md)\n"
               "  route     --decode URL[,URL...] [--prefill URL[,URL...]] [--port 8080] [--timeout S]\n"
               "            router in front of serve processes sharing a store: prefill on one,\n"
               "            decode on another (docs/distributed.md)\n"
               "  gpu-check -m MODEL [--context N] [--steps N]   the CUDA backend against the CPU\n"
               "  gpu-bench -m MODEL [--context 32k,128k] [--batch 1,16] [--policy full,lsa-indexer]\n"
               "            [--budget 10%] [--device-kv-percent 15] [--decode 128]   GPU decode speed\n"
               "            (both need a build with -DFLASHMEM_CUDA=ON)\n",
             out);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  // `flashmem --help` and `flashmem COMMAND --help` (before any option parsing, which
  // would take --help for an option needing a value); an unknown COMMAND is an error even
  // with --help.
  static const char* const kCommands[] = {"generate", "bench", "info", "tokenize", "logits", "recall", "dump",
                                          "eval", "score-dump", "gpu-check", "serve", "route", "gpu-bench", "deepseek4-lsa", "-h", "--help"};
  const bool known = std::any_of(std::begin(kCommands), std::end(kCommands),
                                 [&](const char* c) { return !std::strcmp(argv[1], c); });
  for (int i = 1; i < argc && known; ++i) {
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    }
  }
  const std::string command = argv[1];
  if (command == "generate") return fm::cli::cmd_generate(argc - 2, argv + 2);
  if (command == "bench") return fm::cli::cmd_bench(argc - 2, argv + 2);
  if (command == "info") return fm::cli::cmd_info(argc - 2, argv + 2);
  if (command == "tokenize") return fm::cli::cmd_tokenize(argc - 2, argv + 2);
  if (command == "logits") return fm::cli::cmd_logits(argc - 2, argv + 2);
  if (command == "recall") return fm::cli::cmd_recall(argc - 2, argv + 2);
  if (command == "dump") return fm::cli::cmd_dump(argc - 2, argv + 2);
  if (command == "eval") return fm::cli::cmd_eval(argc - 2, argv + 2);
  if (command == "score-dump") return fm::cli::cmd_score_dump(argc - 2, argv + 2);
  if (command == "gpu-check") return fm::cli::cmd_gpu_check(argc - 2, argv + 2);
#if FLASHMEM_NO_SERVER
  if (command == "serve" || command == "route") {
    std::fprintf(stderr, "flashmem %s: this binary was built without the server (cmake -DFLASHMEM_SERVER=ON)\n",
                 command.c_str());
    return 1;
  }
#else
  if (command == "serve") return fm::cli::cmd_serve(argc - 2, argv + 2);
  if (command == "route") return fm::cli::cmd_route(argc - 2, argv + 2);
#endif
  if (command == "gpu-bench") return fm::cli::cmd_gpu_bench(argc - 2, argv + 2);
  if (command == "deepseek4-lsa") return fm::cli::cmd_deepseek4_lsa(argc - 2, argv + 2);
  std::fprintf(stderr, "flashmem: unknown command '%s'\n", command.c_str());
  usage(stderr);
  return 2;
}
