// The cache key names the build: fp8jit::build_id() hashes the library's sources as they are now,
// `fp8jit info` shows it, another build id gives another key, and KernelBuilder keys every kernel
// by this build's id and records it in the entry.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "cache/key.hpp"
#include "compiler/kernel_spec.hpp"
#include "util/process.hpp"
#include "compiler/render.hpp"
#include "fp8jit/fp8jit.hpp"
#include "jit/kernel_builder.hpp"
#include "jit/kernel_key.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/emu/emu_support.hpp"
#include "tests/tools/cli.hpp"

using namespace fp8jit;

namespace {

// A toolchain that only names itself: kernel_key_inputs reads name() and version().
class NamedToolchain final : public compiler::Toolchain {
 public:
  std::string name() const override { return "nvrtc"; }
  std::string version() const override { return "nvrtc 13.0.88"; }
  std::string path() const override { return "/nowhere/libnvrtc.so.13"; }
  bool supports(const compiler::Target&) const override { return true; }
  std::vector<std::string> options(const compiler::Target&) const override { return {"-O3"}; }
  compiler::Binary compile(const compiler::CompileRequest&) const override { return {}; }
};

bool is_build_id(const std::string& id) {
  return id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

TEST_CASE("build id: 16 hex digits that every call and fp8jit info give alike", "[build_id]") {
  const std::string id = build_id();
  CHECK(is_build_id(id));
  CHECK(build_id() == id);
  CHECK(build_id() == build_id());
  const auto cli = test::cli_or_skip();
  if (!cli) return;
  test::TempDir tmp;
  const test::CliResult r = test::run_cli(*cli, {"info"}, {}, tmp.path());
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("fp8jit " FP8JIT_VERSION "\nbuild id " + id + "\n") == 0);
}

TEST_CASE("build id: the hash of the library sources as they are now", "[build_id]") {
  // cmake/build_id.cmake run again over the build's list of inputs: a source edited after the
  // library was built (or a build that did not regenerate the id) gives another id.
  test::TempDir tmp;
  const std::string out = tmp.path() + "/build_id.cpp";
  const std::string list = FP8JIT_BINARY_DIR "/generated/build_id_inputs.txt";
  const util::ProcessResult r = util::run_process(
      {FP8JIT_CMAKE_COMMAND, "-DOUT=" + out, "-DLIST=" + list, "-DROOT=" FP8JIT_SOURCE_DIR, "-P",
       FP8JIT_SOURCE_DIR "/cmake/build_id.cmake"});
  INFO(r.output);
  REQUIRE(r.status == 0);
  std::ifstream f(out);
  const std::string text{std::istreambuf_iterator<char>(f), {}};
  CHECK(text.find("return \"" + std::string(build_id()) + "\";") != std::string::npos);
  // The inputs are the library's own files, not the CLI's or the tests'.
  std::ifstream listed(list);
  const std::string inputs{std::istreambuf_iterator<char>(listed), {}};
  for (const char* f : {"jit/kernel_builder.cpp\n", "cache/entry.cpp\n",
                        "compiler/render.cpp\n", "include/fp8jit/fp8jit.hpp\n",
                        "templates/gemm_sm90.cuh\n", "CMakeLists.txt\n", "cmake/build_id.cmake\n"})
    CHECK(inputs.find(f) != std::string::npos);
  CHECK(inputs.find("tools/") == std::string::npos);
  CHECK(inputs.find("tests/") == std::string::npos);
}

TEST_CASE("kernel key: another build id gives another key and the version stays in it",
          "[kernel_key]") {
  const NamedToolchain tc;
  const auto target = compiler::Target::parse("sm_90a");
  const auto key = [&](std::string_view id) {
    return cache::derive_key(
        jit::kernel_key_inputs("spec", "source", tc, target, "-O3", id));
  };
  const cache::KeyInputs in = jit::kernel_key_inputs("spec", "source", tc, target, "-O3",
                                                         "0123456789abcdef");
  CHECK(in.library_version == FP8JIT_VERSION "+0123456789abcdef");
  CHECK(in.toolchain == "nvrtc");
  CHECK(in.toolchain_version == "nvrtc 13.0.88");
  CHECK(in.target == "sm_90a");
  CHECK(key("0123456789abcdef") == key("0123456789abcdef"));
  CHECK(key("0123456789abcdef") != key("0123456789abcdee"));
  CHECK(key(build_id()) != key("0123456789abcdef"));
  // What the key hashed before the build id: the version alone.
  CHECK(key(build_id()) != cache::derive_key({"spec", "source", "nvrtc", "nvrtc 13.0.88", "sm_90a",
                                              "-O3", FP8JIT_VERSION}));
}

TEST_CASE("kernel key: the builder keys by this build's id and records it in the entry",
          "[kernel_key][emu]") {
  if (!test::emu_toolchain_or_skip()) return;
  test::TempDir tmp;
  Options o;
  o.cache_dir = tmp.path() + "/cache";
  auto tcs = std::make_shared<const compiler::Toolchains>();
  jit::KernelBuilder b(o, tcs);
  const auto target = compiler::Target::parse("emu-sm89");
  const compiler::KernelSpec spec =
      compiler::preshuffle_spec(target, compiler::native_layout(target));
  const jit::BuiltKernel built = b.build(spec);
  const compiler::Toolchain& tc = tcs->for_target(target);
  std::string options;
  for (const auto& opt : tc.options(target)) options += (options.empty() ? "" : " ") + opt;
  CHECK(built.key ==
        cache::derive_key(jit::kernel_key_inputs(spec.canonical(), compiler::render(spec).text,
                                                     tc, target, options, build_id())));
  const auto hit = b.cache_layers()->load(target.str(), built.key);
  REQUIRE(hit);
  CHECK(hit->entry.meta.value("build_id", "") == build_id());
  CHECK(hit->entry.meta.value("library_version", "") == FP8JIT_VERSION);
}
