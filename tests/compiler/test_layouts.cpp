// Tests of compiler/layouts.cpp and templates/preshuffle.inc: each layout is a bijection, the
// host pack matches an independent statement of the layout (aiter's view/permute, the PTX
// fragment table), and the device kernel, run on the CPU through a shim, matches the host pack.
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "compiler/layouts.hpp"
#include "fp8jit/error.hpp"

// ---- CPU shim for templates/preshuffle.inc -----------------------------------------------------
// Defines the common prelude API for a plain loop over thread indices. It lives in its own
// namespace (device_shim::fp8jit) so that it cannot collide with the library's fp8jit.
namespace {
namespace device_shim {
namespace fp8jit {
using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i32 = std::int32_t;
using i64 = long long;
struct alignas(16) u32x4 {
  u32 x, y, z, w;
};
thread_local u32 g_thread = 0, g_block = 0, g_block_dim = 0;
inline u32 thread_x() { return g_thread; }
inline u32 block_x() { return g_block; }
inline u32 block_dim_x() { return g_block_dim; }
inline u32x4 load16(const void* p) {
  u32x4 v;
  std::memcpy(&v, p, 16);
  return v;
}
inline void store16(void* p, u32x4 v) { std::memcpy(p, &v, 16); }
}  // namespace fp8jit
#define FP8JIT_DEVICE inline
#include "../../templates/preshuffle.inc"
#undef FP8JIT_DEVICE

// Runs `kernel` as the runtime launches it: 256 threads per block, ceil(n*kp/16/256) blocks.
template <class Kernel>
void launch(Kernel kernel, const void* src, void* dst, long n, long k) {
  const long threads = n * ::fp8jit::compiler::packed_k(k) / 16, block_dim = 256;
  fp8jit::g_block_dim = block_dim;
  for (long b = 0; b < (threads + block_dim - 1) / block_dim; ++b)
    for (long t = 0; t < block_dim; ++t) {
      fp8jit::g_block = static_cast<fp8jit::u32>(b);
      fp8jit::g_thread = static_cast<fp8jit::u32>(t);
      kernel(src, dst, n, k);
    }
}
}  // namespace device_shim
}  // namespace

namespace {

using fp8jit::WeightLayout;
using fp8jit::compiler::pack_host;
using fp8jit::compiler::packed_bytes;
using fp8jit::compiler::packed_k;
using fp8jit::compiler::packed_offset;
using fp8jit::compiler::unpack_host;

const WeightLayout kLayouts[] = {WeightLayout::nv_mma16x32, WeightLayout::aiter16x16};
// K % 32 == 16 too (16, 48, 112): the last 16x32 block is half padding.
const std::pair<long, long> kShapes[] = {{16, 32},  {16, 96},  {64, 32}, {48, 160}, {112, 256},
                                         {256, 128}, {16, 16}, {48, 48}, {32, 112}};

// The weight with zero columns appended up to packed_k(k): what a padded layout stores.
std::vector<std::uint8_t> zero_padded(const std::vector<std::uint8_t>& w, long n, long k) {
  const long kp = packed_k(k);
  std::vector<std::uint8_t> out(n * kp, 0);
  for (long r = 0; r < n; ++r) std::memcpy(&out[r * kp], &w[r * k], k);
  return out;
}

// Fresh random bytes each run (never zeros, so a layout that drops or duplicates bytes shows).
std::vector<std::uint8_t> random_bytes(std::size_t size) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::vector<std::uint8_t> v(size);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

std::vector<std::uint8_t> packed(WeightLayout layout, const std::vector<std::uint8_t>& w, long n,
                                 long k) {
  std::vector<std::uint8_t> p(packed_bytes(n, k), 0xA5);  // pack_host must write every byte
  pack_host(layout, w.data(), p.data(), n, k);
  return p;
}

// out = src viewed as a contiguous tensor of `dims`, permuted by `perm` (out dim d = src dim
// perm[d]), made contiguous: torch's x.view(dims).permute(perm).contiguous().
std::vector<std::uint8_t> permute5(const std::vector<std::uint8_t>& src,
                                   const std::array<long, 5>& dims,
                                   const std::array<int, 5>& perm) {
  std::array<long, 5> src_stride{};
  long s = 1;
  for (int d = 4; d >= 0; --d) src_stride[d] = s, s *= dims[d];
  std::array<long, 5> out_dims{}, stride{};
  for (int d = 0; d < 5; ++d) out_dims[d] = dims[perm[d]], stride[d] = src_stride[perm[d]];
  std::vector<std::uint8_t> out;
  out.reserve(src.size());
  for (long a = 0; a < out_dims[0]; ++a)
    for (long b = 0; b < out_dims[1]; ++b)
      for (long c = 0; c < out_dims[2]; ++c)
        for (long d = 0; d < out_dims[3]; ++d)
          for (long e = 0; e < out_dims[4]; ++e)
            out.push_back(
                src[a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3] + e * stride[4]]);
  return out;
}

std::string message_of(WeightLayout layout, long n, long k) {
  try {
    fp8jit::compiler::check_layout_shape(layout, n, k);
  } catch (const fp8jit::InvalidArgument& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace

TEST_CASE("layouts: pack then unpack restores random bytes", "[layouts]") {
  for (WeightLayout layout : kLayouts)
    for (auto [n, k] : kShapes) {
      const std::string name(fp8jit::to_string(layout));
      CAPTURE(name, n, k);
      const auto w = random_bytes(n * k);
      const auto p = packed(layout, w, n, k);
      std::vector<std::uint8_t> back(w.size());
      unpack_host(layout, p.data(), back.data(), n, k);
      CHECK(back == w);
      CHECK(p != w);  // every shape above is a real shuffle, not the identity
    }
}

TEST_CASE("layouts: packed_offset is one-to-one into 0..N*Kp-1, matches pack_host, and the rest "
          "is zero padding", "[layouts]") {
  for (WeightLayout layout : kLayouts)
    for (auto [n, k] : kShapes) {
      const std::string name(fp8jit::to_string(layout));
      CAPTURE(name, n, k);
      const auto w = random_bytes(n * k);
      const auto p = packed(layout, w, n, k);
      std::vector<char> hit(packed_bytes(n, k), 0);
      bool ok = true;
      for (long r = 0; r < n; ++r)
        for (long c = 0; c < k; ++c) {
          const std::size_t o = packed_offset(layout, n, k, r, c);
          if (o >= hit.size() || hit[o] || p[o] != w[r * k + c]) ok = false;
          if (o < hit.size()) hit[o] = 1;
        }
      CHECK(ok);
      long padding = 0, nonzero = 0;
      for (std::size_t o = 0; o < hit.size(); ++o)
        if (!hit[o]) ++padding, nonzero += p[o] != 0;
      CHECK(padding == n * (packed_k(k) - k));
      CHECK(nonzero == 0);
    }
}

TEST_CASE("layouts: aiter16x16 is aiter's view N/16,16,K/32,2,16 permuted by 0,2,3,1,4",
          "[layouts]") {
  // For K % 32 == 0 exactly aiter's bytes; for K % 32 == 16, aiter's view of the weight with 16
  // zero columns appended (aiter's own shuffle needs K % 32 == 0).
  for (auto [n, k] : kShapes) {
    CAPTURE(n, k);
    const auto w = random_bytes(n * k);
    const long kp = packed_k(k);
    const auto expected = permute5(zero_padded(w, n, k), {n / 16, 16, kp / 32, 2, 16}, {0, 2, 3, 1, 4});
    CHECK(packed(WeightLayout::aiter16x16, w, n, k) == expected);
  }
}

TEST_CASE("layouts: nv_mma16x32 lane L holds its m16n8k32 A fragment at block + 16L",
          "[layouts]") {
  for (auto [n, k] : kShapes) {
    CAPTURE(n, k);
    const auto w = random_bytes(n * k);
    const auto p = packed(WeightLayout::nv_mma16x32, w, n, k);
    bool ok = true;
    const long kp = packed_k(k);
    const auto wp = zero_padded(w, n, k);  // columns past K read as zeros
    for (long nb = 0; nb < n / 16; ++nb)
      for (long kb = 0; kb < kp / 32; ++kb) {
        const std::size_t block = (nb * (kp / 32) + kb) * 512;
        for (int lane = 0; lane < 32; ++lane)
          for (int i = 0; i < 16; ++i) {
            // PTX ISA "Matrix Fragments for mma.m16n8k32", A, .e4m3: groupID g, threadID_in_group t
            const int g = lane >> 2, t = lane % 4;
            const int row = (i < 4 || (i >= 8 && i < 12)) ? g : g + 8;
            const int col = i < 8 ? t * 4 + (i & 3) : t * 4 + (i & 3) + 16;
            if (p[block + 16 * lane + i] != wp[(nb * 16 + row) * kp + kb * 32 + col]) ok = false;
          }
      }
    CHECK(ok);
  }
}

TEST_CASE("layouts: preshuffle.inc run on the CPU matches pack_host byte for byte", "[layouts]") {
  for (WeightLayout layout : kLayouts)
    for (auto [n, k] : kShapes) {
      const std::string name(fp8jit::to_string(layout));
      CAPTURE(name, n, k);
      // NOTE: the kernel reads src as u32 words, so give it storage whose type is u32.
      std::vector<std::uint32_t> src(n * k / 4);
      const auto w = random_bytes(n * k);
      std::memcpy(src.data(), w.data(), w.size());
      const std::size_t guard = 64;  // threads past n*kp/16 must not write
      const std::size_t size = packed_bytes(n, k);
      std::vector<std::uint8_t> dst(size + guard, 0xA5);
      if (layout == WeightLayout::aiter16x16)
        device_shim::launch(device_shim::fp8jit::preshuffle_aiter16x16, src.data(), dst.data(), n,
                            k);
      else
        device_shim::launch(device_shim::fp8jit::preshuffle_nv_mma16x32, src.data(), dst.data(),
                            n, k);
      const auto expected = packed(layout, w, n, k);
      CHECK(std::vector<std::uint8_t>(dst.begin(), dst.begin() + size) == expected);
      CHECK(std::vector<std::uint8_t>(dst.begin() + size, dst.end()) ==
            std::vector<std::uint8_t>(guard, 0xA5));
    }
}

TEST_CASE("layouts: shapes that break the rule throw InvalidArgument naming value and rule",
          "[layouts]") {
  using Catch::Matchers::Contains;
  const std::string bad_n = message_of(WeightLayout::nv_mma16x32, 100, 4096);
  CHECK_THAT(bad_n, Contains("[N=100, K=4096]") && Contains("N = 100") &&
                        Contains("multiple of 16") && Contains("nv_mma16x32") &&
                        Contains("pad N with zero rows to 112"));
  const std::string bad_k = message_of(WeightLayout::aiter16x16, 64, 100);
  CHECK_THAT(bad_k, Contains("K = 100") && Contains("multiple of 16") && Contains("aiter16x16") &&
                        Contains("to 112"));
  CHECK_THAT(message_of(WeightLayout::nv_mma16x32, 4095, 4096),
             Contains("N = 4095") && Contains("multiple of 16") && Contains("to 4096"));
  CHECK_THAT(message_of(WeightLayout::nv_mma16x32, 4096, 4100),
             Contains("K = 4100") && Contains("multiple of 16") && Contains("to 4112"));
  CHECK_THAT(message_of(WeightLayout::aiter16x16, 4096, 8),
             Contains("K = 8") && Contains("multiple of 16") && Contains("to 16"));
  CHECK(message_of(WeightLayout::aiter16x16, 16, 16) == "(no exception)");
  CHECK(message_of(WeightLayout::nv_mma16x32, 1040, 4112) == "(no exception)");
  CHECK_THAT(message_of(WeightLayout::aiter16x16, 0, 64), Contains("N = 0 must be positive"));
  CHECK_THAT(message_of(WeightLayout::nv_mma16x32, 16, -32), Contains("K = -32 must be positive"));
  CHECK(message_of(WeightLayout::nv_mma16x32, 16, 32) == "(no exception)");

  std::vector<std::uint8_t> w(100 * 4096), p(w.size());
  CHECK_THROWS_AS(pack_host(WeightLayout::nv_mma16x32, w.data(), p.data(), 100, 4096),
                  fp8jit::InvalidArgument);
  CHECK_THROWS_AS(unpack_host(WeightLayout::aiter16x16, p.data(), w.data(), 16, 4088),
                  fp8jit::InvalidArgument);
  CHECK_THROWS_AS(pack_host(WeightLayout::aiter16x16, nullptr, p.data(), 16, 32),
                  fp8jit::InvalidArgument);
  CHECK_THROWS_AS(packed_offset(WeightLayout::nv_mma16x32, 16, 32, 16, 0),
                  fp8jit::InvalidArgument);
  CHECK_THROWS_AS(packed_offset(WeightLayout::aiter16x16, 16, 32, 0, -1), fp8jit::InvalidArgument);
  const auto rule = fp8jit::compiler::layout_rule(WeightLayout::nv_mma16x32);
  CHECK((rule.n_multiple == 16 && rule.k_multiple == 16));
  CHECK((packed_k(16) == 32 && packed_k(32) == 32 && packed_k(4112) == 4128));
}
