// Options: defaults, then FP8JIT_* variables; a bad value names its variable.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "fp8jit/error.hpp"
#include "fp8jit/options.hpp"
#include "select/tuned_table.hpp"

using namespace fp8jit;
using Catch::Matchers::Contains;

namespace {

// Sets a variable for the scope of the object, restoring the previous value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { had_ ? ::setenv(name_, old_.c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("options: FP8JIT_* variables override the defaults", "[options]") {
  ScopedEnv a("FP8JIT_CACHE_DIR", "/some/where"), b("FP8JIT_DISABLE_DISK_CACHE", "yes"),
      c("FP8JIT_DEVICE", "3"), d("FP8JIT_VERBOSE", "on"), e("FP8JIT_DUMP_DIR", "/dump");
  const Options o = Options::from_env();
  CHECK(o.cache_dir == "/some/where");
  CHECK_FALSE(o.disk_cache);
  CHECK(o.device == 3);
  CHECK(o.verbose);
  CHECK(o.dump_dir == "/dump");
}

TEST_CASE("options: FP8JIT_TARGET selects an emulation target, FP8JIT_EMU_THREADS its threads",
          "[options]") {
  {
    ScopedEnv a("FP8JIT_TARGET", nullptr), b("FP8JIT_EMU_THREADS", nullptr);
    CHECK(Options::from_env().target.empty());
    CHECK(Options::from_env().emu_threads == 0);
  }
  ScopedEnv a("FP8JIT_TARGET", "emu-gfx950"), b("FP8JIT_EMU_THREADS", "3");
  CHECK(Options::from_env().target == "emu-gfx950");
  CHECK(Options::from_env().emu_threads == 3);
  ScopedEnv c("FP8JIT_TARGET", "sm_90a");
  CHECK_THROWS_WITH(Options::from_env(), Contains("FP8JIT_TARGET='sm_90a'") &&
                                             Contains("emu-gfx942, emu-gfx950, emu-sm89"));
  ScopedEnv d("FP8JIT_TARGET", "emu-gfx942"), e("FP8JIT_EMU_THREADS", "many");
  CHECK_THROWS_WITH(Options::from_env(), Contains("FP8JIT_EMU_THREADS='many'"));
}

TEST_CASE("options: FP8JIT_PDL=0 turns programmatic launches off, which are on by default", "[options]") {
  {
    ScopedEnv a("FP8JIT_PDL", nullptr);
    CHECK(Options::from_env().pdl);
  }
  {
    ScopedEnv a("FP8JIT_PDL", "0");
    CHECK_FALSE(Options::from_env().pdl);
  }
  ScopedEnv a("FP8JIT_PDL", "sometimes");
  CHECK_THROWS_WITH(Options::from_env(), Contains("FP8JIT_PDL='sometimes'") && Contains("1/0"));
}

TEST_CASE("options: the default cache dir follows XDG_CACHE_HOME, then HOME", "[options]") {
  ScopedEnv a("FP8JIT_CACHE_DIR", nullptr), b("XDG_CACHE_HOME", "/xdg"), c("HOME", "/home/u");
  CHECK(Options::from_env().cache_dir == "/xdg/fp8jit");
  ScopedEnv d("XDG_CACHE_HOME", nullptr);
  CHECK(Options::from_env().cache_dir == "/home/u/.cache/fp8jit");
}

TEST_CASE("options: a bad value is an error naming the variable and the rule", "[options]") {
  {
    ScopedEnv a("FP8JIT_DEVICE", "gpu0");
    CHECK_THROWS_WITH(Options::from_env(), Contains("FP8JIT_DEVICE='gpu0'") && Contains("integer"));
  }
  {
    ScopedEnv a("FP8JIT_VERBOSE", "maybe");
    CHECK_THROWS_WITH(Options::from_env(), Contains("FP8JIT_VERBOSE='maybe'") && Contains("1/0"));
  }
  ScopedEnv a("FP8JIT_DEVICE", "-1");
  CHECK_THROWS_AS(Options::from_env(), InvalidArgument);
}

TEST_CASE("options: the shipped tuned tables are found next to the binary and parse", "[options][tuned]") {
  {
    ScopedEnv a("FP8JIT_TUNED_TABLES", nullptr);
    const Options o = Options::from_env();
    // The test program runs from <build>/tests; the build copies tuned/*.csv to <build>/share.
    REQUIRE(o.tuned_tables.size() >= 1);
    bool h100 = false;
    for (const auto& t : o.tuned_tables) h100 |= t.find("share/fp8jit/tuned/h100_sm90a.csv") != std::string::npos;
    CHECK(h100);
    const auto table = select::TunedTable::load(o.tuned_tables);  // every row valid, or it throws
    CHECK(table.rows() >= 56);
    const auto choice = table.select(compiler::Target::parse("sm_90a"), 132, 1, 8192, 28672, OutDType::bf16, true);
    CHECK_THAT(choice.rule, Contains("h100_sm90a.csv"));
  }
  ScopedEnv none("FP8JIT_TUNED_TABLES", "none");
  CHECK(Options::from_env().tuned_tables.empty());
}

TEST_CASE("options: FP8JIT_CACHE_MAX_BYTES takes K, M, G and refuses overflow, signs, blanks and "
          "trailing text, naming the variable",
          "[options]") {
  {
    ScopedEnv a("FP8JIT_CACHE_MAX_BYTES", "512M");
    CHECK(Options::from_env().cache_max_bytes == 512ull << 20);
  }
  for (const char* bad : {"18014398509481985K", "99999999999999999999999", " -1", "-1", "8G ",
                          "8GB", "+8G"}) {
    INFO("FP8JIT_CACHE_MAX_BYTES='" << bad << "'");
    ScopedEnv a("FP8JIT_CACHE_MAX_BYTES", bad);
    CHECK_THROWS_WITH(Options::from_env(),
                      Contains("FP8JIT_CACHE_MAX_BYTES='" + std::string(bad) + "'"));
  }
}
