// KernelBuilder: KernelSpec -> binary, through the disk cache or a compile. Needs no device, so
// warmup and cross-compilation use it directly; KernelCache puts loaded functions on top of it.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cache/layers.hpp"
#include "compiler/kernel_spec.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/options.hpp"

namespace fp8jit::jit {

struct BuiltKernel {
  std::string key;
  std::string kernel_name;
  compiler::KernelSpec spec;
  std::vector<std::uint8_t> binary;
  compiler::Resources resources;
  bool from_disk = false;   // found in the cache: a disk layer or the remote one (no compile)
  bool from_remote = false; // from_disk, from the remote layer (now kept in the writable one)
  std::size_t cache_layer = 0;  // from_disk: the cache layer it came from
  double compile_ms = 0;    // of this process's compile, or the one recorded in the entry
  std::string store_error;  // compiled, but its entry could not be published: why
};

// The remote layer's configuration in `options` (cache_remote and its timeouts).
cache::RemoteConfig remote_config(const Options& options);

class KernelBuilder {
 public:
  KernelBuilder(const Options& options, std::shared_ptr<const compiler::Toolchains> toolchains);

  // Renders the spec, derives its key, and returns the binary from the disk cache layers (the
  // writable cache_dir, then each of cache_readonly_dirs), else compiles it and publishes it into
  // the writable layer (which prunes itself past cache_max_bytes), unless cache_read_only. A
  // cached binary that is not loadable for its target (cache::binary_problem) is set aside like a
  // refused one (discard) and compiled afresh. Before compiling, it takes the key's compile lock
  // in the writable layer (DiskStore::lock_key), waiting up to lock_timeout() for another process
  // or thread compiling the same kernel and then using that one's entry; past the timeout it
  // compiles anyway. With a remote layer (Options::cache_remote), a miss in every disk layer
  // asks it, and before compiling (holding the local lock) the builder takes the kernel's lease
  // in the remote layer or waits for the node that holds it (RemoteStore::lease_or_wait); what it
  // compiles is offered to the remote layer. A remote layer that does not answer costs at most its
  // timeouts, never the build. A failed publish (full disk, read-only mount) still returns the
  // compiled kernel, with store_error set; the first such failure of the process is reported on
  // stderr.
  // Throws InvalidArgument (bad spec), CompileError (with the full log).
  BuiltKernel build(const compiler::KernelSpec& spec);
  // Called when a driver refused a binary from the cache: the entry is set aside (quarantined; in
  // a read-only layer only reported) and this builder never loads that key from disk again, so
  // the next build compiles afresh; `why` is reported once.
  void discard(const BuiltKernel& kernel, const std::string& why);

  // How long build() waits for another compile of the same kernel (default 120 s: a compile of
  // the largest kernels takes seconds; a holder that is stopped, not dead, costs this much once).
  static constexpr std::chrono::milliseconds kDefaultLockTimeout{120'000};
  std::chrono::milliseconds lock_timeout() const { return lock_timeout_; }
  void set_lock_timeout(std::chrono::milliseconds timeout) { lock_timeout_ = timeout; }

  const compiler::Toolchains& toolchains() const { return *toolchains_; }
  // The writable cache root ("" without a disk cache).
  const std::string& cache_root() const;
  // The disk cache layers (nullptr when the disk cache is disabled), for warmup and `fp8jit cache`.
  cache::CacheLayers* cache_layers() { return layers_.get(); }
  std::uint64_t compiles() const { return compiles_; }
  std::uint64_t disk_hits() const { return disk_hits_; }
  double compile_ms_total() const;
  double compile_ms_median() const;

 private:
  // The usable binary of `out.key` from the disk layers (and, with `remote`, the remote one) into
  // `out`; false on a miss.
  bool load_cached(BuiltKernel& out, bool remote = true);
  // Takes `hit` into `out` when its binary is loadable; else discards it and returns false.
  bool use_hit(BuiltKernel& out, cache::CacheLayers::Hit hit);
  bool is_discarded(const std::string& key) const;

  Options options_;
  std::chrono::milliseconds lock_timeout_ = kDefaultLockTimeout;
  std::shared_ptr<const compiler::Toolchains> toolchains_;
  std::unique_ptr<cache::CacheLayers> layers_;
  std::atomic<std::uint64_t> compiles_{0}, disk_hits_{0};
  mutable std::mutex mu_;
  std::vector<double> compile_ms_;  // one per compile, guarded by mu_
  std::set<std::string> discarded_;  // keys whose cached binary a driver refused, guarded by mu_
  std::atomic<bool> store_failure_reported_{false};
};

// Builds every spec on `jobs` threads at once (0: one per hardware thread), into the cache: what
// a caller about to need many kernels does first, since compiles dominate a cold start. A spec
// that fails to build is skipped (its caller meets the error when it asks for the kernel).
void build_all(KernelBuilder& builder, const std::vector<compiler::KernelSpec>& specs,
               unsigned jobs = 0);

}  // namespace fp8jit::jit
