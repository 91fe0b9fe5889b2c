// Weight layouts: named bijections [N, K] row-major fp8 -> packed bytes (docs/layouts.md). Host
// implementations here; the device kernels are templates/preshuffle.inc. Both must agree with
// packed_offset(), which is the formula of record.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fp8jit/types.hpp"

namespace fp8jit::compiler {

struct LayoutRule {
  int n_multiple;  // N must be a multiple of this
  int k_multiple;  // K must be a multiple of this
};

LayoutRule layout_rule(WeightLayout layout);

// Every layout stores whole 16 x 32 blocks: K is packed as K rounded up to a multiple of 32
// (kLayoutKBlock), the columns past K zeros, so that a K % 32 == 16 weight multiplies like the
// same weight with 16 zero columns more. K % 32 == 0 packs exactly as before.
constexpr std::int64_t kLayoutKBlock = 32;
constexpr std::int64_t packed_k(std::int64_t k) {
  return (k + kLayoutKBlock - 1) / kLayoutKBlock * kLayoutKBlock;
}
// Bytes of a packed [n, k] weight: n * packed_k(k), for every layout.
constexpr std::size_t packed_bytes(std::int64_t n, std::int64_t k) {
  return static_cast<std::size_t>(n) * static_cast<std::size_t>(packed_k(k));
}

// Throws InvalidArgument naming n or k and the rule ("K = 100 must be a multiple of 32 for layout
// aiter16x16 (pad K with zero columns to 128)") when the shape does not fit the layout or the
// limits of compiler/gemm_limits.hpp.
void check_layout_shape(WeightLayout layout, std::int64_t n, std::int64_t k);

// Byte offset in the packed buffer of element (row, col) of the [n, k] row-major weight.
std::size_t packed_offset(WeightLayout layout, std::int64_t n, std::int64_t k, std::int64_t row,
                          std::int64_t col);

// packed[packed_offset(r, c)] = w[r * k + c] for all r < n, c < k, and the padding columns
// (k <= c < packed_k(k)) zeros; `packed` holds packed_bytes(n, k). Checks the shape first.
void pack_host(WeightLayout layout, const std::uint8_t* w, std::uint8_t* packed, std::int64_t n,
               std::int64_t k);
// The inverse of pack_host.
void unpack_host(WeightLayout layout, const std::uint8_t* packed, std::uint8_t* w, std::int64_t n,
                 std::int64_t k);

}  // namespace fp8jit::compiler
