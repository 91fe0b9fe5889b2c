// prelude_sm90.cuh — the Hopper (sm_90a) atoms of fp8jit's kernel templates, on top of
// prelude_cuda.cuh: shared-memory addresses, mbarriers, tensor (TMA) copies, wgmma.
//
// References: PTX ISA 8.x/9.x, sections "Parallel Synchronization and Communication Instructions:
// mbarrier", "Data Movement: cp.async.bulk.tensor", "Asynchronous Warpgroup
// Level Matrix Multiply-Accumulate Instructions" (wgmma: register fragments, matrix descriptor
// format, swizzling modes) and "setmaxnreg".
#pragma once

#include "prelude_cuda.cuh"

namespace fp8jit {

// A CUtensorMap (cuda.h: 128 bytes, 64-byte aligned), filled on the host by
// cuTensorMapEncodeTiled and passed by value as a __grid_constant__ kernel parameter.
struct alignas(64) TmaMap {
  u64 opaque[16];
};

// The 32-bit shared-memory-window address of a pointer into shared memory.
FP8JIT_DEVICE u32 smem_addr(const void* p) {
  u32 r;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(r) : "l"(p));
  return r;
}

// 16 bytes from shared memory at window address `addr` (16-byte aligned).
FP8JIT_DEVICE u32x4 load16_shared(u32 addr) {
  u32x4 v;
  asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "r"(addr));
  return v;
}

// ---- mbarrier (shared::cta) ----
FP8JIT_DEVICE void mbar_init(u32 bar, u32 count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}
// Makes barrier initialisation visible to the async proxy (TMA) before first use.
FP8JIT_DEVICE void mbar_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}
// One arrival that also announces `bytes` of asynchronous transactions for the current phase.
FP8JIT_DEVICE void mbar_arrive_expect_tx(u32 bar, u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
}
FP8JIT_DEVICE void mbar_arrive(u32 bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}
// Waits until the phase with parity `parity` of the barrier has completed.
FP8JIT_DEVICE void mbar_wait(u32 bar, u32 parity) {
  u32 done;
  do {
    asm volatile(
        "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; "
        "selp.u32 %0, 1, 0, p; }"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

// ---- TMA (tensor) copies into shared memory, completing on an mbarrier ----
// The box of a 2D / 3D tensor map at element coordinates (c0 = innermost, c1, c2); elements
// outside the tensor are filled with zeros, and the full box counts towards the barrier's
// transactions.
FP8JIT_DEVICE void tma_load_2d(u32 dst, const TmaMap* map, int c0, int c1, u32 bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes "
      "[%0], [%1, {%2, %3}], [%4];" ::"r"(dst),
      "l"(reinterpret_cast<u64>(map)), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}
FP8JIT_DEVICE void tma_load_3d(u32 dst, const TmaMap* map, int c0, int c1, int c2, u32 bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes "
      "[%0], [%1, {%2, %3, %4}], [%5];" ::"r"(dst),
      "l"(reinterpret_cast<u64>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}

// tma_load_2d into the same shared-memory offset of every CTA of the cluster in `cta_mask` (bit r:
// rank r), each completing `bytes` on its own barrier at the offset of `bar`.
FP8JIT_DEVICE void tma_load_2d_multicast(u32 dst, const TmaMap* map, int c0, int c1, u32 bar,
                                         u16 cta_mask) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      ".multicast::cluster [%0], [%1, {%2, %3}], [%4], %5;" ::"r"(dst),
      "l"(reinterpret_cast<u64>(map)), "r"(c0), "r"(c1), "r"(bar), "h"(cta_mask)
      : "memory");
}

// Fetches a tensor map into the descriptor cache ahead of its first copy.
FP8JIT_DEVICE void prefetch_tma_map(const TmaMap* map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<u64>(map)) : "memory");
}

// Orders this thread's generic-proxy accesses of shared memory before later async-proxy ones
// (a TMA copy that overwrites a stage the thread has read).
FP8JIT_DEVICE void fence_proxy_async_shared() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

// ---- thread-block clusters (split-K, or a token tile multicast, over the CTAs of a cluster) ----
FP8JIT_DEVICE u32 cluster_rank() {
  u32 r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
// Cluster-wide barrier in two halves; the release/acquire pair makes shared-memory writes made
// before arrive visible to every CTA of the cluster after wait. Exited threads count as arrived.
FP8JIT_DEVICE void cluster_arrive() { asm volatile("barrier.cluster.arrive.release;" ::: "memory"); }
FP8JIT_DEVICE void cluster_wait() { asm volatile("barrier.cluster.wait.acquire;" ::: "memory"); }
FP8JIT_DEVICE void store16_shared(u32 addr, float a, float b, float c, float d) {
  asm volatile("st.shared.v4.f32 [%0], {%1, %2, %3, %4};" ::"r"(addr), "f"(a), "f"(b), "f"(c),
               "f"(d)
               : "memory");
}
// Four floats at window address `addr` of CTA `rank`'s shared memory in this cluster.
FP8JIT_DEVICE void load16_cluster(u32 addr, u32 rank, float (&v)[4]) {
  asm volatile(
      "{ .reg .u32 ra; mapa.shared::cluster.u32 ra, %4, %5; "
      "ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [ra]; }"
      : "=f"(v[0]), "=f"(v[1]), "=f"(v[2]), "=f"(v[3])
      : "r"(addr), "r"(rank)
      : "memory");
}

// One arrival on the barrier at window address `bar` of CTA `rank`'s shared memory in this
// cluster (the default .release.cta: a release at cluster scope is a memory barrier the warp
// waits for, which cost a multicast kernel 56% of its issue stalls on an H100).
FP8JIT_DEVICE void mbar_arrive_cluster(u32 bar, u32 rank) {
  asm volatile(
      "{ .reg .u32 rb; mapa.shared::cluster.u32 rb, %0, %1; "
      "mbarrier.arrive.shared::cluster.b64 _, [rb]; }" ::"r"(bar), "r"(rank)
      : "memory");
}

// 4 bytes to shared memory at window address `addr` (4-byte aligned).
FP8JIT_DEVICE void store4_shared(u32 addr, u32 v) {
  asm volatile("st.shared.u32 [%0], %1;" ::"r"(addr), "r"(v) : "memory");
}

// Orders the shared-memory accesses of the warp's lanes (all of them take part).
FP8JIT_DEVICE void sync_warp() { __syncwarp(); }

// The value of `v` in lane (this lane ^ `mask`) of the warp; every lane must take part.
FP8JIT_DEVICE u32 shfl_xor(u32 v, u32 mask) { return __shfl_xor_sync(0xFFFFFFFFu, v, mask); }

// Barrier `id` (1..15; 0 is barrier()) among the first `threads` threads that reach it.
FP8JIT_DEVICE void named_barrier(u32 id, u32 threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

// ---- register budget per warpgroup ----
template <int regs>
FP8JIT_DEVICE void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(regs));
}
template <int regs>
FP8JIT_DEVICE void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(regs));
}

// ---- wgmma ----
FP8JIT_DEVICE void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
FP8JIT_DEVICE void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int pending>
FP8JIT_DEVICE void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(pending) : "memory");
}
// Keeps the compiler from moving reads or writes of `x` across a wgmma fence or wait.
FP8JIT_DEVICE void pin(float& x) { asm volatile("" : "+f"(x)::"memory"); }

// Matrix descriptor of a K-major operand tile in shared memory with the 128-byte swizzle: rows of
// 128 bytes, 8-row groups 1024 bytes apart (SBO), tile base 1024-byte aligned. `addr` may be
// advanced by multiples of 32 bytes inside the 128-byte row to select the k32 slice.
FP8JIT_DEVICE u64 desc_k_sw128(u32 addr) {
  u64 d = (addr & 0x3FFFFu) >> 4;   // bits 0-13: start address / 16
  d |= u64(1) << 16;                // bits 16-29: leading byte offset (unused by swizzled K-major)
  d |= u64(1024 >> 4) << 32;        // bits 32-45: stride byte offset / 16
  d |= u64(1) << 62;                // bits 62-63: swizzle mode 1 = 128B
  return d;
}

// wgmma.mma_async m64nNk32 f32 += e4m3 x e4m3 with A from registers and B from a descriptor:
// WgmmaRs<N>::mma(d, a, desc). The specialisation for the N a kernel uses is generated by the
// renderer (compiler/render.cpp) because the accumulator operand list depends on N.
// A fragment (per warp w of the warpgroup, g = lane / 4, t = lane % 4): rows 16 w + g (a.x, a.z)
// and 16 w + g + 8 (a.y, a.w), bytes k = 4t..4t+3 (a.x, a.y) and 16+4t.. (a.z, a.w) — the
// mma.m16n8k32 A fragment, hence the nv_mma16x32 weight layout feeds it unchanged.
// Accumulator: d[4 j + 2 h + e] is row 16 w + g + 8 h, column 8 j + 2 t + e.
template <int N>
struct WgmmaRs;

}  // namespace fp8jit
