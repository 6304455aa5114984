// The `flashmem` subcommands. Each returns the process exit code.
#pragma once

namespace fm::cli {

int cmd_generate(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_recall(int argc, char** argv);
int cmd_dump(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_score_dump(int argc, char** argv);
int cmd_gpu_check(int argc, char** argv);
int cmd_gpu_bench(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_route(int argc, char** argv);
int cmd_deepseek4_lsa(int argc, char** argv);

}  // namespace fm::cli
