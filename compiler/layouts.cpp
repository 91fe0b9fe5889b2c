#include "compiler/layouts.hpp"

#include <cstring>
#include <string>
#include <type_traits>

#include "compiler/gemm_limits.hpp"
#include "fp8jit/error.hpp"

// The formulas are written out in docs/layouts.md. packed_offset() is the formula of record;
// pack_host/unpack_host walk the packed buffer in output order and copy whole runs (16 bytes for
// aiter16x16, 4 bytes for nv_mma16x32), skipping the padding columns of a K % 32 == 16 weight
// (zeroed first), so that multi-GB weights pack at memory speed; the tests
// check that both agree with packed_offset() and with templates/preshuffle.inc.

namespace fp8jit::compiler {

namespace {

[[noreturn]] void reject(std::int64_t n, std::int64_t k, const std::string& why) {
  throw InvalidArgument("failed to pack weight [N=" + std::to_string(n) + ", K=" +
                        std::to_string(k) + "]: " + why);
}

// The walkers visit the packed buffer in order and call copy(w_offset, packed_offset, run) once
// per contiguous run (run is a std::integral_constant: 4 or 16 bytes, so each memcpy compiles to
// one move); pack and unpack differ only in the direction of that copy.
using Run4 = std::integral_constant<std::size_t, 4>;
using Run16 = std::integral_constant<std::size_t, 16>;

// nv_mma16x32, per 16x32 block (512 bytes), lane L = 4g + t holds a0..a3 at block + 16L:
//   a0 = row g,   cols 4t..4t+3      a1 = row g+8, cols 4t..4t+3
//   a2 = row g,   cols 16+4t..+3     a3 = row g+8, cols 16+4t..+3
// Each register is one 4-byte run of a row: 128 runs per block. Runs of the padding columns
// (c >= k, only in the last block of a K % 32 == 16 weight) are not visited.
template <class Copy>
void walk_nv_mma16x32(std::int64_t n, std::int64_t k, Copy copy) {
  const std::size_t row = static_cast<std::size_t>(k), kb_count = static_cast<std::size_t>(packed_k(k) / 32);
  std::size_t out = 0;
  for (std::size_t band = 0; band < static_cast<std::size_t>(n) * row; band += 16 * row) {
    for (std::size_t kb = 0; kb < kb_count; ++kb) {
      const std::size_t blk = band + 32 * kb;
      const bool high = 32 * kb + 16 < row;  // the block's columns 16..31 exist
      for (std::size_t r0 = blk; r0 < blk + 8 * row; r0 += row) {  // rows g and g + 8
        const std::size_t r1 = r0 + 8 * row;
        for (std::size_t t4 = 0; t4 < 16; t4 += 4, out += 16) {
          copy(r0 + t4, out, Run4{});
          copy(r1 + t4, out + 4, Run4{});
          if (high) {
            copy(r0 + 16 + t4, out + 8, Run4{});
            copy(r1 + 16 + t4, out + 12, Run4{});
          }
        }
      }
    }
  }
}

// aiter16x16: [N/16, 16, K/32, 2, 16] -> [N/16, K/32, 2, 16, 16]; each packed 16-byte run is
// bytes [32kb + 16h, +16) of row 16nb + i. The runs of a padding half (32kb + 16h >= k) are
// not visited.
template <class Copy>
void walk_aiter16x16(std::int64_t n, std::int64_t k, Copy copy) {
  const std::size_t row = static_cast<std::size_t>(k), halves = static_cast<std::size_t>(packed_k(k) / 16);
  std::size_t out = 0;
  for (std::size_t band = 0; band < static_cast<std::size_t>(n) * row; band += 16 * row) {
    for (std::size_t hc = 0; hc < halves; ++hc) {  // (kb, h) in order: bytes [16 hc, +16) of rows
      if (16 * hc >= row) {
        out += 16 * 16;
        continue;
      }
      for (std::size_t src = band + 16 * hc; src < band + 16 * hc + 16 * row; src += row, out += 16)
        copy(src, out, Run16{});
    }
  }
}

template <class Copy>
void walk(WeightLayout layout, std::int64_t n, std::int64_t k, Copy copy) {
  if (layout == WeightLayout::aiter16x16)
    walk_aiter16x16(n, k, copy);
  else
    walk_nv_mma16x32(n, k, copy);
}

void check_buffers(WeightLayout layout, std::int64_t n, std::int64_t k, const void* w,
                   const void* packed) {
  check_layout_shape(layout, n, k);
  if (w == nullptr || packed == nullptr)
    reject(n, k, std::string(w == nullptr ? "the row-major weight" : "the packed buffer") +
                     " is a null pointer");
}

}  // namespace

LayoutRule layout_rule(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::nv_mma16x32:  // one m16n8k32 A tile: 16 rows of N, 32 of K
    case WeightLayout::aiter16x16:   // 16 rows of N, K in blocks of 2 x 16 bytes
      // K in 16-byte steps: a K % 32 == 16 weight's last block is half padding (packed_k).
      return {16, 16};
  }
  throw InvalidArgument("failed to look up weight layout " +
                        std::to_string(static_cast<int>(layout)) + ": unknown layout id");
}

void check_layout_shape(WeightLayout layout, std::int64_t n, std::int64_t k) {
  check_weight_shape(n, k, "pack weight [N=" + std::to_string(n) + ", K=" + std::to_string(k) + "]",
                     layout);
}

std::size_t packed_offset(WeightLayout layout, std::int64_t n, std::int64_t k, std::int64_t row,
                          std::int64_t col) {
  check_layout_shape(layout, n, k);
  if (row < 0 || row >= n || col < 0 || col >= k)
    reject(n, k, "element (" + std::to_string(row) + ", " + std::to_string(col) +
                     ") is outside the weight");
  const std::int64_t nb = row / 16, kb = col / 32;
  const std::int64_t block = nb * (packed_k(k) / 32) + kb;  // 16x32 blocks, k-block fastest
  const std::int64_t i = row % 16, j = col % 32;
  std::int64_t in_block = 0;
  if (layout == WeightLayout::aiter16x16) {
    // view [N/16, 16, K/32, 2, 16] -> permute (0, 2, 3, 1, 4): [nb, kb, h, i, j%16]
    in_block = (j / 16) * 256 + i * 16 + j % 16;
  } else {
    // PTX ISA "Matrix Fragments for mma.m16n8k32", A (row-major, 8-bit): lane = 4g + t holds
    // a0..a3; a_r covers row g + 8*(r%2), cols 4t + 16*(r/2) + 0..3.
    const std::int64_t g = i % 8, hi = i / 8;
    const std::int64_t khalf = j / 16, t = (j % 16) / 4, e = j % 4;
    const std::int64_t reg = hi + 2 * khalf, lane = g * 4 + t;
    in_block = lane * 16 + reg * 4 + e;
  }
  return static_cast<std::size_t>(block * 512 + in_block);
}

void pack_host(WeightLayout layout, const std::uint8_t* w, std::uint8_t* packed, std::int64_t n,
               std::int64_t k) {
  check_buffers(layout, n, k, w, packed);
  if (packed_k(k) != k) std::memset(packed, 0, packed_bytes(n, k));  // the padding columns
  walk(layout, n, k, [=](std::size_t wo, std::size_t po, auto run) {
    std::memcpy(packed + po, w + wo, run());
  });
}

void unpack_host(WeightLayout layout, const std::uint8_t* packed, std::uint8_t* w, std::int64_t n,
                 std::int64_t k) {
  check_buffers(layout, n, k, w, packed);
  walk(layout, n, k, [=](std::size_t wo, std::size_t po, auto run) {
    std::memcpy(w + wo, packed + po, run());
  });
}

}  // namespace fp8jit::compiler
