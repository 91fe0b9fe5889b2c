// What mma_sm89 and mfma_cdna3 share: both load their operands straight from global memory into
// registers in the matrix instruction's fragment order (no shared-memory staging), a block is
// `warps` warps / waves side by side along n over one token tile, and the grid is 2-D (n tiles,
// token tiles). Their rules, registers, occupancy, cost terms and candidates follow from the
// instruction's fragment shape; each family adds its own split-K rules and thread count.
#pragma once

#include <span>

#include "compiler/families/family.hpp"

namespace fp8jit::compiler {

// The matrix instruction a register-tile family is built on.
struct Fragment {
  int lanes;        // threads that issue one instruction (a warp / a wave)
  int m;            // tokens per fragment (bm is a power of two in [m, 8m])
  int k;            // k consumed per fragment step (bk is a power of two in [k, 4k])
  int token_words;  // 32-bit words of one token fragment per lane
};

class RegisterTileFamily : public GemmFamily {
 public:
  std::string broken_rule(const Target& target, const GemmConfig& c) const override;
  GemmLaunch launch(const KernelSpec& spec, std::int64_t m, int multiprocessors) const override;
  Occupancy occupancy(const ArchSpec& arch, const GemmConfig& c) const override;
  CostTerms cost_terms(const ArchSpec& arch, const MachineModel& machine, const GemmConfig& c,
                       const CostGrid& grid) const override;
  void candidates(const Target& target, std::int64_t bucket_m, std::int64_t k,
                  std::vector<GemmConfig>& out) const override;

 protected:
  constexpr RegisterTileFamily(Family id_, std::string_view name_, std::string_view file,
                               std::string_view cls, Vendor vendor_, Fragment fragment,
                               std::span<const int> split_ks)
      : GemmFamily(id_, name_, "", file, cls, vendor_, fragment.m, 8 * fragment.m),
        fragment_(fragment), split_ks_(split_ks) {}
  ~RegisterTileFamily() = default;

  // The family's rules for split_k (after the shared ones), as broken_rule.
  virtual std::string broken_split_rule(const Target& target, const GemmConfig& c) const = 0;

 private:
  // Registers per thread of the main loop: accumulators, the weight and token fragments of
  // every stage, and a fixed share for addresses, scales and the epilogue.
  int registers(const GemmConfig& c) const;

  Fragment fragment_;
  std::span<const int> split_ks_;  // the split_k values the heuristic tries
};

}  // namespace fp8jit::compiler
