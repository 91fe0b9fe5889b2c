/* fp8jit — the C ABI (C99), for Python ctypes, Rust and other non-C++ hosts.
 *
 *   out[m, n] = cast<out>( sa[m] * sw[n] * sum_k A[m, k] * W[n, k] + bias[n] )
 *   A: [M, K] fp8 row-major (16-byte aligned)   sa: [M] fp32
 *   W: [N, K] fp8, packed once by fp8jit_pack_weight   sw: [N] fp32   bias: [N] of the out dtype
 *   out: [M, N] bf16 or fp16 row-major (16-byte aligned)
 *   N and K: multiples of 16 (a K % 32 == 16 weight is packed with 16 zero columns more; A is
 *   read only up to K).
 *
 * All data pointers are device pointers; `stream` is the vendor's stream handle (CUstream /
 * hipStream_t, e.g. torch.cuda.current_stream().cuda_stream), NULL for the default stream.
 *
 * Every function that can fail returns an fp8jit_status; on failure the reason is kept, per
 * thread, for fp8jit_last_error(). No function throws, aborts or prints. Handles may be used from
 * several threads at once, except that a handle must not be destroyed while another thread uses it.
 */
#ifndef FP8JIT_FP8JIT_H
#define FP8JIT_FP8JIT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define FP8JIT_API __attribute__((visibility("default")))
#else
#define FP8JIT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Outcome of a call. Anything but FP8JIT_OK leaves a message for fp8jit_last_error(). */
typedef enum {
  FP8JIT_OK = 0,
  FP8JIT_ERROR_INVALID_ARGUMENT, /* a NULL handle or pointer, a bad shape, dtype or layout */
  FP8JIT_ERROR_DRIVER,           /* no GPU driver or device, or a driver call failed (GPU faults too) */
  FP8JIT_ERROR_COMPILE,          /* a kernel failed to compile; the message holds the compiler log */
  FP8JIT_ERROR_CACHE,            /* the on-disk kernel cache could not be read or written */
  FP8JIT_ERROR_OTHER             /* anything else (out of host memory, ...) */
} fp8jit_status;

/* Element type of `out` (and of `bias`) in fp8jit_gemm. */
typedef enum { FP8JIT_BF16 = 0, FP8JIT_FP16 = 1 } fp8jit_dtype;

/* One GPU with its driver, compiler, kernel cache and plans. */
typedef struct fp8jit_context fp8jit_context;
/* A weight in the device's packed layout, with its per-channel scales. */
typedef struct fp8jit_weight fp8jit_weight;

/* The library version, "MAJOR.MINOR.PATCH". Never NULL; static storage. */
FP8JIT_API const char* fp8jit_version(void);

/* The message of the last call that failed on the calling thread ("failed to <verb> <object>:
 * <cause>"), or "" if none has. Successful calls do not clear it. The pointer stays valid until
 * the next failing call on this thread. Never NULL. */
FP8JIT_API const char* fp8jit_last_error(void);

/* Opens GPU `device` (an ordinal of the vendor runtime; a negative value takes FP8JIT_DEVICE,
 * default 0) with every other option from the FP8JIT_* environment variables, and stores the new
 * context in *out. On failure *out is set to NULL (when out is not NULL). No GPU or driver:
 * FP8JIT_ERROR_DRIVER. */
FP8JIT_API fp8jit_status fp8jit_context_create(int device, fp8jit_context** out);

/* Destroys a context and frees every buffer still allocated with fp8jit_malloc on it. Weights
 * made with it must be destroyed first. NULL is ignored. The caller makes sure no work that uses
 * the context's memory is still running on the device. */
FP8JIT_API void fp8jit_context_destroy(fp8jit_context* ctx);

/* Writes the device's compile target ("sm_90a", "gfx942:sramecc+:xnack-") with its terminating
 * NUL into buf. A buffer shorter than that: FP8JIT_ERROR_INVALID_ARGUMENT, buf untouched, and the
 * message says the length needed. 64 bytes is always enough. */
FP8JIT_API fp8jit_status fp8jit_context_target(const fp8jit_context* ctx, char* buf, size_t len);

/* Packs the row-major [n, k] fp8 weight `w` (device memory) into the device's layout on `stream`
 * (compiling the packing kernel on first use) and stores the packed weight in *out. `w` may be
 * freed once the stream has passed this point; `sw` ([n] fp32, device) is referenced, not copied,
 * and must outlive the weight. n or k not a positive multiple of 16 (or past the limits):
 * FP8JIT_ERROR_INVALID_ARGUMENT, the message naming the value and the rule.
 * On failure *out is set to NULL (when out is not NULL). */
FP8JIT_API fp8jit_status fp8jit_pack_weight(fp8jit_context* ctx, const void* w, const float* sw,
                                            int64_t n, int64_t k, void* stream,
                                            fp8jit_weight** out);

/* Frees a packed weight (its packed bytes, not the scales). Work using it must be finished.
 * NULL is ignored. */
FP8JIT_API void fp8jit_weight_destroy(fp8jit_weight* w);

/* Enqueues out = cast(sa * sw * (A . W^T) + bias) on `stream`: a [m, k] fp8, sa [m] fp32, w from
 * fp8jit_pack_weight on this context, bias [n] of out_dtype or NULL, out [m, n] of out_dtype
 * (an fp8jit_dtype value). The first call for a (n, k, m bucket, dtype, bias) compiles or loads
 * the kernel; later calls only launch. m == 0 returns at once. Every argument is checked before
 * anything is launched; a fault of the kernel itself is reported by fp8jit_synchronize. */
FP8JIT_API fp8jit_status fp8jit_gemm(fp8jit_context* ctx, const void* a, const float* sa,
                                     const fp8jit_weight* w, const void* bias, void* out,
                                     int64_t m, int out_dtype, void* stream);

/* Waits for `stream` (NULL: all work on the device). A fault of earlier asynchronous work
 * (an illegal address, ...) is reported here as FP8JIT_ERROR_DRIVER. */
FP8JIT_API fp8jit_status fp8jit_synchronize(fp8jit_context* ctx, void* stream);

/* Allocates `bytes` of device memory owned by the context and stores its address in *out
 * (NULL when bytes is 0). Freed by fp8jit_free or with the context. */
FP8JIT_API fp8jit_status fp8jit_malloc(fp8jit_context* ctx, size_t bytes, void** out);

/* Frees memory from fp8jit_malloc on this context. NULL is a no-op; a pointer that did not come
 * from fp8jit_malloc on this context: FP8JIT_ERROR_INVALID_ARGUMENT. Work using it must be done. */
FP8JIT_API fp8jit_status fp8jit_free(fp8jit_context* ctx, void* ptr);

/* Copies `bytes` from host `src` to device `dst` (NULLs allowed when bytes is 0). Synchronous for
 * the host: src may be reused on return. */
FP8JIT_API fp8jit_status fp8jit_memcpy_h2d(fp8jit_context* ctx, void* dst, const void* src,
                                           size_t bytes);

/* Copies `bytes` from device `src` to host `dst` (NULLs allowed when bytes is 0); dst holds the
 * data on return. */
FP8JIT_API fp8jit_status fp8jit_memcpy_d2h(fp8jit_context* ctx, void* dst, const void* src,
                                           size_t bytes);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FP8JIT_FP8JIT_H */
