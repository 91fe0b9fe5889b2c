// ArchSpec: the hardware limits of one GPU architecture and the rough public figures the cost
// model (select/heuristic.cpp) ranks configs with, named once. Kernel families read their limits
// here instead of spelling them as literals; only the ratios of the machine figures matter.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "compiler/families/family.hpp"
#include "compiler/target.hpp"

namespace fp8jit::compiler {

// A family the arch runs, with the dense fp8 throughput its matrix instructions reach there.
struct FamilyRate {
  Family family = Family::mma_sm89;
  double flops = 0;
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
  // ---- machine figures for the cost model ----
  int multiprocessors = 0;  // SMs / CUs of the arch's usual part
  double dram_bytes_per_s = 0;
  double l2_bytes_per_s = 0;
  double l2_bytes = 0;        // last-level cache capacity (AMD: the Infinity Cache)
  double l1_bytes_per_s = 0;  // load throughput of one multiprocessor's L1
  double latency_s = 0;       // global-load latency to cover with loads in flight
  // The families whose kernels the cost model ranks for the arch, in candidate order.
  FamilyRate family_rates[2] = {};
  int family_count = 0;

  // Registers of one file available to one lane slot.
  constexpr int registers_per_lane() const { return registers_per_file / lanes; }
  std::span<const FamilyRate> families() const {
    return {family_rates, static_cast<std::size_t>(family_count)};
  }
  // The fp8 matrix throughput of family `f` here; 0 where the arch does not run it.
  double matrix_flops(Family f) const;
};

// NVIDIA: H100 SXM (sm_90, sm_90a) and L40S (sm_89) figures.
inline constexpr ArchSpec kSm90aSpec{
    .arch = "sm_90a", .max_blocks = 32, .max_warps_per_file = 64,
    .shared_bytes_per_multiprocessor = 228 * 1024, .shared_bytes_per_block = 227 * 1024,
    .static_shared_bytes_per_block = 48 * 1024,
    .multiprocessors = 132, .dram_bytes_per_s = 3.35e12, .l2_bytes_per_s = 10e12, .l2_bytes = 50e6,
    .l1_bytes_per_s = 128 * 1.75e9, .latency_s = 0.7e-6,
    // wgmma: dense fp8 as cuBLASLt reaches it at 8192^3
    .family_rates = {{Family::mma_sm89, 600e12}, {Family::wgmma_sm90, 1300e12}}, .family_count = 2};
inline constexpr ArchSpec kSm90Spec = [] {
  ArchSpec a = kSm90aSpec;
  a.arch = "sm_90";  // no arch-specific features: no wgmma, no setmaxnreg
  a.family_count = 1;
  return a;
}();
inline constexpr ArchSpec kSm89Spec = [] {
  ArchSpec a = kSm90aSpec;
  a.arch = "sm_89", a.max_blocks = 24, a.max_warps_per_file = 48;
  a.shared_bytes_per_multiprocessor = 100 * 1024, a.shared_bytes_per_block = 99 * 1024;
  a.multiprocessors = 128, a.dram_bytes_per_s = 1.0e12, a.l2_bytes_per_s = 5e12, a.l2_bytes = 48e6;
  a.family_rates[0].flops = 330e12, a.family_count = 1;  // mma_sm89 only
  return a;
}();
// AMD: MI300X (gfx942), MI355X (gfx950), MI250X (gfx90a: no fp8 matrix instructions, so
// KernelSpec::validate rejects its GEMMs; the model still ranks mfma_cdna3 configs for it).
inline constexpr ArchSpec kGfx942Spec{
    .arch = "gfx942", .lanes = 64, .max_blocks = 32,
    .register_files = 4, .registers_per_file = 512 * 64, .max_warps_per_file = 8,
    .register_limit = 256,
    .shared_bytes_per_multiprocessor = 64 * 1024, .shared_bytes_per_block = 64 * 1024,
    .static_shared_bytes_per_block = 64 * 1024,
    .multiprocessors = 304, .dram_bytes_per_s = 5.3e12, .l2_bytes_per_s = 14e12, .l2_bytes = 256e6,
    .l1_bytes_per_s = 64 * 2.1e9, .latency_s = 1.0e-6,
    .family_rates = {{Family::mfma_cdna3, 1300e12}}, .family_count = 1};
inline constexpr ArchSpec kGfx950Spec = [] {
  ArchSpec a = kGfx942Spec;
  a.arch = "gfx950";
  a.shared_bytes_per_multiprocessor = a.shared_bytes_per_block = 160 * 1024;  // CDNA4's LDS
  a.multiprocessors = 256, a.dram_bytes_per_s = 8.0e12, a.l2_bytes_per_s = 20e12;
  a.family_rates[0].flops = 2300e12;
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
