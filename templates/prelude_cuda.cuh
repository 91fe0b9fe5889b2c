// prelude_cuda.cuh — the NVIDIA vendor prelude of fp8jit's kernel templates.
//
// Rules: no system headers (NVRTC compiles this with no include path); everything lives in
// namespace fp8jit or carries an FP8JIT_ prefix; the common API below has the same names in
// prelude_hip.hip, so vendor-neutral templates (preshuffle.inc) compile against either.
//
// Common API: u8..u64, i32, i64, u32x4; FP8JIT_DEVICE / FP8JIT_KERNEL / FP8JIT_LAUNCH_BOUNDS /
// FP8JIT_SHARED / FP8JIT_RESTRICT; thread_x, block_x/y/z, block_dim_x, grid_dim_x, barrier,
// warp_size; load16 / store16 / load8 / load4; bf16_t, fp16_t and their conversions.
// NVIDIA atoms: mma_m16n8k32_e4m3 (mma.sync, sm_89+), load16_stream (read-once global data),
// grid_dependency_wait / launch_dependents / prefetch_l2 (programmatic dependent launch, sm_90+).
#pragma once

#include "prelude_types.inc"

#define FP8JIT_DEVICE __device__ __forceinline__
#define FP8JIT_KERNEL extern "C" __global__
#define FP8JIT_LAUNCH_BOUNDS(threads) __launch_bounds__(threads)
#define FP8JIT_SHARED __shared__
#define FP8JIT_RESTRICT __restrict__

namespace fp8jit {

FP8JIT_DEVICE u32 thread_x() { return threadIdx.x; }
FP8JIT_DEVICE u32 block_x() { return blockIdx.x; }
FP8JIT_DEVICE u32 block_y() { return blockIdx.y; }
FP8JIT_DEVICE u32 block_z() { return blockIdx.z; }
FP8JIT_DEVICE u32 block_dim_x() { return blockDim.x; }
FP8JIT_DEVICE u32 grid_dim_x() { return gridDim.x; }
FP8JIT_DEVICE void barrier() { __syncthreads(); }
__host__ __device__ constexpr int warp_size() { return 32; }

FP8JIT_DEVICE u32x4 load16(const void* p) { return *static_cast<const u32x4*>(p); }
FP8JIT_DEVICE void store16(void* p, u32x4 v) { *static_cast<u32x4*>(p) = v; }
FP8JIT_DEVICE u64 load8(const void* p) { return *static_cast<const u64*>(p); }
FP8JIT_DEVICE u32 load4(const void* p) { return *static_cast<const u32*>(p); }

// 16 bytes of data read exactly once (streamed weights): non-coherent path, no L1 allocation.
FP8JIT_DEVICE u32x4 load16_stream(const void* p) {
  u32x4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// ---- programmatic dependent launch (PTX "griddepcontrol", sm_90+) ----
// A kernel launched with programmatic stream serialization (LaunchDims::programmatic) may start
// while the kernel before it in the stream is still running. grid_dependency_wait() returns once
// that kernel has completed and its writes are visible: every thread calls it before it reads
// anything that kernel may have written or writes anything it may read. launch_dependents()
// lets the next such kernel start once every block of this grid has called it or exited. For a
// plain launch both do nothing; below sm_90 they compile to nothing.
FP8JIT_DEVICE void grid_dependency_wait() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
FP8JIT_DEVICE void launch_dependents() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
// Asks L2 to fetch `bytes` (a multiple of 16) at p (16-byte aligned). Nothing reaches the SM, so
// it is safe before grid_dependency_wait() whoever writes those bytes: every write lands in L2.
FP8JIT_DEVICE void prefetch_l2(const void* p, u32 bytes) {
#if __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes) : "memory");
#endif
}

FP8JIT_DEVICE u16 float_to_bf16_bits(float x) {
  u16 r;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
  return r;
}
FP8JIT_DEVICE u16 float_to_fp16_bits(float x) {
  u16 r;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(x));
  return r;
}
FP8JIT_DEVICE float bf16_bits_to_float(u16 b) { return __uint_as_float(u32(b) << 16); }
FP8JIT_DEVICE float fp16_bits_to_float(u16 b) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(b));
  return f;
}

}  // namespace fp8jit

#include "prelude_out_bits.inc"

namespace fp8jit {

// D = A·B + C for one m16n8k32 tile, e4m3 operands, fp32 accumulate (PTX ISA, "Matrix
// Fragments for mma.m16n8k32"). With g = lane / 4 and t = lane % 4:
//   a[0..3]: A rows g, g+8, g, g+8; columns 4t..4t+3 (a[0], a[1]) and 16+4t.. (a[2], a[3])
//   b[0..1]: B column g; rows 4t..4t+3 (b[0]) and 16+4t.. (b[1])
//   c[0..3]: D (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)
FP8JIT_DEVICE void mma_m16n8k32_e4m3(float (&c)[4], const u32x4& a, u32 b0, u32 b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1));
}

}  // namespace fp8jit
