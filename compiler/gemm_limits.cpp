#include "compiler/gemm_limits.hpp"

#include <string>

#include "compiler/layouts.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {

[[noreturn]] void reject(std::string_view verb, const std::string& why) {
  throw InvalidArgument("failed to " + std::string(verb) + ": " + why);
}

// "N = 100 must be a multiple of 16 for layout nv_mma16x32 (pad N with zero rows to 112)"
void check_dim(std::string_view verb, char dim, std::int64_t value, std::int64_t multiple,
               std::int64_t max, std::optional<WeightLayout> layout) {
  const std::string what = std::string(1, dim) + " = " + std::to_string(value);
  const std::string in_layout =
      layout ? " for layout " + std::string(to_string(*layout)) : std::string();
  if (value <= 0) reject(verb, what + " must be positive" + in_layout);
  if (value > max)
    reject(verb, what + " must be at most " + std::to_string(max) + " (below 2^31)");
  if (value % multiple != 0)
    reject(verb, what + " must be a multiple of " + std::to_string(multiple) + in_layout +
                     " (pad " + dim + (dim == 'N' ? " with zero rows to " : " with zero columns to ") +
                     std::to_string((value / multiple + 1) * multiple) + ")");
}

}  // namespace

void check_gemm_m(std::int64_t m, std::string_view verb, std::int64_t lo) {
  if (m < lo || m > kMaxGemmM)
    reject(verb, "M = " + std::to_string(m) + " must be >= " + std::to_string(lo) + " and <= " +
                     std::to_string(kMaxGemmM) + " (2^31 - 1: the kernels take M as an int)");
}

void check_weight_shape(std::int64_t n, std::int64_t k, std::string_view verb,
                        std::optional<WeightLayout> layout) {
  const LayoutRule rule = layout ? layout_rule(*layout) : LayoutRule{kWeightNMultiple, kWeightKMultiple};
  check_dim(verb, 'N', n, rule.n_multiple, kMaxWeightN, layout);
  check_dim(verb, 'K', k, rule.k_multiple, kMaxWeightK, layout);
}

void check_gemm_shape(std::int64_t m, std::int64_t n, std::int64_t k, std::string_view verb) {
  check_gemm_m(m, verb);
  check_weight_shape(n, k, verb);
}

}  // namespace fp8jit::compiler
