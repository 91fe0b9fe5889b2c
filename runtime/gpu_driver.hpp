// GpuDriver: what the CUDA and HIP drivers do alike, written once over a vendor `V`
// (runtime/cuda_driver.cpp, runtime/hip_driver.cpp): the session shared with every module, memory,
// copies, synchronization, event timing and the errors of each, worded the same for both vendors.
// What differs stays in each driver: opening the device, loading a module and finding its kernels,
// launches, device-to-device copies, and what only one vendor has (TMA, capture, HIP's device
// properties).
//
// V describes the vendor:
//   kName, kSharedMemory     "CUDA" / "HIP" and "shared" / "LDS", as errors name them
//   Session                  lib (util::DynLib), api (its entry points, with check(result, what)
//                            that throws DriverError "failed to <what()>: <error name>: <text>")
//                            and ordinal; default-constructible, shared with every module
//   Scope                    makes the session's device current for one call (RAII; may throw)
//   ModuleHandle, Event      the vendor's handles
//   static calls, each taking the Session first and returning the vendor's result (0: success):
//     alloc(void** p, bytes), free(p), copy_to_device(dst, src, bytes), copy_to_host(dst, src,
//     bytes), memset(dst, unsigned char value, bytes), synchronize_stream(stream),
//     synchronize_device(), create_event(Event*), record_event(Event, stream), wait_event(Event),
//     elapsed_ms(float*, Event, Event), destroy_event(Event); and
//     unload_module(ModuleHandle), which returns nothing and never throws.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "fp8jit/error.hpp"
#include "runtime/driver.hpp"
#include "util/text.hpp"

namespace fp8jit::runtime {

template <class V>
class GpuDriver : public Driver {
 public:
  std::string name() const override { return name_; }
  bool times_a_gpu() const override { return true; }
  const DeviceInfo& device() const override { return info_; }

  void* alloc(std::size_t bytes) override {
    Scope scope(*s_);
    void* p = nullptr;
    s_->api.check(V::alloc(*s_, &p, bytes),
                  [&] { return "allocate " + std::to_string(bytes) + " bytes on " + device_text(); });
    return p;
  }

  void free(void* ptr) noexcept override {
    if (!ptr) return;
    // NOTE: a failure cannot be reported from here; at exit (CUDA_ERROR_DEINITIALIZED, a HIP
    // runtime torn down) the memory is gone with the driver already.
    try {
      Scope scope(*s_);
      V::free(*s_, ptr);
    } catch (const DriverError&) {
    }
  }

  void copy_to_device(void* dst, const void* src, std::size_t bytes) override {
    copy(&V::copy_to_device, dst, src, bytes, "host", "device");
  }

  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    copy(&V::copy_to_host, dst, src, bytes, "device", "host");
  }

  void memset(void* dst, int byte, std::size_t bytes) override {
    if (bytes == 0) return;
    Scope scope(*s_);
    s_->api.check(V::memset(*s_, dst, static_cast<unsigned char>(byte), bytes), [&] {
      return "set " + std::to_string(bytes) + " bytes at device " + util::address(dst) + " to " +
             std::to_string(byte & 0xff);
    });
  }

  void synchronize(void* stream) override {
    Scope scope(*s_);
    // An asynchronous fault (CUDA_ERROR_ILLEGAL_ADDRESS, hipErrorIllegalAddress, ...) surfaces
    // here as a DriverError.
    if (stream)
      s_->api.check(V::synchronize_stream(*s_, stream), [&] {
        return std::string("synchronize ") + V::kName + " stream " + util::address(stream);
      });
    else
      s_->api.check(V::synchronize_device(*s_), [&] { return "synchronize " + device_text(); });
  }

  double time_ms(void* stream, const std::function<void()>& enqueue) override {
    const Session& s = *s_;
    Scope scope(s);
    // Owns the two events on every path out.
    struct Events {
      const Session& s;
      Event e[2] = {nullptr, nullptr};
      ~Events() {
        for (Event x : e)
          if (x) V::destroy_event(s, x);
      }
    } ev{s};
    const auto event_text = [](const char* verb) {
      return [verb] { return std::string(verb) + " " + V::kName + " event"; };
    };
    for (Event& e : ev.e) s.api.check(V::create_event(s, &e), event_text("create a"));
    s.api.check(V::record_event(s, ev.e[0], stream), event_text("record a"));
    enqueue();
    s.api.check(V::record_event(s, ev.e[1], stream), event_text("record a"));
    s.api.check(V::wait_event(s, ev.e[1]), event_text("wait for a"));
    float ms = 0;
    s.api.check(V::elapsed_ms(s, &ms, ev.e[0], ev.e[1]), [] {
      return std::string("time two ") + V::kName + " events";
    });
    return ms;
  }

 protected:
  using Session = typename V::Session;
  using Scope = typename V::Scope;
  using ModuleHandle = typename V::ModuleHandle;
  using Event = typename V::Event;

  GpuDriver() : s_(std::make_shared<Session>()) {}

  // A Module that unloads `module` when it goes. It shares the session, so that a module destroyed
  // after its driver still unloads through a loaded library.
  Module own(ModuleHandle module) const { return Module(new Loaded{s_, module}, &unload); }
  // The vendor's handle of a Module that own() made (not empty).
  static ModuleHandle handle(const Module& module) {
    return static_cast<const Loaded*>(module.get())->module;
  }

  // For the constructors, once the session's library is open: binds its entry points, or throws
  // DriverError "failed to load <library> from <path>: missing symbols <names>".
  void bind_entry_points(const char* library) {
    const std::string missing = s_->api.bind(s_->lib);
    if (!missing.empty())
      throw DriverError(std::string("failed to load ") + library + " from " + s_->lib.path() +
                        ": missing symbols " + missing);
  }
  // For the constructors: throws DriverError unless `ordinal` names one of `count` devices.
  static void check_ordinal(int ordinal, int count) {
    if (ordinal < 0 || ordinal >= count)
      throw DriverError(std::string("failed to open ") + V::kName + " device " +
                        std::to_string(ordinal) + ": the ordinal is out of range (" +
                        std::to_string(count) + " device(s) present, 0.." +
                        std::to_string(count - 1) + ")");
  }
  // For the constructors, once the session's ordinal is set: the `what` of check() for a query of
  // the device, "<what> of CUDA device 0".
  auto on_device(const char* what) const {
    return [this, what] { return std::string(what) + " of " + device_text(); };
  }

  // "launch kernel 0x... (grid 4x1x1, block 128x1x1, 0 B dynamic shared) on stream 0x...".
  static std::string launch_text(const void* function, const LaunchDims& d, const void* stream) {
    const auto xyz = [](const unsigned* v) {
      return std::to_string(v[0]) + "x" + std::to_string(v[1]) + "x" + std::to_string(v[2]);
    };
    return "launch kernel " + util::address(function) + " (grid " + xyz(d.grid) + ", block " +
           xyz(d.block) + ", " + std::to_string(d.shared_bytes) + " B dynamic " +
           V::kSharedMemory + ") on stream " + util::address(stream);
  }
  // "copy 4096 bytes from host 0x... to device 0x...".
  static std::string copy_text(std::size_t bytes, const char* from, const void* src, const char* to,
                               const void* dst) {
    return "copy " + std::to_string(bytes) + " bytes from " + from + " " + util::address(src) +
           " to " + to + " " + util::address(dst);
  }

  std::shared_ptr<Session> s_;
  std::string name_;  // "cuda 13.0", "hip 5.2"
  DeviceInfo info_;

 private:
  // What Module::get() points to.
  struct Loaded {
    std::shared_ptr<const Session> session;
    ModuleHandle module = nullptr;
  };

  // Module's unload function; V::unload_module never throws and tolerates driver shutdown.
  static void unload(void* loaded) noexcept {
    auto* m = static_cast<Loaded*>(loaded);
    V::unload_module(*m->session, m->module);
    delete m;
  }

  // "CUDA device 0".
  std::string device_text() const {
    return std::string(V::kName) + " device " + std::to_string(s_->ordinal);
  }

  // One copy of `bytes` by `call` (none when 0); `from` and `to` name the two sides in errors.
  template <class Call>
  void copy(Call call, void* dst, const void* src, std::size_t bytes, const char* from,
            const char* to) {
    if (bytes == 0) return;
    Scope scope(*s_);
    s_->api.check(call(*s_, dst, src, bytes),
                  [&] { return copy_text(bytes, from, src, to, dst); });
  }
};

}  // namespace fp8jit::runtime
