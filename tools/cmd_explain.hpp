// `fp8jit explain M N K`: which tuned-table row or rule chooses the config of one GEMM, and why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fp8jit/options.hpp"

namespace fp8jit::tools {

struct ExplainArgs {
  std::int64_t m = 0, n = 0, k = 0;
  std::string target;               // "sm_90a", "gfx942:sramecc+:xnack-"; empty: the local GPU's
  std::optional<int> cu;            // multiprocessors / CUs (0: any); unset: the local GPU's, or
                                    // 0 with --target
  std::string out = "bf16";         // bf16 | fp16
  bool bias = false;
  std::vector<std::string> tables;  // tuned tables, merged in order; empty: FP8JIT_TUNED_TABLES
  int candidates = 5;               // runner-up configs of the cost model to print
};

// Prints the chosen config, the rule (table row file:line, bucket, or heuristic), the kernel name
// and launch shape, and the cost model's view: for a heuristic choice its reasoning and the
// runner-up candidates, for a row the model's estimate next to the heuristic's own pick. Needs no
// GPU when `target` is given. Throws InvalidArgument for bad arguments or tables, DriverError
// when no target is given and no GPU opens.
int cmd_explain(const Options& options, const ExplainArgs& args);

}  // namespace fp8jit::tools
