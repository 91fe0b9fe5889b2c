/* A C host of the installed shared library (fp8jit::fp8jit_shared): the weight packed into memory
 * the host allocated (fp8jit_packed_weight_bytes, fp8jit_pack_weight_into), then one
 * fp8jit_gemm_packed and the same GEMM through a plan, on the device FP8JIT_TARGET names, each
 * checked against a double reference. Prints "consumer_c: ok ..." and exits 0 when both agree. */
#include <fp8jit/fp8jit.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M = 3, N = 16, K = 48 }; /* K % 32 == 16: packed with 16 zero columns more */

static double decode(unsigned char b, int fnuz) {
  const int bias = fnuz ? 8 : 7, exp = (b >> 3) & 0xf, man = b & 7;
  const double v = exp == 0 ? ldexp(man / 8.0, 1 - bias) : ldexp(1 + man / 8.0, exp - bias);
  return (b & 0x80) ? -v : v;
}

static double from_bf16(unsigned short h) {
  const unsigned int u = (unsigned int)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static int fail(const char* what) {
  printf("consumer_c: failed to %s: %s\n", what, fp8jit_last_error());
  return 1;
}

static void* upload(fp8jit_context* ctx, const void* src, size_t bytes) {
  void* p = NULL;
  if (fp8jit_malloc(ctx, bytes, &p) != FP8JIT_OK) return NULL;
  if (fp8jit_memcpy_h2d(ctx, p, src, bytes) != FP8JIT_OK) return NULL;
  return p;
}

/* Relative error of the bf16 output against the reference; NaN (the poison) counts as infinite. */
static double error(const unsigned short* out, const double* ref) {
  double err2 = 0, ref2 = 0;
  int i;
  for (i = 0; i < M * N; ++i) {
    const double got = from_bf16(out[i]);
    err2 += isnan(got) ? INFINITY : (got - ref[i]) * (got - ref[i]);
    ref2 += ref[i] * ref[i];
  }
  return sqrt(err2 / ref2);
}

int main(void) {
  fp8jit_context* ctx = NULL;
  fp8jit_plan* plan = NULL;
  unsigned char a[M * K], w[N * K];
  float sa[M], sw[N];
  unsigned short out[M * N];
  double ref[M * N], e1, e2;
  size_t packed_bytes = 0;
  void *d_a, *d_w, *d_sa, *d_sw, *d_out, *d_packed = NULL;
  int fmt = 0, i, j, x;
  char target[64];
  unsigned int seed = 12345;

  if (fp8jit_context_create(-1, &ctx) != FP8JIT_OK) return fail("create a context");
  if (fp8jit_context_target(ctx, target, sizeof target) != FP8JIT_OK) return fail("get the target");
  if (fp8jit_context_fp8_format(ctx, &fmt) != FP8JIT_OK) return fail("get the fp8 format");
  for (i = 0; i < M * K + N * K; ++i) {
    unsigned char b;
    seed = seed * 1103515245u + 12345u;
    b = (unsigned char)(((seed >> 16) & 1) << 7 | ((fmt ? 8 : 7) - 3 + (seed >> 17) % 6) << 3 |
                        ((seed >> 20) & 7));
    if (i < M * K) a[i] = b; else w[i - M * K] = b;
  }
  for (i = 0; i < M; ++i) sa[i] = 0.02f * (float)(i + 1);
  for (j = 0; j < N; ++j) sw[j] = 0.01f * (float)(1 + j % 5);
  for (i = 0; i < M; ++i)
    for (j = 0; j < N; ++j) {
      double acc = 0;
      for (x = 0; x < K; ++x) acc += decode(a[i * K + x], fmt) * decode(w[j * K + x], fmt);
      ref[i * N + j] = (double)sa[i] * sw[j] * acc;
    }
  memset(out, 0xff, sizeof out);
  d_a = upload(ctx, a, sizeof a);
  d_w = upload(ctx, w, sizeof w);
  d_sa = upload(ctx, sa, sizeof sa);
  d_sw = upload(ctx, sw, sizeof sw);
  d_out = upload(ctx, out, sizeof out);
  if (!d_a || !d_w || !d_sa || !d_sw || !d_out) return fail("upload the operands");

  if (fp8jit_packed_weight_bytes(ctx, N, K, &packed_bytes) != FP8JIT_OK) return fail("size the weight");
  if (packed_bytes != (size_t)N * 64) {
    printf("consumer_c: packed bytes %zu, expected %d\n", packed_bytes, N * 64);
    return 1;
  }
  if (fp8jit_malloc(ctx, packed_bytes, &d_packed) != FP8JIT_OK) return fail("allocate the weight");
  if (fp8jit_pack_weight_into(ctx, d_w, N, K, d_packed, packed_bytes, NULL) != FP8JIT_OK)
    return fail("pack the weight");
  if (fp8jit_gemm_packed(ctx, d_a, d_sa, d_packed, d_sw, N, K, NULL, d_out, M, FP8JIT_BF16, NULL) !=
      FP8JIT_OK)
    return fail("run fp8jit_gemm_packed");
  if (fp8jit_synchronize(ctx, NULL) != FP8JIT_OK) return fail("synchronize");
  if (fp8jit_memcpy_d2h(ctx, out, d_out, sizeof out) != FP8JIT_OK) return fail("download");
  e1 = error(out, ref);

  memset(out, 0xff, sizeof out);
  if (fp8jit_memcpy_h2d(ctx, d_out, out, sizeof out) != FP8JIT_OK) return fail("poison the output");
  if (fp8jit_plan_create(ctx, d_packed, d_sw, N, K, FP8JIT_BF16, 0, &plan) != FP8JIT_OK)
    return fail("make a plan");
  if (fp8jit_plan_gemm(plan, d_a, d_sa, NULL, d_out, M, NULL) != FP8JIT_OK) return fail("run the plan");
  if (fp8jit_synchronize(ctx, NULL) != FP8JIT_OK) return fail("synchronize");
  if (fp8jit_memcpy_d2h(ctx, out, d_out, sizeof out) != FP8JIT_OK) return fail("download");
  e2 = error(out, ref);
  fp8jit_plan_destroy(plan);
  fp8jit_context_destroy(ctx);

  printf("consumer_c: %s version=%s target=%s gemm_packed_error=%g plan_error=%g\n",
         e1 < 1e-2 && e2 < 1e-2 ? "ok" : "WRONG", fp8jit_version(), target, e1, e2);
  return e1 < 1e-2 && e2 < 1e-2 ? 0 : 1;
}
