// run_compiler, the offline toolchains' shared step, with /bin/sh standing in for the compiler:
// `sh -c script source -o output` runs the script with $0 = source and $2 = output.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <catch2/catch.hpp>

#include "compiler/process.hpp"
#include "fp8jit/error.hpp"

using namespace fp8jit;
using namespace fp8jit::compiler;
using Catch::Matchers::Contains;

namespace {

CompileRequest request(const std::string& dump_dir) {
  CompileRequest req;
  req.source = "int k;\n";
  req.kernel_name = "k";
  req.target = Target::parse("emu-gfx942");
  req.spec = "test spec";
  req.dump_dir = dump_dir;
  return req;
}

}  // namespace

TEST_CASE("run_compiler returns the output file's bytes and the compiler's log", "[process]") {
  TempDir dir("fp8jit-test");
  const auto req = request(dir.path().string());
  const auto src = dir.path() / "kernel.cpp";
  const auto out = dir.path() / "kernel.so";
  const Binary bin =
      run_compiler(req, "/bin/sh", {"-c", "cp \"$0\" \"$2\"; echo compiled"}, src, out, "sh");
  CHECK(std::string(bin.bytes.begin(), bin.bytes.end()) == req.source);
  CHECK(bin.log == "compiled\n");
  // Writing nothing is not the helper's error: each toolchain names the file it expected.
  std::filesystem::remove(out);
  CHECK(run_compiler(req, "/bin/sh", {"-c", "true"}, src, out, "sh").bytes.empty());
}

TEST_CASE("run_compiler throws CompileError with the log, options, spec and source", "[process]") {
  TempDir dir("fp8jit-test");
  const auto req = request(dir.path().string());
  try {
    run_compiler(req, "/bin/sh", {"-c", "echo broken >&2; exit 3"}, dir.path() / "kernel.cpp",
                 dir.path() / "kernel.so", "the test compiler");
    FAIL("a compiler that exits 3 succeeded");
  } catch (const CompileError& e) {
    CHECK_THAT(e.what(), Contains("failed to compile k for emu-gfx942 with the test compiler: "
                                  "exit status 3"));
    CHECK(e.log() == "broken\n");
    CHECK(e.options() == "-c echo broken >&2; exit 3 ");
    CHECK(e.spec() == "test spec");
    std::ifstream dumped(e.source_path());
    CHECK(std::string(std::istreambuf_iterator<char>(dumped), {}) == req.source);
  }
}
