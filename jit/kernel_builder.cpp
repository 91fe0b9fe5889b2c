#include "jit/kernel_builder.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cache/binary_check.hpp"
#include "cache/entry.hpp"
#include "cache/key.hpp"
#include "compiler/render.hpp"
#include "fp8jit/error.hpp"
#include "fp8jit/version.hpp"
#include "jit/kernel_key.hpp"
#include "util/parallel.hpp"
#include "util/time.hpp"

namespace fp8jit::jit {

namespace {

nlohmann::json resources_json(const compiler::Resources& r) {
  return {{"registers", r.registers}, {"sgprs", r.sgprs},   {"shared_bytes", r.shared_bytes},
          {"scratch_bytes", r.scratch_bytes}, {"spills", r.spills}};
}

compiler::Resources resources_from(const nlohmann::json& j) {
  compiler::Resources r;
  r.registers = j.value("registers", -1);
  r.sgprs = j.value("sgprs", -1);
  r.shared_bytes = j.value("shared_bytes", std::int64_t{-1});
  r.scratch_bytes = j.value("scratch_bytes", std::int64_t{-1});
  r.spills = j.value("spills", -1);
  return r;
}

}  // namespace

cache::RemoteConfig remote_config(const Options& o) {
  cache::RemoteConfig r;
  r.url = o.cache_remote;
  r.timeouts.connect = std::chrono::milliseconds(o.cache_remote_connect_timeout_ms);
  r.timeouts.command = std::chrono::milliseconds(o.cache_remote_timeout_ms);
  r.lease = std::chrono::milliseconds(o.cache_remote_lease_ms);
  r.ttl_s = o.cache_remote_ttl_s;
  r.max_value_bytes = o.cache_remote_max_value_bytes;
  return r;
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

}  // namespace

KernelBuilder::KernelBuilder(const Options& options,
                             std::shared_ptr<const compiler::Toolchains> toolchains)
    : options_(options), toolchains_(std::move(toolchains)) {
  if (options_.disk_cache) {
    layers_ = std::make_unique<cache::CacheLayers>(
        cache::LayersConfig{options_.cache_dir, options_.cache_readonly_dirs,
                            options_.cache_read_only, options_.cache_max_bytes,
                            remote_config(options_)});
  }
}

const std::string& KernelBuilder::cache_root() const {
  static const std::string none;
  return layers_ && layers_->writable() ? layers_->writable()->root() : none;
}

BuiltKernel KernelBuilder::build(const compiler::KernelSpec& spec) {
  const compiler::RenderedSource src = compiler::render(spec);  // validates the spec
  const compiler::Toolchain& tc = toolchains_->for_target(spec.target);
  const std::string options = join(tc.options(spec.target));
  const std::string canonical = spec.canonical();
  BuiltKernel out;
  out.spec = spec;
  out.kernel_name = src.kernel_name;
  out.key = cache::derive_key(
      kernel_key_inputs(canonical, src.text, tc, spec.target, options, fp8jit::build_id()));

  if (load_cached(out)) return out;
  // NOTE: one compile per kernel and cache: whoever holds the key's lock compiles, the others wait
  // and then find its entry. Held until this function returns, after the publish.
  cache::DiskStore::KeyLock compile_lock;
  // NOTE: declared after the local lock, so released before it: the lease is let go once the
  // entry is published locally and offered remotely.
  cache::RemoteStore::Lease lease;
  if (layers_ && layers_->can_store()) {
    const auto outcome = layers_->writable()->lock_key(out.spec.target.str(), out.key,
                                                       lock_timeout_, compile_lock);
    // NOTE: the disk only: the remote layer is asked again by lease_or_wait below.
    if (outcome == cache::DiskStore::LockOutcome::acquired && load_cached(out, false)) return out;
    if (outcome == cache::DiskStore::LockOutcome::timed_out && options_.verbose)
      std::fprintf(stderr, "fp8jit: waited %lld ms for another compile of %s; compiling here\n",
                   static_cast<long long>(lock_timeout_.count()), out.kernel_name.c_str());
    if (cache::RemoteStore* remote = layers_->remote(); remote && !is_discarded(out.key)) {
      auto r = remote->lease_or_wait(out.spec.target.str(), out.key);
      if (r.outcome == cache::RemoteStore::LeaseResult::Outcome::found &&
          use_hit(out, layers_->keep_remote_hit(std::move(*r.entry))))
        return out;
      if (r.outcome == cache::RemoteStore::LeaseResult::Outcome::timed_out && options_.verbose)
        std::fprintf(stderr, "fp8jit: waited %lld ms for another node's compile of %s; compiling "
                     "here\n", static_cast<long long>(remote->wait_bound().count()),
                     out.kernel_name.c_str());
      lease = std::move(r.lease);
    }
  }

  if (!options_.dump_dir.empty()) compiler::dump_source(options_.dump_dir, src.kernel_name, src.text);
  compiler::Binary bin =
      tc.compile({src.text, src.kernel_name, spec.target, canonical, options_.dump_dir});
  ++compiles_;
  {
    std::lock_guard lock(mu_);
    compile_ms_.push_back(bin.compile_ms);
  }
  if (options_.verbose)
    std::fprintf(stderr, "fp8jit: compiled %s with %s in %.0f ms\n", out.kernel_name.c_str(),
                 tc.version().c_str(), bin.compile_ms);
  out.binary = std::move(bin.bytes);
  out.resources = bin.resources;
  out.compile_ms = bin.compile_ms;

  // NOTE: strict read-only mode is what the user asked for, so it is no failure to report.
  if (layers_ && layers_->can_store()) {
    cache::Entry e;
    e.key = out.key;
    e.target = spec.target.str();
    e.meta = {{"spec", canonical},
              {"kernel_name", out.kernel_name},
              {"toolchain", tc.name()},
              {"toolchain_version", tc.version()},
              {"options", options},
              {"compile_ms", bin.compile_ms},
              {"resources", resources_json(bin.resources)},
              {"created", util::utc_now_iso8601()},
              {"library_version", FP8JIT_VERSION},
              {"build_id", fp8jit::build_id()}};
    e.binary = out.binary;
    e.source = src.text;
    const cache::StoreResult r = layers_->store(e);  // prunes the layer when due
    // NOTE: a cache that cannot be written (full disk, read-only mount) must not fail the GEMM:
    // the kernel is returned from memory and the failure is reported once per process.
    if (!r.ok()) out.store_error = r.error;
    if (!r.ok() && !store_failure_reported_.exchange(true))
      std::fprintf(stderr, "fp8jit: warning: %s (further cache write failures are not reported)\n",
                   r.error.c_str());
  }
  return out;
}

bool KernelBuilder::is_discarded(const std::string& key) const {
  std::lock_guard lock(mu_);
  return discarded_.count(key) != 0;
}

bool KernelBuilder::load_cached(BuiltKernel& out, bool remote) {
  if (!layers_ || is_discarded(out.key)) return false;
  auto hit = layers_->load(out.spec.target.str(), out.key, remote);
  return hit && use_hit(out, std::move(*hit));
}

bool KernelBuilder::use_hit(BuiltKernel& out, cache::CacheLayers::Hit hit) {
  const std::string target = out.spec.target.str();
  cache::Entry& entry = hit.entry;
  out.from_disk = true;
  out.from_remote = hit.remote;
  out.cache_layer = hit.layer;
  if (const std::string problem = cache::binary_problem(entry.binary, target); !problem.empty()) {
    out.binary.clear();
    discard(out, "its binary is not loadable: " + problem);
    out.from_disk = out.from_remote = false;
    return false;
  }
  out.binary = std::move(entry.binary);
  out.resources = resources_from(entry.meta.value("resources", nlohmann::json::object()));
  out.compile_ms = entry.meta.value("compile_ms", 0.0);
  ++disk_hits_;
  if (options_.verbose)
    std::fprintf(stderr, "fp8jit: %s hit %s (%s)\n", hit.remote ? "remote cache" : "cache",
                 out.kernel_name.c_str(), out.key.c_str());
  return true;
}

double KernelBuilder::compile_ms_total() const {
  std::lock_guard lock(mu_);
  double sum = 0;
  for (const double ms : compile_ms_) sum += ms;
  return sum;
}

double KernelBuilder::compile_ms_median() const {
  std::lock_guard lock(mu_);
  if (compile_ms_.empty()) return 0;
  std::vector<double> v = compile_ms_;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

void KernelBuilder::discard(const BuiltKernel& kernel, const std::string& why) {
  if (!layers_ || !kernel.from_disk) return;
  {
    // NOTE: a read-only layer keeps the refused file; without this the rebuild would load it again.
    std::lock_guard lock(mu_);
    discarded_.insert(kernel.key);
  }
  layers_->quarantine(kernel.cache_layer, kernel.spec.target.str(), kernel.key, why);
}

void build_all(KernelBuilder& builder, const std::vector<compiler::KernelSpec>& specs,
               unsigned jobs) {
  util::parallel_for(specs.size(), jobs, [&](std::size_t i) {
    try {
      builder.build(specs[i]);
    } catch (const fp8jit::Error&) {
    }
  });
}

}  // namespace fp8jit::jit
