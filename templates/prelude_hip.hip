// fp8jit AMD prelude: the vendor layer every AMD kernel family includes.
//
// Rules:
//  - No system headers, not even <stdint.h>: the same text compiles under hiprtc (which
//    pre-includes its own HIP declarations) and under `clang -x hip -nogpuinc` (which includes
//    nothing). Only builtins and attributes are used, and every name is fp8jit-prefixed or lives
//    in namespace fp8jit, so nothing clashes with what hiprtc declares.
//  - The common API below (types, FP8JIT_* macros, indices, barrier, load16/store16/load8/load4,
//    bf16/fp16 conversions, to_out_bits/from_out_bits) is the same as templates/prelude_cuda.cuh:
//    vendor-neutral templates use only that.
//  - AMD-only extras follow it: v4f, i32x8, store8, first_lane and the MFMA atoms. Each atom is a
//    template so that a file which never calls it (the preshuffle kernel on gfx90a) still
//    compiles for any arch; calling it elsewhere than gfx942/gfx950 is a compile error.
#ifndef FP8JIT_PRELUDE_HIP
#define FP8JIT_PRELUDE_HIP
// NOTE: a classic guard, not #pragma once: the text is inlined into the main file, where clang
// warns about #pragma once, and it may be inlined twice (prelude + a family that includes it).

#define FP8JIT_DEVICE __attribute__((device)) __attribute__((always_inline)) inline
#define FP8JIT_KERNEL extern "C" __attribute__((global))
#define FP8JIT_LAUNCH_BOUNDS(threads) __attribute__((amdgpu_flat_work_group_size(1, threads)))
#define FP8JIT_SHARED __attribute__((shared))
#define FP8JIT_RESTRICT __restrict__

#include "prelude_types.inc"

namespace fp8jit {

// ---- indices and synchronisation --------------------------------------------------------------

FP8JIT_DEVICE u32 thread_x() { return __builtin_amdgcn_workitem_id_x(); }
FP8JIT_DEVICE u32 block_x() { return __builtin_amdgcn_workgroup_id_x(); }
FP8JIT_DEVICE u32 block_y() { return __builtin_amdgcn_workgroup_id_y(); }
FP8JIT_DEVICE u32 block_z() { return __builtin_amdgcn_workgroup_id_z(); }

// NOTE: block and grid sizes come from the HSA dispatch packet (workgroup_size_x: u16 at byte 4,
// grid_size_x in work-items: u32 at byte 12). It is valid under every code-object version and
// needs no device library, unlike __ockl_get_local_size.
FP8JIT_DEVICE u32 block_dim_x() {
  const auto* packet = reinterpret_cast<const u16*>(__builtin_amdgcn_dispatch_ptr());
  return packet[2];
}
FP8JIT_DEVICE u32 grid_dim_x() {
  const auto* packet = reinterpret_cast<const u32*>(__builtin_amdgcn_dispatch_ptr());
  return packet[3] / block_dim_x();
}

// Workgroup barrier; the fences make LDS and global writes before it visible after it.
FP8JIT_DEVICE void barrier() {
  __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup");
  __builtin_amdgcn_s_barrier();
  __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup");
}

FP8JIT_DEVICE constexpr int warp_size() { return 64; }

// ---- global memory ------------------------------------------------------------------------
// The casts to address space 1 make the backend emit global_load/global_store instead of flat
// ones; callers pass device pointers to global memory only.

#define FP8JIT_GLOBAL __attribute__((address_space(1)))

// (A struct cannot be copied out of address space 1 in C++, hence the vector type in between.)
using fp8jit_v4u = u32 __attribute__((ext_vector_type(4)));

FP8JIT_DEVICE u32x4 load16(const void* p) {
  const fp8jit_v4u v = *(const FP8JIT_GLOBAL fp8jit_v4u*)p;
  return u32x4{v.x, v.y, v.z, v.w};
}
FP8JIT_DEVICE void store16(void* p, u32x4 v) {
  *(FP8JIT_GLOBAL fp8jit_v4u*)p = fp8jit_v4u{v.x, v.y, v.z, v.w};
}
FP8JIT_DEVICE u64 load8(const void* p) { return *(const FP8JIT_GLOBAL u64*)p; }
FP8JIT_DEVICE u32 load4(const void* p) { return *(const FP8JIT_GLOBAL u32*)p; }

// ---- 16-bit output types ----------------------------------------------------------------------

// Round to nearest even; a NaN stays a (quiet) NaN instead of rounding into infinity.
FP8JIT_DEVICE u16 float_to_bf16_bits(float f) {
  u32 u = __builtin_bit_cast(u32, f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<u16>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<u16>(u >> 16);
}
FP8JIT_DEVICE float bf16_bits_to_float(u16 b) {
  return __builtin_bit_cast(float, static_cast<u32>(b) << 16);
}
FP8JIT_DEVICE u16 float_to_fp16_bits(float f) {
  return __builtin_bit_cast(u16, static_cast<_Float16>(f));
}
FP8JIT_DEVICE float fp16_bits_to_float(u16 b) {
  return static_cast<float>(__builtin_bit_cast(_Float16, b));
}

}  // namespace fp8jit

#include "prelude_out_bits.inc"

namespace fp8jit {

// ---- AMD-only extras ------------------------------------------------------------------------

using v4f = float __attribute__((ext_vector_type(4)));

FP8JIT_DEVICE void store8(void* p, u64 v) { *(FP8JIT_GLOBAL u64*)p = v; }

// The value of lane 0 (kept in a scalar register): marks a value the compiler cannot prove is the
// same in every lane, such as the wave index, as wave-uniform.
FP8JIT_DEVICE u32 first_lane(u32 v) { return __builtin_amdgcn_readfirstlane(v); }

// D += A * B for a 16x16 tile over 32 k (v_mfma_f32_16x16x32_fp8_fp8). Lane l supplies A row
// l % 16 and B column l % 16, k = 8 * (l / 16) .. +8 (one u64 each); it receives
// D[4 * (l / 16) + i][l % 16] in acc[i]. gfx942 reads e4m3fnuz, gfx950 OCP e4m3fn.
// NOTE: a template so that the static_assert fires only where an fp8 GEMM is instantiated; the
// builtin is unknown to older compilers, hence the #if rather than a target-feature check.
template <int kUnused = 0>
FP8JIT_DEVICE v4f mfma_16x16x32_fp8(u64 a, u64 b, v4f acc) {
#if defined(__gfx942__) || defined(__gfx950__)
  return __builtin_amdgcn_mfma_f32_16x16x32_fp8_fp8(static_cast<long>(a), static_cast<long>(b),
                                                    acc, 0, 0, 0);
#else
  static_assert(kUnused != 0, "fp8jit: fp8 MFMA (v_mfma_f32_16x16x32_fp8_fp8) needs gfx942 or gfx950");
  return acc;
#endif
}

using i32x8 = int __attribute__((ext_vector_type(8)));

// D += A * B for a 16x16 tile over 128 k with OCP e4m3fn operands: v_mfma_f32_16x16x128_f8f6f4
// with cbsz = blgp = 0 (both fp8 e4m3) and unit E8M0 scales (127 = 2^0). Lane l supplies A row
// l % 16 and B column l % 16, k = 32 * (l / 16) + j for byte j of its 8 registers; it receives
// D[4 * (l / 16) + i][l % 16] in acc[i]. No kernel family uses it yet; the emulation has it too.
template <int kUnused = 0>
FP8JIT_DEVICE v4f mfma_16x16x128_fp8(i32x8 a, i32x8 b, v4f acc) {
#if defined(__gfx950__)
  return __builtin_amdgcn_mfma_scale_f32_16x16x128_f8f6f4(a, b, acc, 0, 0, 0, 127, 0, 127);
#else
  static_assert(kUnused != 0, "fp8jit: v_mfma_f32_16x16x128_f8f6f4 needs gfx950");
  return acc;
#endif
}

}  // namespace fp8jit

#endif  // FP8JIT_PRELUDE_HIP
