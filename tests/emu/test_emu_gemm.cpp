// The GEMM families run on the CPU emulation of gfx942, gfx950 and sm89, through the public API
// (Context with Options::target), checked like the GPU suite: fresh random fp8 data, a float64
// reference, outputs poisoned before each run (an unwritten element fails; so does one written
// past row M), ragged M, bias on and off, bf16 and fp16, configs with every tail. And the checks
// fail when the weight is packed with two lanes swapped: a wrong lane mapping cannot pass.
#include <catch2/catch.hpp>
#include <cstring>

#include "compiler/layouts.hpp"
#include "tests/emu/emu_support.hpp"

namespace {

using namespace fp8jit;
using compiler::GemmConfig;

const std::vector<std::int64_t> kMs = {1, 2, 7, 16, 37, 64};

struct Shape {
  std::int64_t n, k;
  const char* config;  // nullptr: the tuned table / heuristic, as Context::gemm chooses
  OutDType out;
  bool bias;
};

void check_family(const std::string& target, const std::vector<Shape>& shapes) {
  auto ctx = test::emu_context_or_skip(target);
  if (!ctx) return;
  auto rng = test::seeded_rng(target.c_str());
  for (const Shape& s : shapes) {
    auto e = test::make_emu_problem(*ctx, kMs.back(), s.n, s.k, s.out, s.bias, rng);
    const GemmConfig cfg =
        s.config ? GemmConfig::parse(s.config, compiler::Target::parse(target)) : GemmConfig{};
    for (const std::int64_t m : kMs) {
      const double err = test::run_and_compare(*ctx, e, m, s.config ? &cfg : nullptr);
      std::printf("emu-gemm-check %-10s M=%-3lld N=%-4lld K=%-4lld cfg=%-24s out=%s bias=%d "
                  "rel_err=%.3e %s\n",
                  target.c_str(), (long long)m, (long long)s.n, (long long)s.k,
                  s.config ? s.config : "(chosen)", std::string(to_string(s.out)).c_str(),
                  int(s.bias), err, err <= 1e-2 ? "ok" : "FAIL");
      INFO(target << " M=" << m << " N=" << s.n << " K=" << s.k << " cfg="
                  << (s.config ? s.config : "(chosen)") << " bias=" << s.bias);
      CHECK(err <= 1e-2);
      CHECK(err > 0);  // bf16/fp16 rounding always leaves a trace: 0 means nothing was compared
    }
  }
}

// gemm_cdna3: N % bn != 0, K = 5.5 chunks of 64 (main steps, a leftover chunk, a half chunk),
// one and two stages, one to four fragments of each kind, a wave with no rows.
const std::vector<Shape> kAmdShapes = {
    {80, 352, "bm16_bn64_bk128_w4_s2_k1", OutDType::bf16, true},
    {80, 352, "bm16_bn64_bk128_w4_s2_k1", OutDType::fp16, false},
    {48, 160, "bm32_bn32_bk64_w1_s1_k1", OutDType::fp16, true},
    {256, 512, "bm64_bn128_bk256_w2_s2_k1", OutDType::bf16, false},
    {256, 512, nullptr, OutDType::bf16, true},
};

// K a multiple of 16 but not of 32 (the last k-block half padding), with K = 16 and 48 (a
// single, partial block), 112 and 2064 (a K tail after whole steps) and 4112, N from one 16-row
// block to 1040 (not a multiple of bn): the configs the target chooses and ones with tails.
std::vector<Shape> k16_shapes(const char* tail_config) {
  return {
      {16, 16, nullptr, OutDType::bf16, true},      {48, 48, nullptr, OutDType::fp16, false},
      {1040, 112, nullptr, OutDType::bf16, true},   {48, 2064, nullptr, OutDType::bf16, false},
      {16, 4112, nullptr, OutDType::fp16, true},    {48, 48, tail_config, OutDType::bf16, true},
      {1040, 112, tail_config, OutDType::bf16, false}, {48, 2064, tail_config, OutDType::fp16, true},
  };
}

// gemm_sm89: split-K in the block (8 and 4 slices: the shared-memory reduction and its barrier),
// K not a multiple of bk, N not a multiple of bn, several warps along N.
const std::vector<Shape> kNvShapes = {
    {80, 352, "bm8_bn16_bk128_w1_s2_k8", OutDType::bf16, true},
    {80, 352, "bm8_bn16_bk128_w1_s2_k8", OutDType::fp16, false},
    {48, 160, "bm16_bn32_bk64_w2_s1_k4", OutDType::fp16, true},
    {256, 512, "bm64_bn128_bk32_w4_s2_k1", OutDType::bf16, false},
    {256, 512, nullptr, OutDType::bf16, true},
};

// The packed weight of `p` in the native layout with the 16-byte runs of lanes 0 and 1 swapped in
// every 1 KiB chunk (aiter16x16) or 512-byte block (nv_mma16x32): what a lane-mapping bug in
// the packer or the kernel looks like.
template <WeightLayout L, std::size_t kChunk>
std::vector<std::uint8_t> swapped_lanes(const tools::GemmProblem& p) {
  std::vector<std::uint8_t> packed(compiler::packed_bytes(p.n, p.k));
  compiler::pack_host(L, p.w.data(), packed.data(), p.n, p.k);
  for (std::size_t c = 0; c + kChunk <= packed.size(); c += kChunk) {
    std::uint8_t tmp[16];
    std::memcpy(tmp, &packed[c], 16);
    std::memcpy(&packed[c], &packed[c + 16], 16);
    std::memcpy(&packed[c + 16], tmp, 16);
  }
  return packed;
}

void check_swapped_lanes_fail(const std::string& target, const char* config) {
  auto ctx = test::emu_context_or_skip(target);
  if (!ctx) return;
  auto rng = test::seeded_rng(target.c_str());
  const bool amd = compiler::Target::parse(target).vendor == compiler::Vendor::amd;
  auto packer = amd ? &swapped_lanes<WeightLayout::aiter16x16, 1024>
                    : &swapped_lanes<WeightLayout::nv_mma16x32, 512>;
  auto good = test::make_emu_problem(*ctx, 16, 80, 352, OutDType::bf16, true, rng);
  auto bad = test::make_emu_problem(*ctx, 16, 80, 352, OutDType::bf16, true, rng, packer);
  const GemmConfig cfg = GemmConfig::parse(config, compiler::Target::parse(target));
  const double good_err = test::run_and_compare(*ctx, good, 16, &cfg);
  const double bad_err = test::run_and_compare(*ctx, bad, 16, &cfg);
  std::printf("emu-mutation %-10s lanes 0 and 1 swapped in the packed weight: rel_err=%.3e "
              "(unmutated %.3e) -> %s\n",
              target.c_str(), bad_err, good_err, bad_err > 1e-2 ? "caught" : "MISSED");
  CHECK(good_err <= 1e-2);
  CHECK(bad_err > 1e-2);
}

}  // namespace

TEST_CASE("emu: gemm_cdna3 on emu-gfx942 (e4m3fnuz) matches the float64 reference", "[emu]") {
  check_family("emu-gfx942", kAmdShapes);
}

TEST_CASE("emu: gemm_cdna3 on emu-gfx950 (e4m3fn) matches the float64 reference", "[emu]") {
  check_family("emu-gfx950", kAmdShapes);
}

TEST_CASE("emu: gemm_sm89 on emu-sm89 matches the float64 reference", "[emu]") {
  check_family("emu-sm89", kNvShapes);
}

TEST_CASE("emu: K a multiple of 16 (padded in the packed weight, A's tail never read) matches "
          "the float64 reference on every target", "[emu]") {
  // A is allocated to exactly M x K bytes: a read past the last row's K faults the emulation.
  check_family("emu-gfx942", k16_shapes("bm16_bn32_bk128_w2_s2_k1"));
  check_family("emu-gfx950", k16_shapes("bm32_bn16_bk64_w1_s1_k1"));
  check_family("emu-sm89", k16_shapes("bm8_bn16_bk128_w1_s2_k4"));
  check_family("emu-sm89", k16_shapes("bm16_bn32_bk64_w2_s1_k1"));
}

TEST_CASE("emu: a weight packed with two lanes swapped fails the check on every target", "[emu]") {
  check_swapped_lanes_fail("emu-gfx942", "bm16_bn64_bk128_w4_s2_k1");
  check_swapped_lanes_fail("emu-gfx950", "bm16_bn64_bk128_w4_s2_k1");
  check_swapped_lanes_fail("emu-sm89", "bm8_bn16_bk128_w1_s2_k8");
}

TEST_CASE("emu: the preshuffle kernels write exactly the host layouts", "[emu]") {
  for (const char* target : {"emu-gfx942", "emu-sm89"}) {
    auto ctx = test::emu_context_or_skip(target);
    if (!ctx) return;
    auto rng = test::seeded_rng(target);
    const auto layout = compiler::native_layout(compiler::Target::parse(target));
    for (auto [n, k] : std::vector<std::pair<std::int64_t, std::int64_t>>{
             {16, 32}, {272, 1056}, {16, 16}, {48, 48}, {1040, 112}}) {
      const std::size_t size = compiler::packed_bytes(n, k);
      std::vector<std::uint8_t> w(n * k), want(size), got(size);
      for (auto& b : w) b = static_cast<std::uint8_t>(rng());
      compiler::pack_host(layout, w.data(), want.data(), n, k);
      auto dw = ctx->alloc(w.size()), sw = ctx->alloc(n * 4);
      ctx->copy_to_device(dw.get(), w.data(), w.size());
      const PackedWeight packed = ctx->pack_weight(dw.get(), static_cast<const float*>(sw.get()), n, k);
      ctx->copy_to_host(got.data(), packed.data(), got.size());
      INFO(target << " N=" << n << " K=" << k);
      CHECK(got == want);
    }
  }
}

TEST_CASE("emu: a launch computes the same bits on one host thread and on several", "[emu]") {
  std::vector<std::vector<std::uint16_t>> outs;
  for (const unsigned threads : {1u, 3u}) {
    if (!test::emu_toolchain_or_skip()) return;
    Options o = Options::from_env();
    o.target = "emu-gfx950";
    o.emu_threads = threads;
    Context ctx(o);
    std::mt19937_64 rng(42);  // the same data for both
    auto e = test::make_emu_problem(ctx, 37, 80, 352, OutDType::bf16, true, rng);
    const GemmConfig cfg = GemmConfig::parse("bm16_bn32_bk64_w2_s2_k1", compiler::Target::parse(o.target));
    CHECK(test::run_and_compare(ctx, e, 37, &cfg) <= 1e-2);
    outs.emplace_back(37 * 80);
    ctx.copy_to_host(outs.back().data(), e.out.get(), outs.back().size() * 2);
  }
  CHECK(outs[0] == outs[1]);
}
