// The `flashmem` command line: subcommands dispatch to src/cli/cmd_*.cpp.
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: flashmem <generate|bench|info> [options]\n");
    return 2;
  }
  std::fprintf(stderr, "flashmem: unknown command '%s'\n", argv[1]);
  return 2;
}
