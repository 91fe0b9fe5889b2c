// prelude_emu_nvidia.hpp — CPU emulation of the NVIDIA prelude (prelude_cuda.cuh) for emu-sm89:
// the common API (prelude_emu.hpp) with 32-lane warps, plus the NVIDIA atoms with the same names
// and contracts as in prelude_cuda.cuh: load16_stream, mma_m16n8k32_e4m3, and the programmatic
// launch calls, which do nothing here (the emulator runs one launch at a time). Nothing that needs
// sm_90 (wgmma, TMA, clusters) is emulated.
//
// Source for the operand and result layouts: NVIDIA PTX ISA, section "Matrix Fragments for
// mma.m16n8k32" (Warp Level Matrix Multiply-Accumulate Instructions, mma.m16n8k32 with .e4m3
// operands), whose tables are transcribed as a_row/a_col, b_row/b_col and c_row/c_col below.
// Conversions: cvt.rn.bf16.f32 / cvt.rn.f16.f32 round to nearest even and give the canonical NaN
// 0x7fff (PTX ISA, "cvt").
#ifndef FP8JIT_PRELUDE_EMU_NVIDIA
#define FP8JIT_PRELUDE_EMU_NVIDIA

#define FP8JIT_EMU_WAVE 32
#define FP8JIT_EMU_ALIGN(bytes) (bytes)  // vector loads and stores need natural alignment
#define FP8JIT_EMU_CANONICAL_NAN 1

#include "prelude_emu.hpp"

namespace fp8jit {

// Read-once data: the same bytes as load16 (caching hints have no meaning here).
FP8JIT_DEVICE u32x4 load16_stream(const void* p) { return emu::load<u32x4>(p, "load16_stream"); }

// Programmatic dependent launch: an emulated launch never overlaps another, and L2 hints have no
// meaning here.
FP8JIT_DEVICE void grid_dependency_wait() {}
FP8JIT_DEVICE void launch_dependents() {}
FP8JIT_DEVICE void prefetch_l2(const void*, u32) {}

namespace emu {

// PTX ISA "Matrix Fragments for mma.m16n8k32", 8-bit types; g = groupID = lane >> 2,
// t = threadID_in_group = lane % 4.
// A (16 x 32, row): element a_i (i = 0..15, byte i % 4 of register i / 4) of lane L.
FP8JIT_DEVICE u32 a_row(u32 L, u32 i) { return (i < 4 || (i >= 8 && i < 12)) ? L / 4 : L / 4 + 8; }
FP8JIT_DEVICE u32 a_col(u32 L, u32 i) { return (L % 4) * 4 + (i & 3) + (i < 8 ? 0 : 16); }
// B (32 x 8, col): element b_i (i = 0..7, byte i % 4 of register i / 4) of lane L.
FP8JIT_DEVICE u32 b_row(u32 L, u32 i) { return (L % 4) * 4 + (i & 3) + (i < 4 ? 0 : 16); }
FP8JIT_DEVICE u32 b_col(u32 L, u32 i) { return L / 4; }
// C / D (16 x 8, f32): element c_i (i = 0..3) of lane L.
FP8JIT_DEVICE u32 c_row(u32 L, u32 i) { return i < 2 ? L / 4 : L / 4 + 8; }
FP8JIT_DEVICE u32 c_col(u32 L, u32 i) { return (L % 4) * 2 + (i & 1); }

}  // namespace emu

// D = A * B + C for one m16n8k32 tile, e4m3 operands, fp32 accumulate:
// mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32, every lane of the warp taking part.
// The 32 products of each element are exact in double and summed exactly; c[i] is then rounded
// once to fp32.
FP8JIT_EMU_ATOM void mma_m16n8k32_e4m3(float (&c)[4], const u32x4& a, u32 b0, u32 b1) {
  using namespace emu;
  struct Deposit {
    u32 a[4], b[2];
  };
  struct Tile {
    float a[16][32], b[32][8];
  };
  const Deposit mine = {{a.x, a.y, a.z, a.w}, {b0, b1}};
  const Tile* t = &shared_tile<Tile>(mine, 32, [](Tile& tile, u32 L, const Deposit& d) {
    for (u32 i = 0; i < 16; ++i)
      tile.a[a_row(L, i)][a_col(L, i)] = fp8_to_float(u8(d.a[i / 4] >> (8 * (i % 4))), false);
    for (u32 i = 0; i < 8; ++i)
      tile.b[b_row(L, i)][b_col(L, i)] = fp8_to_float(u8(d.b[i / 4] >> (8 * (i % 4))), false);
  });
  const u32 L = lane().lane;
  for (u32 i = 0; i < 4; ++i) {
    const u32 row = c_row(L, i), col = c_col(L, i);
    double sum = 0;
    for (int k = 0; k < 32; ++k) sum += static_cast<double>(t->a[row][k]) * t->b[k][col];
    c[i] = static_cast<float>(static_cast<double>(c[i]) + sum);
  }
  exchange_done();
}

}  // namespace fp8jit

#endif  // FP8JIT_PRELUDE_EMU_NVIDIA
