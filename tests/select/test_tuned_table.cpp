// TunedTable: CSV parsing and its errors (file:line:col), merging, the exact -> bucket -> heuristic
// precedence, a Context that runs a table's config, the fuzz corpus.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "compiler/kernel_spec.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/fp8jit.hpp"
#include "runtime/context_state.hpp"
#include "select/heuristic.hpp"
#include "select/tuned_table.hpp"
#include "tests/support/fake_driver.hpp"
#include "tests/support/temp_dir.hpp"

int fp8jit_fuzz_tuned_table(const std::uint8_t* data, std::size_t size);

namespace {

using namespace fp8jit;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using select::ConfigChoice;
using select::TunedTable;
using Source = select::ConfigChoice::Source;

const char* kHeader = "arch,cu_num,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw\n";

std::string row(const std::string& arch, int cu, std::int64_t m, std::int64_t n, std::int64_t k,
                const std::string& config, const std::string& out = "bf16", int bias = 0) {
  const std::string q = arch.rfind("gfx942", 0) == 0 ? "e4m3fnuz" : "e4m3fn";
  return arch + "," + std::to_string(cu) + "," + std::to_string(m) + "," + std::to_string(n) +
         "," + std::to_string(k) + "," + q + "," + out + "," + std::to_string(bias) + "," + config +
         ",10.5,100,2000\n";
}

compiler::Target target(const char* t) { return compiler::Target::parse(t); }

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

const char* A = "bm8_bn64_bk64_w4_s2_k1";
const char* B = "bm16_bn128_bk128_w4_s1_k1";
const char* C = "bm32_bn128_bk64_w2_s1_k1";
const char* D = "bm64_bn64_bk32_w1_s2_k1";

}  // namespace

TEST_CASE("tuned table: columns in any order, extra columns, comments, blanks and CRLF", "[tuned]") {
  const std::string text =
      "# tuned on h100\r\n"
      "\n"
      "kernelName, config ,bias,out_dtype,q_dtype_w,K,N,M,cu_num,arch,us,tflops,bw,errRatio\r\n"
      "  # a comment after blanks\n"
      "k1,bm16_bn128_bk128_w4_s1_k1,1,fp16,e4m3fn,1024,4096,64,132,sm_90a,12.5,687.2,1.1,0.0\r\n"
      "k2,bm32_bn64_bk128_w4_s2_k1,0,bf16,e4m3fnuz,512,256,1,304,gfx942:sramecc+:xnack-,3,1,2,0\n";
  const TunedTable t = TunedTable::parse(text, "h100.csv");
  REQUIRE(t.rows() == 2);
  const auto rows = t.entries();
  REQUIRE(rows.size() == 2);
  const auto& r = rows[0].n == 4096 ? rows[0] : rows[1];
  CHECK(r.target.str() == "sm_90a");
  CHECK(r.cu_num == 132);
  CHECK(r.m == 64);
  CHECK(r.k == 1024);
  CHECK(r.q_dtype_w == Fp8Format::e4m3fn);
  CHECK(r.out == OutDType::fp16);
  CHECK(r.bias);
  CHECK(r.config.str() == "bm16_bn128_bk128_w4_s1_k1");
  CHECK(r.us == 12.5);
  CHECK(r.tflops == Approx(687.2));
  CHECK(r.source == "h100.csv:5");
  const auto& a = rows[0].n == 4096 ? rows[1] : rows[0];
  CHECK(a.target.str() == "gfx942:sramecc+:xnack-");
  CHECK(a.q_dtype_w == Fp8Format::e4m3fnuz);
  CHECK(a.source == "h100.csv:6");
  // aiter's spellings of the dtypes are accepted too.
  CHECK(TunedTable::parse(std::string(kHeader) +
                              "gfx942,304,1,256,512,torch.float8_e4m3fnuz,torch.bfloat16,0,"
                              "bm16_bn64_bk64_w4_s2_k1,1,1,1",
                          "aiter.csv")
            .rows() == 1);
  CHECK(TunedTable::parse(kHeader, "empty.csv").rows() == 0);
  CHECK(TunedTable().rows() == 0);
  CHECK(TunedTable::load({}).rows() == 0);
}

TEST_CASE("tuned table: the example table of docs/tuned-table.md parses", "[tuned]") {
  std::ifstream in(std::string(FP8JIT_SOURCE_DIR) + "/docs/tuned-table.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto begin = doc.find("```\n# H100");
  REQUIRE(begin != std::string::npos);
  const auto end = doc.find("```", begin + 3);
  const TunedTable t = TunedTable::parse(doc.substr(begin + 4, end - begin - 4), "doc.csv");
  CHECK(t.rows() == 3);
  const auto c = t.select(target("gfx942:sramecc+:xnack-"), 304, 9, 28672, 4096, OutDType::bf16, true);
  CHECK(c.source == Source::bucket_row);
  CHECK(c.row == "doc.csv:5");
}

TEST_CASE("tuned table: every malformed row names file, line and column", "[tuned]") {
  // A good row, then the same row with one field replaced: the error names that field's column.
  const std::vector<std::string> good = {"sm_90a", "132", "64", "4096", "1024", "e4m3fn",
                                         "bf16",   "0",   A,    "10",   "20",   "30"};
  struct Case {
    std::size_t field;
    std::string value;
    std::string what;
  };
  const std::vector<Case> cases = {
      {0, "sm_75", "arch: unknown arch 'sm_75' (known: sm_89"},
      {0, "gfx942:sramecc", "arch: feature ':sramecc' must read ':name+' or ':name-'"},
      {0, "gfx90a", "arch gfx90a has no fp8 matrix instructions"},
      {1, "x", "cu_num must be an integer in [0, 1048576]"},
      {1, "-1", "cu_num must be an integer in [0, 1048576]"},
      {2, "0", "M must be an integer in [1, 2147483647]"},
      {2, "99999999999999999999", "M must be an integer in [1, 2147483647]"},
      {2, "1.5", "M must be an integer"},
      {3, "100", "N must be a multiple of 16"},
      {3, "", "N must be an integer in [1, 2147483632]"},
      {4, "40", "K must be a multiple of 16"},
      {5, "e5m2", "q_dtype_w must be e4m3fn or e4m3fnuz"},
      {5, "e4m3fnuz", "q_dtype_w e4m3fnuz does not match arch sm_90a, which consumes e4m3fn"},
      {6, "fp32", "out_dtype must be bf16 or fp16"},
      {7, "yes", "bias must be 0 or 1"},
      {8, "bm16-bn64", "config must read bm<int>_bn<int>_bk<int>_w<int>_s<int>_k<int>"},
      {8, "bm016_bn64_bk64_w4_s2_k1", "config must be written as bm16_bn64_bk64_w4_s2_k1"},
      {8, "bm12_bn64_bk64_w4_s2_k1",
       "config is not valid for sm_90a N=4096 K=1024: bm = 12 must be a power of two in [8, 64]"},
      {8, "bm16_bn64_bk64_w4_s2_k0", "config is not valid for sm_90a N=4096 K=1024: split_k = 0 must be 1"},
      {8, "bm16_bn48_bk64_w4_s2_k1", "config is not valid for sm_90a N=4096 K=1024: bn = 48 must be 16 x warps x {1, 2, 4}"},
      {9, "-1", "us must be a finite number >= 0"},
      {10, "nan", "tflops must be a finite number >= 0"},
      {11, "", "bw must be a finite number >= 0"},
  };
  for (const auto& c : cases) {
    std::string line;
    std::size_t col = 0;
    for (std::size_t i = 0; i < good.size(); ++i) {
      if (i) line += ",";
      if (i == c.field) col = line.size() + 1;
      line += i == c.field ? c.value : good[i];
    }
    const std::string text = std::string("# comment\n") + kHeader + "\n" + line + "\n";
    const std::string want = "failed to read tuned table bad.csv:4:" + std::to_string(col) + ": " +
                             c.what;
    INFO(line);
    CHECK_THROWS_AS(TunedTable::parse(text, "bad.csv"), InvalidArgument);
    CHECK_THROWS_WITH(TunedTable::parse(text, "bad.csv"),
                      StartsWith(want) && Contains("(got '" + c.value + "')"));
  }
  // One message in full.
  CHECK_THROWS_WITH(TunedTable::parse(std::string(kHeader) + "sm_90a,x,64,4096,1024,e4m3fn,bf16,0," + A + ",1,1,1",
                                      "t.csv"),
                    "failed to read tuned table t.csv:2:8: cu_num must be an integer in [0, 1048576] (got 'x')");
  // Blanks around a field: the column is that of the value.
  CHECK_THROWS_WITH(TunedTable::parse(std::string(kHeader) + "sm_90a,  x ,64,4096,1024,e4m3fn,bf16,0," + A + ",1,1,1",
                                      "t.csv"),
                    StartsWith("failed to read tuned table t.csv:2:10: cu_num"));
  // Field counts, the header, the file itself.
  CHECK_THROWS_WITH(TunedTable::parse(std::string(kHeader) + "sm_90a,132,64,4096", "t.csv"),
                    "failed to read tuned table t.csv:2:19: row has 4 fields, the header 12 (got "
                    "'sm_90a,132,64,4096')");
  const std::string extra = std::string("sm_90a,132,64,4096,1024,e4m3fn,bf16,0,") + A + ",1,1,1,extra";
  CHECK_THROWS_WITH(TunedTable::parse(kHeader + extra, "t.csv"),
                    "failed to read tuned table t.csv:2:" + std::to_string(extra.find("extra") + 1) +
                        ": row has 13 fields, the header 12 (got 'extra')");
  CHECK_THROWS_WITH(TunedTable::parse("arch,cu_num,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops\n", "t.csv"),
                    StartsWith("failed to read tuned table t.csv:1:1: header has no column 'bw' (got 'arch,"));
  const std::string twice = "  arch,cu_num,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw,M";
  CHECK_THROWS_WITH(TunedTable::parse("# x\n" + twice + "\n", "t.csv"),
                    "failed to read tuned table t.csv:2:" + std::to_string(twice.rfind('M') + 1) +
                        ": header names column 'M' twice (got 'M')");
  CHECK_THROWS_WITH(TunedTable::parse("# only a comment\n\n", "t.csv"),
                    "failed to read tuned table t.csv:1:1: no header line (a table starts with its "
                    "column names) (got '')");
  CHECK_THROWS_WITH(TunedTable::parse(std::string(kHeader) + "sm_90a,132,64,4096,1024,e4m3fn,bf16,0,bm\x01\xff,1,1,1", "t.csv"),
                    Contains("(got 'bm?" "?')"));
  CHECK_THROWS_WITH(TunedTable::load({"/nonexistent/fp8jit/t.csv"}),
                    "failed to read tuned table /nonexistent/fp8jit/t.csv: No such file or directory");
  test::TempDir dir;
  CHECK_THROWS_WITH(TunedTable::load({dir.path()}), Contains("it is a directory"));
  // A bad row in the second file names the second file.
  const auto f1 = write(dir.path(), "a.csv", std::string(kHeader) + row("sm_90a", 132, 1, 256, 512, A));
  const auto f2 = write(dir.path(), "b.csv", std::string(kHeader) + row("sm_90a", 132, 1, 256, 512, "bm7_bn64_bk64_w4_s2_k1"));
  CHECK_THROWS_WITH(TunedTable::load({f1, f2}), StartsWith("failed to read tuned table " + f2 + ":2:"));
}

TEST_CASE("tuned table: files merge in order and the later row wins on the same key", "[tuned]") {
  test::TempDir dir;
  const auto f1 = write(dir.path(), "base.csv",
                        std::string(kHeader) + row("sm_90a", 132, 64, 4096, 1024, A) +
                            row("sm_90a", 132, 64, 4096, 1024, B, "fp16") +
                            row("sm_90a", 132, 16, 4096, 1024, C));
  const auto f2 = write(dir.path(), "override.csv",
                        std::string(kHeader) + row("sm_90a", 132, 64, 4096, 1024, D) +
                            row("sm_90a", 114, 64, 4096, 1024, C));
  const auto h = target("sm_90a");
  const TunedTable t = TunedTable::load({f1, f2});
  CHECK(t.rows() == 4);  // the M=64 bf16 row of 132 is replaced; the 114 row is new
  auto c = t.select(h, 132, 64, 4096, 1024, OutDType::bf16, false);
  CHECK(c.config.str() == D);
  CHECK(c.row == f2 + ":2");
  CHECK(t.select(h, 132, 64, 4096, 1024, OutDType::fp16, false).config.str() == B);
  CHECK(t.select(h, 132, 16, 4096, 1024, OutDType::bf16, false).config.str() == C);
  CHECK(t.select(h, 114, 64, 4096, 1024, OutDType::bf16, false).config.str() == C);

  const TunedTable reversed = TunedTable::load({f2, f1});
  CHECK(reversed.select(h, 132, 64, 4096, 1024, OutDType::bf16, false).config.str() == A);
  CHECK(reversed.select(h, 132, 64, 4096, 1024, OutDType::bf16, false).row == f1 + ":2");
  // merged() is load() of several files.
  const TunedTable m = TunedTable::load({f1}).merged(TunedTable::load({f2}));
  CHECK(m.rows() == 4);
  CHECK(m.select(h, 132, 64, 4096, 1024, OutDType::bf16, false).config.str() == D);
  // Within one file, too, the later of two rows of a key wins.
  const TunedTable dup = TunedTable::parse(std::string(kHeader) + row("sm_90a", 132, 8, 256, 512, A) +
                                               row("sm_90a", 132, 8, 256, 512, B),
                                           "dup.csv");
  CHECK(dup.rows() == 1);
  CHECK(dup.select(h, 132, 8, 256, 512, OutDType::bf16, false).config.str() == B);
}

TEST_CASE("tuned table: exact row, then M's bucket row, then the heuristic", "[tuned]") {
  const auto h = target("sm_90a");
  const TunedTable t = TunedTable::parse(
      std::string(kHeader) + row("sm_90a", 132, 37, 4096, 1024, A) +
          row("sm_90a", 132, 64, 4096, 1024, B) + row("sm_90a", 132, 8192, 4096, 1024, C) +
          row("sm_90a", 132, 1, 4096, 1024, D, "bf16", 1),
      "h100.csv");
  auto pick = [&](std::int64_t m, bool bias = false) {
    return t.select(h, 132, m, 4096, 1024, OutDType::bf16, bias);
  };
  ConfigChoice c = pick(37);
  CHECK(c.source == Source::exact_row);
  CHECK(c.config.str() == A);
  CHECK(c.rule == "exact row h100.csv:2 (sm_90a cu_num=132 M=37)");
  c = pick(40);  // bucket M=48 has no row: the power of two that holds it, 64, has
  CHECK(c.source == Source::bucket_row);
  CHECK(c.config.str() == B);
  CHECK(c.bucket_m == 48);
  CHECK(c.rule == "bucket row h100.csv:3 (sm_90a cu_num=132 M=64); no row for M=40, which rounds "
                  "up to bucket M=48 (no row there either; 64 is the power of two that holds it)");
  CHECK(pick(33).config.str() == B);
  c = pick(60);  // bucket M=64 itself
  CHECK(c.source == Source::bucket_row);
  CHECK(c.rule == "bucket row h100.csv:3 (sm_90a cu_num=132 M=64); no row for M=60, which rounds "
                  "up to bucket M=64");
  CHECK(pick(64).source == Source::exact_row);
  c = pick(65);  // bucket M=96 and its power of two, 128, have no row
  CHECK(c.source == Source::heuristic);
  CHECK(c.config == select::heuristic_config(h, 132, 96, 4096, 1024));
  CHECK_THAT(c.rule, StartsWith("heuristic (cost model at bucket M=96): no tuned row for sm_90a "
                                "cu_num=132 N=4096 K=1024 out=bf16 bias=0 at M=65 or M=96 "
                                "or its power of two"));
  CHECK(c.row.empty());
  c = pick(5000);
  CHECK(c.source == Source::bucket_row);
  CHECK(c.config.str() == C);
  c = pick(20000);  // above the largest bucket, which has no row: the nearest row from 8192 up
  CHECK(c.source == Source::bucket_row);
  CHECK(c.config.str() == C);
  CHECK(c.rule == "bucket row h100.csv:4 (sm_90a cu_num=132 M=8192); no row for M=20000, above "
                  "the largest bucket, which is M=16384 (no row there either; 8192 is the "
                  "nearest row below it, from M=8192 up)");
  CHECK(pick(10000).config.str() == C);  // bucket M=12288, no row inside: the 8192 row
  CHECK(pick(1, true).config.str() == D);   // bias is part of the key
  CHECK(pick(1).source == Source::heuristic);
  CHECK(t.select(h, 132, 37, 4096, 1024, OutDType::fp16, false).source == Source::heuristic);
  CHECK(t.select(h, 132, 37, 4096, 2048, OutDType::bf16, false).source == Source::heuristic);
  CHECK_THAT(TunedTable().select(h, 132, 37, 4096, 1024, OutDType::bf16, false).rule,
             Contains("(no tuned table loaded)"));
}

TEST_CASE("tuned table: a bucket above 8192 without a row takes the nearest row from 8192 up",
          "[tuned]") {
  const auto h = target("sm_90a");
  const TunedTable t = TunedTable::parse(
      std::string(kHeader) + row("sm_90a", 132, 4096, 128, 2048, A) +
          row("sm_90a", 132, 8192, 128, 2048, B) + row("sm_90a", 132, 12000, 128, 2048, C) +
          row("sm_90a", 132, 6144, 256, 2048, D),
      "t.csv");
  auto pick = [&](std::int64_t m, std::int64_t n = 128) {
    return t.select(h, 132, m, n, 2048, OutDType::bf16, false);
  };
  CHECK(pick(12000).source == Source::exact_row);
  CHECK(pick(12000).config.str() == C);
  CHECK(pick(9000).config.str() == C);      // bucket 12288: the 12000 row lies inside it
  CHECK(pick(12345).config.str() == C);     // bucket 16384: 12000 is the nearest below
  CHECK(pick(100000).config.str() == C);
  CHECK(pick(8000).config.str() == B);      // bucket 8192 itself
  CHECK(pick(8500, 256).source == Source::heuristic);   // a row below 8192 never stands in
  CHECK(pick(5000).config.str() == B);      // bucket 6144: no row; its power of two, 8192, has
  CHECK(pick(12345, 256).source == Source::heuristic);  // a row below 8192 never stands in
}

TEST_CASE("tuned table: arch features and cu_num decide between rows of one M", "[tuned]") {
  const TunedTable t = TunedTable::parse(
      std::string(kHeader) + row("gfx942", 304, 16, 1024, 512, "bm16_bn64_bk64_w4_s2_k1") +
          row("gfx942", 80, 16, 1024, 512, "bm16_bn128_bk64_w4_s2_k1") +
          row("gfx942:sramecc+:xnack-", 304, 16, 1024, 512, "bm16_bn256_bk64_w4_s2_k1") +
          row("gfx942", 0, 16, 1024, 512, "bm16_bn64_bk128_w4_s2_k1") +
          row("gfx950", 256, 16, 1024, 512, "bm32_bn64_bk64_w4_s2_k1"),
      "mi.csv");
  auto pick = [&](const char* arch, int cu) {
    return t.select(target(arch), cu, 16, 1024, 512, OutDType::bf16, false);
  };
  CHECK(pick("gfx942", 304).config.str() == "bm16_bn64_bk64_w4_s2_k1");
  CHECK(pick("gfx942", 80).config.str() == "bm16_bn128_bk64_w4_s2_k1");
  CHECK(pick("gfx942", 228).config.str() == "bm16_bn64_bk128_w4_s2_k1");  // the cu_num 0 row
  CHECK(pick("gfx942", 0).config.str() == "bm16_bn64_bk64_w4_s2_k1");     // largest cu_num
  CHECK(pick("gfx942:sramecc+:xnack-", 304).config.str() == "bm16_bn256_bk64_w4_s2_k1");
  CHECK(pick("gfx942:sramecc+:xnack-", 0).config.str() == "bm16_bn256_bk64_w4_s2_k1");
  CHECK(pick("gfx942:sramecc-:xnack-", 304).config.str() == "bm16_bn64_bk64_w4_s2_k1");
  CHECK(pick("gfx950", 256).config.str() == "bm32_bn64_bk64_w4_s2_k1");
  CHECK(pick("gfx950", 0).config.str() == "bm32_bn64_bk64_w4_s2_k1");
  CHECK(pick("gfx950", 128).source == Source::heuristic);
  CHECK_THAT(pick("gfx950", 128).rule, Contains("(1 rows of this shape are for other archs"));
  CHECK(pick("sm_90a", 132).source == Source::heuristic);
}

TEST_CASE("tuned table: neighbour_configs fits the nearby rows' configs to this M", "[tuned]") {
  const auto h = target("sm_90a");
  const std::int64_t n = 10240, k = 8192;
  const TunedTable table = TunedTable::parse(
      std::string(kHeader) + row("sm_90a", 132, 1, n, k, "bm8_bn16_bk128_w1_s2_k4", "bf16", 1) +
          row("sm_90a", 132, 2, n, k, "bm8_bn16_bk128_w1_s2_k4", "bf16", 1) +  // same once fitted
          row("sm_90a", 132, 8, n, k, "bm8_bn32_bk128_w2_s1_k4", "bf16", 1) +
          // 7 x 2 warps x 4 fragments x FM partial sums: 28 KiB at bm = 8, 56 KiB (too much) at 16
          row("sm_90a", 132, 4, n, k, "bm8_bn128_bk32_w2_s1_k8", "bf16", 1) +
          row("sm_90a", 132, 16, n, k, "wg_bm16_bn64_bk128_w4_s8_k1", "bf16", 1) +  // this M
          row("sm_90a", 132, 64, n, k, "wg_bm32_bn64_bk128_w4_s8_k1", "bf16", 1) +
          row("sm_90a", 132, 1024, n, k, "wg_bm128_bn128_bk128_w8_s6_k1", "bf16", 1) +  // > 16x
          row("sm_90a", 132, 8, n, k, "bm8_bn64_bk64_w4_s2_k2", "bf16", 0) +     // no bias
          row("sm_90a", 114, 8, n, k, "bm8_bn64_bk64_w4_s1_k2", "bf16", 1) +     // other cu_num
          row("sm_90a", 132, 8, n, 4096, "bm8_bn64_bk128_w4_s1_k2", "bf16", 1),  // other weight
      "t.csv");
  std::vector<std::string> got;
  for (const auto& c : table.neighbour_configs(h, 132, 16, n, k, OutDType::bf16, true))
    got.push_back(c.str());
  // Nearest M first (8 one octave away, 4 and 64 two, 2 three, 1 four); the bm8 tiles grow to
  // 16 except M = 4's, whose partial sums would then need too much shared memory (it keeps bm8),
  // the bm32 wgmma tile shrinks to 16; M = 1's config is M = 2's.
  CHECK(got == std::vector<std::string>{"bm16_bn32_bk128_w2_s1_k4", "bm8_bn128_bk32_w2_s1_k8",
                                         "wg_bm16_bn64_bk128_w4_s8_k1", "bm16_bn16_bk128_w1_s2_k4"});
  // At M = 1 only rows up to M = 16 count, fitted to bm8 (the smallest wgmma tile is 16).
  got.clear();
  for (const auto& c : table.neighbour_configs(h, 132, 1, n, k, OutDType::bf16, true))
    got.push_back(c.str());
  CHECK(got == std::vector<std::string>{"bm8_bn16_bk128_w1_s2_k4", "bm8_bn128_bk32_w2_s1_k8",
                                         "bm8_bn32_bk128_w2_s1_k4", "wg_bm16_bn64_bk128_w4_s8_k1"});
  CHECK(table.neighbour_configs(h, 132, 16, 4096, 4096, OutDType::bf16, true).empty());
  // At M = 2048 the wgmma tiles grow to 256 tokens where their accumulators fit (one 64-row
  // slab per consumer warpgroup), and wg_bm128_bn256 (two slabs) stays at 128.
  const TunedTable tall = TunedTable::parse(
      std::string(kHeader) + row("sm_90a", 132, 1024, n, k, "wg_bm128_bn256_bk128_w8_s4_k1", "bf16", 1) +
          row("sm_90a", 132, 4096, n, k, "wg_bm128_bn128_bk128_w8_s4_k1", "bf16", 1),
      "t.csv");
  got.clear();
  for (const auto& c : tall.neighbour_configs(h, 132, 2048, n, k, OutDType::bf16, true))
    got.push_back(c.str());
  CHECK(got == std::vector<std::string>{"wg_bm128_bn256_bk128_w8_s4_k1", "wg_bm256_bn128_bk128_w8_s4_k1"});
  CHECK(TunedTable().neighbour_configs(h, 132, 16, n, k, OutDType::bf16, true).empty());
}

TEST_CASE("tuned table: choices_for_range covers what the runtime picks for every M", "[tuned]") {
  const auto t = target("gfx942");
  const TunedTable table = TunedTable::parse(
      std::string(kHeader) + row("gfx942", 304, 37, 1024, 512, "bm64_bn64_bk64_w4_s2_k1") +
          row("gfx942", 304, 64, 1024, 512, "bm64_bn128_bk64_w4_s2_k1") +
          row("gfx942", 80, 16, 1024, 512, "bm16_bn256_bk64_w4_s2_k1") +
          row("gfx942", 80, 5000, 1024, 512, "bm128_bn512_bk256_w8_s1_k1"),
      "mi.csv");
  for (const int cu : {304, 0}) {
    const auto choices = table.choices_for_range(t, cu, 1, 300, 1024, 512, OutDType::bf16, false);
    std::set<std::string> configs;
    for (const auto& c : choices) configs.insert(c.config.str());
    for (const int device_cu : cu == 0 ? std::vector<int>{304, 80} : std::vector<int>{304})
      for (std::int64_t m = 1; m <= 300; ++m) {
        INFO("cu " << cu << " device " << device_cu << " M " << m);
        const auto c = table.select(t, device_cu, m, 1024, 512, OutDType::bf16, false);
        CHECK(configs.count(c.config.str()) == 1);
        const auto plan_c = table.select(t, device_cu, select::m_bucket_m(m), 1024, 512, OutDType::bf16, false);
        CHECK(configs.count(plan_c.config.str()) == 1);
      }
    CHECK(configs.count("bm128_bn512_bk256_w8_s1_k1") == 0);  // M=5000 lies outside 1..300
  }
  CHECK(table.choices_for_range(t, 304, 1, 1, 1024, 512, OutDType::bf16, false).size() == 1);
  CHECK(table.choices_for_range(t, 304, 8193, 100000, 1024, 512, OutDType::bf16, false).size() == 2);  // 12288 and the open bucket
  CHECK_THROWS_AS(table.choices_for_range(t, 304, 0, 10, 1024, 512, OutDType::bf16, false), InvalidArgument);
  CHECK_THROWS_AS(table.choices_for_range(t, 304, 10, 9, 1024, 512, OutDType::bf16, false), InvalidArgument);
}

TEST_CASE("tuned table: a Context runs the config of a table row", "[tuned][context]") {
  try {
    compiler::Toolchains().for_target(target("sm_90a"));
  } catch (const Error& e) {
    const std::string msg = std::string("SKIPPED (tuned table context): no toolchain for sm_90a: ") + e.what();
    std::printf("%s\n", msg.c_str());
    WARN(msg);
    return;
  }
  test::TempDir dir;
  Options o;
  o.cache_dir = dir.path() + "/cache";
  // FakeDriver reports 132 multiprocessors. Bucket M=64 row for (N=512, K=256), with and without bias.
  o.tuned_tables = {write(dir.path(), "t.csv",
                          std::string(kHeader) + row("sm_90a", 132, 64, 512, 256, C) +
                              row("sm_90a", 0, 3, 512, 256, D))};
  auto driver = std::make_unique<test::FakeDriver>("sm_90a");
  test::FakeDriver* fake = driver.get();
  Context ctx = runtime::make_context(o, std::move(driver));

  DeviceBuffer a = ctx.alloc(4096 * 256), sa = ctx.alloc(4096 * 4), w = ctx.alloc(512 * 256),
               sw = ctx.alloc(512 * 4), out = ctx.alloc(4096 * 512 * 2);
  const PackedWeight pw = ctx.pack_weight(w.get(), static_cast<const float*>(sw.get()), 512, 256);
  GemmArgs g;
  g.a = a.get();
  g.sa = static_cast<const float*>(sa.get());
  g.w = &pw;
  g.out = out.get();
  g.m = 37;  // bucket M=64: bm32_bn128_bk64_w2_s1_k1
  ctx.gemm(g);
  const std::string name_c = compiler::gemm_spec(target("sm_90a"), 512, 256, compiler::GemmConfig::parse(C, target("sm_90a")),
                                                 OutDType::bf16, false).kernel_name();
  CHECK(fake->names.back() == name_c);
  auto l = fake->launches.back();
  CHECK(l.dims.grid[0] == 512 / 128);
  CHECK(l.dims.grid[1] == 2);  // ceil(37 / 32)
  CHECK(l.dims.block[0] == 2 * 32);

  g.m = 3;  // the exact cu_num 0 row: bm64_bn64_bk32_w1_s2_k1
  ctx.gemm(g);
  l = fake->launches.back();
  CHECK(l.dims.grid[0] == 512 / 64);
  CHECK(l.dims.grid[1] == 1);
  CHECK(l.dims.block[0] == 32);

  const Plan plan = ctx.plan(pw, OutDType::bf16, false);
  const auto lines = plan.describe();
  REQUIRE(lines.size() == select::m_buckets().size());
  CHECK(lines[9] == "m<=64: " + name_c);  // buckets 1, 2, 4, 8, 12, 16, 24, 32, 48, 64
  CHECK(lines[8] == "m<=48: " + name_c);  // no row at 48: the row of its power of two, 64
  g.m = 50;
  plan.gemm(g);
  CHECK(fake->launches.back().dims.grid[1] == 2);  // ceil(50 / 32)
  CHECK(fake->launches.back().dims.block[0] == 64);

  // A malformed table stops the Context from opening, naming the row.
  const std::string bad = row("sm_90a", 132, 64, 512, 256, "bm64_bn64");
  o.tuned_tables = {write(dir.path(), "bad.csv", kHeader + bad)};
  CHECK_THROWS_WITH(runtime::make_context(o, std::make_unique<test::FakeDriver>("sm_90a")),
                    StartsWith("failed to read tuned table " + dir.path() + "/bad.csv:2:" +
                               std::to_string(bad.find("bm64") + 1) + ": config must read"));
}

TEST_CASE("tuned table: the fuzz corpus replays cleanly", "[tuned][fuzz]") {
  const std::filesystem::path corpus = std::filesystem::path(FP8JIT_SOURCE_DIR) / "tests/fuzz/corpus/tuned_table";
  REQUIRE(std::filesystem::is_directory(corpus));
  std::size_t inputs = 0;
  for (const auto& e : std::filesystem::directory_iterator(corpus)) {
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(e.path().string());
    CHECK_NOTHROW(fp8jit_fuzz_tuned_table(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    ++inputs;
  }
  CHECK(inputs >= 5);
}

TEST_CASE("tuned table: rows name their device, and this device's rows come first", "[tuned]") {
  const std::string header = "arch,cu_num,device,mem_bw,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw\n";
  const auto device_row = [](const std::string& device, int bw, std::int64_t m, const char* config) {
    return "sm_90a,132," + device + "," + std::to_string(bw) + "," + std::to_string(m) +
           ",4096,4096,e4m3fn,bf16,0," + config + ",1,1,1\n";
  };
  const TunedTable t = TunedTable::parse(
      header + device_row("NVIDIA H100 80GB HBM3", 3400, 64, A) +
          device_row("NVIDIA H200", 4900, 64, B) + device_row("NVIDIA H100 80GB HBM3", 3400, 32, C),
      "rows.csv");
  const auto h = target("sm_90a");
  const select::DeviceKey h200{132, "NVIDIA H200", 4900}, h100{132, "NVIDIA H100 80GB HBM3", 3400};
  ConfigChoice c = t.select(h, h200, 64, 4096, 4096, OutDType::bf16, false);
  CHECK(c.config.str() == B);
  CHECK(c.this_device);
  CHECK_THAT(c.rule, Contains("NVIDIA H200 4900 GB/s M=64): this device's row"));
  c = t.select(h, h100, 64, 4096, 4096, OutDType::bf16, false);
  CHECK(c.config.str() == A);
  CHECK(c.this_device);
  // M = 40 (bucket 48, held by 64): the H200's own bucket row, not the H100's.
  CHECK(t.select(h, h200, 40, 4096, 4096, OutDType::bf16, false).config.str() == B);
  // M = 32: only the H100 has a row; on an H200 it serves, as another device's row.
  c = t.select(h, h200, 32, 4096, 4096, OutDType::bf16, false);
  CHECK(c.config.str() == C);
  CHECK_FALSE(c.this_device);
  CHECK_THAT(c.rule, Contains("measured on another or an unrecorded device of the same arch and "
                              "multiprocessor count"));
  // A device of the same name but another bandwidth class is another device; a row that records
  // no class is the named device's at any.
  CHECK_FALSE(t.select(h, {132, "NVIDIA H200", 4800}, 64, 4096, 4096, OutDType::bf16, false).this_device);
  const TunedTable no_class = TunedTable::parse(header + device_row("NVIDIA H200", 0, 64, B), "c.csv");
  CHECK(no_class.select(h, {132, "NVIDIA H200", 4800}, 64, 4096, 4096, OutDType::bf16, false).this_device);
  // Another multiprocessor count: no row applies.
  CHECK(t.select(h, {114, "NVIDIA H100 PCIe", 2000}, 64, 4096, 4096, OutDType::bf16, false).source ==
        Source::heuristic);
  // Rows of a table without the device columns record no device: never this device's.
  const TunedTable old = TunedTable::parse(std::string(kHeader) + row("sm_90a", 132, 64, 4096, 4096, A), "old.csv");
  c = old.select(h, h200, 64, 4096, 4096, OutDType::bf16, false);
  CHECK(c.config.str() == A);
  CHECK_FALSE(c.this_device);
  // A device column that is not printable text, or a bandwidth out of range, is refused.
  CHECK_THROWS_WITH(TunedTable::parse(header + device_row("NVIDIA\tH200", 4900, 64, B), "bad.csv"),
                    Contains("bad.csv:2:12: device must be printable ASCII"));
  CHECK_THROWS_WITH(TunedTable::parse(header + device_row("NVIDIA H200", -1, 64, B), "bad.csv"),
                    Contains("mem_bw must be an integer in [0, 1000000]"));
  CHECK(select::memory_bandwidth_class(4.9152e12) == 4900);
  CHECK(select::memory_bandwidth_class(3.3521e12) == 3400);
  CHECK(select::memory_bandwidth_class(0) == 0);
}
