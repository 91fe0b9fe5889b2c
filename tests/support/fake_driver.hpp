// FakeDriver: a Driver over host memory that loads nothing and records launches, so the whole
// pipeline up to the launch (validation, specs, compilation, caches, plans) runs in CI.
#pragma once

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/driver.hpp"

namespace fp8jit::test {

class FakeDriver final : public runtime::Driver {
 public:
  struct Launch {
    void* function;
    runtime::LaunchDims dims;
  };

  explicit FakeDriver(std::string arch = "sm_90a") {
    info_.name = "fake " + arch;
    info_.arch = std::move(arch);
    info_.multiprocessors = 132;
  }
  std::string name() const override { return "fake"; }
  const runtime::DeviceInfo& device() const override { return info_; }
  runtime::Module load(const std::vector<std::uint8_t>& binary) override {
    loads.push_back(binary.size());
    return runtime::Module(reinterpret_cast<void*>(0x1), [](void*) {});
  }
  void* function(const runtime::Module&, const std::string& name) override {
    names.push_back(name);
    return reinterpret_cast<void*>(names.size());
  }
  void launch(void* f, const runtime::LaunchDims& d, void*, void**) override {
    std::lock_guard lock(mu);
    launches.push_back({f, d});
  }
  void* alloc(std::size_t bytes) override { return std::aligned_alloc(256, (bytes + 255) / 256 * 256); }
  void free(void* p) noexcept override { std::free(p); }
  void copy_to_device(void* d, const void* s, std::size_t n) override { std::memcpy(d, s, n); }
  void copy_to_host(void* d, const void* s, std::size_t n) override { std::memcpy(d, s, n); }
  void memset(void* d, int b, std::size_t n) override { std::memset(d, b, n); }
  void synchronize(void*) override {}
  // Runs the work; a fake device takes no time.
  double time_ms(void*, const std::function<void()>& enqueue) override {
    enqueue();
    return 0;
  }
  // A fake device has no TMA; the descriptor's bytes are never read.
  void encode_tma(void* map, const runtime::TmaTensor&) override {
    std::memset(map, 0, 128);
  }

  std::mutex mu;
  std::vector<Launch> launches;
  std::vector<std::size_t> loads;
  std::vector<std::string> names;

 private:
  runtime::DeviceInfo info_;
};

}  // namespace fp8jit::test
