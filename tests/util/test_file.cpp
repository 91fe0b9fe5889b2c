// util::read_regular_file and util::escaped: reading a file a user names without trusting it.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "fp8jit/error.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/file.hpp"
#include "util/text.hpp"

using Catch::Matchers::Contains;
using fp8jit::util::read_regular_file;

TEST_CASE("util file: a regular file within the bound is read whole", "[util]") {
  fp8jit::test::TempDir dir;
  const std::string path = dir.path() + "/t.txt";
  std::ofstream(path, std::ios::binary) << std::string(5000, 'x');
  CHECK(read_regular_file(path, 5000, "thing") == std::string(5000, 'x'));
  std::ofstream(path, std::ios::binary) << "";
  CHECK(read_regular_file(path, 10, "thing").empty());
}

TEST_CASE("util file: a FIFO, a device, a directory, a missing or too large file is refused at "
          "once, naming it",
          "[util]") {
  fp8jit::test::TempDir dir;
  const std::string fifo = dir.path() + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // A blocking open of a FIFO without a writer would never return; this must.
  CHECK_THROWS_WITH(read_regular_file(fifo, 100, "thing"),
                    Contains("failed to read thing " + fifo) && Contains("a FIFO"));
  CHECK_THROWS_WITH(read_regular_file("/dev/zero", 100, "thing"),
                    Contains("/dev/zero") && Contains("character device"));
  CHECK_THROWS_WITH(read_regular_file(dir.path(), 100, "thing"), Contains("a directory"));
  CHECK_THROWS_WITH(read_regular_file(dir.path() + "/none", 100, "thing"),
                    Contains(dir.path() + "/none") && Contains("No such file"));
  const std::string big = dir.path() + "/big";
  std::ofstream(big, std::ios::binary) << std::string(101, 'x');
  CHECK_THROWS_WITH(read_regular_file(big, 100, "thing"),
                    Contains(big) && Contains("larger than 100 bytes"));
}

TEST_CASE("util text: escaped keeps printable ASCII and writes other bytes as \\xNN", "[util]") {
  using fp8jit::util::escaped;
  CHECK(escaped("gfx942:xnack+") == "gfx942:xnack+");
  CHECK(escaped(std::string("a\0b\n\xff", 5)) == "a\\x00b\\x0a\\xff");
  CHECK(escaped("a\\b") == "a\\\\b");
  CHECK(escaped(std::string(100, 'x'), 80) == std::string(80, 'x') + "...");
}
