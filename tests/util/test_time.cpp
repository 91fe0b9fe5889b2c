// UTC timestamps as the cache's metadata, quarantine names and listings write them.
#include <catch2/catch.hpp>

#include "util/time.hpp"

using namespace fp8jit::util;

TEST_CASE("util time: ISO-8601 UTC with seconds, and the compact file-name form", "[util]") {
  const std::string now = utc_now_iso8601();
  REQUIRE(now.size() == 20);
  CHECK(now[4] == '-');
  CHECK(now[10] == 'T');
  CHECK(now[19] == 'Z');
  CHECK(now.substr(0, 2) == "20");
  CHECK(format_utc(0, "%Y-%m-%dT%H:%M:%SZ") == "1970-01-01T00:00:00Z");
  CHECK(format_utc(1748781296, "%Y%m%dT%H%M%SZ") == "20250601T123456Z");
  CHECK(iso8601(std::chrono::system_clock::from_time_t(1748781296)) == "2025-06-01T12:34:56Z");
  const std::string compact = utc_now_compact();
  REQUIRE(compact.size() == 16);
  CHECK(compact[8] == 'T');
  CHECK(compact.back() == 'Z');
}
