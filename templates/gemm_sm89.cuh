// gemm_sm89.cuh — fp8 PTPC GEMM with mma.sync m16n8k32 e4m3 (sm_89, sm_90, sm_90a).
//
//   out[m, n] = out_t( sa[m] * sw[n] * sum_k A[m, k] * W[n, k] + bias[n] )
//
// Operands. The product is computed transposed ("swap AB"): out^T = W · A^T, so the weight — the
// large operand at small M — is the mma's A operand (16 weight rows per fragment) and the tokens
// are its B operand (8 tokens per fragment).
//   W: layout nv_mma16x32 (docs/layouts.md). The 16x32 block (n-block nb, k-block kb) is 512
//      bytes at (nb * K/32 + kb) * 512; lane L's A-fragment {a0, a1, a2, a3} is the 16 bytes at
//      block + 16 L: one coalesced 16-byte load per lane, no shared memory, no shuffles.
//   A: [M, K] row-major. Lane L (g = L/4, t = L%4) needs token g's bytes k0+4t..+3 (b0) and
//      k0+16+4t..+3 (b1): two 4-byte loads, shared by all warps of the block through L1, issued
//      with the weight loads of the same step (one latency per step, not two).
//   out: [M, N] row-major; accumulator c of fragment (nb, token group) holds out^T rows nb*16+g
//      (+8) and token columns 2t, 2t+1.
// Work split. Grid (ceil(N / bn), ceil(M / bm), 1); block = warps x split_k x 32 threads: split_k
// k-slices of `warps` warps each. Warp (wn, ks) of block (bx, by) owns FN = bn / (16 warps)
// n-blocks (bx * bn/16 + wn * FN + f), all bm tokens of token tile by (FM = bm / 8 token groups)
// and k-slice ks (K/32 k-blocks split into split_k contiguous ranges); it walks its slice in steps
// of bk = 32 KU, loading the KU x FN weight fragments and KU x FM token fragments of a step (and,
// with stages = 2, those of the next step before the mmas of the current one) so that 16 KU FN
// weight bytes per lane are in flight. With split_k > 1, slices 1.. write their partial sums to shared memory and slice 0 adds
// them and runs the epilogue: more warps stream one n-block's weight when N / bn is small.
// Shared memory: (split_k - 1) x warps x FN x FM x 4 x 32 floats (none for split_k = 1).
// Registers: 4 FN FM accumulators + (4 FN + 2 FM) KU (x stages) fragment words.
// Constraints (enforced by KernelSpec::validate): N % 16 == 0, K % 16 == 0 (a K % 32 == 16
// weight's last k-block is half padding: its token bytes past K are not read); warps in {1..8},
// bn = 16 warps {1, 2, 4}, bm in {8..64} (power of two), bk in {32, 64, 128}, stages in {1, 2},
// split_k in {1, 2, 4, 8} with warps x split_k <= 16 and the shared memory above <= 48 KiB. N need
// not be a multiple of bn (n-blocks past N are skipped, warp-uniformly) and
// K need not be a multiple of bk (the tail runs KU = 1 steps).
// M tail: tokens >= m read zeros (no load is issued) and are not stored.
// Programmatic launch (prelude_cuda.cuh; sm_90+, a no-op elsewhere): before it waits for the
// previous kernel in the stream, each warp of the first token tile asks L2 for the first
// kPrefetchBlocks k-blocks of each of its n-blocks (about kPrefetchBudget bytes over the grid);
// every thread then waits before it reads A, the scales or the bias. A block lets the next kernel
// start once it has issued its last main-loop weight load.
#pragma once

#include "prelude_cuda.cuh"

namespace fp8jit {

template <class Spec>
struct MmaSm89Gemm {
  static constexpr int kThreads = Spec::warps * Spec::split_k * 32;
  static constexpr int FN = Spec::bn / (16 * Spec::warps);
  static constexpr int FM = Spec::bm / 8;
  static constexpr int KU = Spec::bk / 32;
  static constexpr long kBlocksK = (Spec::k + 31) / 32;  // 32-wide k-blocks of the packed weight
  static constexpr bool kHalfBlock = Spec::k % 32 != 0;  // the last k-block's columns 16..31 are past K
  static constexpr long kBlocksN = Spec::n / 16;  // 16-row n-blocks
  static constexpr int S = Spec::split_k;          // k-slices per block
  static constexpr long kSliceBlocks = (kBlocksK + S - 1) / S;  // k-blocks per slice
  // L2 prefetch before the wait: about kPrefetchBudget bytes over the (n-block, slice) pairs.
  static constexpr long kPrefetchBudget = 8l << 20;
  static constexpr long kPrefetchPerPair = kPrefetchBudget / (512 * kBlocksN * S);
  static constexpr long kPrefetchBlocks = kPrefetchPerPair < 1 ? 1 : kPrefetchPerPair;
  static_assert(Spec::n % 16 == 0 && Spec::k % 16 == 0, "layout nv_mma16x32 needs N%16, K%16");
  static_assert(FN >= 1 && FM >= 1 && KU >= 1, "config out of range");

  // The operands of one step: weight fragments and token fragments, loaded together one step
  // ahead of their mmas so that neither load's latency stalls the tensor pipe.
  struct Fragments {
    u32x4 w[KU][FN];
    u32 b0[KU][FM], b1[KU][FM];
  };

  // Loads the weight fragments of k-blocks kb .. kb+ku-1 for this warp's n-blocks, and the
  // token fragments of the same k-blocks for its bm tokens.
  template <int ku>
  static FP8JIT_DEVICE void load_step(Fragments& f, const u8* a, const u8* w, long nb0, long kb,
                                      long m0, int m, u32 lane) {
    const u32 g = lane / 4, t = lane % 4;
#pragma unroll
    for (int u = 0; u < ku; ++u) {
#pragma unroll
      for (int j = 0; j < FN; ++j) {
        const long nb = nb0 + j;
        f.w[u][j] = nb < kBlocksN
                        ? load16_stream(w + ((nb * kBlocksK + kb + u) * 512 + lane * 16))
                        : u32x4{0, 0, 0, 0};
      }
#pragma unroll
      for (int i = 0; i < FM; ++i) {
        const long row = m0 + i * 8 + g;
        const u8* p = a + row * Spec::k + (kb + u) * 32 + 4 * t;
        // Past K (the second half of the last k-block when K % 32 == 16) nothing is read: the
        // packed weight's padding is zero there, and the row may end the allocation.
        const bool high = !kHalfBlock || (kb + u) * 32 + 16 < Spec::k;
        f.b0[u][i] = row < m ? load4(p) : 0u;
        f.b1[u][i] = row < m && high ? load4(p + 16) : 0u;
      }
    }
  }

  template <int ku>
  static FP8JIT_DEVICE void mma_step(float (&acc)[FN][FM][4], const Fragments& f) {
#pragma unroll
    for (int u = 0; u < ku; ++u)
#pragma unroll
      for (int j = 0; j < FN; ++j)
#pragma unroll
        for (int i = 0; i < FM; ++i)
          mma_m16n8k32_e4m3(acc[j][i], f.w[u][j], f.b0[u][i], f.b1[u][i]);
  }

  // acc += the products of k-blocks [kb_begin, kb_end) for this warp's n-blocks.
  static FP8JIT_DEVICE void accumulate(float (&acc)[FN][FM][4], const u8* a, const u8* w,
                                       long nb0, long kb_begin, long kb_end, long m0, int m,
                                       u32 lane) {
    const long main_steps = (kb_end - kb_begin) / KU;
    Fragments cur;
    if (main_steps > 0) load_step<KU>(cur, a, w, nb0, kb_begin, m0, m, lane);
    for (long s = 0; s < main_steps; ++s) {
      const long kb = kb_begin + s * KU;
      if (s + 1 == main_steps) launch_dependents();  // the last main-loop load has been issued
      if constexpr (Spec::stages == 2) {
        Fragments next;
        if (s + 1 < main_steps) load_step<KU>(next, a, w, nb0, kb + KU, m0, m, lane);
        mma_step<KU>(acc, cur);
        cur = next;
      } else {
        mma_step<KU>(acc, cur);
        if (s + 1 < main_steps) load_step<KU>(cur, a, w, nb0, kb + KU, m0, m, lane);
      }
    }
    for (long kb = kb_begin + main_steps * KU; kb < kb_end; ++kb) {  // tail, one k-block at a time
      Fragments tail;
      load_step<1>(tail, a, w, nb0, kb, m0, m, lane);
      mma_step<1>(acc, tail);
    }
  }

  static FP8JIT_DEVICE void run(const void* a_, const float* sa, const void* w_, const float* sw,
                                const void* bias_, void* out_, int m) {
    const u8* a = static_cast<const u8*>(a_);
    const u8* w = static_cast<const u8*>(w_);
    const u32 lane = thread_x() % 32, warp = thread_x() / 32;
    const u32 wn = warp % Spec::warps, ks = warp / Spec::warps;  // n position, k-slice
    const long nb0 = long(block_x()) * (Spec::bn / 16) + wn * FN;
    const long m0 = long(block_y()) * Spec::bm;
    const bool active = nb0 < kBlocksN;  // warp-uniform: false when the warp is past N

    const long begin = ks * kSliceBlocks < kBlocksK ? ks * kSliceBlocks : kBlocksK;
    const long end = begin + kSliceBlocks < kBlocksK ? begin + kSliceBlocks : kBlocksK;
    if (active && block_y() == 0 && lane < u32(FN) && nb0 + lane < kBlocksN && end > begin) {
      const long blocks = end - begin < kPrefetchBlocks ? end - begin : kPrefetchBlocks;
      prefetch_l2(w + ((nb0 + lane) * kBlocksK + begin) * 512, u32(blocks * 512));
    }
    grid_dependency_wait();

    float acc[FN][FM][4];
#pragma unroll
    for (int j = 0; j < FN; ++j)
#pragma unroll
      for (int i = 0; i < FM; ++i) acc[j][i][0] = acc[j][i][1] = acc[j][i][2] = acc[j][i][3] = 0.f;
    if (active) accumulate(acc, a, w, nb0, begin, end, m0, m, lane);
    launch_dependents();  // (also for a warp past N or with no main-loop step)

    if constexpr (S > 1) {
      // Slices 1..S-1 hand their partial sums to slice 0 through shared memory (lane-minor:
      // conflict-free); every warp reaches the barrier, active or not.
      FP8JIT_SHARED float partial[S - 1][Spec::warps][FN * FM * 4][32];
      if (ks > 0 && active) {
#pragma unroll
        for (int j = 0; j < FN; ++j)
#pragma unroll
          for (int i = 0; i < FM; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) partial[ks - 1][wn][(j * FM + i) * 4 + e][lane] = acc[j][i][e];
      }
      barrier();
      if (ks > 0 || !active) return;
      for (int s = 0; s < S - 1; ++s)
#pragma unroll
        for (int j = 0; j < FN; ++j)
#pragma unroll
          for (int i = 0; i < FM; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[j][i][e] += partial[s][wn][(j * FM + i) * 4 + e][lane];
    } else if (!active) {
      return;
    }

    // Epilogue: scales, bias, conversion, masked stores.
    using out_t = typename Spec::out_t;
    u16* out = static_cast<u16*>(out_);
    const u16* bias = static_cast<const u16*>(bias_);
    const u32 g = lane / 4, t = lane % 4;
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      const long nb = nb0 + j;
      if (nb >= kBlocksN) break;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const long n = nb * 16 + g + 8 * h;
        const float scale_w = sw[n];
        const float b = Spec::has_bias ? from_out_bits<out_t>(bias[n]) : 0.f;
#pragma unroll
        for (int i = 0; i < FM; ++i)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const long row = m0 + i * 8 + 2 * t + e;
            if (row < m)
              out[row * Spec::n + n] = to_out_bits<out_t>(acc[j][i][2 * h + e] * sa[row] * scale_w + b);
          }
      }
    }
  }
};

}  // namespace fp8jit
