// The sizes of a GEMM fp8jit accepts: one set of limits for the C++ and C APIs, precompile and
// every fp8jit command, checked by the functions here (docs/cli.md states them).
//   M (tokens)                 1 .. 2^31 - 1 (0 too where a call may be empty: Context::gemm)
//   N (weight rows)            a positive multiple of 16, below 2^31
//   K (reduction length)       a positive multiple of 16, at most 2^31 - 32
// The multiples are the steps of every weight layout (layout_rule); K is packed rounded up to a
// multiple of 32 (packed_k), which the bound on K keeps below 2^31. The bounds keep what the
// launch and the kernels compute from M, N and K in 32 bits (M is a kernel argument of type int;
// grid sizes and tile indices are 32-bit), and every product the cost model forms in 64.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "fp8jit/types.hpp"

namespace fp8jit::compiler {

constexpr std::int64_t kMaxGemmM = INT32_MAX;
constexpr std::int64_t kWeightNMultiple = 16, kWeightKMultiple = 16;
constexpr std::int64_t kMaxWeightN = (std::int64_t{1} << 31) - kWeightNMultiple;
constexpr std::int64_t kMaxWeightK = (std::int64_t{1} << 31) - 32;

// Throws InvalidArgument "failed to <verb>: M = <m> must be >= <lo> and <= 2147483647 (...)"
// unless lo <= m <= kMaxGemmM.
void check_gemm_m(std::int64_t m, std::string_view verb, std::int64_t lo = 1);

// Throws InvalidArgument "failed to <verb>: N = 100 must be a multiple of 16 (pad N with zero rows
// to 112)" (and likewise for K, a non-positive value or one past the bound) unless (n, k) is a
// weight shape within the limits; with `layout`, the message names the layout whose rule it is.
void check_weight_shape(std::int64_t n, std::int64_t k, std::string_view verb,
                        std::optional<WeightLayout> layout = std::nullopt);

// check_gemm_m(m, verb), then check_weight_shape(n, k, verb).
void check_gemm_shape(std::int64_t m, std::int64_t n, std::int64_t k, std::string_view verb);

}  // namespace fp8jit::compiler
