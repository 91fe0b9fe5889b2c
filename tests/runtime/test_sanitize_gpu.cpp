// The small GPU selection that scripts/gpu-sanitize runs under compute-sanitizer (memcheck,
// racecheck, initcheck): every kernel family and config kind at tiny shapes, with tails in N, K
// and M, each result checked against the float64 reference. Tagged [sanitize] (and [gpu], so
// scripts/gpu-check runs them unsanitized too). Tiny on purpose: the sanitizers slow kernels
// down 10-100x.
#include <catch2/catch.hpp>
#include <cstdio>
#include <random>
#include <set>

#include "compiler/families/wgmma_sm90.hpp"
#include "compiler/kernel_spec.hpp"
#include "compiler/layouts.hpp"
#include "fp8jit/fp8jit.hpp"
#include "runtime/context_state.hpp"
#include "tests/support/device_gemm.hpp"
#include "tests/support/gpu.hpp"
#include "tests/support/gpu_session.hpp"

namespace {

using namespace fp8jit;


// N % 16 == 0 but not a multiple of any bn above 16; K / 32 = 33 k-blocks, not a multiple of any
// bk step or split.
constexpr std::int64_t kN = 272, kK = 1056;
const std::vector<std::int64_t> kMs = {1, 37, 129};

}  // namespace

TEST_CASE("gpu sanitize: every kind of GEMM config, forced, at a tiny shape", "[gpu][sanitize]") {
  auto gpu = test::open_gpu_session();
  if (!gpu) return;
  Context& ctx = *gpu->ctx;
  const auto target = compiler::Target::parse(ctx.target());
  std::mt19937_64 rng(std::random_device{}());
  // The config kinds of mma_sm89 (split-K 1 and 2..8, stages 1 and 2, 1..4 warps, every token
  // tile), then every config of the tuned tables loaded for this device's arch (whatever family
  // they belong to).
  std::vector<std::string> configs;
  if (target.vendor == compiler::Vendor::nvidia)
    configs = {"bm8_bn16_bk128_w1_s2_k8", "bm8_bn32_bk64_w2_s1_k4", "bm16_bn32_bk64_w2_s2_k4",
               "bm64_bn64_bk128_w2_s2_k2", "bm32_bn64_bk32_w4_s1_k2", "bm64_bn128_bk64_w4_s2_k1",
               "bm8_bn64_bk64_w4_s1_k1"};
  // wgmma_sm90: one and two consumer warpgroups (with and without setmaxnreg), 2 and 3 stages
  // (the producer waits on every stage), split-K over clusters of 2 and 4 (K = 1056 is 9
  // k-tiles: with 4 ranks the last has none), the token tile multicast over clusters of 2 (the
  // racecheck of the stages two CTAs' producers write and both CTAs' consumers release), and the
  // two consumer warpgroups on alternate tiles (ping-pong).
  if (target.arch == "sm_90a")
    for (const char* c : {"wg_bm16_bn64_bk128_w4_s2_k1", "wg_bm128_bn256_bk128_w8_s3_k1",
                          "wg_bm16_bn64_bk128_w4_s3_k2", "wg_bm32_bn128_bk128_w8_s2_k4",
                          "wg_bm16_bn64_bk128_w4_s2_k1_mc2", "wg_bm256_bn128_bk128_w8_s3_k1_mc2",
                          "wg_bm64_bn64_bk128_w8_s2_k1_pp"})
      configs.push_back(c);
  std::set<std::string> seen(configs.begin(), configs.end());
  for (const auto& row : runtime::state_of(ctx).tuned.entries())
    if (row.target.arch == target.arch && seen.insert(row.config.str()).second)
      configs.push_back(row.config.str());

  struct Variant {
    OutDType out;
    bool bias;
  };
  for (const Variant v : {Variant{OutDType::bf16, true}, Variant{OutDType::fp16, false}}) {
    test::DeviceGemm g(ctx, kMs.back(), kN, kK, v.out, v.bias, rng);
    int ran = 0;
    for (const auto& text : configs) {
      const auto cfg = compiler::GemmConfig::parse(text, target);
      try {
        compiler::gemm_spec(target, kN, kK, cfg, v.out, v.bias).validate();
      } catch (const InvalidArgument& e) {
        // Loud, not silent: a tuned config may need a bigger shape than this one.
        std::printf("sanitize: config %s does not apply at N=%lld K=%lld: %s\n", text.c_str(),
                    (long long)kN, (long long)kK, e.what());
        continue;
      }
      for (const std::int64_t m : kMs) {
        const DeviceBuffer out = g.make_out(m);
        runtime::gemm_with_config(ctx, g.args(m, out), cfg, nullptr);
        ctx.synchronize();
        g.check(*gpu->ref, out, m, "sanitize-check", text);
      }
      ++ran;
    }
    std::printf("sanitize: %d of %zu configs ran (out=%s bias=%d)\n", ran, configs.size(),
                std::string(to_string(v.out)).c_str(), int(v.bias));
    CHECK(ran > 0);
  }
}

TEST_CASE("gpu sanitize: the kernels plans choose, and the weight packing, at tiny shapes", "[gpu][sanitize]") {
  auto gpu = test::open_gpu_session();
  if (!gpu) return;
  Context& ctx = *gpu->ctx;
  std::mt19937_64 rng(std::random_device{}());
  // Plans resolve one kernel per M bucket through the tuned tables and the heuristic, so whatever
  // family they pick for small and large M runs here (512 x 1024: a shape big tiles divide; 48 x 48
  // and 1040 x 112: K % 32 == 16, where a read of A past K would be out of bounds).
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
      {16, 32}, {kN, kK}, {512, 1024}, {48, 48}, {1040, 112}};
  for (const auto& [n, k] : shapes) {
    test::DeviceGemm g(ctx, 1000, n, k, OutDType::bf16, true, rng);
    const Plan plan = ctx.plan(g.weight(), OutDType::bf16, true);
    for (const std::int64_t m : {1, 7, 64, 129, 256, 1000}) {
      const DeviceBuffer out = g.make_out(m);
      plan.gemm(g.args(m, out));
      ctx.synchronize();
      g.check(*gpu->ref, out, m, "sanitize-check", "plan n" + std::to_string(n) + "_k" + std::to_string(k));
    }
    for (const auto& line : plan.describe()) std::printf("sanitize: plan %s\n", line.c_str());
  }
  // The packing kernel, byte for byte against the host layout.
  const auto layout = compiler::native_layout(compiler::Target::parse(ctx.target()));
  std::vector<std::uint8_t> w(kN * kK), want(w.size()), got(w.size());
  for (auto& b : w) b = static_cast<std::uint8_t>(rng());
  compiler::pack_host(layout, w.data(), want.data(), kN, kK);
  const DeviceBuffer dw = ctx.alloc(w.size()), sw = ctx.alloc(kN * 4);
  ctx.copy_to_device(dw.get(), w.data(), w.size());
  ctx.synchronize();
  const PackedWeight packed = ctx.pack_weight(dw.get(), static_cast<const float*>(sw.get()), kN, kK);
  ctx.synchronize();
  ctx.copy_to_host(got.data(), packed.data(), got.size());
  CHECK(got == want);
}

TEST_CASE("gpu sanitize: a persistent wgmma grid whose blocks run several tiles", "[gpu][sanitize]") {
  auto gpu = test::open_gpu_session();
  if (!gpu) return;
  Context& ctx = *gpu->ctx;
  const auto target = compiler::Target::parse(ctx.target());
  if (target.arch != "sm_90a") {
    std::printf("SKIPPED persistent wgmma grid: the device is %s, not sm_90a\n", target.arch.c_str());
    return;
  }
  // Both persistent tile shapes: 9 x 16 = 144 tiles of 128 tokens x 256 rows, 8 x 17 = 136 of
  // 256 tokens x 128 rows (the last of each direction partial). With min(tiles, multiprocessors)
  // blocks, the first ones run a second tile while the producer refills the stages during their
  // first tile's epilogue. K = 160: 2 steps (the second partial) over 3 stages, so a block's
  // second tile starts in the middle of the stage ring; short, since racecheck's time grows with
  // the shared-memory traffic. Then ping-pong: 33 x 16 = 528 tiles of 128 x 64, each block's two
  // warpgroups taking them in turn (4 tiles a block: two each).
  constexpr std::int64_t n = 2064, k = 160, m = 2000;
  std::mt19937_64 rng(std::random_device{}());
  test::DeviceGemm g(ctx, m, n, k, OutDType::bf16, true, rng);
  for (const char* name : {"wg_bm128_bn256_bk128_w8_s3_k1", "wg_bm256_bn128_bk128_w8_s3_k1",
                           "wg_bm128_bn64_bk128_w8_s3_k1_pp"}) {
    const auto cfg = compiler::GemmConfig::parse(name, target);
    REQUIRE(compiler::wgmma_persistent(cfg));
    const std::int64_t tiles = (n + cfg.bn - 1) / cfg.bn * ((m + cfg.bm - 1) / cfg.bm);
    if (tiles <= ctx.multiprocessors()) {
      std::printf("SKIPPED persistent wgmma grid %s: %lld tiles do not exceed the %d multiprocessors\n",
                  name, (long long)tiles, ctx.multiprocessors());
      continue;
    }
    const DeviceBuffer out = g.make_out(m);
    runtime::gemm_with_config(ctx, g.args(m, out), cfg, nullptr);
    ctx.synchronize();
    g.check(*gpu->ref, out, m, "sanitize-check", "persistent " + cfg.str());
  }
}
