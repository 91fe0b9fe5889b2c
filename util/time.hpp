// Instants as text: UTC timestamps for metadata, file names and listings.
#pragma once

#include <chrono>
#include <ctime>
#include <string>

namespace fp8jit::util {

// `t` formatted in UTC with strftime's `format`.
std::string format_utc(std::time_t t, const char* format);

// ISO-8601 UTC with seconds, "2025-06-01T12:34:56Z": of now, and of a time point.
std::string utc_now_iso8601();
std::string iso8601(std::chrono::system_clock::time_point t);

// "20250601T123456Z": now, as a file-name-safe UTC timestamp.
std::string utc_now_compact();

}  // namespace fp8jit::util
