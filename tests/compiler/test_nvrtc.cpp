// NVRTC: the NVIDIA kernels compile for sm_90a and sm_89 with their resources reported, and a
// failing compile carries the whole log.
#include <catch2/catch.hpp>
#include <algorithm>
#include <array>
#include <cstdio>

#include "compiler/kernel_spec.hpp"
#include "compiler/ptxas_info.hpp"
#include "compiler/render.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"

using namespace fp8jit;
using namespace fp8jit::compiler;
using Catch::Matchers::Contains;

namespace {

std::unique_ptr<Toolchain> nvrtc_or_skip() {
  try {
    return make_nvrtc_toolchain();
  } catch (const Error& e) {
    const std::string msg = "SKIPPED (" + Catch::getResultCapture().getCurrentTestName() +
                            "): no NVRTC: " + e.what();
    std::printf("%s\n", msg.c_str());
    WARN(msg);
    return nullptr;
  }
}

}  // namespace

TEST_CASE("nvrtc: GEMM and preshuffle kernels compile for sm_90a and sm_89 without spills", "[nvrtc]") {
  const auto tc = nvrtc_or_skip();
  if (!tc) return;
  for (const char* arch : {"sm_90a", "sm_89"}) {
    const auto t = Target::parse(arch);
    for (const auto& [bm, bn, bk, warps, stages, split] : std::vector<std::array<int, 6>>{
             {8, 64, 128, 4, 2, 1}, {64, 128, 64, 4, 2, 1}, {32, 256, 32, 4, 1, 1},
             {8, 16, 128, 1, 2, 8}, {16, 32, 64, 2, 2, 4}}) {
      GemmConfig c;
      c.bm = bm, c.bn = bn, c.bk = bk, c.warps = warps, c.stages = stages, c.split_k = split;
      const auto spec = gemm_spec(t, 1040, 4128, c, OutDType::fp16, true);
      const auto src = render(spec);
      const auto bin = tc->compile({src.text, src.kernel_name, t, spec.canonical(), ""});
      INFO(spec.kernel_name());
      CHECK(bin.bytes.size() > 1000);
      CHECK(bin.resources.registers > 0);
      CHECK(bin.resources.spills == 0);
      CHECK(bin.resources.scratch_bytes == 0);
      CHECK(bin.compile_ms > 0);
    }
    const auto pack = preshuffle_spec(t, WeightLayout::nv_mma16x32);
    const auto src = render(pack);
    CHECK(tc->compile({src.text, src.kernel_name, t, pack.canonical(), ""}).resources.registers > 0);
  }
}

TEST_CASE("nvrtc: wgmma_sm90 kernels compile for sm_90a without spills", "[nvrtc]") {
  const auto tc = nvrtc_or_skip();
  if (!tc) return;
  const auto t = Target::parse("sm_90a");
  for (const char* cfg : {"wg_bm128_bn64_bk128_w4_s6_k1", "wg_bm128_bn128_bk128_w8_s5_k1",
                          "wg_bm128_bn256_bk128_w8_s4_k1", "wg_bm64_bn64_bk128_w4_s6_k1",
                          "wg_bm16_bn128_bk128_w4_s8_k1", "wg_bm16_bn64_bk128_w4_s8_k2",
                          "wg_bm32_bn128_bk128_w8_s6_k4", "wg_bm64_bn128_bk128_w8_s6_k8",
                          "wg_bm256_bn128_bk128_w8_s4_k1", "wg_bm256_bn128_bk128_w8_s3_k1",
                          "wg_bm256_bn64_bk128_w4_s5_k1", "wg_bm256_bn128_bk128_w8_s4_k1_mc2",
                          "wg_bm128_bn256_bk128_w8_s4_k1_mc2", "wg_bm16_bn64_bk128_w4_s8_k1_mc2",
                          "wg_bm128_bn128_bk128_w8_s6_k1_pp", "wg_bm256_bn64_bk128_w8_s4_k1_pp",
                          "wg_bm64_bn64_bk128_w8_s8_k1_pp", "wg_bm64_bn128_bk128_w8_s7_k1_pp",
                          "wg_bm128_bn64_bk128_w8_s8_k1_pp"}) {
    const auto spec = gemm_spec(t, 1040, 4128, GemmConfig::parse(cfg, t), OutDType::bf16, true);
    CHECK(spec.config.family == Family::wgmma_sm90);
    const auto src = render(spec);
    const auto bin = tc->compile({src.text, src.kernel_name, t, spec.canonical(), ""});
    INFO(spec.kernel_name() << "\n" << bin.log);
    // ptxas reports "(C75xx) Potential Performance Loss: wgmma.mma_async instructions are
    // serialized due to ..." where it had to wait for wgmmas the kernel meant to overlap
    // (registers reused, accumulators touched, too few registers).
    const std::string serialized = "wgmma.mma_async instructions are serialized";
    int injected = 0;
    for (auto p = bin.log.find(serialized); p != std::string::npos; p = bin.log.find(serialized, p + 1))
      ++injected;
    std::printf("nvrtc wgmma %s: %d registers, %d spill bytes, %d serialized, %.0f ms\n", cfg,
                bin.resources.registers, bin.resources.spills, injected, bin.compile_ms);
    CHECK(bin.resources.registers > 0);
    CHECK(bin.resources.spills == 0);
    CHECK(bin.resources.scratch_bytes == 0);
    CHECK(injected == 0);
  }
}

TEST_CASE("kernel spec: wgmma configs outside the family's limits are rejected", "[spec]") {
  const auto t = Target::parse("sm_90a");
  // The config read as on sm_90a (a wgmma prefix names its family on any target), built for
  // `arch`.
  const auto on = [&](const char* arch, const char* cfg) {
    return gemm_spec(Target::parse(arch), 4096, 4096, GemmConfig::parse(cfg, t), OutDType::bf16,
                     false);
  };
  const auto bad = [&](const char* cfg) { return on("sm_90a", cfg); };
  CHECK_THROWS_WITH(bad("wg_bm128_bn128_bk64_w8_s4_k1").validate(), Catch::Contains("bk = 64"));
  CHECK_THROWS_WITH(bad("wg_bm128_bn512_bk128_w8_s2_k1").validate(), Catch::Contains("bn = 512"));
  CHECK_THROWS_WITH(bad("wg_bm256_bn128_bk128_w4_s4_k1").validate(), Catch::Contains("bm = 256"));
  CHECK_THROWS_WITH(bad("wg_bm256_bn256_bk128_w8_s2_k1").validate(), Catch::Contains("at most 128"));
  CHECK_THROWS_WITH(bad("wg_bm512_bn128_bk128_w8_s2_k1").validate(), Catch::Contains("bm = 512"));
  CHECK_THROWS_WITH(bad("wg_bm128_bn256_bk128_w8_s5_k1").validate(),
                    Catch::Contains("shared memory"));
  CHECK_THROWS_WITH(bad("wg_bm128_bn96_bk128_w8_s4_k1").validate(), Catch::Contains("bn = 96"));
  CHECK_THROWS_WITH(bad("wg_bm128_bn128_bk128_w8_s4_k3").validate(), Catch::Contains("split_k = 3"));
  CHECK_THROWS_WITH(bad("wg_bm128_bn128_bk128_w8_s4_k16").validate(), Catch::Contains("cluster"));
  CHECK_THROWS_WITH(bad("wg_bm128_bn256_bk128_w8_s2_k2").validate(), Catch::Contains("partial sums"));
  CHECK_NOTHROW(bad("wg_bm128_bn128_bk128_w8_s4_k2").validate());
  CHECK_THROWS_WITH(bad("wg_bm128_bn128_bk128_w8_s4_k1_mc4").validate(),
                    Catch::Contains("multicast = 4 must be 1 or 2"));
  CHECK_THROWS_WITH(bad("wg_bm128_bn128_bk128_w8_s4_k2_mc2").validate(),
                    Catch::Contains("multicast = 2 needs split_k = 1"));
  CHECK_NOTHROW(bad("wg_bm128_bn128_bk128_w8_s4_k1_mc2").validate());
  CHECK_NOTHROW(bad("wg_bm128_bn128_bk128_w8_s6_k1_pp").validate());
  CHECK_THROWS_WITH(bad("wg_bm128_bn128_bk128_w4_s6_k1_pp").validate(),
                    Catch::Contains("pingpong needs warps = 8"));
  CHECK_THROWS_WITH(bad("wg_bm128_bn128_bk128_w8_s6_k2_pp").validate(),
                    Catch::Contains("split_k = 1"));
  CHECK_THROWS_WITH(bad("wg_bm128_bn256_bk128_w8_s3_k1_pp").validate(),
                    Catch::Contains("bn = 256 must be 64 x {1, 2}"));
  CHECK_THROWS_WITH(bad("wg_bm256_bn128_bk128_w8_s3_k1_pp").validate(),
                    Catch::Contains("at most 128"));
  // The epilogue buffers must fit beside the stages (s7: 229376 + 32768 bytes).
  CHECK_THROWS_WITH(bad("wg_bm128_bn128_bk128_w8_s7_k1_pp").validate(),
                    Catch::Contains("shared memory"));
  CHECK_THROWS_WITH(on("sm_89", "bm16_bn64_bk64_w4_s2_k1_pp").validate(),
                    Catch::Contains("pingpong is wgmma_sm90's"));
  CHECK_THROWS_WITH(on("sm_89", "bm16_bn64_bk64_w4_s2_k1_mc2").validate(),
                    Catch::Contains("multicast = 2 must be 1"));
  CHECK_THROWS_WITH(on("sm_89", "wg_bm128_bn128_bk128_w8_s4_k1").validate(),
                    Catch::Contains("sm_90a"));
  CHECK_THROWS_WITH(on("gfx942", "wg_bm128_bn128_bk128_w8_s4_k1").validate(),
                    Catch::Contains("does not belong"));
  CHECK(GemmConfig::parse("wg_bm128_bn128_bk128_w8_s4_k1", t).str() ==
        "wg_bm128_bn128_bk128_w8_s4_k1");
  CHECK_THROWS_AS(GemmConfig::parse("wg_bm128", t), InvalidArgument);
  // The multicast suffix: written only when not 1 (a tuned table asks for exactly that form).
  CHECK(GemmConfig::parse("wg_bm256_bn128_bk128_w8_s4_k1_mc2", t).multicast == 2);
  CHECK(GemmConfig::parse("wg_bm256_bn128_bk128_w8_s4_k1_mc2", t).str() ==
        "wg_bm256_bn128_bk128_w8_s4_k1_mc2");
  CHECK(GemmConfig::parse("wg_bm128_bn128_bk128_w8_s4_k1_mc1", t).str() ==
        "wg_bm128_bn128_bk128_w8_s4_k1");
  CHECK(GemmConfig::parse("wg_bm128_bn128_bk128_w8_s6_k1_pp", t).pingpong);
  CHECK(GemmConfig::parse("wg_bm128_bn128_bk128_w8_s6_k1_pp", t).str() ==
        "wg_bm128_bn128_bk128_w8_s6_k1_pp");
  CHECK_FALSE(GemmConfig::parse("wg_bm128_bn128_bk128_w8_s6_k1", t).pingpong);
  for (const char* text : {"wg_bm128_bn128_bk128_w8_s4_k1_mc", "wg_bm128_bn128_bk128_w8_s4_k1_mc2x",
                           "wg_bm128_bn128_bk128_w8_s4_k1x", "wg_bm128_bn128_bk128_w8_s4_k1_m2",
                           "wg_bm128_bn128_bk128_w8_s4_k1_pp_mc2", "wg_bm128_bn128_bk128_w8_s4_k1_ppx"})
    CHECK_THROWS_AS(GemmConfig::parse(text, t), InvalidArgument);
}

TEST_CASE("nvrtc: a failing compile throws CompileError with the log, options, spec and source", "[nvrtc]") {
  const auto tc = nvrtc_or_skip();
  if (!tc) return;
  const auto t = Target::parse("sm_90a");
  try {
    tc->compile({"extern \"C\" __global__ void k() { undeclared_thing(); }", "k", t, "the spec", ""});
    FAIL("no CompileError");
  } catch (const CompileError& e) {
    CHECK_THAT(e.log(), Contains("undeclared_thing"));
    CHECK_THAT(e.options(), Contains("--gpu-architecture=sm_90a"));
    CHECK(e.spec() == "the spec");
    CHECK_THAT(std::string(e.what()), Contains("undeclared_thing"));
    FILE* f = std::fopen(e.source_path().c_str(), "r");
    CHECK(f != nullptr);
    if (f) std::fclose(f);
  }
  CHECK_THROWS_AS(tc->compile({"", "k", Target::parse("gfx942"), "", ""}), InvalidArgument);
}

TEST_CASE("nvrtc: the ptxas report is read for the named kernel only", "[nvrtc]") {
  const std::string log =
      "ptxas info    : 73 bytes gmem\n"
      "ptxas info    : Compiling entry function 'other' for 'sm_90a'\n"
      "ptxas info    : Function properties for other\n"
      "ptxas         .     16 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads\n"
      "ptxas info    : Used 255 registers, used 1 barriers, 1024 bytes smem\n"
      "ptxas info    : Compiling entry function 'mine' for 'sm_90a'\n"
      "ptxas info    : Function properties for mine\n"
      "ptxas         .     0 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads\n"
      "ptxas info    : Used 40 registers, used 1 barriers, 384 bytes smem, 400 bytes cmem[0]\n";
  const Resources r = parse_ptxas_info(log, "mine");
  CHECK(r.registers == 40);
  CHECK(r.shared_bytes == 384);
  CHECK(r.scratch_bytes == 0);
  CHECK(r.spills == 16);
  CHECK(parse_ptxas_info(log, "absent").registers == -1);
}

TEST_CASE("nvrtc: the version in the cache key names the release to the patch level", "[nvrtc]") {
  const auto tc = nvrtc_or_skip();
  if (!tc) return;
  // "nvrtc 13.0.88" or "nvrtc 13.0.88 (build-id 65be0db342ad51a0)": nvrtcVersion alone gives
  // "13.0", which a patch release shares.
  const std::string v = tc->version();
  INFO(v << " (" << tc->path() << ")");
  REQUIRE(v.rfind("nvrtc ", 0) == 0);
  const std::string number = v.substr(6, v.find(' ', 6) - 6);
  CHECK(std::count(number.begin(), number.end(), '.') >= 2);
  CHECK(number.find_first_not_of("0123456789.") == std::string::npos);
  CHECK(number.front() != '.');
  CHECK(number.back() != '.');
  const auto id = v.find(" (build-id ");
  if (id != std::string::npos) CHECK(v.size() == id + 11 + 16 + 1);
}
