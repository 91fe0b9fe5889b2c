// fp8jit — run-time configuration. Filled from defaults, then FP8JIT_* environment variables (read
// here, once), then whatever the caller sets explicitly. docs/env.md lists every variable.
#pragma once

#include <string>
#include <vector>

namespace fp8jit {

struct Options {
  // Writable disk cache root. FP8JIT_CACHE_DIR; default $XDG_CACHE_HOME/fp8jit, else
  // $HOME/.cache/fp8jit.
  std::string cache_dir;
  // FP8JIT_DISABLE_DISK_CACHE=1: keep compiled kernels in memory only.
  bool disk_cache = true;
  // FP8JIT_DUMP_DIR: write every rendered source there (also done for each failed compile).
  std::string dump_dir;
  // FP8JIT_DEVICE: ordinal of the GPU a Context drives.
  int device = 0;
  // FP8JIT_VERBOSE=1: one line on stderr per compile and per disk-cache hit.
  bool verbose = false;

  // Defaults overlaid with the FP8JIT_* variables of the current environment. Throws
  // InvalidArgument naming the variable when a value does not parse.
  static Options from_env();
};

}  // namespace fp8jit
