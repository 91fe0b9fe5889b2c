// KernelCache: KernelSpec -> a function loaded on one device. Memory first, then jit::KernelBuilder
// (disk, then compile). Single-flight: concurrent requests for one spec build it once and the
// others wait; a failed build is not remembered, so the next request tries again.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "runtime/driver.hpp"
#include "jit/kernel_builder.hpp"

namespace fp8jit::runtime {

struct LoadedKernel {
  Module module;
  void* function = nullptr;
  std::string kernel_name;
  std::string key;
  compiler::KernelSpec spec;
  compiler::Resources resources;
  int threads = 0;
};

class KernelCache {
 public:
  KernelCache(Driver& driver, jit::KernelBuilder& builder) : driver_(driver), builder_(builder) {}

  // The loaded kernel for `spec`; the reference stays valid for the cache's lifetime.
  const LoadedKernel& get(const compiler::KernelSpec& spec);
  std::uint64_t memory_hits() const;

 private:
  std::shared_ptr<LoadedKernel> load(const compiler::KernelSpec& spec);

  Driver& driver_;
  jit::KernelBuilder& builder_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_future<std::shared_ptr<LoadedKernel>>> table_;
  std::uint64_t memory_hits_ = 0;
};

}  // namespace fp8jit::runtime
