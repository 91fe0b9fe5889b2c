// The one place fp8jit reads its environment (docs/env.md).
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "cache/redis.hpp"
#include "compiler/target.hpp"
#include "fp8jit/error.hpp"
#include "fp8jit/options.hpp"
#include "util/bytes.hpp"

namespace fp8jit {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

bool parse_bool(const char* name, const char* v) {
  const std::string s(v);
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  throw InvalidArgument(std::string("failed to read ") + name + "='" + s +
                        "': expected 1/0, true/false, yes/no or on/off");
}

int parse_int(const char* name, const char* v, int lo, int hi) {
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (!end || *end || x < lo || x > hi)
    throw InvalidArgument(std::string("failed to read ") + name + "='" + v +
                          "': expected an integer in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
  return static_cast<int>(x);
}

std::vector<std::string> split_paths(const char* v) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = v;; ++p) {
    if (*p == ':' || *p == '\0') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      if (*p == '\0') break;
    } else {
      cur += *p;
    }
  }
  return out;
}

// The tables shipped with fp8jit: every *.csv of share/fp8jit/tuned next to the binary that holds
// this code (an installed lib/, lib/<multiarch>/ or bin/, or a build directory), sorted so that
// merging is stable.
// Rows are keyed by arch and cu_num, so tables for other GPUs do not apply here.
std::vector<std::string> shipped_tuned_tables() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&shipped_tuned_tables), &info) == 0 || !info.dli_fname)
    return {};
  std::error_code ec;
  const auto dir = std::filesystem::absolute(info.dli_fname, ec).parent_path();
  std::vector<std::string> out;
  for (const auto& base : {dir / "share/fp8jit/tuned", dir.parent_path() / "share/fp8jit/tuned",
                           dir.parent_path().parent_path() / "share/fp8jit/tuned"}) {
    for (const auto& e : std::filesystem::directory_iterator(base, ec))
      if (e.path().extension() == ".csv") out.push_back(e.path().string());
    if (!out.empty()) break;
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Options Options::from_env() {
  Options o;
  if (const char* x = env("XDG_CACHE_HOME"))
    o.cache_dir = std::string(x) + "/fp8jit";
  else if (const char* h = env("HOME"))
    o.cache_dir = std::string(h) + "/.cache/fp8jit";
  else
    o.cache_dir = "/tmp/fp8jit-cache";
  if (const char* v = env("FP8JIT_CACHE_DIR")) o.cache_dir = v;
  if (const char* v = env("FP8JIT_DISABLE_DISK_CACHE"))
    o.disk_cache = !parse_bool("FP8JIT_DISABLE_DISK_CACHE", v);
  if (const char* v = env("FP8JIT_CACHE_READ_ONLY"))
    o.cache_read_only = parse_bool("FP8JIT_CACHE_READ_ONLY", v);
  if (const char* v = env("FP8JIT_CACHE_READONLY_DIRS")) o.cache_readonly_dirs = split_paths(v);
  if (const char* v = env("FP8JIT_CACHE_MAX_BYTES"))
    o.cache_max_bytes = util::parse_bytes(v, "FP8JIT_CACHE_MAX_BYTES");
  if (const char* v = env("FP8JIT_CACHE_REMOTE")) {
    cache::parse_redis_url(v, "FP8JIT_CACHE_REMOTE");  // names the variable when it is bad
    o.cache_remote = v;
  }
  if (const char* v = env("FP8JIT_CACHE_REMOTE_CONNECT_TIMEOUT_MS"))
    o.cache_remote_connect_timeout_ms =
        parse_int("FP8JIT_CACHE_REMOTE_CONNECT_TIMEOUT_MS", v, 1, 60'000);
  if (const char* v = env("FP8JIT_CACHE_REMOTE_TIMEOUT_MS"))
    o.cache_remote_timeout_ms = parse_int("FP8JIT_CACHE_REMOTE_TIMEOUT_MS", v, 1, 60'000);
  if (const char* v = env("FP8JIT_CACHE_REMOTE_LEASE_MS"))
    o.cache_remote_lease_ms = parse_int("FP8JIT_CACHE_REMOTE_LEASE_MS", v, 1, 3'600'000);
  if (const char* v = env("FP8JIT_CACHE_REMOTE_TTL"))
    o.cache_remote_ttl_s = static_cast<std::uint64_t>(
        parse_int("FP8JIT_CACHE_REMOTE_TTL", v, 0, std::numeric_limits<int>::max()));
  if (const char* v = env("FP8JIT_CACHE_REMOTE_MAX_VALUE_BYTES"))
    o.cache_remote_max_value_bytes = util::parse_bytes(v, "FP8JIT_CACHE_REMOTE_MAX_VALUE_BYTES");
  if (const char* v = env("FP8JIT_TUNED_TABLES"))
    o.tuned_tables = std::string(v) == "none" ? std::vector<std::string>{} : split_paths(v);
  else
    o.tuned_tables = shipped_tuned_tables();
  if (const char* v = env("FP8JIT_DUMP_DIR")) o.dump_dir = v;
  if (const char* v = env("FP8JIT_DEVICE")) o.device = parse_int("FP8JIT_DEVICE", v, 0, 1023);
  if (const char* v = env("FP8JIT_VERBOSE")) o.verbose = parse_bool("FP8JIT_VERBOSE", v);
  if (const char* v = env("FP8JIT_PDL")) o.pdl = parse_bool("FP8JIT_PDL", v);
  if (const char* v = env("FP8JIT_CALIBRATE")) o.calibrate = parse_bool("FP8JIT_CALIBRATE", v);
  if (const char* v = env("FP8JIT_AUTOTUNE")) o.autotune = parse_bool("FP8JIT_AUTOTUNE", v);
  if (const char* v = env("FP8JIT_AUTOTUNE_CANDIDATES"))
    o.autotune_candidates = static_cast<int>(parse_int("FP8JIT_AUTOTUNE_CANDIDATES", v, 1, 256));
  if (const char* v = env("FP8JIT_AUTOTUNE_BUDGET"))
    o.autotune_budget_s = static_cast<double>(parse_int("FP8JIT_AUTOTUNE_BUDGET", v, 0, 1 << 30));
  if (const char* v = env("FP8JIT_TARGET")) {
    const std::string t(v);
    const auto& emu = compiler::Target::emulation_targets();
    if (std::find(emu.begin(), emu.end(), t) == emu.end()) {
      std::string list;
      for (const auto& e : emu) list += (list.empty() ? "" : ", ") + e;
      throw InvalidArgument("failed to read FP8JIT_TARGET='" + t + "': expected an emulation "
                            "target (" + list + "); a GPU is used when it is unset");
    }
    o.target = t;
  }
  if (const char* v = env("FP8JIT_EMU_THREADS"))
    o.emu_threads = static_cast<unsigned>(parse_int("FP8JIT_EMU_THREADS", v, 0, 4096));
  return o;
}

}  // namespace fp8jit
