// The C ABI (include/fp8jit/fp8jit.h) over fp8jit::Context. Every entry point catches everything:
// an exception becomes a status code and a per-thread message, never a crossing into C.
#include "fp8jit/fp8jit.h"

#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>

#include "fp8jit/error.hpp"
#include "fp8jit/gemm.hpp"
#include "runtime/context_state.hpp"
#include "util/text.hpp"

struct fp8jit_context {
  explicit fp8jit_context(fp8jit::Options options) : context(std::move(options)) {}

  fp8jit::Context context;
  // Memory handed out by fp8jit_malloc, so that fp8jit_free can tell its own pointers from others.
  // Declared after `context`: destroyed first.
  std::mutex buffers_mu;
  std::unordered_map<void*, fp8jit::DeviceBuffer> buffers;
};

struct fp8jit_weight {
  fp8jit::PackedWeight packed;
};

struct fp8jit_plan {
  fp8jit::PackedWeight weight;  // the caller's packed bytes and scales, not owned
  fp8jit::OutDType out_dtype = fp8jit::OutDType::bf16;
  fp8jit::Plan plan;
};

namespace {

// The message of the last failing call on this thread.
thread_local std::string t_last_error;
// Set when the message itself could not be stored (out of host memory).
thread_local bool t_last_error_lost = false;

fp8jit_status remember(fp8jit_status status, const char* message) noexcept {
  try {
    t_last_error = message;
    t_last_error_lost = false;
  } catch (...) {
    t_last_error.clear();
    t_last_error_lost = true;
  }
  return status;
}

// Runs `body`, mapping each exception to its status and remembering its message.
template <class Body>
fp8jit_status guarded(Body&& body) noexcept {
  try {
    body();
    return FP8JIT_OK;
  } catch (const fp8jit::InvalidArgument& e) {
    return remember(FP8JIT_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const fp8jit::DriverError& e) {
    return remember(FP8JIT_ERROR_DRIVER, e.what());
  } catch (const fp8jit::CompileError& e) {
    return remember(FP8JIT_ERROR_COMPILE, e.what());
  } catch (const fp8jit::CacheError& e) {
    return remember(FP8JIT_ERROR_CACHE, e.what());
  } catch (const std::bad_alloc&) {
    return remember(FP8JIT_ERROR_OTHER, "failed to allocate host memory: out of memory");
  } catch (const std::exception& e) {
    return remember(FP8JIT_ERROR_OTHER, e.what());
  } catch (...) {
    return remember(FP8JIT_ERROR_OTHER, "failed with an exception that is not a std::exception");
  }
}

// Throws InvalidArgument "failed to <action>: parameter '<name>' is NULL" when p is null.
void require(const void* p, const char* action, const char* name) {
  if (!p)
    throw fp8jit::InvalidArgument(std::string("failed to ") + action + ": parameter '" + name +
                                  "' is NULL");
}

// The OutDType of an fp8jit_dtype value; InvalidArgument naming it otherwise.
fp8jit::OutDType out_dtype_of(int out_dtype, const char* action) {
  if (out_dtype != FP8JIT_BF16 && out_dtype != FP8JIT_FP16)
    throw fp8jit::InvalidArgument(std::string("failed to ") + action + ": out_dtype " +
                                  std::to_string(out_dtype) +
                                  " is neither FP8JIT_BF16 (0) nor FP8JIT_FP16 (1)");
  return out_dtype == FP8JIT_BF16 ? fp8jit::OutDType::bf16 : fp8jit::OutDType::fp16;
}

// The driver of an emulated context; InvalidArgument on a GPU context.
fp8jit::runtime::Driver& emulated_driver(fp8jit_context* ctx, const char* action) {
  require(ctx, action, "ctx");
  fp8jit::ContextState& s = fp8jit::runtime::state_of(ctx->context);
  if (!s.target.emulated)
    throw fp8jit::InvalidArgument(std::string("failed to ") + action + ": the context runs on " +
                                  s.target.str() +
                                  ", whose kernels read device memory only; host memory is for "
                                  "emulated devices (FP8JIT_TARGET=emu-*)");
  return *s.driver;
}

}  // namespace

extern "C" {

const char* fp8jit_version(void) { return FP8JIT_VERSION; }

const char* fp8jit_last_error(void) {
  if (t_last_error_lost) return "failed to record the error message: out of host memory";
  return t_last_error.c_str();
}

fp8jit_status fp8jit_context_create(int device, fp8jit_context** out) {
  if (out) *out = nullptr;
  return guarded([&] {
    require(out, "create a context", "out");
    fp8jit::Options options = fp8jit::Options::from_env();
    if (device >= 0) options.device = device;
    *out = new fp8jit_context(std::move(options));
  });
}

void fp8jit_context_destroy(fp8jit_context* ctx) {
  // NOTE: destructors here do not throw (DeviceBuffer and Context release through noexcept
  // driver calls); the catch keeps a violation from escaping into C all the same.
  try {
    delete ctx;
  } catch (...) {
  }
}

fp8jit_status fp8jit_context_target(const fp8jit_context* ctx, char* buf, size_t len) {
  return guarded([&] {
    require(ctx, "get the target", "ctx");
    require(buf, "get the target", "buf");
    const std::string target = ctx->context.target();
    if (len < target.size() + 1)
      throw fp8jit::InvalidArgument("failed to get the target: a buffer of " + std::to_string(len) +
                                    " bytes is too short for '" + target + "' (needs " +
                                    std::to_string(target.size() + 1) + ")");
    std::memcpy(buf, target.c_str(), target.size() + 1);
  });
}

fp8jit_status fp8jit_context_fp8_format(const fp8jit_context* ctx, int* format) {
  return guarded([&] {
    require(ctx, "get the fp8 format", "ctx");
    require(format, "get the fp8 format", "format");
    *format = ctx->context.fp8_format() == fp8jit::Fp8Format::e4m3fn ? FP8JIT_E4M3FN
                                                                     : FP8JIT_E4M3FNUZ;
  });
}

fp8jit_status fp8jit_pack_weight(fp8jit_context* ctx, const void* w, const float* sw, int64_t n,
                                 int64_t k, void* stream, fp8jit_weight** out) {
  if (out) *out = nullptr;
  return guarded([&] {
    require(ctx, "pack a weight", "ctx");
    require(w, "pack a weight", "w");
    require(sw, "pack a weight", "sw");
    require(out, "pack a weight", "out");
    auto weight = std::make_unique<fp8jit_weight>();
    weight->packed = ctx->context.pack_weight(w, sw, n, k, stream);
    *out = weight.release();
  });
}

void fp8jit_weight_destroy(fp8jit_weight* w) {
  try {
    delete w;
  } catch (...) {
  }
}

fp8jit_status fp8jit_gemm(fp8jit_context* ctx, const void* a, const float* sa,
                          const fp8jit_weight* w, const void* bias, void* out, int64_t m,
                          int out_dtype, void* stream) {
  return guarded([&] {
    require(ctx, "run a GEMM", "ctx");
    require(w, "run a GEMM", "w");
    fp8jit::GemmArgs args;
    args.a = a;
    args.sa = sa;
    args.w = &w->packed;
    args.bias = bias;
    args.out = out;
    args.m = m;
    args.out_dtype = out_dtype_of(out_dtype, "run a GEMM");
    ctx->context.gemm(args, stream);
  });
}

fp8jit_status fp8jit_packed_weight_bytes(const fp8jit_context* ctx, int64_t n, int64_t k,
                                         size_t* bytes) {
  if (bytes) *bytes = 0;
  return guarded([&] {
    require(ctx, "size a packed weight", "ctx");
    require(bytes, "size a packed weight", "bytes");
    *bytes = ctx->context.packed_weight_bytes(n, k);
  });
}

fp8jit_status fp8jit_pack_weight_into(fp8jit_context* ctx, const void* w, int64_t n, int64_t k,
                                      void* packed, size_t packed_bytes, void* stream) {
  return guarded([&] {
    require(ctx, "pack a weight", "ctx");
    require(w, "pack a weight", "w");
    require(packed, "pack a weight", "packed");
    ctx->context.pack_weight_into(w, n, k, packed, packed_bytes, stream);
  });
}

fp8jit_status fp8jit_gemm_packed(fp8jit_context* ctx, const void* a, const float* sa,
                                 const void* packed, const float* sw, int64_t n, int64_t k,
                                 const void* bias, void* out, int64_t m, int out_dtype,
                                 void* stream) {
  return guarded([&] {
    require(ctx, "run a GEMM", "ctx");
    require(packed, "run a GEMM", "packed");
    require(sw, "run a GEMM", "sw");
    // NOTE: a PackedWeight that references the caller's bytes: no allocation, no copy.
    const fp8jit::PackedWeight w =
        ctx->context.wrap_packed_weight(packed, sw, n, k, ctx->context.weight_layout());
    fp8jit::GemmArgs args;
    args.a = a;
    args.sa = sa;
    args.w = &w;
    args.bias = bias;
    args.out = out;
    args.m = m;
    args.out_dtype = out_dtype_of(out_dtype, "run a GEMM");
    ctx->context.gemm(args, stream);
  });
}

fp8jit_status fp8jit_plan_create(fp8jit_context* ctx, const void* packed, const float* sw,
                                 int64_t n, int64_t k, int out_dtype, int has_bias,
                                 fp8jit_plan** out) {
  if (out) *out = nullptr;
  return guarded([&] {
    require(ctx, "make a plan", "ctx");
    require(packed, "make a plan", "packed");
    require(sw, "make a plan", "sw");
    require(out, "make a plan", "out");
    auto plan = std::make_unique<fp8jit_plan>();
    plan->weight = ctx->context.wrap_packed_weight(packed, sw, n, k, ctx->context.weight_layout());
    plan->out_dtype = out_dtype_of(out_dtype, "make a plan");
    plan->plan = ctx->context.plan(plan->weight, plan->out_dtype, has_bias != 0);
    *out = plan.release();
  });
}

fp8jit_status fp8jit_plan_gemm(const fp8jit_plan* plan, const void* a, const float* sa,
                               const void* bias, void* out, int64_t m, void* stream) {
  return guarded([&] {
    require(plan, "run a GEMM", "plan");
    fp8jit::GemmArgs args;
    args.a = a;
    args.sa = sa;
    args.w = &plan->weight;
    args.bias = bias;
    args.out = out;
    args.m = m;
    args.out_dtype = plan->out_dtype;
    plan->plan.gemm(args, stream);
  });
}

void fp8jit_plan_destroy(fp8jit_plan* plan) {
  try {
    delete plan;
  } catch (...) {
  }
}

fp8jit_status fp8jit_host_memory_register(fp8jit_context* ctx, const void* ptr, size_t bytes) {
  return guarded([&] {
    fp8jit::runtime::Driver& driver = emulated_driver(ctx, "register host memory");
    if (bytes == 0) return;
    require(ptr, "register host memory", "ptr");
    driver.register_host_memory(ptr, bytes);
  });
}

fp8jit_status fp8jit_host_memory_unregister(fp8jit_context* ctx, const void* ptr, size_t bytes) {
  return guarded([&] {
    emulated_driver(ctx, "unregister host memory").unregister_host_memory(ptr, bytes);
  });
}

fp8jit_status fp8jit_synchronize(fp8jit_context* ctx, void* stream) {
  return guarded([&] {
    require(ctx, "synchronize", "ctx");
    ctx->context.synchronize(stream);
  });
}

fp8jit_status fp8jit_malloc(fp8jit_context* ctx, size_t bytes, void** out) {
  if (out) *out = nullptr;
  return guarded([&] {
    require(ctx, "allocate device memory", "ctx");
    require(out, "allocate device memory", "out");
    if (bytes == 0) return;
    fp8jit::DeviceBuffer buffer = ctx->context.alloc(bytes);
    void* p = buffer.get();
    std::lock_guard<std::mutex> lock(ctx->buffers_mu);
    ctx->buffers.emplace(p, std::move(buffer));
    *out = p;
  });
}

fp8jit_status fp8jit_free(fp8jit_context* ctx, void* ptr) {
  return guarded([&] {
    require(ctx, "free device memory", "ctx");
    if (!ptr) return;
    fp8jit::DeviceBuffer doomed;  // freed after the lock is released
    std::lock_guard<std::mutex> lock(ctx->buffers_mu);
    auto it = ctx->buffers.find(ptr);
    if (it == ctx->buffers.end())
      throw fp8jit::InvalidArgument("failed to free device memory at " +
                                    fp8jit::util::address(ptr) +
                                    ": it was not allocated by fp8jit_malloc on this context");
    doomed = std::move(it->second);
    ctx->buffers.erase(it);
  });
}

namespace {

// One copy between host and device memory: `action` names it in errors ("copy to the host").
fp8jit_status copy(fp8jit_context* ctx, void* dst, const void* src, size_t bytes, const char* action,
                   void (fp8jit::Context::*how)(void*, const void*, std::size_t)) {
  return guarded([&] {
    require(ctx, action, "ctx");
    if (bytes == 0) return;
    require(dst, action, "dst");
    require(src, action, "src");
    (ctx->context.*how)(dst, src, bytes);
  });
}

}  // namespace

fp8jit_status fp8jit_memcpy_h2d(fp8jit_context* ctx, void* dst, const void* src, size_t bytes) {
  return copy(ctx, dst, src, bytes, "copy to the device", &fp8jit::Context::copy_to_device);
}

fp8jit_status fp8jit_memcpy_d2h(fp8jit_context* ctx, void* dst, const void* src, size_t bytes) {
  return copy(ctx, dst, src, bytes, "copy to the host", &fp8jit::Context::copy_to_host);
}

}  // extern "C"
