#include "util/time.hpp"

namespace fp8jit::util {

std::string format_utc(std::time_t t, const char* format) {
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char text[64];
  const std::size_t n = std::strftime(text, sizeof text, format, &utc);
  return std::string(text, n);
}

std::string utc_now_iso8601() { return format_utc(std::time(nullptr), "%Y-%m-%dT%H:%M:%SZ"); }

std::string iso8601(std::chrono::system_clock::time_point t) {
  return format_utc(std::chrono::system_clock::to_time_t(t), "%Y-%m-%dT%H:%M:%SZ");
}

std::string utc_now_compact() { return format_utc(std::time(nullptr), "%Y%m%dT%H%M%SZ"); }

}  // namespace fp8jit::util
