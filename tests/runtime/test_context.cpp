// The Context pipeline on a FakeDriver: argument validation, specs, compilation, caches, plans.
// Real compilers run (NVRTC for sm_90a, clang for gfx942); only the launch is faked.
#include <catch2/catch.hpp>
#include <thread>

#include "compiler/kernel_spec.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/fp8jit.hpp"
#include "runtime/context_state.hpp"
#include "tests/support/fake_driver.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/skip.hpp"

namespace {

using namespace fp8jit;
using Catch::Matchers::Contains;

// A Context over a FakeDriver of `arch`, or nullptr (printing why) when no toolchain builds it.
struct FakeContext {
  test::FakeDriver* driver = nullptr;
  std::unique_ptr<Context> ctx;
};

FakeContext fake_context(const std::string& cache_dir, const std::string& arch = "sm_90a",
                         bool pdl = true) {
  FakeContext f;
  if (!test::toolchains_for_or_skip(arch)) return f;
  Options o;
  o.cache_dir = cache_dir;
  o.pdl = pdl;
  auto driver = std::make_unique<test::FakeDriver>(arch);
  f.driver = driver.get();
  f.ctx = std::make_unique<Context>(runtime::make_context(o, std::move(driver)));
  return f;
}

struct Buffers {
  DeviceBuffer a, sa, w, sw, out, bias;
  Buffers(Context& c, std::int64_t m, std::int64_t n, std::int64_t k)
      : a(c.alloc(m * k)), sa(c.alloc(m * 4)), w(c.alloc(n * k)), sw(c.alloc(n * 4)),
        out(c.alloc(m * n * 2)), bias(c.alloc(n * 2)) {}
  // GemmArgs of m tokens of these buffers with weight w (no bias).
  GemmArgs args(const PackedWeight& w, std::int64_t m) const {
    GemmArgs g;
    g.a = a.get();
    g.sa = static_cast<const float*>(sa.get());
    g.w = &w;
    g.out = out.get();
    g.m = m;
    return g;
  }
};

}  // namespace

TEST_CASE("context: bad input is rejected with the value and the rule", "[context]") {
  test::TempDir dir;
  auto f = fake_context(dir.path());
  if (!f.ctx) return;
  Context& ctx = *f.ctx;
  Buffers b(ctx, 64, 256, 512);
  const float* sw = static_cast<const float*>(b.sw.get());

  CHECK_THROWS_WITH(ctx.pack_weight(b.w.get(), sw, 100, 512), Contains("N = 100") && Contains("multiple of 16"));
  CHECK_THROWS_WITH(ctx.pack_weight(b.w.get(), sw, 256, 100), Contains("K = 100") && Contains("multiple of 16"));
  CHECK_THROWS_AS(ctx.pack_weight(b.w.get(), sw, 0, 512), InvalidArgument);
  CHECK_THROWS_WITH(ctx.pack_weight(nullptr, sw, 256, 512), Contains("w is null"));
  CHECK_THROWS_WITH(ctx.pack_weight(static_cast<char*>(b.w.get()) + 1, sw, 256, 512),
                    Contains("16-byte aligned"));
  CHECK_THROWS_WITH(ctx.wrap_packed_weight(b.w.get(), sw, 256, 512, WeightLayout::aiter16x16),
                    Contains("aiter16x16") && Contains("nv_mma16x32"));

  const PackedWeight w = ctx.pack_weight(b.w.get(), sw, 256, 512);
  GemmArgs g = b.args(w, 64);
  auto with = [&](auto change) {
    GemmArgs x = g;
    change(x);
    return x;
  };
  CHECK_THROWS_WITH(ctx.gemm(with([](GemmArgs& x) { x.m = -3; })), Contains("M = -3") && Contains(">= 0"));
  CHECK_THROWS_WITH(ctx.gemm(with([](GemmArgs& x) { x.a = nullptr; })), Contains("a is null"));
  CHECK_THROWS_WITH(ctx.gemm(with([](GemmArgs& x) { x.sa = nullptr; })), Contains("sa is null"));
  CHECK_THROWS_WITH(ctx.gemm(with([](GemmArgs& x) { x.out = nullptr; })), Contains("out is null"));
  CHECK_THROWS_WITH(ctx.gemm(with([](GemmArgs& x) { x.w = nullptr; })), Contains("w (the PackedWeight) is null"));
  CHECK_THROWS_WITH(ctx.gemm(with([&](GemmArgs& x) { x.a = static_cast<char*>(b.a.get()) + 4; })),
                    Contains("a = ") && Contains("16-byte aligned"));
  CHECK_THROWS_WITH(ctx.gemm(with([&](GemmArgs& x) { x.out = static_cast<char*>(b.out.get()) + 2; })),
                    Contains("out = ") && Contains("16-byte aligned"));
  CHECK_THROWS_WITH(ctx.gemm(with([&](GemmArgs& x) { x.bias = static_cast<char*>(b.bias.get()) + 1; })),
                    Contains("bias = ") && Contains("2-byte aligned"));
  PackedWeight empty;
  CHECK_THROWS_WITH(ctx.gemm(with([&](GemmArgs& x) { x.w = &empty; })), Contains("empty"));

  // M = 0 returns at once: nothing is launched, not even with null operands.
  const auto launches = f.driver->launches.size();
  ctx.gemm(with([](GemmArgs& x) { x.m = 0; x.a = nullptr; x.out = nullptr; }));
  CHECK(f.driver->launches.size() == launches);
}

TEST_CASE("context: fp8 format and arch must agree and unknown archs are named", "[context]") {
  auto spec = compiler::gemm_spec(compiler::Target::parse("sm_90a"), 256, 512, {}, OutDType::bf16, false);
  spec.fp8 = Fp8Format::e4m3fnuz;
  CHECK_THROWS_WITH(spec.validate(), Contains("e4m3fnuz") && Contains("sm_90a") && Contains("e4m3fn"));
  auto amd = compiler::gemm_spec(compiler::Target::parse("gfx942"), 256, 512, {}, OutDType::bf16, false);
  CHECK(amd.fp8 == Fp8Format::e4m3fnuz);
  amd.fp8 = Fp8Format::e4m3fn;
  CHECK_THROWS_AS(amd.validate(), InvalidArgument);
  CHECK_THROWS_WITH(compiler::Target::parse("sm_75"), Contains("unknown arch 'sm_75'") && Contains("sm_90a"));
  CHECK_THROWS_WITH(compiler::Target::parse("gfx1100"), Contains("unknown arch 'gfx1100'"));
  CHECK_THROWS_AS(compiler::gemm_spec(compiler::Target::parse("gfx90a"), 256, 512, {}, OutDType::bf16, false).validate(),
                  InvalidArgument);
}

TEST_CASE("context: a plan launches one kernel per M bucket with the right grid", "[context]") {
  test::TempDir dir;
  auto f = fake_context(dir.path());
  if (!f.ctx) return;
  Context& ctx = *f.ctx;
  Buffers b(ctx, 1000, 4096, 1024);
  const PackedWeight w = ctx.pack_weight(b.w.get(), static_cast<const float*>(b.sw.get()), 4096, 1024);
  const Plan plan = ctx.plan(w, OutDType::bf16, false);
  CHECK(plan.describe().size() >= 2);
  for (const std::int64_t m : {1, 7, 16, 37, 64, 129, 1000}) {
    plan.gemm(b.args(w, m));
    const auto& l = f.driver->launches.back();
    INFO("M = " << m);
    CHECK(l.dims.grid[1] * 1LL >= 1);
    CHECK(l.dims.grid[0] * 1LL * l.dims.block[0] >= 4096 / 16 * 32 / 4);  // every n-block has a warp
    // Enough tiles for the largest tile of any family (bn <= 512, bm <= 128): mma_sm89 launches
    // a 2-D grid, wgmma_sm90 a 1-D one of tiles_n x tiles_m blocks.
    CHECK(l.dims.grid[0] * 1LL * l.dims.grid[1] >= (4096 / 512) * ((m + 127) / 128));
  }
  CHECK_THROWS_WITH(plan.gemm([&] { GemmArgs g = b.args(w, 1); g.out_dtype = OutDType::fp16; return g; }()),
                    Contains("made for out=bf16"));
}

TEST_CASE("context: sm_90a GEMMs launch programmatically unless Options::pdl is off", "[context]") {
  for (const bool pdl : {true, false}) {
    test::TempDir dir;
    auto f = fake_context(dir.path(), "sm_90a", pdl);
    if (!f.ctx) return;
    Context& ctx = *f.ctx;
    Buffers b(ctx, 1024, 512, 256);
    const PackedWeight w = ctx.pack_weight(b.w.get(), static_cast<const float*>(b.sw.get()), 512, 256);
    INFO("pdl = " << pdl);
    // The preshuffle kernel does not wait for the kernel before it: never programmatic.
    CHECK_FALSE(f.driver->launches.back().dims.programmatic);
    for (const std::int64_t m : {1, 16, 1024}) {  // the mma_sm89 and the wgmma_sm90 family
      ctx.gemm(b.args(w, m));
      INFO("M = " << m);
      CHECK(f.driver->launches.back().dims.programmatic == pdl);
    }
  }
  // Only sm_90+ kernels wait (griddepcontrol): not sm_89's, not AMD's, not the emulator's.
  const auto spec = [](const char* arch, const char* cfg) {
    const auto t = compiler::Target::parse(arch);
    return compiler::gemm_spec(t, 512, 256, compiler::GemmConfig::parse(cfg, t),
                               OutDType::bf16, false);
  };
  CHECK(compiler::waits_for_prior_kernel(spec("sm_90a", "bm16_bn64_bk64_w4_s2_k1")));
  CHECK(compiler::waits_for_prior_kernel(spec("sm_90a", "wg_bm64_bn64_bk128_w4_s6_k1")));
  CHECK_FALSE(compiler::waits_for_prior_kernel(spec("sm_89", "bm16_bn64_bk64_w4_s2_k1")));
  CHECK_FALSE(compiler::waits_for_prior_kernel(spec("emu-sm89", "bm16_bn64_bk64_w4_s2_k1")));
  CHECK_FALSE(compiler::waits_for_prior_kernel(spec("gfx942", "bm16_bn64_bk64_w4_s2_k1")));
}

TEST_CASE("context: a second context on the same cache compiles nothing", "[context][cache]") {
  test::TempDir dir;
  std::uint64_t first_compiles = 0;
  {
    auto f = fake_context(dir.path());
    if (!f.ctx) return;
    Buffers b(*f.ctx, 16, 512, 256);
    const PackedWeight w = f.ctx->pack_weight(b.w.get(), static_cast<const float*>(b.sw.get()), 512, 256);
    f.ctx->plan(w, OutDType::bf16, true);
    first_compiles = f.ctx->stats().compiles;
    CHECK(first_compiles >= 2);  // the preshuffle kernel and at least one GEMM
    CHECK(f.ctx->stats().disk_hits == 0);
  }
  auto f = fake_context(dir.path());
  Buffers b(*f.ctx, 16, 512, 256);
  const PackedWeight w = f.ctx->pack_weight(b.w.get(), static_cast<const float*>(b.sw.get()), 512, 256);
  f.ctx->plan(w, OutDType::bf16, true);
  CHECK(f.ctx->stats().compiles == 0);
  CHECK(f.ctx->stats().disk_hits == first_compiles);
}

TEST_CASE("context: concurrent first calls compile a kernel once", "[context]") {
  test::TempDir dir;
  auto f = fake_context(dir.path());
  if (!f.ctx) return;
  Context& ctx = *f.ctx;
  Buffers b(ctx, 16, 512, 256);
  const PackedWeight w = ctx.pack_weight(b.w.get(), static_cast<const float*>(b.sw.get()), 512, 256);
  const auto before = ctx.stats().compiles;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      ctx.gemm(b.args(w, 16));
    });
  for (auto& t : threads) t.join();
  CHECK(ctx.stats().compiles == before + 1);
  CHECK(f.driver->launches.size() >= 8);
}
