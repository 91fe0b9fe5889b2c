// DynLib's view of a loaded library, on the C library that every process has: its GNU build id
// (read from the mapped note, as `readelf -n` prints it) and text it carries.
#include <catch2/catch.hpp>
#include <string>

#include "util/dynlib.hpp"
#include "util/process.hpp"

using namespace fp8jit::util;

TEST_CASE("dynlib: the build id and the text of a loaded library", "[dynlib]") {
  std::string why;
  const DynLib libc = DynLib::open_first({"libc.so.6"}, &why);
  REQUIRE(libc);
  INFO(libc.path() << why);
  const std::string id = libc.gnu_build_id();
  CHECK(id.size() >= 16);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  const ProcessResult readelf = run_process({"/usr/bin/readelf", "-n", libc.path()});
  if (readelf.status == 0) CHECK(readelf.output.find("Build ID: " + id + "\n") != std::string::npos);
  // "GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36."
  const std::string banner = libc.find_text("GNU C Library ");
  CHECK(banner.rfind("GNU C Library ", 0) == 0);
  CHECK(banner.find("release version ") != std::string::npos);
  CHECK(banner.find('\n') == std::string::npos);
  CHECK(libc.find_text("fp8jit: no library carries this text").empty());
  CHECK(DynLib().gnu_build_id().empty());
  CHECK(DynLib().find_text("GNU").empty());
}
