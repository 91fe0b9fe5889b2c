// Running a tool as a subprocess: no shell, stdin from /dev/null, stdout and stderr captured.
// Used for the offline clang and for disassemblers.
#pragma once

#include <string>
#include <vector>

namespace fp8jit::compiler {

struct ProcessResult {
  int status = -1;     // exit status; 128 + signal when killed by one
  std::string output;  // stdout and stderr, interleaved
};

// Runs args[0] (an absolute path) with args. Throws Error when the process cannot be started.
ProcessResult run_process(const std::vector<std::string>& args);

}  // namespace fp8jit::compiler
