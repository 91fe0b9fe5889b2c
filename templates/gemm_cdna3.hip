// gemm_cdna3: FP8 GEMM with per-token / per-channel scales for AMD CDNA3/CDNA4 (gfx942, gfx950).
//
//   out[m, n] = cast<out_t>( sa[m] * sw[n] * sum_k A[m, k] * W[n, k] + bias[n] )
//
// Instruction: v_mfma_f32_16x16x32_fp8_fp8 (fp8jit::mfma_16x16x32_fp8). gfx942 reads e4m3fnuz,
// gfx950 OCP e4m3fn with the same opcode, so the text is identical for both.
//
// Operands (no LDS: both go global -> VGPRs in MFMA operand order):
//   - W, aiter16x16 layout: 16 rows x 64 k form a contiguous 1 KiB chunk at
//     n_block * Kp * 16 + chunk * 1024 bytes (Kp: K rounded up to a multiple of 32); lane l of a wave reads row l % 16, k bytes
//     [16 * (l / 16), +16) of the chunk with one 16-byte load at chunk + 16 * l.
//   - A, row-major [M, K]: lane l reads row m0 + l % 16, k bytes [k0 + 16 * (l / 16), +16) with
//     one 16-byte load, so each lane holds the SAME k indices for both operands.
//   - Each lane's 16 bytes split into two u64 halves (k +0..7 and +8..15) that feed two MFMAs.
//     Inside one MFMA, its logical k = 8 * (l / 16) + j stands for the real k 16 * (l / 16) + j
//     (first MFMA) or + 8 (second) on both operands alike; a sum over k is order-free.
//   - MFMA A-operand = weight (rows n), B-operand = activations (columns m). Lane l receives
//     D[n0 + 4 * (l / 16) + i][m0 + l % 16], i = 0..3: four consecutive output columns of one
//     token, written with one 8-byte store.
//
// Config (fp8jit_spec): a block is `warps` waves side by side along n, all sharing the same bm
// tokens. Each wave owns FN = bn / (16 * warps) fragments of 16 weight rows and FM = bm / 16
// fragments of 16 tokens: FN * FM accumulators of 4 VGPRs. A main-loop step covers bk = 64 * KU
// (KU chunks); stages = 2 issues the next step's loads before the current step's MFMAs (register
// double buffering), stages = 1 loads then computes. split_k must be 1.
// Shared memory (LDS): none, at any config.
//
// Constraints (enforced by KernelSpec::validate): N % 16 == 0, K % 16 == 0 (layout); warps a power
// of two in [1, 8]; bn = 16 * warps * FN with FN in {1, 2, 4}; bm a power of two in [16, 128];
// bk a power of two in [64, 256]; stages in {1, 2}; split_k == 1. A and out 16-byte aligned,
// sa/sw 4-byte, bias 2-byte (checked by Context before the launch).
// Launch: block = warps * 64 threads, grid = (ceil(N / bn), ceil(M / bm), 1), no dynamic LDS.
//
// Tails: K % bk: the leftover full chunks run one at a time after the main loop; a last partial
// chunk of K % 64 = 16, 32 or 48 bytes is read by lanes 0 .. K % 64 - 1 only (lane l reads k
// bytes [16 (l / 16), +16) of the chunk: the others would run past the token row, or into the
// next weight rows or the padding of a K % 32 == 16 weight) and the others contribute zeros. N % bn: a fragment whose 16-row block is >= N / 16 loads and
// stores nothing (a wave with none returns at once). M tail: token rows >= m load zeros (no read
// past A) and are not stored.
#include "prelude_hip.hip"

namespace fp8jit {

template <class Spec>
struct MfmaCdna3Gemm {
  static constexpr long kN = Spec::n;
  static constexpr long kK = Spec::k;
  static constexpr long kKp = (kK + 31) / 32 * 32;           // K of the packed weight
  static constexpr int kWaves = Spec::warps;
  static constexpr int kThreads = Spec::warps * 64;
  static constexpr int kFN = Spec::bn / (16 * Spec::warps);  // weight fragments per wave
  static constexpr int kFM = Spec::bm / 16;                  // token fragments per wave
  static constexpr int kKU = Spec::bk / 64;                  // 1 KiB chunks per main-loop step
  static constexpr long kChunks = kK / 64;                   // full chunks per 16 weight rows
  static constexpr int kTailBytes = static_cast<int>(kK % 64);  // 0, 16, 32 or 48
  static constexpr long kSteps = kChunks / kKU;
  static constexpr int kTailChunks = static_cast<int>(kChunks % kKU);
  static constexpr long kRowBlocks = kN / 16;
  using out_t = typename Spec::out_t;

  static_assert(kN > 0 && kN % 16 == 0, "gemm_cdna3: N must be a multiple of 16");
  static_assert(kK > 0 && kK % 16 == 0, "gemm_cdna3: K must be a multiple of 16");
  static_assert(kWaves >= 1 && kFN >= 1 && Spec::bn == 16 * kWaves * kFN,
                "gemm_cdna3: bn must be 16 * warps * FN");
  static_assert(kFM >= 1 && Spec::bm == 16 * kFM, "gemm_cdna3: bm must be a multiple of 16");
  static_assert(kKU >= 1 && Spec::bk == 64 * kKU, "gemm_cdna3: bk must be a multiple of 64");
  static_assert(Spec::stages == 1 || Spec::stages == 2, "gemm_cdna3: stages must be 1 or 2");
  static_assert(Spec::split_k == 1, "gemm_cdna3: split_k must be 1");

  // The operands of `Chunks` consecutive 1 KiB chunks, as each lane holds them.
  template <int Chunks>
  struct Tile {
    u32x4 w[Chunks][kFN];
    u32x4 a[Chunks][kFM];
  };

  // Per-lane state fixed for the whole k loop.
  struct Lane {
    const u8* w[kFN];  // this lane's 16 bytes of chunk 0 of each weight fragment
    const u8* a[kFM];  // this lane's 16 bytes at k = 0 of its token row in each fragment
    bool has_w[kFN];   // wave-uniform: the fragment's 16-row block exists
    bool has_a[kFM];   // the token row is < m
  };

  // Loads chunks first, first + 1, ... into `t`; lanes with `lane_ok` false (the upper half of a
  // half chunk) and missing rows get zeros.
  template <int Chunks>
  static FP8JIT_DEVICE void load(Tile<Chunks>& t, const Lane& s, long first, bool lane_ok) {
    const u32x4 zero = {0, 0, 0, 0};
#pragma unroll
    for (int c = 0; c < Chunks; ++c) {
      const long chunk = first + c;
#pragma unroll
      for (int f = 0; f < kFN; ++f)
        t.w[c][f] = s.has_w[f] && lane_ok ? load16(s.w[f] + chunk * 1024) : zero;
#pragma unroll
      for (int f = 0; f < kFM; ++f)
        t.a[c][f] = s.has_a[f] && lane_ok ? load16(s.a[f] + chunk * 64) : zero;
    }
  }

  template <int Chunks>
  static FP8JIT_DEVICE void compute(const Tile<Chunks>& t, v4f (&acc)[kFN][kFM]) {
#pragma unroll
    for (int c = 0; c < Chunks; ++c)
#pragma unroll
      for (int fn = 0; fn < kFN; ++fn) {
        const u64 w_lo = t.w[c][fn].x | static_cast<u64>(t.w[c][fn].y) << 32;
        const u64 w_hi = t.w[c][fn].z | static_cast<u64>(t.w[c][fn].w) << 32;
#pragma unroll
        for (int fm = 0; fm < kFM; ++fm) {
          const u64 a_lo = t.a[c][fm].x | static_cast<u64>(t.a[c][fm].y) << 32;
          const u64 a_hi = t.a[c][fm].z | static_cast<u64>(t.a[c][fm].w) << 32;
          acc[fn][fm] = mfma_16x16x32_fp8(w_lo, a_lo, acc[fn][fm]);
          acc[fn][fm] = mfma_16x16x32_fp8(w_hi, a_hi, acc[fn][fm]);
        }
      }
  }

  static FP8JIT_DEVICE void run(const void* a, const float* sa, const void* w, const float* sw,
                                const void* bias, void* out, int m) {
    const u32 lane = thread_x() % 64;
    const u32 wave = first_lane(thread_x() / 64);
    const long row_block0 = static_cast<long>(block_x()) * (Spec::bn / 16) + wave * kFN;
    if (row_block0 >= kRowBlocks) return;  // no LDS, no barrier: a wave may leave alone
    const long m0 = static_cast<long>(block_y()) * Spec::bm;

    Lane s;
#pragma unroll
    for (int f = 0; f < kFN; ++f) {
      s.has_w[f] = row_block0 + f < kRowBlocks;
      s.w[f] = static_cast<const u8*>(w) + (row_block0 + f) * kKp * 16 + 16 * lane;
    }
#pragma unroll
    for (int f = 0; f < kFM; ++f) {
      const long row = m0 + 16 * f + lane % 16;
      s.has_a[f] = row < m;
      s.a[f] = static_cast<const u8*>(a) + row * kK + 16 * (lane / 16);
    }

    v4f acc[kFN][kFM];
#pragma unroll
    for (int fn = 0; fn < kFN; ++fn)
#pragma unroll
      for (int fm = 0; fm < kFM; ++fm) acc[fn][fm] = v4f{0.f, 0.f, 0.f, 0.f};

    if constexpr (kSteps > 0) {
      Tile<kKU> cur;
      if constexpr (Spec::stages == 2) {
        load(cur, s, 0, true);
        for (long step = 0; step + 1 < kSteps; ++step) {
          Tile<kKU> next;
          load(next, s, (step + 1) * kKU, true);  // in flight while `cur` is multiplied
          compute(cur, acc);
          cur = next;
        }
        compute(cur, acc);
      } else {
        for (long step = 0; step < kSteps; ++step) {
          load(cur, s, step * kKU, true);
          compute(cur, acc);
        }
      }
    }
#pragma unroll
    for (int c = 0; c < kTailChunks; ++c) {
      Tile<1> t;
      load(t, s, kSteps * kKU + c, true);
      compute(t, acc);
    }
    if constexpr (kTailBytes != 0) {
      Tile<1> t;
      load(t, s, kChunks, lane < u32(kTailBytes));  // lane l reads k bytes 16 (l / 16) ..
      compute(t, acc);
    }

    store(acc, s, sa, sw, bias, out, row_block0, m0, lane);
  }

  // out[row, n .. n+3] for the four accumulator values of each (fragment, token fragment).
  static FP8JIT_DEVICE void store(const v4f (&acc)[kFN][kFM], const Lane& s, const float* sa,
                                  const float* sw, const void* bias, void* out, long row_block0,
                                  long m0, u32 lane) {
    const u16* bias16 = static_cast<const u16*>(bias);
    u8* out8 = static_cast<u8*>(out);
#pragma unroll
    for (int fn = 0; fn < kFN; ++fn) {
      if (!s.has_w[fn]) continue;
      const long n = (row_block0 + fn) * 16 + 4 * (lane / 16);
      float scale_w[4], add[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        scale_w[i] = sw[n + i];
        add[i] = 0.f;
        if constexpr (Spec::has_bias) add[i] = from_out_bits<out_t>(bias16[n + i]);
      }
#pragma unroll
      for (int fm = 0; fm < kFM; ++fm) {
        if (!s.has_a[fm]) continue;
        const long row = m0 + 16 * fm + lane % 16;
        const float scale_a = sa[row];
        u64 packed = 0;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float v = scale_a * scale_w[i] * acc[fn][fm][i] + add[i];
          packed |= static_cast<u64>(to_out_bits<out_t>(v)) << (16 * i);
        }
        store8(out8 + (row * kN + n) * 2, packed);
      }
    }
  }
};

}  // namespace fp8jit
