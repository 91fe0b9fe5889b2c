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
    if (out_dtype != FP8JIT_BF16 && out_dtype != FP8JIT_FP16)
      throw fp8jit::InvalidArgument("failed to run a GEMM: out_dtype " + std::to_string(out_dtype) +
                                    " is neither FP8JIT_BF16 (0) nor FP8JIT_FP16 (1)");
    fp8jit::GemmArgs args;
    args.a = a;
    args.sa = sa;
    args.w = &w->packed;
    args.bias = bias;
    args.out = out;
    args.m = m;
    args.out_dtype = out_dtype == FP8JIT_BF16 ? fp8jit::OutDType::bf16 : fp8jit::OutDType::fp16;
    ctx->context.gemm(args, stream);
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
