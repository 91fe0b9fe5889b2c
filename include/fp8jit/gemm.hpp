// fp8jit — the GEMM API: Context, PackedWeight, GemmArgs, Plan, DeviceBuffer.
//
//   out[m, n] = cast<out>( sa[m] * sw[n] * sum_k A[m, k] * W[n, k] + bias[n] )
//   A: [M, K] fp8 row-major (16-byte aligned)   sa: [M] fp32
//   W: [N, K] fp8, packed once by pack_weight   sw: [N] fp32    bias: [N] of the out dtype, optional
//   out: [M, N] bf16 or fp16 row-major (16-byte aligned)
//   N and K: multiples of 16 (docs/layouts.md). A K % 32 == 16 weight is packed with 16 zero
//   columns more; A is read only up to K (no padding of the activations).
//
// All pointers are device pointers; streams are the vendor's stream handle (CUstream / hipStream_t)
// as void*, nullptr for the default stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fp8jit/options.hpp"
#include "fp8jit/types.hpp"

namespace fp8jit {

class Context;
struct ContextState;
namespace runtime {
struct ContextAccess;
}

// Device memory owned by a Context's driver; freed on destruction. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&&) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&&) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  void* get() const { return ptr_; }
  std::size_t size() const { return size_; }

 private:
  friend class Context;
  std::shared_ptr<ContextState> owner_;
  void* ptr_ = nullptr;
  std::size_t size_ = 0;
};

// A weight in the layout the device's GEMM kernels read, with its per-channel scales. Made by
// Context::pack_weight (which owns the packed bytes) or Context::wrap_packed_weight (which does
// not: the caller keeps the buffer alive). Move-only.
class PackedWeight {
 public:
  PackedWeight() = default;
  std::int64_t n() const { return n_; }
  std::int64_t k() const { return k_; }
  WeightLayout layout() const { return layout_; }
  Fp8Format format() const { return format_; }
  const void* data() const { return data_; }
  const float* scales() const { return scales_; }

 private:
  friend class Context;
  DeviceBuffer storage_;
  const void* data_ = nullptr;
  const float* scales_ = nullptr;
  std::int64_t n_ = 0, k_ = 0;
  WeightLayout layout_ = WeightLayout::nv_mma16x32;
  Fp8Format format_ = Fp8Format::e4m3fn;
};

struct GemmArgs {
  const void* a = nullptr;           // [M, K] fp8
  const float* sa = nullptr;         // [M] per-token scales
  const PackedWeight* w = nullptr;   // packed weight with its per-channel scales
  const void* bias = nullptr;        // [N] of out_dtype, or nullptr
  void* out = nullptr;               // [M, N]
  std::int64_t m = 0;                // tokens; 0 returns at once
  OutDType out_dtype = OutDType::bf16;
};

// The kernels one weight needs, resolved ahead for every M bucket, so that a call is a table
// lookup and a launch. Valid while its Context lives.
class Plan {
 public:
  // Same contract as Context::gemm; args.w must be the weight the plan was made for.
  void gemm(const GemmArgs& args, void* stream = nullptr) const;
  // The kernel names, one per M bucket ("m<=16: fp8gemm_...").
  std::vector<std::string> describe() const;

 private:
  friend class Context;
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// Counters since the Context was made.
struct CacheStats {
  std::uint64_t compiles = 0;     // kernels compiled by this process
  std::uint64_t disk_hits = 0;    // kernels loaded from the disk cache
  std::uint64_t memory_hits = 0;  // lookups answered from memory
  double compile_ms_total = 0;
  double compile_ms_median = 0;   // of this process's compiles (0 when none)
};

// Everything needed to drive one GPU: its driver, toolchain, kernel cache and plans. Thread-safe.
class Context {
 public:
  // Opens device options.device with the vendor runtime found (CUDA, else HIP). Throws
  // DriverError when there is none.
  explicit Context(Options options = Options::from_env());
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;

  std::string device_name() const;
  std::string target() const;  // "sm_90a", "gfx942:sramecc+:xnack-"
  int multiprocessors() const;
  // The layout this device's kernels read weights in, and the fp8 encoding of A and W they
  // consume (e4m3fnuz on gfx942, e4m3fn elsewhere).
  WeightLayout weight_layout() const;
  Fp8Format fp8_format() const;

  // Packs a row-major [n, k] fp8 weight (device memory) into the device's layout with the
  // JIT-compiled preshuffle kernel; `sw` ([n] fp32, device) is referenced, not copied, and must
  // outlive the PackedWeight. n and k must be multiples of 16; the packed bytes are n x k rounded
  // up to a multiple of 32 (the columns past k zeros). Throws InvalidArgument naming the value
  // and the rule when n or k breaks it.
  PackedWeight pack_weight(const void* w, const float* sw, std::int64_t n, std::int64_t k,
                           void* stream = nullptr);
  // Bytes a packed [n, k] weight takes: n x (k rounded up to a multiple of 32). Throws
  // InvalidArgument naming n or k and the rule when the shape does not fit weight_layout().
  std::size_t packed_weight_bytes(std::int64_t n, std::int64_t k) const;
  // pack_weight's packing, into memory the caller owns: `packed` (device memory, 16-byte aligned,
  // `packed_bytes` >= packed_weight_bytes(n, k) of it) receives the packed bytes, padding columns
  // included, on `stream`. Adopt the result with wrap_packed_weight(packed, sw, n, k,
  // weight_layout()). Throws InvalidArgument naming the value and the rule.
  void pack_weight_into(const void* w, std::int64_t n, std::int64_t k, void* packed,
                        std::size_t packed_bytes, void* stream = nullptr);
  // Adopts a weight already packed in `layout` (e.g. by aiter's shuffle_weight, which is the same
  // bytes for k % 32 == 0); `packed` holds n x (k rounded up to 32) bytes, the padding columns
  // zeros, and the caller keeps it alive. Throws InvalidArgument when the layout is not this
  // device's.
  PackedWeight wrap_packed_weight(const void* packed, const float* sw, std::int64_t n,
                                  std::int64_t k, WeightLayout layout);

  // out = sa * sw * (A · Wᵀ) + bias, enqueued on `stream`. Compiles (or loads from the cache) the
  // kernel on first use of a (N, K, M bucket, dtype, bias). Validates every argument first.
  void gemm(const GemmArgs& args, void* stream = nullptr);
  // Resolves (compiling as needed) the kernels of every M bucket for `w`.
  Plan plan(const PackedWeight& w, OutDType out_dtype = OutDType::bf16, bool has_bias = false);

  // Device memory helpers for hosts without an allocator of their own (tests, the C ABI).
  DeviceBuffer alloc(std::size_t bytes);
  void copy_to_device(void* dst, const void* src, std::size_t bytes);
  void copy_to_host(void* dst, const void* src, std::size_t bytes);
  // Waits for `stream`; a device fault surfaces here as DriverError.
  void synchronize(void* stream = nullptr);
  // Device time (ms) of the work `enqueue` puts on `stream`, between two events (benchmarks).
  double time_ms(void* stream, const std::function<void()>& enqueue);
  // The device's L2 cache size in bytes (benchmarks size their working sets by it).
  std::size_t l2_bytes() const;

  CacheStats stats() const;

 private:
  friend struct runtime::ContextAccess;  // the library's own way in (runtime/context_state.hpp)
  explicit Context(std::shared_ptr<ContextState> state);
  std::shared_ptr<ContextState> state_;
};

}  // namespace fp8jit
