// `fp8jit bench`: fp8jit against cuBLASLt in one process (tools/bench/suite.hpp), as a table.
#pragma once

#include <string>

#include "fp8jit/options.hpp"
#include "tools/models.hpp"

namespace fp8jit::tools {

struct BenchArgs {
  Workload work{"all", "", {1, 16, 64, 256, 1024, 4096, 8192}};
  int reps = 20;
  int min_calls = 8;  // calls per timed region
  bool bias = true;
  bool heuristic = false;  // also time the cost model's own config of each point
  std::string csv;  // also write the rows here
};

int cmd_bench(const Options& options, const BenchArgs& args);

}  // namespace fp8jit::tools
