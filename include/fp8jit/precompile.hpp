// fp8jit — building kernels ahead of time, with or without a GPU (cross-compilation): what the
// warmup command and the no-GPU main job use.
//
// A request names weights (N, K), token counts (explicit M values and/or an M range), targets and
// tuned tables; it expands to one kernel per distinct spec: for every target, weight, output
// dtype and bias, each M is resolved to a config through the tuned tables (exact row, else the
// row of M's bucket, else the heuristic), and equal specs are built once. Builds run on `jobs`
// threads into options.cache_dir; a kernel already there is read back and checked, not rebuilt.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fp8jit/options.hpp"
#include "fp8jit/types.hpp"

namespace fp8jit {

// Token counts lo..hi, both included (1 <= lo <= hi).
struct MRange {
  std::int64_t lo = 1;
  std::int64_t hi = 8192;
};

struct PrecompileRequest {
  // Targets to build for ("sm_90a", "gfx942", "gfx942:sramecc+:xnack-", ...). Empty: the GPU
  // options.device of this machine (its target and multiprocessor count); DriverError when there
  // is none.
  std::vector<std::string> targets;
  // (N, K) of each weight. Empty: the weights of the tuned tables' rows for each target's arch.
  std::vector<std::pair<std::int64_t, std::int64_t>> shapes;
  // Token counts whose kernels are built: the config each value here selects, plus, for m_range,
  // every config the runtime can choose for an M in the range (each M bucket's, and each tuned
  // row's inside the range). Neither given: the range of every M.
  std::vector<std::int64_t> m_values;
  std::optional<MRange> m_range;
  // Tuned-table CSV files that choose each M's config, merged in order. Empty: options.tuned_tables.
  std::vector<std::string> tables;
  // Multiprocessor / CU count the tuned-table rows are matched against; 0 matches any row (a
  // cross-compile for a device that is not here). Ignored when `targets` is empty (the local
  // device's count is used).
  int cu_num = 0;
  std::vector<OutDType> out_dtypes = {OutDType::bf16};
  std::vector<bool> bias = {false, true};
  bool preshuffle = true;  // also the weight-packing kernel of each target
  // Kernels built at once, each on its own thread (NVRTC and clang subprocesses compile in
  // parallel). 0: one per hardware thread.
  int jobs = 1;
};

struct PrecompiledKernel {
  std::string target;
  std::string kernel_name;
  std::string key;
  std::string spec;
  std::vector<std::int64_t> m_values;  // the requested M values that resolved to this kernel
  std::string rule;        // why its config was chosen (tuned-table row or heuristic), first M's
  bool cached = false;     // found in the cache (disk or remote layer), nothing compiled
  bool from_remote = false;  // cached, from the remote layer (Options::cache_remote)
  double compile_ms = 0;   // this process's compile time (0 when cached)
  int registers = -1;
  int spills = -1;
  std::uint64_t binary_bytes = 0;
  std::string binary_format;  // "cubin (ELF, EM_CUDA)" or "code object (ELF, EM_AMDGPU)"
  std::string error;       // non-empty when the build failed (the others still run)
};

// What a warmup did. `kernels` is in plan order (targets, then weights, then configs), whatever
// order the builds finished in.
struct WarmupReport {
  std::vector<PrecompiledKernel> kernels;
  std::size_t compiled = 0;  // built by this process
  std::size_t cached = 0;    // already in the cache (of which from_remote from the remote layer)
  std::size_t from_remote = 0;
  std::size_t failed = 0;    // compile failed, or the binary is not a well-formed ELF object
  double seconds = 0;        // wall time of the builds
  int jobs = 1;              // threads used
  // With a remote layer: what it did in this warmup (RemoteStats by member name: hits, misses,
  // bad_values, stores, store_exists, leases_taken, lease_waits, errors, breaker_trips, ...).
  // Empty without one.
  std::vector<std::pair<std::string, std::uint64_t>> remote_counts;

  bool ok() const { return failed == 0; }
};

// One step of a warmup, for progress displays.
struct WarmupEvent {
  enum class Kind { started, finished };
  Kind kind = Kind::started;
  // started: target, kernel_name, key-less identity; finished: everything.
  const PrecompiledKernel* kernel = nullptr;
  std::size_t done = 0;     // kernels finished so far (this one included when finished)
  std::size_t total = 0;    // kernels in the plan
  std::size_t running = 0;  // builds in flight after this event
};

// Receives every event of a warmup. Called from the build threads, but never two at once (the
// library serializes the calls); must not throw (an exception it throws is dropped).
using WarmupCallback = std::function<void(const WarmupEvent&)>;

// The kernels `request` implies, deduplicated and in build order, without building anything
// (key, cached and the build fields are empty). Throws InvalidArgument naming the value for a bad
// target, shape, M value or range, or jobs, and when there is no weight to build for; InvalidArgument from the tuned-table reader (file,
// line, column) for a bad table; DriverError when no target is given and there is no GPU.
std::vector<PrecompiledKernel> plan_precompile(const Options& options,
                                               const PrecompileRequest& request);

// Builds the plan of `request` into options.cache_dir on request.jobs threads. Throws what
// plan_precompile throws, before anything is built; a failing compile is reported in its
// PrecompiledKernel (and counted in `failed`), the other builds still run. Every binary, built or
// read from the cache, is checked to be a well-formed ELF object for its vendor (cubin: EM_CUDA;
// AMD code object: EM_AMDGPU) before it counts as built; a cached one that is not is set aside and
// compiled afresh. With a remote layer, each kernel found on the local disk is offered to it too
// (EXISTS, then SET NX when missing), so a warmup pushes its whole plan to the fleet, and the
// kernels are built in a random order of this process's (the report keeps the plan's order), so
// that nodes warming the same plan at once compile different kernels. A kernel
// counts as built once its entry was published (or another process's was there): a `cache clear`
// or `prune` that removes it afterwards is no failure.
WarmupReport warmup(const Options& options, const PrecompileRequest& request,
                    const WarmupCallback& on_event = {});

}  // namespace fp8jit
