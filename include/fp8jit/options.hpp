// fp8jit — run-time configuration. Filled from defaults, then FP8JIT_* environment variables (read
// here, once), then whatever the caller sets explicitly. docs/env.md lists every variable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fp8jit {

struct Options {
  // Writable disk cache root. FP8JIT_CACHE_DIR; default $XDG_CACHE_HOME/fp8jit, else
  // $HOME/.cache/fp8jit.
  std::string cache_dir;
  // FP8JIT_DISABLE_DISK_CACHE=1: keep compiled kernels in memory only.
  bool disk_cache = true;
  // FP8JIT_CACHE_READ_ONLY=1: strict read-only mode: the disk cache is read, never written (no
  // entries, no mtimes, no quarantine, no pruning).
  bool cache_read_only = false;
  // FP8JIT_CACHE_READONLY_DIRS (':'-separated): read-only caches consulted after cache_dir, in
  // order (a prebuilt cache shipped in an image, a shared mount). Never written.
  std::vector<std::string> cache_readonly_dirs;
  // FP8JIT_CACHE_MAX_BYTES (a number with an optional K, M or G suffix): size budget of cache_dir;
  // least-recently-used entries are evicted past it.
  std::uint64_t cache_max_bytes = std::uint64_t{8} << 30;
  // FP8JIT_CACHE_REMOTE=redis://[user:password@]host[:port][/db]: a remote cache layer on Redis
  // shared by a fleet, under the disk layers (docs/cache-format.md, "The remote layer"): a kernel
  // missing on disk is looked up there (and verified) before it is compiled, and what is compiled
  // is offered to it. Empty: none. A bad URL is an InvalidArgument when the cache is opened.
  std::string cache_remote;
  // FP8JIT_CACHE_REMOTE_CONNECT_TIMEOUT_MS / FP8JIT_CACHE_REMOTE_TIMEOUT_MS: how long a connect,
  // and a command's socket read or write, may take before the remote layer counts a failure.
  int cache_remote_connect_timeout_ms = 50;
  int cache_remote_timeout_ms = 50;
  // FP8JIT_CACHE_REMOTE_LEASE_MS: how long a node's compile lease holds; other nodes wait for its
  // entry at most twice this long.
  int cache_remote_lease_ms = 30'000;
  // FP8JIT_CACHE_REMOTE_TTL (seconds): expiry of the values this process stores; 0: none.
  std::uint64_t cache_remote_ttl_s = 0;
  // FP8JIT_CACHE_REMOTE_MAX_VALUE_BYTES (a number with an optional K, M or G suffix): larger
  // entries are not stored, larger values not read.
  std::uint64_t cache_remote_max_value_bytes = std::uint64_t{64} << 20;
  // FP8JIT_TUNED_TABLES (':'-separated CSV files): tuned-config tables, merged in order (a later
  // file's row wins over an earlier one's for the same key). Read at run time, never compiled in.
  // Unset: the tables shipped in share/fp8jit/tuned next to the binary (tuned/ of the source
  // tree, copied there by the build); "none": no table.
  std::vector<std::string> tuned_tables;
  // FP8JIT_DUMP_DIR: write every rendered source there (also done for each failed compile).
  std::string dump_dir;
  // FP8JIT_DEVICE: ordinal of the GPU a Context drives.
  int device = 0;
  // FP8JIT_TARGET: run on the CPU emulation of this target instead of a GPU: "emu-gfx942",
  // "emu-gfx950" or "emu-sm89" (docs/emulator.md). Empty: the GPU of `device`.
  std::string target;
  // FP8JIT_EMU_THREADS: host threads an emulated launch spreads its blocks over (0: one per
  // hardware thread). Results do not depend on it.
  unsigned emu_threads = 0;
  // FP8JIT_VERBOSE=1: one line on stderr per compile and per disk-cache hit.
  bool verbose = false;
  // FP8JIT_PDL=0: launch every GEMM after the previous kernel in its stream has finished. By
  // default (sm_90+) a GEMM is launched with programmatic dependent launch: it may start while
  // the kernel before it finishes, prefetches its first weight bytes into L2, and waits for that
  // kernel (griddepcontrol.wait) before it reads the activations or writes the output.
  bool pdl = true;
  // FP8JIT_CALIBRATE=0: the cost model uses its arch's figures instead of measuring this GPU's
  // (a few GEMMs, once per device and library build: the result is kept in the cache).
  bool calibrate = true;
  // FP8JIT_AUTOTUNE=1: a GEMM point (device, N, K, M bucket, out dtype, bias) with no tuned row of
  // this device is measured the first time its kernel is needed outside a stream capture (plan(),
  // or the first gemm() call of the bucket): the cost model's best `autotune_candidates` configs
  // are built in parallel, checked and timed on scratch buffers, and the fastest is kept as a
  // tuned row in the cache for every later process. Off by default: a measurement takes the GPU
  // for about half a second per point and some scratch memory, which a server must ask for.
  bool autotune = false;
  // FP8JIT_AUTOTUNE_CANDIDATES: configs timed per point.
  int autotune_candidates = 8;
  // FP8JIT_AUTOTUNE_BUDGET (seconds): the most a process spends autotuning; past it the cost
  // model chooses, and one warning says so.
  double autotune_budget_s = 300;

  // Defaults overlaid with the FP8JIT_* variables of the current environment. Throws
  // InvalidArgument naming the variable when a value does not parse.
  static Options from_env();
};

}  // namespace fp8jit
