// `fp8jit tune`: times candidate configs on the GPU and writes a tuned table (tools/bench/tune.hpp).
#pragma once

#include <string>

#include "fp8jit/options.hpp"
#include "tools/models.hpp"

namespace fp8jit::tools {

struct TuneArgs {
  Workload work{"all", "", {1, 2, 4, 8, 16, 32, 64}};
  int candidates = 16;
  int reps = 10;
  int min_calls = 8;
  unsigned jobs = 0;  // kernels built at once (0: one per hardware thread)
  bool bias = true;
  std::string out;   // the table to write (required)
  std::string dump;  // also every candidate's outcome, one CSV line each (empty: none)
};

int cmd_tune(const Options& options, const TuneArgs& args);

}  // namespace fp8jit::tools
