// The device operands of one benchmarked weight: random fp8 data (the largest M of the run), its
// scales and bias, and enough copies of the weight — row-major for cuBLASLt, packed for fp8jit —
// to rotate through more than 4x the L2 cache (and at least two), so that repeated calls do not
// time the cache.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "fp8jit/gemm.hpp"
#include "tools/gemm_check.hpp"

namespace fp8jit::bench {

struct Operands {
  Operands(Context& ctx, std::int64_t max_m, std::int64_t n, std::int64_t k, bool bias,
           std::mt19937_64& rng);

  // GemmArgs for the first m tokens with weight copy `copy` (bias as requested at construction).
  GemmArgs args(std::int64_t m, int copy) const;
  // ||out - ref|| / ||ref|| of the first m tokens' result now in `out`, on `rows`, against
  // ref = tools::reference_rows(problem, rows). Unwritten (poisoned) elements give +inf.
  double error(Context& ctx, std::int64_t m, const std::vector<std::int64_t>& rows,
               const std::vector<double>& ref) const;
  void poison_out(Context& ctx, std::int64_t m) const;

  tools::GemmProblem problem;
  int copies = 1;
  DeviceBuffer a, sa, sw, bias, out;
  std::vector<DeviceBuffer> raw;     // row-major weight copies
  std::vector<PackedWeight> packed;  // the same, packed for this device
};

}  // namespace fp8jit::bench
