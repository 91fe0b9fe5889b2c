// KernelSpec's canonical form and name, config parsing, targets, and rendering.
#include <catch2/catch.hpp>

#include "compiler/kernel_spec.hpp"
#include "compiler/render.hpp"
#include "compiler/templates.hpp"
#include "fp8jit/error.hpp"

using namespace fp8jit;
using namespace fp8jit::compiler;
using Catch::Matchers::Contains;

namespace {

// A config of the default family of `arch` (mma_sm89 on NVIDIA, mfma_cdna3 on AMD).
GemmConfig cfg(int bm, int bn, int bk, int warps, int stages, const char* arch = "sm_90a") {
  GemmConfig c;
  c.family = default_family(Target::parse(arch));
  c.bm = bm, c.bn = bn, c.bk = bk, c.warps = warps, c.stages = stages, c.split_k = 1;
  return c;
}

}  // namespace

TEST_CASE("spec: the canonical form and the kernel name read like the spec", "[spec]") {
  const auto s = gemm_spec(Target::parse("sm_90a"), 7168, 2048, cfg(16, 64, 128, 4, 2), OutDType::bf16, true);
  CHECK(s.canonical() ==
        "fp8jit.spec/1 op=gemm family=mma_sm89 target=sm_90a n=7168 k=2048 "
        "cfg=bm16_bn64_bk128_w4_s2_k1 fp8=e4m3fn out=bf16 bias=1 layout=nv_mma16x32");
  CHECK(s.kernel_name() == "fp8gemm_n7168_k2048_bm16_bn64_bk128_w4_s2_k1_bf16_bias_sm90a");
  CHECK(s.threads() == 128);

  const auto a = gemm_spec(Target::parse("gfx942:sramecc+:xnack-"), 4096, 4096, cfg(32, 64, 128, 4, 2, "gfx942"),
                           OutDType::fp16, false);
  CHECK(a.canonical() ==
        "fp8jit.spec/1 op=gemm family=mfma_cdna3 target=gfx942:sramecc+:xnack- n=4096 k=4096 "
        "cfg=bm32_bn64_bk128_w4_s2_k1 fp8=e4m3fnuz out=fp16 bias=0 layout=aiter16x16");
  CHECK(a.kernel_name() == "fp8gemm_n4096_k4096_bm32_bn64_bk128_w4_s2_k1_fp16_gfx942");
  CHECK(a.threads() == 256);
  CHECK(preshuffle_spec(Target::parse("gfx950"), WeightLayout::aiter16x16).kernel_name() ==
        "fp8pack_aiter16x16_gfx950");
}

TEST_CASE("spec: every field that decides the binary changes the canonical form", "[spec]") {
  const auto base = gemm_spec(Target::parse("sm_90a"), 4096, 4096, cfg(16, 64, 128, 4, 2), OutDType::bf16, false);
  auto changed = [&](auto edit) {
    auto s = base;
    edit(s);
    return s.canonical() != base.canonical();
  };
  CHECK(changed([](KernelSpec& s) { s.n = 4112; }));
  CHECK(changed([](KernelSpec& s) { s.k = 4128; }));
  CHECK(changed([](KernelSpec& s) { s.config.bm = 32; }));
  CHECK(changed([](KernelSpec& s) { s.config.stages = 1; }));
  CHECK(changed([](KernelSpec& s) { s.out = OutDType::fp16; }));
  CHECK(changed([](KernelSpec& s) { s.bias = true; }));
  CHECK(changed([](KernelSpec& s) { s.target = Target::parse("sm_89"); }));
  CHECK(changed([](KernelSpec& s) { s.fp8 = Fp8Format::e4m3fnuz; }));
  CHECK(changed([](KernelSpec& s) { s.layout = WeightLayout::aiter16x16; }));
}

TEST_CASE("spec: configs parse exactly their printed form", "[spec]") {
  const auto c = cfg(64, 128, 64, 4, 1);
  const auto nv = Target::parse("sm_90a"), amd = Target::parse("gfx942");
  CHECK(GemmConfig::parse(c.str(), nv) == c);
  CHECK_THROWS_WITH(GemmConfig::parse("bm64_bn128", nv), Contains("bm64_bn128") && Contains("expected [wg_]"));
  CHECK_THROWS_AS(GemmConfig::parse("bm64_bn128_bk64_w4_s1_k1x", nv), InvalidArgument);
  // The same text is a config of each vendor's default family; a prefix names its family anywhere.
  CHECK(GemmConfig::parse(c.str(), nv).family == Family::mma_sm89);
  CHECK(GemmConfig::parse(c.str(), amd).family == Family::mfma_cdna3);
  CHECK(GemmConfig::parse(c.str(), amd).str() == c.str());
  CHECK(GemmConfig::parse("wg_bm128_bn128_bk128_w8_s4_k1", amd).family == Family::wgmma_sm90);
}

TEST_CASE("spec: configs outside a family's limits are rejected with the rule", "[spec]") {
  const auto t = Target::parse("sm_90a");
  auto v = [&](GemmConfig c) { gemm_spec(t, 4096, 4096, c, OutDType::bf16, false).validate(); };
  CHECK_NOTHROW(v(cfg(8, 64, 32, 4, 1)));
  CHECK_THROWS_WITH(v(cfg(12, 64, 64, 4, 2)), Contains("bm = 12"));
  CHECK_THROWS_WITH(v(cfg(16, 48, 64, 4, 2)), Contains("bn = 48"));
  CHECK_THROWS_WITH(v(cfg(16, 64, 48, 4, 2)), Contains("bk = 48"));
  CHECK_THROWS_WITH(v(cfg(16, 64, 64, 3, 2)), Contains("warps = 3"));
  CHECK_THROWS_WITH(v(cfg(16, 64, 64, 4, 3)), Contains("stages = 3"));
  auto split = cfg(16, 64, 64, 4, 2);
  split.split_k = 3;
  CHECK_THROWS_WITH(v(split), Contains("split_k = 3") && Contains("1, 2, 4 or 8"));
  split.split_k = 8;
  CHECK_THROWS_WITH(v(split), Contains("warps x split_k = 32"));
  auto big = cfg(64, 256, 64, 4, 2);
  big.split_k = 4;
  CHECK_THROWS_WITH(v(big), Contains("bytes of shared memory"));
  auto decode = cfg(8, 16, 128, 1, 2);
  decode.split_k = 8;
  CHECK_NOTHROW(v(decode));
  CHECK(gemm_spec(t, 4096, 4096, decode, OutDType::bf16, false).threads() == 256);
  auto amd_split = cfg(16, 64, 64, 4, 2, "gfx942");
  amd_split.split_k = 2;
  CHECK_THROWS_WITH(gemm_spec(Target::parse("gfx942"), 4096, 4096, amd_split, OutDType::bf16, false).validate(),
                    Contains("split_k = 2") && Contains("mfma_cdna3"));
  CHECK_THROWS_WITH(gemm_spec(t, 4100, 4096, cfg(16, 64, 64, 4, 2), OutDType::bf16, false).validate(),
                    Contains("N = 4100") && Contains("multiple of 16"));
}

TEST_CASE("spec: targets parse with AMD features and reject what they do not know", "[spec]") {
  const auto t = Target::parse("gfx942:sramecc+:xnack-");
  CHECK(t.arch == "gfx942");
  CHECK(t.features == ":sramecc+:xnack-");
  CHECK(t.vendor == Vendor::amd);
  CHECK(t.fp8_format() == Fp8Format::e4m3fnuz);
  CHECK(Target::parse("gfx950").fp8_format() == Fp8Format::e4m3fn);
  CHECK(Target::parse("sm_90a").sm() == 90);
  CHECK_THROWS_WITH(Target::parse("gfx942:sramecc"), Contains("':name+' or ':name-'"));
  CHECK_THROWS_WITH(Target::parse("sm_90a:foo+"), Contains("AMD-only"));
}

TEST_CASE("spec: emulation targets keep their arch's properties and read apart", "[spec]") {
  const auto t = Target::parse("emu-gfx942");
  CHECK(t.emulated);
  CHECK(t.arch == "gfx942");
  CHECK(t.vendor == Vendor::amd);
  CHECK(t.fp8_format() == Fp8Format::e4m3fnuz);
  CHECK(t.str() == "emu-gfx942");
  CHECK(Target::parse("emu-sm89").arch == "sm_89");
  CHECK(Target::parse("emu-sm89").str() == "emu-sm89");
  CHECK(Target::parse("emu-sm_89").str() == "emu-sm89");
  CHECK(Target::parse("emu-gfx950").fp8_format() == Fp8Format::e4m3fn);
  CHECK_FALSE(Target::parse("gfx942").emulated);
  CHECK_THROWS_WITH(Target::parse("emu-sm90a"), Contains("no CPU emulation of 'sm90a'"));
  CHECK_THROWS_WITH(Target::parse("emu-gfx942:xnack-"), Contains("emulation targets: emu-gfx942"));
  // A spec for the emulation differs from the GPU's in its canonical form, key and kernel name.
  const auto g = gemm_spec(Target::parse("gfx942"), 4096, 2048, cfg(16, 64, 128, 4, 2, "gfx942"),
                           OutDType::bf16, true);
  const auto e = gemm_spec(t, 4096, 2048, cfg(16, 64, 128, 4, 2, "gfx942"), OutDType::bf16, true);
  CHECK(&family_of(e) == &family(Family::mfma_cdna3));
  CHECK(e.layout == WeightLayout::aiter16x16);
  CHECK(e.canonical() != g.canonical());
  CHECK_THAT(e.canonical(), Contains("target=emu-gfx942"));
  CHECK_THAT(e.kernel_name(), Contains("_emu_gfx942"));
  // Rendered: the emulation prelude in place of the vendor prelude, the family text unchanged.
  const auto r = render(e), rg = render(g);
  CHECK_THAT(r.text, Contains("prelude_emu_amd.hpp"));
  CHECK_THAT(r.text, Contains("FP8JIT_EMU_ENTRY(" + e.kernel_name() + ")"));
  CHECK(r.text.find("__builtin_amdgcn") == std::string::npos);
  const auto family = rg.text.find("template <class Spec>\nstruct MfmaCdna3Gemm");
  REQUIRE(family != std::string::npos);
  const auto family_end = rg.text.find("// ---- instantiation ----");
  CHECK_THAT(r.text, Contains(rg.text.substr(family, family_end - family)));
}

TEST_CASE("render: provenance comment, prelude, family and one extern C instantiation", "[spec]") {
  const auto s = gemm_spec(Target::parse("sm_90a"), 4096, 2048, cfg(16, 64, 128, 4, 2), OutDType::bf16, true);
  const auto r = render(s);
  CHECK(r.kernel_name == s.kernel_name());
  CHECK(r.text.rfind("// Generated by fp8jit", 0) == 0);
  CHECK_THAT(r.text, Contains("// spec: " + s.canonical()));
  CHECK_THAT(r.text, Contains("mma.sync.aligned.m16n8k32"));  // the prelude, inlined
  CHECK_THAT(r.text, Contains("static constexpr long n = 4096, k = 2048;"));
  CHECK_THAT(r.text, Contains("void " + s.kernel_name() + "("));
  CHECK(r.text.find("#include") == std::string::npos);  // self-contained
  // Rendering is deterministic (the cache key hashes it).
  CHECK(render(s).text == r.text);
  CHECK(std::string(kTemplatesHash).size() == 64);
}
