// WarmupProgress: how `fp8jit warmup` shows its builds. On a terminal, one line redrawn in place
// ("[ 37/82]  45%  ETA 0:07  compiling fp8gemm_..."), with failures printed above it; otherwise
// (a pipe, a log file, CI) one plain line per finished kernel, so logs stay greppable.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "fp8jit/precompile.hpp"

namespace fp8jit::tools {

class WarmupProgress {
 public:
  // `interactive`: redraw one line (use for a terminal); `out`: where to draw.
  WarmupProgress(std::FILE* out, bool interactive);

  // Feed every warmup event (the library serializes the calls).
  void on_event(const WarmupEvent& event);
  // Erases the bar (interactive) so that the summary starts on a clean line.
  void finish();

  // True when `stream` is a terminal (isatty of its descriptor).
  static bool is_terminal(std::FILE* stream);

 private:
  void redraw(const WarmupEvent& event);
  void clear_line();
  int width() const;

  std::FILE* out_;
  bool interactive_;
  std::chrono::steady_clock::time_point start_;
  std::string current_;  // kernel of the last "started" event, for the bar
  bool drawn_ = false;
};

}  // namespace fp8jit::tools
