// Integer helpers shared by the components that size grids and tiles.
#pragma once

#include <cstdint>

namespace fp8jit::util {

// a / b rounded up, for a >= 0, b > 0, without forming a + b - 1 (no overflow near INT64_MAX).
constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return a / b + (a % b != 0); }

}  // namespace fp8jit::util
