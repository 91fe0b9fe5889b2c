// prelude_emu_amd.hpp — CPU emulation of the AMD prelude (prelude_hip.hip) for emu-gfx942 and
// emu-gfx950: the common API (prelude_emu.hpp) with 64-lane waves, plus the AMD-only extras with
// the same names and contracts as in prelude_hip.hip: v4f, i32x8, store8, first_lane and the fp8
// MFMA atoms. The toolchain defines FP8JIT_EMU_GFX942 or FP8JIT_EMU_GFX950 (as --offload-arch
// defines __gfx942__ / __gfx950__).
//
// Sources for the operand and result layouts of the atoms below:
//  - AMD Instinct MI300 (CDNA3) ISA Reference Guide, section 7 "Matrix Arithmetic Instructions"
//    (dependency and layout tables of V_MFMA_F32_16X16X32_FP8_FP8), and the same instruction in
//    the AMD Instinct MI355X (CDNA4) ISA Reference Guide;
//  - AMD Matrix Instruction Calculator (github.com/ROCm/amd_matrix_instruction_calculator):
//    `matrix_calculator.py --architecture cdna3 --instruction v_mfma_f32_16x16x32_fp8_fp8
//    --detail-instruction` / `--register-layout`;
//  - ROCm blog "Matrix Core Programming on AMD CDNA3 and CDNA4 architecture"
//    (rocm.blogs.amd.com/software-tools-optimization/matrix-cores-cdna) for the CDNA4 f8f6f4
//    instructions.
// fp8 formats: gfx942's fp8 MFMA reads e4m3fnuz; gfx950's reads OCP e4m3fn (same opcode).
#ifndef FP8JIT_PRELUDE_EMU_AMD
#define FP8JIT_PRELUDE_EMU_AMD

#if defined(FP8JIT_EMU_GFX942) == defined(FP8JIT_EMU_GFX950)
#error "fp8jit: the AMD emulation prelude needs exactly one of FP8JIT_EMU_GFX942, FP8JIT_EMU_GFX950"
#endif

#define FP8JIT_EMU_WAVE 64
// NOTE: AMD global loads and stores need no natural alignment (unaligned access is enabled on
// ROCm); dword alignment is what the kernels keep to anyway.
#define FP8JIT_EMU_ALIGN(bytes) 1
#define FP8JIT_EMU_CANONICAL_NAN 0
// The real prelude's guard: a family's `#include "prelude_hip.hip"` adds nothing after this one.
#define FP8JIT_PRELUDE_HIP 1

#include "prelude_emu.hpp"

namespace fp8jit {

using v4f = float __attribute__((vector_size(16)));
using i32x8 = int __attribute__((vector_size(32)));

FP8JIT_DEVICE void store8(void* p, u64 v) { emu::store(p, v, "store8"); }

// v_readfirstlane: the value of the first lane. Its contract is that `v` is the same in every lane
// (it marks a value as wave-uniform), which the emulation checks.
FP8JIT_DEVICE u32 first_lane(u32 v) {
  u8* half = emu::exchange(&v, 4);
  u32 first;
  __builtin_memcpy(&first, emu::deposit(half, 0), 4);
  emu::exchange_done();
  if (first != v) emu::host().fault("first_lane: the value differs between the lanes of a wave");
  return first;
}

namespace emu {

#if defined(FP8JIT_EMU_GFX942)
constexpr bool kMfmaFnuz = true;
#else
constexpr bool kMfmaFnuz = false;
#endif

// D = A (16 x K) * B (K x 16) + C with K = 32 * kBytes / 8, from the lanes' deposits: lane l
// supplies A row l % 16 and B column l % 16 at k = kBytes * (l / 16) + j for its bytes j (byte j of
// its operand registers, little-endian), and receives D[4 * (l / 16) + i][l % 16] in acc[i].
// The products are exact in double and summed exactly; acc[i] is then rounded once to fp32.
template <int kBytes>
FP8JIT_DEVICE v4f mfma_16x16(const void* a, const void* b, v4f acc) {
  constexpr int K = 4 * kBytes;
  struct Deposit {
    u8 a[kBytes], b[kBytes];
  };
  struct Tile {
    float a[16][K], b[K][16];
  };
  Deposit mine;
  __builtin_memcpy(mine.a, a, kBytes);
  __builtin_memcpy(mine.b, b, kBytes);
  const Tile* t = &shared_tile<Tile>(mine, 64, [](Tile& tile, u32 l, const Deposit& d) {
    for (int j = 0; j < kBytes; ++j) {
      const int k = kBytes * static_cast<int>(l / 16) + j;
      tile.a[l % 16][k] = fp8_to_float(d.a[j], kMfmaFnuz);
      tile.b[k][l % 16] = fp8_to_float(d.b[j], kMfmaFnuz);
    }
  });
  const u32 l = lane().lane;
  for (u32 i = 0; i < 4; ++i) {
    const u32 row = 4 * (l / 16) + i, col = l % 16;
    double sum = 0;
    for (int k = 0; k < K; ++k) sum += static_cast<double>(t->a[row][k]) * t->b[k][col];
    acc[i] = static_cast<float>(static_cast<double>(acc[i]) + sum);
  }
  exchange_done();
  return acc;
}

}  // namespace emu

// D += A * B for a 16x16 tile over 32 k (v_mfma_f32_16x16x32_fp8_fp8), as in prelude_hip.hip.
template <int kUnused = 0>
FP8JIT_EMU_ATOM v4f mfma_16x16x32_fp8(u64 a, u64 b, v4f acc) {
  return emu::mfma_16x16<8>(&a, &b, acc);
}

// D += A * B for a 16x16 tile over 128 k with e4m3fn operands (gfx950's
// v_mfma_f32_16x16x128_f8f6f4 with cbsz = blgp = 0 and unit scales), as in prelude_hip.hip:
// lane l supplies A row l % 16 and B column l % 16, k = 32 * (l / 16) + j for byte j of its 8
// registers; it receives D[4 * (l / 16) + i][l % 16] in acc[i].
template <int kUnused = 0>
FP8JIT_EMU_ATOM v4f mfma_16x16x128_fp8(const i32x8& a, const i32x8& b, v4f acc) {
#if defined(FP8JIT_EMU_GFX950)
  return emu::mfma_16x16<32>(&a, &b, acc);
#else
  static_assert(kUnused != 0, "fp8jit: v_mfma_f32_16x16x128_f8f6f4 needs gfx950");
  return acc;
#endif
}

}  // namespace fp8jit

#endif  // FP8JIT_PRELUDE_EMU_AMD
