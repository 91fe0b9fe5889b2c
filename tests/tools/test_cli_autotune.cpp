// `fp8jit warmup --autotune`, `fp8jit cache export-table` and `fp8jit model` end to end: the real
// binary on the CPU emulator (its times are CPU times; the flow is the GPU's).
#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/temp_dir.hpp"
#include "tests/tools/cli.hpp"

namespace fp8jit::test {

TEST_CASE("cli autotune: warmup measures the points once, export-table writes them as a table",
          "[cli][autotune]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip({"emu-sm89"})) return;
  TempDir cache, io;
  const std::string shapes = io.path() + "/shapes.csv";
  std::ofstream(shapes) << "N,K\n48,160\n";
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()},
                                               {"FP8JIT_TARGET", "emu-sm89"},
                                               {"FP8JIT_TUNED_TABLES", "none"},
                                               {"FP8JIT_AUTOTUNE_CANDIDATES", "2"}};
  const std::vector<std::string> args{"warmup", "--autotune", "--shapes", shapes, "--m", "3,40",
                                      "--bias", "on"};
  CliResult r = run_cli(*cli, args, env, io.path());
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("summary: 2 points tuned now"));
  r = run_cli(*cli, args, env, io.path());
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("summary: 0 points tuned now"));
  CHECK_THAT(r.out, Catch::Contains("2 found in the tables or the cache"));

  const std::string table = io.path() + "/tuned.csv";
  r = run_cli(*cli, {"cache", "export-table", table}, env, io.path());
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("exported 2 tuned rows"));
  const std::string text = read_file(table);
  CHECK_THAT(text, Catch::Contains("arch,cu_num,device,mem_bw,M,N,K"));
  CHECK_THAT(text, Catch::Contains("emu-sm89,"));
  CHECK_THAT(text, Catch::Contains(",4,48,160,e4m3fn,bf16,1,"));
  CHECK_THAT(text, Catch::Contains(",48,48,160,e4m3fn,bf16,1,"));
  // The exported table is a tuned table the library reads.
  r = run_cli(*cli, {"explain", "40", "48", "160", "--target", "emu-sm89", "--bias", "--tables", table}, env, io.path());
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("bucket row " + table));
  // --autotune measures on this machine: a cross-compile target is bad input.
  r = run_cli(*cli, {"warmup", "--autotune", "--shapes", shapes, "--target", "sm_90a"}, env, io.path());
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("takes no --target"));
}

TEST_CASE("cli model: scores the cost model on tune dumps and fits it", "[cli][autotune]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir io;
  const std::string dump = io.path() + "/dump.csv";
  // Two points, each with a fast and a slow config (made-up times the fit can match).
  std::ofstream(dump) << "shape,M,N,K,candidate,config,us,err,model_us,failure\n"
                         "a,1,4096,4096,0,bm8_bn64_bk128_w4_s2_k1,8.0,1e-3,0,\n"
                         "a,1,4096,4096,1,wg_bm16_bn64_bk128_w4_s8_k1,9.5,1e-3,0,\n"
                         "a,1,4096,4096,2,bm8_bn16_bk32_w1_s1_k1,40.0,1e-3,0,\n"
                         "a,4096,4096,4096,0,wg_bm128_bn256_bk128_w8_s4_k1,150.0,1e-3,0,\n"
                         "a,4096,4096,4096,1,bm64_bn64_bk64_w4_s2_k1,900.0,1e-3,0,\n"
                         "a,4096,4096,4096,2,bm8_bn64_bk64_w4_s2_k1,0,nan,0,spills 8\n";
  CliResult r = run_cli(*cli, {"model", dump, "--fit", "--iterations", "600"}, {}, io.path());
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("fit on   2 points"));
  CHECK_THAT(r.out, Catch::Contains("fitted:"));
  CHECK_THAT(r.out, Catch::Contains("wgmma.matrix_flops_per_clock"));
  r = run_cli(*cli, {"model", io.path() + "/missing.csv"}, {}, io.path());
  CHECK(r.status == 2);
}

}  // namespace fp8jit::test
