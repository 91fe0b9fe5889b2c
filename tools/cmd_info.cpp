// `fp8jit info`: version and build id, devices, toolchains (versions, paths, or why they are
// missing), cache root.
#include <chrono>
#include <cstdio>

#include "cache/remote_store.hpp"
#include "jit/kernel_builder.hpp"

#include "compiler/toolchain.hpp"
#include "fp8jit/fp8jit.hpp"
#include "runtime/autotuner.hpp"
#include "runtime/context_state.hpp"
#include "tools/commands.hpp"

namespace fp8jit::tools {

namespace {

// The remote layer: its URL (without the password), and whether it answers a PING now.
void print_remote(const Options& options) {
  if (options.cache_remote.empty()) {
    std::printf("  remote none (FP8JIT_CACHE_REMOTE)\n");
    return;
  }
  try {
    cache::RemoteStore remote(jit::remote_config(options));
    std::printf("  remote %s (timeouts: connect %d ms, command %d ms)\n",
                remote.url().redacted.c_str(), options.cache_remote_connect_timeout_ms,
                options.cache_remote_timeout_ms);
    const auto t0 = std::chrono::steady_clock::now();
    const cache::RedisReply pong = remote.command({"PING"}, "ping");
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (pong.is_error())
      std::printf("    answers with an error: %s\n", pong.str.c_str());
    else
      std::printf("    answers: PING in %.1f ms (connect included)\n", ms);
  } catch (const Error& e) {
    std::printf("    not answering: %s\n", e.what());
  }
}

}  // namespace

int cmd_info(const Options& options) {
  std::printf("fp8jit %s\nbuild id %s\n\ndevice:\n", FP8JIT_VERSION, build_id());
  try {
    Context ctx(options);
    const ContextState& s = runtime::state_of(ctx);
    std::printf("  %d: %s, target %s, %d multiprocessors, memory bandwidth class %d GB/s\n",
                options.device, ctx.device_name().c_str(), ctx.target().c_str(),
                ctx.multiprocessors(), s.device.mem_bw);
    runtime::machine_of(ctx, nullptr);  // measured once per device and build, then cached
    std::printf("  cost model: %s\n    (%s)\n", s.machine_summary.c_str(), s.machine_source.c_str());
    std::printf("  autotune: %s (FP8JIT_AUTOTUNE), %d candidates per point, %.0f s per process\n",
                options.autotune ? "on" : "off", options.autotune_candidates,
                options.autotune_budget_s);
  } catch (const Error& e) {
    std::printf("  none: %s\n", e.what());
  }
  std::printf("\ntoolchains:\n");
  const compiler::Toolchains toolchains;
  for (const auto& p : toolchains.probes()) {
    if (p.available)
      std::printf("  %-7s %s (%s)\n", p.name.c_str(), p.version.c_str(), p.path.c_str());
    else
      std::printf("  %-7s not available: %s\n", p.name.c_str(), p.why_not.c_str());
  }
  std::printf("\ntargets:\n");
  for (const char* t : {"sm_90a", "sm_89", "gfx942", "gfx950", "gfx90a", "emu-gfx942",
                        "emu-gfx950", "emu-sm89"}) {
    try {
      const auto& tc = toolchains.for_target(compiler::Target::parse(t));
      std::printf("  %-10s built by %s\n", t, tc.version().c_str());
    } catch (const Error&) {
      std::printf("  %-10s no toolchain\n", t);
    }
  }
  std::printf("\ncache:\n  dir %s%s\n", options.cache_dir.c_str(),
              options.disk_cache ? "" : " (disabled by FP8JIT_DISABLE_DISK_CACHE)");
  print_remote(options);
  std::printf("\nenvironment (docs/env.md):\n"
              "  FP8JIT_CACHE_DIR, FP8JIT_DISABLE_DISK_CACHE, FP8JIT_CACHE_READ_ONLY,\n"
              "  FP8JIT_CACHE_READONLY_DIRS, FP8JIT_CACHE_MAX_BYTES, FP8JIT_CACHE_REMOTE,\n"
              "  FP8JIT_CACHE_REMOTE_CONNECT_TIMEOUT_MS, FP8JIT_CACHE_REMOTE_TIMEOUT_MS,\n"
              "  FP8JIT_CACHE_REMOTE_LEASE_MS, FP8JIT_CACHE_REMOTE_TTL,\n"
              "  FP8JIT_CACHE_REMOTE_MAX_VALUE_BYTES, FP8JIT_TUNED_TABLES,\n"
              "  FP8JIT_DUMP_DIR, FP8JIT_DEVICE, FP8JIT_VERBOSE, FP8JIT_PDL, FP8JIT_TARGET,\n"
              "  FP8JIT_EMU_THREADS, FP8JIT_CALIBRATE, FP8JIT_AUTOTUNE,\n"
              "  FP8JIT_AUTOTUNE_CANDIDATES, FP8JIT_AUTOTUNE_BUDGET\n");
  return 0;
}

}  // namespace fp8jit::tools
