// Target::parse: archs, emulation targets and AMD target features, each checked when parsed.
#include <catch2/catch.hpp>
#include <string>

#include "compiler/target.hpp"
#include "fp8jit/error.hpp"

using Catch::Matchers::Contains;
using fp8jit::compiler::Target;

TEST_CASE("target: AMD features are sramecc and xnack, each once with + or -, in canonical order",
          "[target]") {
  CHECK(Target::parse("gfx942").str() == "gfx942");
  CHECK(Target::parse("gfx942:sramecc+:xnack-").str() == "gfx942:sramecc+:xnack-");
  CHECK(Target::parse("gfx950:xnack+").str() == "gfx950:xnack+");
  CHECK(Target::parse("gfx90a:sramecc-").str() == "gfx90a:sramecc-");
  // One target, one string: LLVM's canonical order (by name), whatever order it was written in.
  CHECK(Target::parse("gfx942:xnack-:sramecc+").str() == "gfx942:sramecc+:xnack-");
}

TEST_CASE("target: an unknown, repeated or malformed feature is an error naming it and what is "
          "allowed",
          "[target]") {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case c : {Case{"gfx942:bogus+", "unknown feature 'bogus'"},
                       Case{"gfx942:xnack+:xnack-", "feature 'xnack' is given twice"},
                       Case{"gfx942:xnack+:xnack+", "feature 'xnack' is given twice"},
                       Case{"gfx942:sramecc", "must read ':name+' or ':name-'"},
                       Case{"gfx942:", "must read ':name+' or ':name-'"},
                       Case{"gfx942:xnack+:", "must read ':name+' or ':name-'"},
                       Case{"gfx942:XNACK+", "unknown feature 'XNACK'"},
                       Case{"sm_90a:xnack+", "AMD-only"}}) {
    INFO(c.text);
    CHECK_THROWS_AS(Target::parse(c.text), fp8jit::InvalidArgument);
    CHECK_THROWS_WITH(Target::parse(c.text),
                      Contains("'" + std::string(c.text) + "'") && Contains(c.says));
  }
  CHECK_THROWS_WITH(Target::parse("gfx942:bogus+"),
                    Contains("sramecc+, sramecc-, xnack+, xnack-"));
  CHECK_THROWS_WITH(Target::parse(std::string("gfx9\x01", 5)), Contains("gfx9\\x01"));
}
