// EmuDriver: the Driver interface over the CPU emulation (docs/emulator.md). "Device memory" is
// host memory (tracked, so that emulated loads and stores are checked against it); a module is an
// emulated kernel's shared object, dlopen'ed from its bytes; a launch runs synchronously on the
// calling thread and as many helper threads as FP8JIT_EMU_THREADS allows (see emu_scheduler).
// Streams are accepted and ignored: every call has finished when it returns.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "compiler/target.hpp"
#include "fp8jit/error.hpp"
#include "runtime/driver.hpp"
#include "emu/emu_scheduler.hpp"

namespace fp8jit::runtime {

namespace {

// What Module::get() points to for an emulated module: the dlopen handle and the functions
// handed out (function() returns pointers into `functions`, stable while the module lives).
struct EmuModule {
  void* handle = nullptr;
  std::mutex mu;
  std::map<std::string, emu::KernelRef> functions;
};

void unload_module(void* p) noexcept {
  auto* m = static_cast<EmuModule*>(p);
  if (m->handle) ::dlclose(m->handle);
  delete m;
}

// dlopen()s `bytes` as a shared object from a uniquely named temporary file, removed at once.
// NOTE: not from a memfd's /proc/self/fd/N: the dynamic loader knows a library by its path, and a
// reused descriptor number would hand back the library loaded from it before.
void* open_shared_object(const std::vector<std::uint8_t>& bytes, std::string& why) {
  const char* tmp = std::getenv("TMPDIR");  // NOTE: the system's temp dir, not an fp8jit option.
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/fp8jit-emu-XXXXXX.so";
  const int fd = ::mkstemps(path.data(), 3);
  if (fd < 0) {
    why = "cannot create " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w <= 0) break;
    done += static_cast<std::size_t>(w);
  }
  ::close(fd);
  void* h = nullptr;
  if (done == bytes.size()) {
    h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) why = ::dlerror();
  } else {
    why = "cannot write " + path + ": " + std::strerror(errno);
  }
  ::unlink(path.c_str());
  return h;
}

// What the emulated device reports: the real part's multiprocessor count and cache sizes, so that
// tuned tables and the heuristic choose the configs the GPU would run.
DeviceInfo emulated_device(const compiler::Target& t, unsigned threads) {
  DeviceInfo d;
  d.arch = t.str();
  if (t.arch == "gfx942") {
    d.name = "CPU emulation of gfx942 (MI300X)";
    d.multiprocessors = 304;
    d.shared_per_block_optin = 64 * 1024;
    d.l2_bytes = std::size_t{4} << 20;
  } else if (t.arch == "gfx950") {
    d.name = "CPU emulation of gfx950 (MI355X)";
    d.multiprocessors = 256;
    d.shared_per_block_optin = 160 * 1024;
    d.l2_bytes = std::size_t{4} << 20;
  } else {
    d.name = "CPU emulation of sm_89 (L40S)";
    d.multiprocessors = 142;
    d.shared_per_block_optin = 99 * 1024;
    d.l2_bytes = std::size_t{96} << 20;
  }
  d.name += ", " + std::to_string(threads) + " host thread(s)";
  d.memory_bytes = static_cast<std::size_t>(::sysconf(_SC_PHYS_PAGES)) *
                   static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return d;
}

// Sorts (start, size) ranges and merges those that overlap or touch, so that MemoryMap::contains,
// which looks at the range that starts last at or before an address, sees the whole of each.
// NOTE: registered host ranges may overlap (two views of one array) or lie inside an allocation.
void coalesce(std::vector<std::pair<std::uintptr_t, std::size_t>>& ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::size_t out = 0;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (out > 0) {
      auto& last = ranges[out - 1];
      const std::uintptr_t end = last.first + last.second;
      if (ranges[i].first <= end) {
        last.second = std::max(end, ranges[i].first + ranges[i].second) - last.first;
        continue;
      }
    }
    ranges[out++] = ranges[i];
  }
  ranges.resize(out);
}

class EmuDriver final : public Driver {
 public:
  EmuDriver(const compiler::Target& target, unsigned threads)
      : target_(target),
        threads_(threads ? threads : std::max(1u, std::thread::hardware_concurrency())),
        info_(emulated_device(target, threads_)) {}

  ~EmuDriver() override {
    for (auto& [p, size] : allocations_) std::free(reinterpret_cast<void*>(p));
  }

  std::string name() const override { return "emu"; }
  const DeviceInfo& device() const override { return info_; }

  Module load(const std::vector<std::uint8_t>& binary) override {
    const std::string what = "load an emulated kernel of " + std::to_string(binary.size()) +
                             " bytes for " + target_.str();
    if (binary.size() < 64 || std::memcmp(binary.data(), "\x7f" "ELF", 4) != 0)
      throw DriverError("failed to " + what + ": not an ELF shared object");
    std::string why;
    void* h = open_shared_object(binary, why);
    if (!h) throw DriverError("failed to " + what + ": " + why);
    auto* m = new EmuModule;
    m->handle = h;
    Module module(m, &unload_module);  // owns m from here on
    const auto* abi = static_cast<const unsigned*>(::dlsym(h, "fp8jit_emu_abi"));
    const auto* wave = static_cast<const unsigned*>(::dlsym(h, "fp8jit_emu_wave_size"));
    auto* host = static_cast<const emu::Host**>(::dlsym(h, "fp8jit_emu_host"));
    if (!abi || !wave || !host)
      throw DriverError("failed to " + what + ": not an fp8jit emulated kernel (no fp8jit_emu_abi, "
                        "fp8jit_emu_wave_size or fp8jit_emu_host)");
    if (*abi != emu::kAbi)
      throw DriverError("failed to " + what + ": built for emulation ABI " + std::to_string(*abi) +
                        ", this driver runs ABI " + std::to_string(emu::kAbi));
    if (*wave != wave_size())
      throw DriverError("failed to " + what + ": built with " + std::to_string(*wave) +
                        "-lane waves, " + target_.str() + " has " + std::to_string(wave_size()));
    *host = &emu::host_table();
    return module;
  }

  void* function(const Module& module, const std::string& name) override {
    auto* m = static_cast<EmuModule*>(module.get());
    if (!m) throw DriverError("failed to find kernel '" + name + "': the module is empty");
    std::lock_guard lock(m->mu);
    auto it = m->functions.find(name);
    if (it != m->functions.end()) return &it->second;
    const std::string symbol = name + "__fp8jit_emu";
    auto entry = reinterpret_cast<emu::Entry>(::dlsym(m->handle, symbol.c_str()));
    if (!entry)
      throw DriverError("failed to find kernel '" + name + "' in its emulated module (no " +
                        symbol + ")");
    return &m->functions.emplace(name, emu::KernelRef{entry, name, wave_size()}).first->second;
  }

  void launch(void* function, const LaunchDims& dims, void*, void** args) override {
    const auto& kernel = *static_cast<const emu::KernelRef*>(function);
    emu::MemoryMap memory;
    {
      std::lock_guard lock(mu_);
      memory.ranges.assign(allocations_.begin(), allocations_.end());
      if (!host_ranges_.empty()) {
        memory.ranges.insert(memory.ranges.end(), host_ranges_.begin(), host_ranges_.end());
        coalesce(memory.ranges);
      }
    }
    const emu::LaunchReport r = emu::run_launch(kernel, dims, args, memory, threads_);
    if (r.faults)
      throw DriverError("failed to run emulated kernel " + kernel.name + ": " + r.first_fault +
                        (r.faults > 1 ? " (" + std::to_string(r.faults) + " faults in all)" : ""));
  }

  void* alloc(std::size_t bytes) override {
    void* p = std::aligned_alloc(256, (std::max<std::size_t>(bytes, 1) + 255) / 256 * 256);
    if (!p)
      throw DriverError("failed to allocate " + std::to_string(bytes) + " bytes of emulated "
                        "device memory");
    std::lock_guard lock(mu_);
    allocations_[reinterpret_cast<std::uintptr_t>(p)] = bytes;
    return p;
  }

  void free(void* ptr) noexcept override {
    if (!ptr) return;
    {
      std::lock_guard lock(mu_);
      allocations_.erase(reinterpret_cast<std::uintptr_t>(ptr));
    }
    std::free(ptr);
  }

  void register_host_memory(const void* ptr, std::size_t bytes) override {
    if (!ptr || !bytes) return;
    std::lock_guard lock(mu_);
    host_ranges_.emplace(reinterpret_cast<std::uintptr_t>(ptr), bytes);
  }

  void unregister_host_memory(const void* ptr, std::size_t bytes) noexcept override {
    std::lock_guard lock(mu_);
    auto [first, last] = host_ranges_.equal_range(reinterpret_cast<std::uintptr_t>(ptr));
    for (auto it = first; it != last; ++it)
      if (it->second == bytes) {
        host_ranges_.erase(it);
        return;
      }
  }

  void copy_to_device(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void memset(void* dst, int byte, std::size_t bytes) override {
    if (bytes) std::memset(dst, byte, bytes);
  }
  void synchronize(void*) override {}

  // Host wall time of the work (meaningless as a GPU time: the emulation models no timing).
  double time_ms(void*, const std::function<void()>& enqueue) override {
    const auto t0 = std::chrono::steady_clock::now();
    enqueue();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }

 private:
  unsigned wave_size() const { return target_.vendor == compiler::Vendor::amd ? 64 : 32; }

  compiler::Target target_;
  unsigned threads_;
  DeviceInfo info_;
  std::mutex mu_;
  std::map<std::uintptr_t, std::size_t> allocations_;  // guarded by mu_
  // Host memory the caller lets kernels access (register_host_memory); guarded by mu_.
  std::multimap<std::uintptr_t, std::size_t> host_ranges_;
};

}  // namespace

std::unique_ptr<Driver> make_emu_driver(const std::string& target, unsigned threads) {
  const compiler::Target t = compiler::Target::parse(target);  // InvalidArgument names the value
  if (!t.emulated)
    throw InvalidArgument("failed to open emulated device '" + target +
                          "': not an emulation target (emu-gfx942, emu-gfx950, emu-sm89)");
  return std::make_unique<EmuDriver>(t, threads);
}

}  // namespace fp8jit::runtime
