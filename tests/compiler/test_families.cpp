// The kernel-family registry and modules (compiler/families/) and the arch limits
// (compiler/arch_spec.hpp): every family answers for its own configs, spelt one way.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "compiler/arch_spec.hpp"
#include "compiler/families/family.hpp"
#include "compiler/families/wgmma_sm90.hpp"
#include "compiler/kernel_spec.hpp"
#include "compiler/render.hpp"
#include "fp8jit/error.hpp"

using namespace fp8jit;
using namespace fp8jit::compiler;
using Catch::Matchers::Contains;

TEST_CASE("families: one module per family, spelt one way", "[spec][families]") {
  std::set<std::string_view> names, prefixes;
  for (const Family f : kFamilies) {
    const GemmFamily& m = family(f);
    CHECK(m.id == f);
    names.insert(m.name);
    prefixes.insert(m.config_prefix);
    CHECK(m.min_bm <= m.max_bm);
  }
  CHECK(names.size() == kFamilyCount);
  CHECK(family(Family::wgmma_sm90).config_prefix == "wg_");
  CHECK(default_family(Target::parse("sm_89")) == Family::mma_sm89);
  CHECK(default_family(Target::parse("emu-gfx950")) == Family::mfma_cdna3);
  // A config of another vendor's family is built by the target's default family, which rejects it.
  const auto wg = GemmConfig::parse("wg_bm64_bn64_bk128_w4_s6_k1", Target::parse("sm_90a"));
  CHECK(&family_of(Target::parse("gfx942"), wg) == &family(Family::mfma_cdna3));
  CHECK(&family_of(Target::parse("sm_89"), wg) == &family(Family::wgmma_sm90));
  CHECK_THROWS_WITH(gemm_spec(Target::parse("sm_89"), 4096, 4096, wg, OutDType::bf16, false).validate(),
                    Contains("needs arch sm_90a"));
}

TEST_CASE("families: every candidate is a valid config of its family that reads back", "[spec][families]") {
  for (const char* arch : {"sm_90a", "sm_90", "sm_89", "gfx942", "gfx950", "emu-sm89", "emu-gfx942"}) {
    const Target t = Target::parse(arch);
    for (const std::int64_t bucket_m : {1, 64, 8192}) {
      std::vector<GemmConfig> configs;
      for (const FamilyRate& r : arch_spec(t).families())
        family(r.family).candidates(t, bucket_m, 4096, configs);
      REQUIRE_FALSE(configs.empty());
      for (const GemmConfig& c : configs) {
        INFO(arch << " " << c.str());
        CHECK(GemmConfig::parse(c.str(), t) == c);
        const KernelSpec spec = gemm_spec(t, 4096, 4096, c, OutDType::bf16, true);
        CHECK_NOTHROW(spec.validate());
        CHECK(c.bm >= family(c.family).min_bm);
        CHECK(c.bm <= std::max<std::int64_t>(family(c.family).min_bm, bucket_m));
        const GemmLaunch l = family_of(spec).launch(spec, 1000, 132);
        CHECK(l.threads == spec.threads());
        CHECK(l.shared_bytes <= arch_spec(t).shared_bytes_per_block);
        CHECK(l.grid[0] * l.grid[1] * l.grid[2] >= 1);
      }
    }
  }
}

TEST_CASE("families: the wgmma_sm90 launch as data (grid, cluster, shared memory, TMA boxes)", "[spec][families]") {
  const Target t = Target::parse("sm_90a");
  const auto spec = [&](const char* cfg) {
    return gemm_spec(t, 2064, 1440, GemmConfig::parse(cfg, t), OutDType::bf16, false);
  };
  const KernelSpec split = spec("wg_bm32_bn128_bk128_w8_s6_k4");
  const GemmLaunch l = family_of(split).launch(split, 1000, 132);
  CHECK(l.grid[0] == 17 * 32 * 4);  // ceil(2064 / 128) x ceil(1000 / 32) tiles x 4 CTAs
  CHECK(l.cluster == 4);
  CHECK_FALSE(l.persistent);
  CHECK(l.shared_bytes == 6 * (32 + 128) * 128 + 16 * 6);
  REQUIRE(l.tma_count == 2);
  CHECK(l.tma[0].source == TmaOperand::Source::a);
  CHECK(l.tma[0].dims[0] == 1440);
  CHECK(l.tma[0].dims[1] == 1000);
  CHECK(l.tma[0].box[1] == 32);
  CHECK(l.tma[0].swizzle_128b);
  CHECK(l.tma[1].source == TmaOperand::Source::w);
  CHECK(l.tma[1].rank == 3);
  CHECK(l.tma[1].dims[2] == 2064 / 16);
  CHECK(l.tma[1].box[2] == 128 / 16);
  CHECK_THAT(render(split).text, Contains("__cluster_dims__(4, 1, 1)"));

  const KernelSpec persistent = spec("wg_bm128_bn256_bk128_w8_s4_k1");
  REQUIRE(wgmma_persistent(persistent.config));
  CHECK(family_of(persistent).launch(persistent, 4096, 132).grid[0] == 132);
  CHECK(family_of(persistent).launch(persistent, 4096, 0).grid[0] == 9 * 32);  // all tiles
  // More than half the multiprocessor's shared memory: one block per multiprocessor.
  CHECK(family_of(persistent).launch(persistent, 16, 132).shared_bytes >
        kSm90aSpec.shared_bytes_per_multiprocessor / 2);
  CHECK_THAT(family_of(persistent).describe(family_of(persistent).launch(persistent, 16, 0), 0),
             Contains("persistent (min(tiles, multiprocessors)"));

  // Multicast: a whole number of clusters of 2 along N (17 n tiles of 128 -> 18), each CTA's TMA
  // box of A half the token tile; one tile per block, never persistent.
  const KernelSpec mc = spec("wg_bm256_bn128_bk128_w8_s4_k1_mc2");
  REQUIRE_FALSE(wgmma_persistent(mc.config));
  const GemmLaunch lm = family_of(mc).launch(mc, 1000, 132);
  CHECK(lm.grid[0] == 18 * 4);
  CHECK(lm.cluster == 2);
  CHECK_FALSE(lm.persistent);
  CHECK(lm.tma[0].box[1] == 128);
  CHECK(lm.tma[1].box[2] == 128 / 16);
  CHECK_THAT(render(mc).text, Contains("__cluster_dims__(2, 1, 1)") &&
                                  Contains("static constexpr int multicast = 2;"));

  // Ping-pong: persistent, one block per multiprocessor (even where its registers allow two),
  // tiles of bn rows, its turn barrier beside the epilogue buffers.
  const KernelSpec pp = spec("wg_bm64_bn64_bk128_w8_s8_k1_pp");
  REQUIRE(wgmma_persistent(pp.config));
  const GemmLaunch lp = family_of(pp).launch(pp, 1000, 132);
  CHECK(lp.persistent);
  CHECK(lp.grid[0] == 132);  // 33 x 16 = 528 tiles
  CHECK(family_of(pp).launch(pp, 1000, 0).grid[0] == 33 * 16);
  CHECK(lp.cluster == 1);
  CHECK(lp.shared_bytes > kSm90aSpec.shared_bytes_per_multiprocessor / 2);
  CHECK(family(Family::wgmma_sm90).shared_bytes(pp.config) ==
        8 * (64 + 64) * 128 + 16 * 8 + 8 * 32 * 64 + 16);
  CHECK(lp.tma[0].box[1] == 64);
  CHECK(lp.tma[1].box[2] == 64 / 16);
  CHECK_THAT(render(pp).text, Contains("static constexpr bool pingpong = true;") &&
                                  Contains("static constexpr bool persistent = true;"));
}

TEST_CASE("families: register-tile families launch a 2-D grid without TMA", "[spec][families]") {
  for (const char* arch : {"sm_89", "gfx942"}) {
    const Target t = Target::parse(arch);
    const KernelSpec s = gemm_spec(t, 2064, 1440, GemmConfig::parse("bm16_bn64_bk64_w4_s2_k1", t),
                                   OutDType::bf16, false);
    const GemmLaunch l = family_of(s).launch(s, 37, 0);
    CHECK(l.grid[0] == (2064 + 63) / 64);
    CHECK(l.grid[1] == 3);
    CHECK(l.grid[2] == 1);
    CHECK(l.tma_count == 0);
    CHECK(l.shared_bytes == 0);
    CHECK(family_of(s).describe(l, 0) ==
          "grid (33, 3, 1) x " + std::to_string(s.threads()) + " threads");
  }
}

TEST_CASE("arch spec: each arch's limits are named once", "[spec][families]") {
  CHECK(arch_spec(Target::parse("sm_90a")).shared_bytes_per_block == 232448);
  CHECK(arch_spec(Target::parse("sm_89")).shared_bytes_per_block == 101376);
  CHECK(arch_spec(Target::parse("gfx942")).shared_bytes_per_block == 65536);
  CHECK(arch_spec(Target::parse("sm_90a")).multiprocessors == 132);
  CHECK(arch_spec(Target::parse("gfx942")).multiprocessors == 304);
  CHECK(arch_spec(Target::parse("gfx942")).lanes == 64);
  CHECK(&arch_spec(Target::parse("emu-sm89")) == &arch_spec(Target::parse("sm_89")));
  CHECK(arch_spec(Target::parse("sm_90a")).matrix_flops(Family::wgmma_sm90) > 0);
  CHECK(arch_spec(Target::parse("sm_90")).matrix_flops(Family::wgmma_sm90) == 0);
  CHECK(arch_spec(Target::parse("gfx950")).matrix_flops(Family::mma_sm89) == 0);
  for (const std::string& a : Target::known_archs()) CHECK(arch_spec(Target::parse(a)).arch == a);
}
