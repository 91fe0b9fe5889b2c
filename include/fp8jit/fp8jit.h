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

/* The 8-bit float encoding of A and W a device consumes: OCP e4m3fn (NVIDIA, gfx950), or
 * e4m3fnuz (gfx942: bias 8, one NaN, no -0). */
typedef enum { FP8JIT_E4M3FN = 0, FP8JIT_E4M3FNUZ = 1 } fp8jit_fp8_format;

/* One GPU with its driver, compiler, kernel cache and plans. */
typedef struct fp8jit_context fp8jit_context;
/* A weight in the device's packed layout, with its per-channel scales. */
typedef struct fp8jit_weight fp8jit_weight;
/* The kernels of one packed weight resolved for every M, so that a call is a lookup and a launch. */
typedef struct fp8jit_plan fp8jit_plan;

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

/* Stores in *format the fp8jit_fp8_format of A and W on this device. */
FP8JIT_API fp8jit_status fp8jit_context_fp8_format(const fp8jit_context* ctx, int* format);

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

/* --- Weights in the caller's memory ----------------------------------------------------------
 * For hosts with an allocator of their own (PyTorch): the packed bytes live in memory the caller
 * allocates and frees; fp8jit keeps no pointer to them beyond a call, except in a plan. */

/* Stores in *bytes the size of an [n, k] weight packed for this device: n x (k rounded up to a
 * multiple of 32). n or k not a positive multiple of 16 (or past the limits):
 * FP8JIT_ERROR_INVALID_ARGUMENT naming the value and the rule, *bytes set to 0. */
FP8JIT_API fp8jit_status fp8jit_packed_weight_bytes(const fp8jit_context* ctx, int64_t n,
                                                    int64_t k, size_t* bytes);

/* Packs the row-major [n, k] fp8 weight `w` (device memory, 16-byte aligned) into `packed`
 * (device memory, 16-byte aligned, `packed_bytes` of it: at least fp8jit_packed_weight_bytes) on
 * `stream`, padding columns included; compiles the packing kernel on first use. `w` may be freed
 * once the stream has passed this point. A shape, pointer or size that breaks a rule:
 * FP8JIT_ERROR_INVALID_ARGUMENT naming it, nothing launched. */
FP8JIT_API fp8jit_status fp8jit_pack_weight_into(fp8jit_context* ctx, const void* w, int64_t n,
                                                 int64_t k, void* packed, size_t packed_bytes,
                                                 void* stream);

/* fp8jit_gemm with a weight packed by fp8jit_pack_weight_into: `packed` holds the [n, k] weight in
 * this device's layout, `sw` its [n] fp32 scales; everything else as fp8jit_gemm (kernels are
 * compiled or loaded on the first call for an (n, k, m bucket, dtype, bias)). */
FP8JIT_API fp8jit_status fp8jit_gemm_packed(fp8jit_context* ctx, const void* a, const float* sa,
                                            const void* packed, const float* sw, int64_t n,
                                            int64_t k, const void* bias, void* out, int64_t m,
                                            int out_dtype, void* stream);

/* Resolves, compiling or loading as needed, the kernel of every M for the packed [n, k] weight at
 * `packed` with scales `sw`, output `out_dtype` and bias (`has_bias` non-zero) or none, and stores
 * the plan in *out (NULL on failure). Make plans before a CUDA-graph capture: a plan's calls load
 * nothing. The plan references `packed` and `sw`, which must outlive it. */
FP8JIT_API fp8jit_status fp8jit_plan_create(fp8jit_context* ctx, const void* packed,
                                            const float* sw, int64_t n, int64_t k, int out_dtype,
                                            int has_bias, fp8jit_plan** out);

/* fp8jit_gemm_packed through `plan`: a [m, k] fp8, sa [m] fp32, bias [n] of the plan's dtype (NULL
 * exactly when the plan was made without bias), out [m, n]; a lookup and a launch on `stream`. */
FP8JIT_API fp8jit_status fp8jit_plan_gemm(const fp8jit_plan* plan, const void* a, const float* sa,
                                          const void* bias, void* out, int64_t m, void* stream);

/* Frees a plan (not the weight it references). NULL is ignored. Destroy plans before their
 * context. */
FP8JIT_API void fp8jit_plan_destroy(fp8jit_plan* plan);

/* Emulated devices only (FP8JIT_TARGET=emu-*, whose "device memory" is host memory): lets kernels
 * access the `bytes` at host address `ptr`, memory fp8jit did not allocate (a NumPy array, a
 * PyTorch CPU tensor), until fp8jit_host_memory_unregister(ctx, ptr, bytes). Accesses outside
 * fp8jit_malloc memory and registered ranges stay faults. On a GPU context:
 * FP8JIT_ERROR_INVALID_ARGUMENT. */
FP8JIT_API fp8jit_status fp8jit_host_memory_register(fp8jit_context* ctx, const void* ptr,
                                                     size_t bytes);

/* Removes one registration of exactly (ptr, bytes); an unknown one is ignored. */
FP8JIT_API fp8jit_status fp8jit_host_memory_unregister(fp8jit_context* ctx, const void* ptr,
                                                       size_t bytes);

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
