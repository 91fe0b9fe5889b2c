#include "tools/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace fp8jit::tools {

namespace {

std::string clock_text(double seconds) {
  const long s = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

const char* status_of(const PrecompiledKernel& k) {
  return !k.error.empty() ? "FAILED" : k.cached ? "cached" : "compiled";
}

}  // namespace

WarmupProgress::WarmupProgress(std::FILE* out, bool interactive)
    : out_(out), interactive_(interactive), start_(std::chrono::steady_clock::now()) {}

bool WarmupProgress::is_terminal(std::FILE* stream) { return ::isatty(::fileno(stream)) == 1; }

int WarmupProgress::width() const {
  winsize ws{};
  if (::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

void WarmupProgress::clear_line() {
  if (!drawn_) return;
  std::fputs("\r\033[K", out_);
  drawn_ = false;
}

void WarmupProgress::redraw(const WarmupEvent& e) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int digits = static_cast<int>(std::to_string(e.total).size());
  const int percent = e.total ? static_cast<int>(100 * e.done / e.total) : 100;
  std::string eta = "--:--";
  if (e.done > 0) eta = clock_text(elapsed / e.done * (e.total - e.done));
  char head[96];
  std::snprintf(head, sizeof head, "[%*zu/%zu] %3d%%  ETA %s  ", digits, e.done, e.total, percent,
                eta.c_str());
  std::string line = head + (e.running ? "building " + current_ : std::string("done"));
  const std::size_t cols = static_cast<std::size_t>(width()) - 1;
  if (line.size() > cols) line = line.substr(0, cols - 3) + "...";
  std::fprintf(out_, "\r%s\033[K", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void WarmupProgress::on_event(const WarmupEvent& e) {
  const PrecompiledKernel& k = *e.kernel;
  if (e.kind == WarmupEvent::Kind::started) {
    current_ = k.kernel_name + " (" + k.target + ")";
    if (interactive_) redraw(e);
    return;
  }
  if (interactive_) {
    if (!k.error.empty()) {
      clear_line();
      std::fprintf(out_, "FAILED %s %s\n  %s\n", k.target.c_str(), k.kernel_name.c_str(),
                   k.error.c_str());
    }
    redraw(e);
    return;
  }
  const int digits = static_cast<int>(std::to_string(e.total).size());
  std::fprintf(out_, "[%*zu/%zu] %-8s %-8s %8.1f ms  %s\n", digits, e.done, e.total, status_of(k),
               k.target.c_str(), k.compile_ms, k.kernel_name.c_str());
  if (!k.error.empty()) std::fprintf(out_, "  %s\n", k.error.c_str());
  std::fflush(out_);
}

void WarmupProgress::finish() {
  if (interactive_) clear_line();
  std::fflush(out_);
}

}  // namespace fp8jit::tools
