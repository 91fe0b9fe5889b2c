// read_shape_file: the weight shapes of `--shapes FILE` (warmup, run, bench, tune), read without
// trusting the file.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "fp8jit/error.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/models.hpp"

namespace {

using Catch::Matchers::Contains;
using fp8jit::tools::read_shape_file;

std::string write(const fp8jit::test::TempDir& dir, const std::string& text) {
  const std::string path = dir.path() + "/shapes.txt";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

}  // namespace

TEST_CASE("shape files: bench/shapes.csv and plain N,K lines with comments, blanks and CRLF",
          "[shapes]") {
  const auto bench = read_shape_file(FP8JIT_SOURCE_DIR "/bench/shapes.csv");
  REQUIRE(bench.size() == 8);
  CHECK(bench[0].name == "llama3-8b.qkv");
  CHECK(bench[0].n == 6144);
  CHECK(bench[7].k == 28672);
  fp8jit::test::TempDir dir;
  const auto plain = read_shape_file(write(dir, "# weights\nN,K\n 4096 , 4096\r\n\n\t1024,512\n"));
  REQUIRE(plain.size() == 2);
  CHECK(plain[0].n == 4096);
  CHECK(plain[1].k == 512);
}

TEST_CASE("shape files: an empty or comments-only file is an error, not the tuned tables' shapes",
          "[shapes]") {
  fp8jit::test::TempDir dir;
  for (const char* text : {"", "# nothing here\n\n", "model,layer,N,K\n"}) {
    const std::string path = write(dir, text);
    CHECK_THROWS_WITH(read_shape_file(path), Contains("no weight shapes in " + path));
  }
}

TEST_CASE("shape files: a field must be a whole integer within the GEMM limits", "[shapes]") {
  fp8jit::test::TempDir dir;
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case c : {Case{"4096abc,4096xyz\n", "N must be a decimal integer, got '4096abc'"},
                       Case{"4096,4096xyz\n", "K must be a decimal integer, got '4096xyz'"},
                       Case{"4096,\n", "K must be a decimal integer, got ''"},
                       Case{"4096,4 096\n", "got '4 096'"},
                       Case{"+4096,4096\n", "got '+4096'"},
                       Case{"99999999999999999999,4096\n", "got '99999999999999999999'"},
                       Case{"100,4096\n", "N = 100 must be a multiple of 16"},
                       Case{"2147483648,4096\n", "N = 2147483648 must be at most"},
                       Case{"4096,0\n", "K = 0 must be positive"},
                       Case{"4096\n", "expected 'N,K' or 'model,layer,N,K'"},
                       Case{",,4096,4096\n", "names must not be empty"}}) {
    INFO(c.text);
    const std::string path = write(dir, std::string("# header\n") + c.text);
    CHECK_THROWS_AS(read_shape_file(path), fp8jit::InvalidArgument);
    CHECK_THROWS_WITH(read_shape_file(path), Contains(path + ":2: ") && Contains(c.says));
  }
}

TEST_CASE("shape files: binary bytes are named escaped, never echoed raw", "[shapes]") {
  fp8jit::test::TempDir dir;
  const std::string path = write(dir, std::string("4096,4096\n\x7f" "ELF\x02\x01\x00\x1b[2J\n", 22));
  try {
    read_shape_file(path);
    FAIL("no exception");
  } catch (const fp8jit::InvalidArgument& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Contains(path + ":2: byte \\x7f at column 1 is not printable text"));
    CHECK_THAT(msg, Contains("\\x7fELF\\x02\\x01\\x00\\x1b[2J"));
    for (const char ch : msg) CHECK((ch >= 0x20 && ch < 0x7f));
  }
}

TEST_CASE("shape files: a FIFO or a device is refused at once, size and line length are bounded",
          "[shapes]") {
  fp8jit::test::TempDir dir;
  const std::string fifo = dir.path() + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH(read_shape_file(fifo), Contains(fifo) && Contains("not a regular file"));
  CHECK_THROWS_WITH(read_shape_file("/dev/zero"), Contains("/dev/zero") && Contains("not a regular file"));
  std::string big;
  while (big.size() <= fp8jit::tools::kMaxShapeFileBytes) big += "4096,4096\n";
  CHECK_THROWS_WITH(read_shape_file(write(dir, big)), Contains("larger than 1048576 bytes"));
  const std::string wide = "4096," + std::string(300, '0') + "4096\n";
  CHECK_THROWS_WITH(read_shape_file(write(dir, wide)), Contains(":1: the line is longer than 256 bytes"));
}
