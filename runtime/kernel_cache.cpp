#include "runtime/kernel_cache.hpp"

#include "fp8jit/error.hpp"

namespace fp8jit::runtime {

std::shared_ptr<LoadedKernel> KernelCache::load(const compiler::KernelSpec& spec) {
  jit::BuiltKernel built = builder_.build(spec);
  auto k = std::make_shared<LoadedKernel>();
  try {
    k->module = driver_.load(built.binary);
  } catch (const CaptureConflict&) {
    throw;  // the binary is fine: loading is not allowed during a stream capture
  } catch (const DriverError& e) {
    if (!built.from_disk) throw;
    // A cached binary the driver refuses is a bad entry: set it aside and compile afresh.
    builder_.discard(built, e.what());
    built = builder_.build(spec);
    k->module = driver_.load(built.binary);
  }
  k->function = driver_.function(k->module, built.kernel_name);
  k->kernel_name = built.kernel_name;
  k->key = built.key;
  k->spec = spec;
  k->resources = built.resources;
  k->threads = spec.threads();
  return k;
}

const LoadedKernel& KernelCache::get(const compiler::KernelSpec& spec) {
  const std::string id = spec.canonical();
  std::promise<std::shared_ptr<LoadedKernel>> promise;
  std::shared_future<std::shared_ptr<LoadedKernel>> future;
  bool owner = false;
  {
    std::lock_guard lock(mu_);
    auto it = table_.find(id);
    if (it != table_.end()) {
      ++memory_hits_;
      future = it->second;
    } else {
      owner = true;
      future = promise.get_future().share();
      table_.emplace(id, future);
    }
  }
  if (owner) {
    // Built outside the lock: other specs proceed, waiters for this one block on the future.
    try {
      promise.set_value(load(spec));
    } catch (...) {
      {
        std::lock_guard lock(mu_);
        table_.erase(id);
      }
      promise.set_exception(std::current_exception());
    }
  }
  return *future.get();
}

std::uint64_t KernelCache::memory_hits() const {
  std::lock_guard lock(mu_);
  return memory_hits_;
}

}  // namespace fp8jit::runtime
