// Running a tool as a subprocess: no shell, stdin from /dev/null, stdout and stderr captured.
// Used for the offline clang and for disassemblers.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fp8jit::compiler {

struct ProcessResult {
  int status = -1;     // exit status; 128 + signal when killed by one
  std::string output;  // stdout and stderr, interleaved
};

// Runs args[0] (an absolute path) with args. Throws Error when the process cannot be started.
ProcessResult run_process(const std::vector<std::string>& args);

// A private directory (under the system's temp dir) removed with its contents on destruction,
// for a compiler's input and output files. Throws Error when it cannot be created.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace fp8jit::compiler
