// Driver: the part of a GPU vendor runtime fp8jit needs, loaded with dlopen (CUDA driver API or
// HIP). Streams and device pointers are void* here and in the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fp8jit/error.hpp"

namespace fp8jit::runtime {

struct DeviceInfo {
  std::string name;        // "NVIDIA H100 80GB HBM3"
  std::string arch;        // target string: "sm_90a", "gfx942:sramecc+:xnack-"
  int multiprocessors = 0; // SMs / CUs
  std::size_t shared_per_block_optin = 0;
  std::size_t l2_bytes = 0;
  std::size_t memory_bytes = 0;
  // Peak memory bandwidth from the memory clock and bus width (double data rate), bytes/s; 0
  // when the driver does not say. What tells an H200 from an H100 besides the name.
  double memory_bytes_per_s = 0;
};

// 2 x clock x bus width: the DRAM peak from the two attributes both vendors report.
inline double peak_memory_bandwidth(long clock_khz, long bus_bits) {
  return clock_khz > 0 && bus_bits > 0 ? 2.0 * double(clock_khz) * 1e3 * double(bus_bits) / 8 : 0;
}

// A loaded module; unloads on destruction (tolerant of driver shutdown). Move-only.
class Module {
 public:
  Module() = default;
  Module(void* handle, void (*unload)(void*)) : handle_(handle), unload_(unload) {}
  Module(Module&& o) noexcept : handle_(o.handle_), unload_(o.unload_) { o.handle_ = nullptr; }
  Module& operator=(Module&& o) noexcept {
    if (this != &o) {
      reset();
      handle_ = o.handle_;
      unload_ = o.unload_;
      o.handle_ = nullptr;
    }
    return *this;
  }
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module() { reset(); }
  void* get() const { return handle_; }

 private:
  void reset() noexcept {
    if (handle_ && unload_) unload_(handle_);
    handle_ = nullptr;
  }
  void* handle_ = nullptr;
  void (*unload_)(void*) = nullptr;
};

struct LaunchDims {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned shared_bytes = 0;
  // Programmatic dependent launch (CUDA, sm_90+): the kernel may start before the previous kernel
  // in the stream has finished. Only for kernels that execute griddepcontrol.wait before they
  // touch memory that kernel may use (compiler::waits_for_prior_kernel). Drivers without it
  // launch normally.
  bool programmatic = false;
};

// Driver::load could not load a binary now, though nothing is wrong with it: a stream capture is in
// progress and loading a module is not allowed during one. A cache must not set the binary aside.
class CaptureConflict : public DriverError {
 public:
  using DriverError::DriverError;
};

// A tensor read by TMA (the bulk tensor copy engine) in tiled mode: `rank` dimensions, innermost
// first, of `element_bytes`-byte elements (1 or 4) at device address `base`; strides[i] is the
// distance in bytes between consecutive indices of dimension i + 1 (a multiple of 16). A box of
// box[0] x box[1] x ... elements lands in shared memory in that order, with the 128-byte swizzle
// if `swizzle_128b` (then box[0] x element_bytes must be 128).
struct TmaTensor {
  const void* base = nullptr;
  int rank = 2;  // 2 or 3
  std::uint32_t element_bytes = 1;
  std::uint64_t dims[3] = {};
  std::uint64_t strides[2] = {};
  std::uint32_t box[3] = {};
  bool swizzle_128b = false;
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;  // "cuda 13.0", "hip 5.2"
  // Whether time_ms measures a GPU, so that the cost model may be calibrated and configs autotuned
  // with it (not the CPU emulator's, not a test's). Default: no.
  virtual bool times_a_gpu() const { return false; }
  virtual const DeviceInfo& device() const = 0;
  // Loads a cubin / code object; throws DriverError (the driver refusing the binary included), or
  // CaptureConflict when a stream capture forbids loading now.
  virtual Module load(const std::vector<std::uint8_t>& binary) = 0;
  // The kernel `name` of `module`; throws DriverError when absent.
  virtual void* function(const Module& module, const std::string& name) = 0;
  // Launches with kernel parameters `args` (pointers to each argument's value).
  virtual void launch(void* function, const LaunchDims& dims, void* stream, void** args) = 0;
  virtual void* alloc(std::size_t bytes) = 0;
  virtual void free(void* ptr) noexcept = 0;
  virtual void copy_to_device(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void memset(void* dst, int byte, std::size_t bytes) = 0;
  // Waits for `stream` (nullptr: the whole device); reports asynchronous faults as DriverError.
  virtual void synchronize(void* stream) = 0;
  // Device time in milliseconds of the work `enqueue` puts on `stream`, between two events
  // recorded around it; waits for the second event.
  virtual double time_ms(void* stream, const std::function<void()>& enqueue) = 0;

  // A TMA descriptor (CUtensorMap, 128 bytes, written to `map`) for reading `t` in boxes into
  // shared memory; elements outside the tensor read as zero. NVIDIA sm_90+ only: the default
  // throws DriverError.
  virtual void encode_tma(void* map, const TmaTensor& t);
  // --- optional: device copies, streams and graph capture ---------------------------------------
  // Benchmarks and tests use these; the library does not. The defaults throw DriverError
  // "failed to <verb>: not supported by <driver>", so a Driver that lacks them still compiles.
  // Handles are the vendor's (CUstream, CUgraph, CUgraphExec) as void*; the caller destroys what
  // it creates (the destroy functions tolerate null and never throw).

  // Enqueues a device-to-device copy of `bytes` on `stream`.
  virtual void copy_device_async(void* dst, const void* src, std::size_t bytes, void* stream) {
    (void)dst, (void)src, (void)bytes, (void)stream;
    unsupported("copy device memory");
  }
  // A new stream that does not synchronize with the legacy default stream.
  virtual void* create_stream() { unsupported("create a stream"); }
  virtual void destroy_stream(void* stream) noexcept { (void)stream; }
  // Starts capturing the work enqueued on `stream` into a graph (global capture mode: a call that
  // is unsafe during capture, from any thread, fails instead of running).
  virtual void begin_capture(void* stream) {
    (void)stream;
    unsupported("begin a stream capture");
  }
  // Whether work enqueued on `stream` now would be captured (or would break a capture in
  // progress): the library then neither measures nor loads anything. Default: never.
  virtual bool is_capturing(void* stream) {
    (void)stream;
    return false;
  }
  // Ends the capture and returns the graph; throws DriverError when the capture was invalidated.
  virtual void* end_capture(void* stream) {
    (void)stream;
    unsupported("end a stream capture");
  }
  // An executable graph of `graph` (which may be destroyed afterwards).
  virtual void* instantiate_graph(void* graph) {
    (void)graph;
    unsupported("instantiate a graph");
  }
  // Enqueues the executable graph on `stream`.
  virtual void launch_graph(void* exec, void* stream) {
    (void)exec, (void)stream;
    unsupported("launch a graph");
  }
  virtual void destroy_graph(void* graph) noexcept { (void)graph; }
  virtual void destroy_graph_exec(void* exec) noexcept { (void)exec; }
  // Emulated devices, whose "device memory" is host memory: kernels may also access the `bytes`
  // of host memory at `ptr` that the driver did not allocate (a host application's arrays),
  // until unregister_host_memory(ptr, bytes). Ranges may overlap and be registered more than once
  // (each registration is removed by one unregister). A GPU's kernels cannot: the default throws.
  virtual void register_host_memory(const void* ptr, std::size_t bytes) {
    (void)ptr, (void)bytes;
    unsupported("register host memory");
  }
  virtual void unregister_host_memory(const void* ptr, std::size_t bytes) noexcept {
    (void)ptr, (void)bytes;
  }

 protected:
  [[noreturn]] void unsupported(const char* verb) const {
    throw DriverError(std::string("failed to ") + verb + ": not supported by " + name());
  }
};

// Factories; each throws DriverError with the reason (library missing, no device, ...).
std::unique_ptr<Driver> make_cuda_driver(int device);
std::unique_ptr<Driver> make_hip_driver(int device);
// The CPU emulation of `target` ("emu-gfx942", "emu-gfx950", "emu-sm89"; docs/emulator.md),
// running blocks on `threads` host threads (0: one per hardware thread). Throws InvalidArgument
// for anything but an emulation target.
std::unique_ptr<Driver> make_emu_driver(const std::string& target, unsigned threads = 0);

}  // namespace fp8jit::runtime
