// fp8jit — small value types shared by the public API and the compiler.
#pragma once

#include <cstdint>
#include <string_view>

namespace fp8jit {

// The 8-bit float encoding of A and W. e4m3fnuz (bias 8, one NaN, no -0) is what gfx942's MFMA
// consumes; e4m3fn (OCP, bias 7) is what NVIDIA and gfx950 consume.
enum class Fp8Format : std::uint8_t { e4m3fn, e4m3fnuz };

// Element type of `out`.
enum class OutDType : std::uint8_t { bf16, fp16 };

// How a PackedWeight's bytes are ordered (docs/layouts.md). Each layout is a bijection
// [N, K] row-major -> bytes with a host implementation and a device kernel.
//   nv_mma16x32: per 16x32 block, the A-fragments of mma.sync m16n8k32, 16 bytes per lane.
//   aiter16x16:  aiter's shuffle_weight(layout=(16, 16)) for 1-byte elements.
enum class WeightLayout : std::uint8_t { nv_mma16x32, aiter16x16 };

constexpr std::string_view to_string(Fp8Format f) {
  return f == Fp8Format::e4m3fn ? "e4m3fn" : "e4m3fnuz";
}
constexpr std::string_view to_string(OutDType d) { return d == OutDType::bf16 ? "bf16" : "fp16"; }
constexpr std::string_view to_string(WeightLayout l) {
  return l == WeightLayout::nv_mma16x32 ? "nv_mma16x32" : "aiter16x16";
}

}  // namespace fp8jit
