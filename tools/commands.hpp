// The subcommands of the fp8jit command; main.cpp parses, these run.
#pragma once

#include <string>
#include <vector>

#include "fp8jit/options.hpp"
#include "tools/models.hpp"

namespace fp8jit::tools {

struct RunArgs {
  std::string model = "llama3-8b";
  std::string shape_file;
  std::vector<std::int64_t> ms = {1, 16, 64, 256, 1024, 4096};
  std::vector<std::string> targets = {"sm_90a", "gfx942"};
  bool cross = false;  // cross-compile even when a GPU is present
  bool bias = true;
  int check_rows = 8;
  int iters = 20;
};

int cmd_info(const Options& options);
int cmd_run(const Options& options, const RunArgs& args);

}  // namespace fp8jit::tools
