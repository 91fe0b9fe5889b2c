// A GEMM kernel family: one template in templates/ and the module here that knows everything the
// host needs about it — its config rules, geometry, instantiation text, launch, cost-model terms
// and candidate configs. One module per family (mma_sm89.cpp, wgmma_sm90.cpp, mfma_cdna3.cpp);
// nothing outside compiler/families branches on which family a config is: it asks the family.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/target.hpp"

namespace fp8jit::compiler {

struct ArchSpec;
struct GemmConfig;
struct KernelSpec;

// Spelt the same in the spec's family=, the module's file and class, and the cost model's tables.
enum class Family { mma_sm89, wgmma_sm90, mfma_cdna3 };
inline constexpr Family kFamilies[] = {Family::mma_sm89, Family::wgmma_sm90, Family::mfma_cdna3};
inline constexpr int kFamilyCount = 3;

// One TMA tensor a launch encodes (the driver's descriptor, built by runtime/context.cpp) and
// passes after the kernel's plain arguments.
struct TmaOperand {
  enum class Source { a, w } source = Source::a;  // the argument whose memory it maps
  int rank = 2;                                    // 2 or 3
  std::uint32_t element_bytes = 1;
  std::uint64_t dims[3] = {};
  std::uint64_t strides[2] = {};  // bytes, of dims 1 and 2
  std::uint32_t box[3] = {};
  bool swizzle_128b = false;
};

// How one GEMM kernel launches for M tokens, as data: runtime/context.cpp turns it into driver
// calls, fp8jit explain prints it.
struct GemmLaunch {
  std::int64_t grid[3] = {1, 1, 1};
  int threads = 0;         // block (threads, 1, 1)
  int cluster = 1;         // CTAs per cluster along x: compiled into the kernel (__cluster_dims__)
  long shared_bytes = 0;   // dynamic shared memory the launch asks for
  bool persistent = false; // min(tiles, multiprocessors) blocks loop over the tiles
  TmaOperand tma[2];       // tma_count of them, in kernel-parameter order
  int tma_count = 0;
};

// The per-family pieces of fp8jit_spec and the kernel that render() puts around the shared text.
struct Instantiation {
  std::string spec_members;   // more "static constexpr" members of fp8jit_spec
  std::string before_kernel;  // device code the kernel needs (an instruction atom)
  std::string attributes;     // after FP8JIT_LAUNCH_BOUNDS (a cluster shape)
  std::string parameters;     // more kernel parameters (",\n    ...")
  std::string arguments;      // the matching arguments of run()
};

// What a config costs on an arch before its grid is known (select/heuristic.cpp).
struct Occupancy {
  int registers = 0;                 // per thread
  int blocks_per_multiprocessor = 1; // resident at once, >= 1
  int blocks_per_tile = 1;           // blocks that share one output tile (a cluster's CTAs)
};

// A family's figures in the cost model: what its instructions and its fixed work cost on one
// multiprocessor. ArchSpec holds each arch's values (fitted to tuning measurements, see
// select/machine.hpp); they are data, so a fit on new measurements changes no code.
struct FamilyFigures {
  double matrix_flops_per_clock = 0;  // one multiprocessor's fp8 matrix peak
  double cycles_per_mma = 0;          // issue floor of one matrix instruction (warp / warpgroup)
  double cycles_per_step = 0;         // fixed cycles of one main-loop step
  double l1_bytes_per_clock = 0;      // L1 load throughput (register-tile families)
  double epilogue_s = 0;              // fixed time of one tile's epilogue
  double store_bytes_per_s = 0;       // one multiprocessor's output stores
  double split_s = 0;                 // fixed cost of combining a split-K tile's partial sums
  double split_bytes_per_s = 0;       // partial sums moved while combining them
};

// The machine the cost model ranks configs for: the device's own figures (measured by
// runtime/calibration, else the arch's defaults) and every family's.
struct MachineModel {
  int multiprocessors = 0;
  double clock_hz = 0;
  double dram_bytes_per_s = 0;  // sustained read bandwidth of a weight stream
  double latency_s = 0;         // a global load's latency while the weight streams
  double launch_s = 0;          // launch, grid ramp-up and the first loads of a call
  double sm_bytes_per_s = 0;    // operand bytes one multiprocessor pulls at most
  double l2_bytes = 0;
  FamilyFigures family[kFamilyCount] = {};
  const FamilyFigures& figures(Family f) const { return family[static_cast<int>(f)]; }
};

// The grid one config runs on: what the family's launch makes of (m, n, k).
struct CostGrid {
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t tiles_m = 0, tiles_n = 0;
  std::int64_t blocks = 0;     // blocks launched
  std::int64_t work = 0;       // blocks' worth of work: tiles x k-slices (a persistent grid
                               // launches fewer blocks that loop over them)
  std::int64_t items = 0;      // work on the busiest multiprocessor: ceil(work / multiprocessors)
  int resident = 1;            // blocks resident on a multiprocessor at once
};

// A config's cost on its grid, as the family sees it; select/heuristic.cpp turns the terms into a
// time the same way for every family:
//   time = launch + max(DRAM, multiprocessor memory, L1, matrix, chain) + fixed
struct CostTerms {
  double sm_bytes = 0;            // operand bytes the busiest multiprocessor loads
  double sm_bytes_in_flight = 0;  // operand bytes its resident blocks keep in flight
  double sm_l1_s = 0;             // its warps' loads through L1 (0: operands arrive by TMA)
  double sm_matrix_s = 0;         // its matrix instructions and main-loop steps
  double chain_s = 0;             // one warp's dependent chain: each step waits for its loads
  std::int64_t weight_passes = 1; // times the weight streams from DRAM
  double fixed_s = 0;             // not overlapped with main loops: fills, epilogues, reductions
};

class GemmFamily {
 public:
  Family id;
  std::string_view name;            // "wgmma_sm90": family= in the spec
  std::string_view config_prefix;   // "wg_": how its configs start (GemmConfig::str)
  std::string_view template_file;   // "gemm_sm90.cuh" (templates/)
  std::string_view template_class;  // "fp8jit::WgmmaSm90Gemm"
  Vendor vendor;
  int min_bm, max_bm;               // token tiles it offers (powers of two)

  // ---- rules ----
  // The first rule `c` breaks for this family on `target` ("bk = 64 must be 128 (...)"), or ""
  // when the config is one of the family's there. KernelSpec::validate states it.
  virtual std::string broken_rule(const Target& target, const GemmConfig& c) const = 0;
  // ---- geometry ----
  virtual int threads(const GemmConfig& c) const = 0;
  // Shared memory (LDS) one block uses, in bytes.
  virtual long shared_bytes(const GemmConfig& c) const = 0;
  // ---- instantiation (compiler/render.cpp) ----
  virtual Instantiation instantiation(const KernelSpec& spec) const;
  // ---- launch ----
  // For m tokens on `multiprocessors` SMs / CUs (<= 0: unknown).
  virtual GemmLaunch launch(const KernelSpec& spec, std::int64_t m, int multiprocessors) const = 0;
  // "grid (64, 2, 1) x 128 threads": fp8jit explain's launch line.
  virtual std::string describe(const GemmLaunch& launch, int multiprocessors) const;
  // ---- cost model (select/heuristic.cpp) ----
  virtual Occupancy occupancy(const ArchSpec& arch, const GemmConfig& c) const = 0;
  // The grid of `c` for (m, n, k) on `machine` (blocks, the busiest multiprocessor's work).
  virtual CostGrid cost_grid(const ArchSpec& arch, const MachineModel& machine,
                             const GemmConfig& c, std::int64_t m, std::int64_t n,
                             std::int64_t k) const;
  virtual CostTerms cost_terms(const ArchSpec& arch, const MachineModel& machine,
                               const GemmConfig& c, const CostGrid& grid) const = 0;
  // Appends the configs the heuristic ranks for a bucket of bucket_m tokens and reduction
  // length k on `target`, in preference order for ties. Each passes broken_rule.
  virtual void candidates(const Target& target, std::int64_t bucket_m, std::int64_t k,
                          std::vector<GemmConfig>& out) const = 0;
  // min_bm, 2 min_bm, ... up to max_bm, but none taller than a bucket of bucket_m tokens needs
  // (a taller tile only adds padding).
  std::vector<int> token_tiles(std::int64_t bucket_m) const;

 protected:
  constexpr GemmFamily(Family id_, std::string_view name_, std::string_view prefix,
                       std::string_view file, std::string_view cls, Vendor vendor_, int min_bm_,
                       int max_bm_)
      : id(id_), name(name_), config_prefix(prefix), template_file(file), template_class(cls),
        vendor(vendor_), min_bm(min_bm_), max_bm(max_bm_) {}
  ~GemmFamily() = default;
};

// ---- registry ----
const GemmFamily& family(Family f);
// The family a config written without a prefix means on `target`: its vendor's first
// (mma_sm89 on NVIDIA, mfma_cdna3 on AMD).
Family default_family(const Target& target);
// The family that builds a GEMM of `config` on `target`: the config's own where it is one of the
// target's vendor, else the vendor's default (which then rejects the config: it does not belong).
const GemmFamily& family_of(const Target& target, const GemmConfig& config);
const GemmFamily& family_of(const KernelSpec& spec);  // op == gemm

}  // namespace fp8jit::compiler
