// util::parse_bytes: the one reader of byte counts (FP8JIT_CACHE_MAX_BYTES, cache prune
// --max-bytes).
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "fp8jit/error.hpp"
#include "util/bytes.hpp"

using Catch::Matchers::Contains;
using fp8jit::util::parse_bytes;

TEST_CASE("util bytes: digits with an optional K, M or G suffix, powers of 1024", "[util]") {
  CHECK(parse_bytes("0", "X") == 0);
  CHECK(parse_bytes("100000", "X") == 100000);
  CHECK(parse_bytes("1K", "X") == 1024);
  CHECK(parse_bytes("512m", "X") == 512ull << 20);
  CHECK(parse_bytes("8G", "X") == 8ull << 30);
  CHECK(parse_bytes("18446744073709551615", "X") == UINT64_MAX);
  CHECK(parse_bytes("17179869183G", "X") == 17179869183ull << 30);  // the largest G count
}

TEST_CASE("util bytes: overflow, a sign, a blank, an empty string or trailing text is refused, "
          "naming the value and where it came from",
          "[util]") {
  for (const char* bad : {"18014398509481985K", "17179869184G", "18446744073709551616",
                          "99999999999999999999999", " -1", "-1", "+5", " 5", "5 ", "", "5KB",
                          "5T", "1.5G", "0x10", "5K5", "G"}) {
    INFO("'" << bad << "'");
    CHECK_THROWS_AS(parse_bytes(bad, "--max-bytes"), fp8jit::InvalidArgument);
    CHECK_THROWS_WITH(parse_bytes(bad, "--max-bytes"),
                      Contains("--max-bytes='" + std::string(bad) + "'") &&
                          Contains("K, M or G suffix"));
  }
  CHECK_THROWS_WITH(parse_bytes("18014398509481985K", "X"), Contains("more than 2^64 - 1 bytes"));
  CHECK_THROWS_WITH(parse_bytes("5\x01", "X"), Contains("'5\\x01'"));
}
