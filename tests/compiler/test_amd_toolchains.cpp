// The AMD path without an AMD GPU: gemm_cdna3 compiled by clang for gfx942 / gfx950 (MFMA fp8 in
// the disassembly, comgr resources), hiprtc for gfx90a (and its refusal of archs it does not
// know, which must never reach hiprtc), compile errors that carry the log and the HIP driver
// failing cleanly. A missing prerequisite prints "SKIPPED: <why>".
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "compiler/comgr.hpp"
#include "compiler/kernel_spec.hpp"
#include "compiler/render.hpp"
#include "compiler/templates.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"
#include "runtime/driver.hpp"

using namespace fp8jit;
using namespace fp8jit::compiler;

namespace {

// The toolchain made by `make`, or nullptr after printing why it is skipped.
std::unique_ptr<Toolchain> toolchain_or_skip(std::unique_ptr<Toolchain> (*make)(),
                                             const char* what) {
  try {
    return make();
  } catch (const Error& e) {
    WARN("SKIPPED: no " << what << " toolchain on this machine: " << e.what());
    return nullptr;
  }
}

// stdout of a shell command (test-only; the library never uses a shell).
std::string capture(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

// Disassembly of `bin` with the llvm-objdump next to `clang` (empty when there is none).
std::string disassemble(const Binary& bin, const std::string& clang, const std::string& arch) {
  const auto objdump = std::filesystem::path(clang).parent_path() / "llvm-objdump";
  if (!std::filesystem::exists(objdump)) return {};
  const auto file = std::filesystem::temp_directory_path() /
                    ("fp8jit-test-" + std::to_string(::getpid()) + "-" + arch + ".co");
  {
    FILE* f = std::fopen(file.c_str(), "wb");
    REQUIRE(f);
    std::fwrite(bin.bytes.data(), 1, bin.bytes.size(), f);
    std::fclose(f);
  }
  const std::string text = capture(objdump.string() + " -d --mcpu=" + arch + " " + file.string());
  std::filesystem::remove(file);
  return text;
}

CompileRequest request_for(const KernelSpec& spec) {
  const RenderedSource src = render(spec);
  CompileRequest req;
  req.source = src.text;
  req.kernel_name = src.kernel_name;
  req.target = spec.target;
  req.spec = spec.canonical();
  return req;
}

// Compiles gemm_cdna3 for `arch` with two configs (one with every tail: N % bn, K % bk and
// K % 64 == 32) and checks the fp8 MFMA, registers and spills.
void check_clang_gemm(const std::string& arch) {
  auto tc = toolchain_or_skip(&make_clang_toolchain, "clang");
  if (!tc) return;
  const Target target = Target::parse(arch);
  if (!tc->supports(target)) {
    REQUIRE_THROWS_AS(tc->compile(request_for(
                          gemm_spec(target, 4096, 4096, GemmConfig{.family = Family::mfma_cdna3},
                                    OutDType::bf16, false))),
                      InvalidArgument);
    WARN("SKIPPED: " << tc->version() << " (" << tc->path() << ") cannot build " << arch);
    return;
  }
  struct Case {
    std::int64_t n, k;
    GemmConfig cfg;
    bool bias;
  };
  const Case cases[] = {{4096, 4096, GemmConfig{32, 128, 128, 4, 2, 1, Family::mfma_cdna3}, true},
                        {2064, 1440, GemmConfig{16, 64, 128, 2, 1, 1, Family::mfma_cdna3}, false}};
  for (const Case& c : cases) {
    const KernelSpec spec = gemm_spec(target, c.n, c.k, c.cfg, OutDType::bf16, c.bias);
    const Binary bin = tc->compile(request_for(spec));
    INFO(spec.canonical() << "\nlog: " << bin.log);
    REQUIRE(!bin.bytes.empty());
    CHECK(bin.resources.registers > 0);
    CHECK(bin.resources.sgprs > 0);
    CHECK(bin.resources.spills == 0);
    CHECK(bin.resources.shared_bytes == 0);
    try {
      // The metadata reader names the kernels it has when asked for one it has not.
      CHECK_THROWS_WITH(Comgr::load().kernel_resources(bin.bytes, "no_such_kernel"),
                        Catch::Contains(spec.kernel_name()));
    } catch (const Error& e) {
      WARN("SKIPPED: comgr checks: " << e.what());
    }
    const std::string dis = disassemble(bin, tc->path(), arch);
    if (dis.empty()) {
      WARN("SKIPPED: disassembly check, no llvm-objdump next to " << tc->path());
    } else {
      CHECK(dis.find("v_mfma_f32_16x16x32_fp8_fp8") != std::string::npos);
      CHECK(dis.find("global_load_dwordx4") != std::string::npos);
    }
    WARN(arch << " " << spec.kernel_name() << ": " << tc->version() << ", " << bin.compile_ms
              << " ms, " << bin.resources.registers << " VGPRs, " << bin.resources.sgprs
              << " SGPRs, " << bin.resources.spills << " spills, " << bin.bytes.size() << " bytes");
  }
}

}  // namespace

TEST_CASE("clang builds gemm_cdna3 for gfx942 with fp8 MFMA and no spills", "[amd][clang]") {
  check_clang_gemm("gfx942");
}

TEST_CASE("clang builds gemm_cdna3 for gfx950 with fp8 MFMA and no spills", "[amd][clang]") {
  check_clang_gemm("gfx950");
}

TEST_CASE("clang reports a compile error with the compiler's log", "[amd][clang]") {
  auto tc = toolchain_or_skip(&make_clang_toolchain, "clang");
  if (!tc) return;
  CompileRequest req;
  req.source = expand_template("prelude_hip.hip") +
               "FP8JIT_KERNEL void broken(int* p) { p[0] = fp8jit_no_such_name; }\n";
  req.kernel_name = "broken";
  req.target = Target::parse("gfx942");
  req.spec = "test spec";
  try {
    tc->compile(req);
    FAIL("a source with an undeclared identifier compiled");
  } catch (const CompileError& e) {
    CHECK(e.log().find("fp8jit_no_such_name") != std::string::npos);
    CHECK(e.log().find("error") != std::string::npos);
    CHECK(e.options().find("--offload-arch=gfx942") != std::string::npos);
    CHECK(e.spec() == "test spec");
    CHECK(std::filesystem::exists(e.source_path()));
    std::filesystem::remove(e.source_path());
  }
  // The prelude's fp8 MFMA is a compile error, not a silent fallback, where the arch has none.
  req.source = expand_template("prelude_hip.hip") +
               "FP8JIT_KERNEL void no_mfma(fp8jit::v4f* p) { p[0] = fp8jit::mfma_16x16x32_fp8(1, "
               "2, p[0]); }\n";
  req.target = Target::parse("gfx90a");
  try {
    tc->compile(req);
    FAIL("fp8 MFMA compiled for gfx90a");
  } catch (const CompileError& e) {
    CHECK(e.log().find("needs gfx942 or gfx950") != std::string::npos);
    std::filesystem::remove(e.source_path());
  }
}

TEST_CASE("clang refuses targets it does not build, before compiling", "[amd][clang]") {
  auto tc = toolchain_or_skip(&make_clang_toolchain, "clang");
  if (!tc) return;
  CHECK_FALSE(tc->supports(Target::parse("sm_90a")));
  // Target::parse refuses an unknown feature; a Target made by hand still meets the toolchain's
  // own check.
  CHECK_THROWS_AS(Target::parse("gfx942:foo+"), InvalidArgument);
  Target foo = Target::parse("gfx942");
  foo.features = ":foo+";
  CHECK_FALSE(tc->supports(foo));
  CHECK(tc->supports(Target::parse("gfx942:sramecc+:xnack-")));
  CompileRequest req;
  req.source = "x";
  req.kernel_name = "k";
  req.target = Target::parse("sm_90a");
  CHECK_THROWS_AS(tc->compile(req), InvalidArgument);
  CHECK(tc->version().rfind("clang ", 0) == 0);
}

TEST_CASE("comgr lists ISAs and reports errors for a kernel not in a code object", "[amd][comgr]") {
  std::unique_ptr<Comgr> comgr;
  try {
    comgr = std::make_unique<Comgr>(Comgr::load());
  } catch (const Error& e) {
    WARN("SKIPPED: comgr is not installed: " << e.what());
    return;
  }
  const auto isas = comgr->isa_names();
  REQUIRE(!isas.empty());
  CHECK(comgr->version().rfind("comgr ", 0) == 0);
  CHECK(comgr->knows("gfx90a"));
  CHECK(comgr->knows("gfx90a:sramecc+:xnack-"));
  CHECK_FALSE(comgr->knows("gfx9999"));
  CHECK_FALSE(comgr->knows(""));
  const bool listed = std::any_of(isas.begin(), isas.end(), [](const std::string& s) {
    return s.find("--gfx942") != std::string::npos;
  });
  CHECK(comgr->knows("gfx942") == listed);
  CHECK(comgr_knows("gfx90a"));
  CHECK_THROWS_AS(comgr->kernel_resources({1, 2, 3}, "k"), Error);
  CHECK(amd_features_valid(""));
  CHECK(amd_features_valid(":sramecc+:xnack-"));
  CHECK_FALSE(amd_features_valid(":sramecc+:sramecc-"));
  CHECK_FALSE(amd_features_valid(":foo+"));
  CHECK_FALSE(amd_features_valid("sramecc+"));
}

TEST_CASE("hiprtc builds the AMD prelude for gfx90a and refuses unknown archs", "[amd][hiprtc]") {
  auto tc = toolchain_or_skip(&make_hiprtc_toolchain, "hiprtc");
  if (!tc) return;
  REQUIRE(tc->supports(Target::parse("gfx90a")));
  Target bogus = Target::parse("gfx90a");  // by hand: Target::parse refuses the feature itself
  bogus.features = ":bogus+";
  CHECK_FALSE(tc->supports(bogus));  // would corrupt hiprtc 5.2's heap

  // Every common prelude function, plus the gemm family's template text (parsed, not instantiated:
  // gfx90a has no fp8 MFMA), under hiprtc's pre-included HIP declarations.
  CompileRequest req;
  req.source = expand_template("gemm_cdna3.hip") + R"(
FP8JIT_KERNEL FP8JIT_LAUNCH_BOUNDS(256)
void prelude_probe(const void* FP8JIT_RESTRICT in, void* FP8JIT_RESTRICT out, float* f) {
  FP8JIT_SHARED fp8jit::u32 lds[256];
  const fp8jit::u32 t = fp8jit::thread_x();
  lds[t] = fp8jit::block_x() + fp8jit::block_y() + fp8jit::block_z() + fp8jit::grid_dim_x();
  fp8jit::barrier();
  const fp8jit::u64 i = (fp8jit::u64(fp8jit::block_x()) * fp8jit::block_dim_x() + t) * 16;
  fp8jit::u32x4 v = fp8jit::load16(static_cast<const char*>(in) + i);
  v.x += lds[(t + 1) % 256] + fp8jit::u32(fp8jit::load8(static_cast<const char*>(in) + i)) +
         fp8jit::load4(static_cast<const char*>(in) + i + 8);
  fp8jit::store16(static_cast<char*>(out) + i, v);
  f[t] = fp8jit::from_out_bits<fp8jit::bf16_t>(fp8jit::to_out_bits<fp8jit::bf16_t>(f[t])) +
         fp8jit::from_out_bits<fp8jit::fp16_t>(fp8jit::to_out_bits<fp8jit::fp16_t>(f[t])) +
         fp8jit::warp_size();
}
)";
  req.kernel_name = "prelude_probe";
  req.target = Target::parse("gfx90a:sramecc+:xnack-");
  const Binary bin = tc->compile(req);
  INFO("log: " << bin.log);
  REQUIRE(!bin.bytes.empty());
  CHECK(bin.bytes[1] == 'E');  // an ELF code object, not an offload bundle
  CHECK(bin.resources.registers > 0);
  CHECK(bin.resources.spills == 0);
  CHECK(bin.resources.shared_bytes == 1024);
  WARN("hiprtc gfx90a prelude probe: " << tc->version() << ", " << bin.compile_ms << " ms, "
                                       << bin.resources.registers << " VGPRs");

  // The layouts' preshuffle kernel, as render() builds it, where the template exists.
  try {
    template_text("preshuffle.inc");
    const Binary pre = tc->compile(
        request_for(preshuffle_spec(Target::parse("gfx90a"), WeightLayout::aiter16x16)));
    CHECK(!pre.bytes.empty());
  } catch (const Error& e) {
    WARN("SKIPPED: preshuffle kernel under hiprtc: " << e.what());
  }

  if (tc->supports(Target::parse("gfx942"))) {
    WARN("SKIPPED: refusal check, this hiprtc knows gfx942 (" << tc->version() << ")");
    return;
  }
  req.target = Target::parse("gfx942");
  try {
    tc->compile(req);
    FAIL("hiprtc compiled for an arch comgr does not list");
  } catch (const InvalidArgument& e) {
    CHECK(std::string(e.what()).find("gfx942") != std::string::npos);
  }
}

TEST_CASE("the HIP driver fails cleanly where there is no AMD GPU", "[amd][driver]") {
  try {
    auto driver = runtime::make_hip_driver(0);
    WARN("SKIPPED: an AMD GPU is present (" << driver->device().name << ", "
                                            << driver->device().arch << ")");
    CHECK(driver->device().arch.rfind("gfx", 0) == 0);
    CHECK(driver->device().multiprocessors > 0);
  } catch (const DriverError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.rfind("failed to ", 0) == 0);
    if (what.find("failed to load the HIP runtime") != std::string::npos)
      WARN("SKIPPED: no HIP runtime on this machine: " << what);
    else
      CHECK(what.find("no HIP device") != std::string::npos);
  }
  CHECK_THROWS_AS(runtime::make_hip_driver(-1), DriverError);
}

// gemm_cdna3 executed on the CPU (the rendered kernel on the emulation target) is tested in
// tests/emu/test_emu_gemm.cpp.

TEST_CASE("clang builds the gfx950 MFMA 16x16x128 fp8 atom, and only for gfx950", "[amd][clang]") {
  auto tc = toolchain_or_skip(&make_clang_toolchain, "clang");
  if (!tc) return;
  CompileRequest req;
  req.source = expand_template("prelude_hip.hip") + R"(
FP8JIT_KERNEL void k128(const fp8jit::i32x8* a, const fp8jit::i32x8* b, fp8jit::v4f* d) {
  const unsigned l = fp8jit::thread_x();
  d[l] = fp8jit::mfma_16x16x128_fp8(a[l], b[l], d[l]);
}
)";
  req.kernel_name = "k128";
  req.spec = "test probe";
  req.target = Target::parse("gfx950");
  if (!tc->supports(req.target)) {
    WARN("SKIPPED: " << tc->version() << " cannot build gfx950");
    return;
  }
  const Binary bin = tc->compile(req);
  const std::string dis = disassemble(bin, tc->path(), "gfx950");
  if (dis.empty())
    WARN("SKIPPED: disassembly check, no llvm-objdump next to " << tc->path());
  else
    CHECK(dis.find("mfma_scale_f32_16x16x128_f8f6f4") != std::string::npos);
  req.target = Target::parse("gfx942");
  try {
    tc->compile(req);
    FAIL("the 16x16x128 atom compiled for gfx942");
  } catch (const CompileError& e) {
    CHECK(e.log().find("needs gfx950") != std::string::npos);
    std::filesystem::remove(e.source_path());
  }
}
