// ArchSpec: the hardware limits of one GPU architecture and the figures the cost model
// (select/heuristic.cpp) ranks configs with where no device was measured, named once. Kernel
// families read their limits here instead of spelling them as literals.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "compiler/families/family.hpp"
#include "compiler/target.hpp"

namespace fp8jit::compiler {

// A family the arch runs, with its figures in the cost model.
struct FamilyRate {
  Family family = Family::mma_sm89;
  FamilyFigures figures;
};

struct ArchSpec {
  std::string_view arch;  // as in Target::arch

  // ---- execution ----
  int lanes = 32;                             // threads per warp (NVIDIA) / wave (AMD)
  int schedulers = 4;                         // warp schedulers / SIMDs per multiprocessor
  int max_threads_per_multiprocessor = 2048;  // resident threads
  int max_blocks = 32;                        // resident blocks per multiprocessor
  // ---- registers ----
  int register_files = 1;        // per multiprocessor (NVIDIA one, AMD one per SIMD)
  int registers_per_file = 65536;  // 32-bit registers of one file
  int max_warps_per_file = 64;   // resident warps / waves one file serves
  int register_limit = 255;      // registers per thread; more spill
  // ---- shared memory (LDS) ----
  long shared_bytes_per_multiprocessor = 0;
  long shared_bytes_per_block = 0;         // the most one block may ask for (opt-in)
  long static_shared_bytes_per_block = 0;  // the most a block gets without opting in
  // ---- the usual part's figures for the cost model, where no device was measured ----
  int multiprocessors = 0;  // SMs / CUs
  double clock_hz = 0;
  double dram_bytes_per_s = 0;  // sustained read bandwidth (not the datasheet peak)
  double l2_bytes = 0;          // last-level cache capacity (AMD: the Infinity Cache)
  double latency_s = 0;         // a global load's latency while a weight streams
  double launch_s = 0;          // launch, grid ramp-up and first loads of a call
  double sm_bytes_per_s = 0;    // operand bytes one multiprocessor pulls at most
  // The families whose kernels the cost model ranks for the arch, in candidate order.
  FamilyRate family_rates[2] = {};
  int family_count = 0;

  // Registers of one file available to one lane slot.
  constexpr int registers_per_lane() const { return registers_per_file / lanes; }
  std::span<const FamilyRate> families() const {
    return {family_rates, static_cast<std::size_t>(family_count)};
  }
  // The fp8 matrix throughput of family `f` on the whole usual part; 0 where the arch does not
  // run it.
  double matrix_flops(Family f) const;
  // These figures as the cost model's machine, with `multiprocessors` (<= 0: the usual count).
  MachineModel machine(int multiprocessors = 0) const;
};

// NVIDIA Hopper (sm_90a, sm_90). Fitted (fp8jit model --fit) to every candidate `fp8jit tune`
// timed on an H200 for the weights of bench/shapes.csv; on the held-out weights of
// bench/heldout.csv the model then picks, among the candidates timed there, one at 0.945 of the
// fastest (geometric mean; with the H200's DRAM rate). Where the fit found no cost (the wgmma epilogue, hidden behind other tiles'
// main loops) the figure is zero. The DRAM rate is the H100 SXM's (the arch's usual part: the
// fitted H200 rate, 4.24 TB/s, times 3.35 / 4.8 TB/s of peak); a device's own is measured
// (runtime/calibration.hpp).
inline constexpr FamilyFigures kHopperWgmma{
    .matrix_flops_per_clock = 5580, .cycles_per_mma = 97, .cycles_per_step = 0,
    .epilogue_s = 0, .store_bytes_per_s = 1e15, .split_s = 2.66e-6, .split_bytes_per_s = 12.2e9};
inline constexpr FamilyFigures kHopperMmaSync{
    .matrix_flops_per_clock = 778, .cycles_per_mma = 30, .l1_bytes_per_clock = 12.65,
    .epilogue_s = 1.12e-6, .split_s = 0.6e-6};
inline constexpr ArchSpec kSm90aSpec{
    .arch = "sm_90a", .max_blocks = 32, .max_warps_per_file = 64,
    .shared_bytes_per_multiprocessor = 228 * 1024, .shared_bytes_per_block = 227 * 1024,
    .static_shared_bytes_per_block = 48 * 1024,
    .multiprocessors = 132, .clock_hz = 1.98e9, .dram_bytes_per_s = 2.96e12, .l2_bytes = 50e6,
    .latency_s = 0.72e-6, .launch_s = 1.69e-6, .sm_bytes_per_s = 70.7e9,
    .family_rates = {{Family::mma_sm89, kHopperMmaSync}, {Family::wgmma_sm90, kHopperWgmma}},
    .family_count = 2};
inline constexpr ArchSpec kSm90Spec = [] {
  ArchSpec a = kSm90aSpec;
  a.arch = "sm_90";  // no arch-specific features: no wgmma, no setmaxnreg
  a.family_count = 1;
  return a;
}();
// L40S (sm_89): mma.sync only.
inline constexpr ArchSpec kSm89Spec = [] {
  ArchSpec a = kSm90aSpec;
  a.arch = "sm_89", a.max_blocks = 24, a.max_warps_per_file = 48;
  a.shared_bytes_per_multiprocessor = 100 * 1024, a.shared_bytes_per_block = 99 * 1024;
  a.multiprocessors = 142, a.clock_hz = 2.52e9, a.dram_bytes_per_s = 0.8e12, a.l2_bytes = 96e6;
  a.sm_bytes_per_s = 30e9;
  a.family_rates[0].figures.matrix_flops_per_clock = 1024, a.family_count = 1;  // mma_sm89 only
  return a;
}();
// AMD: MI300X (gfx942), MI355X (gfx950), MI250X (gfx90a: no fp8 matrix instructions, so
// KernelSpec::validate rejects its GEMMs; the model still ranks mfma_cdna3 configs for it). Not
// fitted to measurements: datasheet rates and the Hopper register-tile figures scaled to them.
inline constexpr FamilyFigures kCdna3Mfma{
    .matrix_flops_per_clock = 4096, .cycles_per_mma = 8, .l1_bytes_per_clock = 64,
    .epilogue_s = 0.5e-6, .split_s = 0.5e-6};
inline constexpr ArchSpec kGfx942Spec{
    .arch = "gfx942", .lanes = 64, .max_blocks = 32,
    .register_files = 4, .registers_per_file = 512 * 64, .max_warps_per_file = 8,
    .register_limit = 256,
    .shared_bytes_per_multiprocessor = 64 * 1024, .shared_bytes_per_block = 64 * 1024,
    .static_shared_bytes_per_block = 64 * 1024,
    .multiprocessors = 304, .clock_hz = 2.1e9, .dram_bytes_per_s = 4.3e12, .l2_bytes = 256e6,
    .latency_s = 2.0e-6, .launch_s = 2.0e-6, .sm_bytes_per_s = 40e9,
    .family_rates = {{Family::mfma_cdna3, kCdna3Mfma}}, .family_count = 1};
inline constexpr ArchSpec kGfx950Spec = [] {
  ArchSpec a = kGfx942Spec;
  a.arch = "gfx950";
  a.shared_bytes_per_multiprocessor = a.shared_bytes_per_block = 160 * 1024;  // CDNA4's LDS
  a.multiprocessors = 256, a.clock_hz = 2.4e9, a.dram_bytes_per_s = 6.5e12;
  a.family_rates[0].figures.matrix_flops_per_clock = 8192;
  return a;
}();
inline constexpr ArchSpec kGfx90aSpec = [] {
  ArchSpec a = kGfx942Spec;
  a.arch = "gfx90a";
  a.multiprocessors = 104, a.l2_bytes = 8e6;
  return a;
}();

// The spec of `target`'s arch (an emulation target's is its arch's). Throws InvalidArgument for
// an arch Target::parse does not know.
const ArchSpec& arch_spec(const Target& target);

}  // namespace fp8jit::compiler
