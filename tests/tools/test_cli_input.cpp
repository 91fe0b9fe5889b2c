// Bad input to any fp8jit command: exit status 2 and a message naming the value and the rule,
// never a silent default, a hang or a crash. Each run is bounded by timeout(1): a command that
// blocks on a FIFO fails the test instead of stalling it.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.hpp"
#include "tests/tools/cli.hpp"

namespace fp8jit::test {
namespace {

struct Case {
  std::vector<std::string> args;
  std::string named;  // what stderr must contain
};

// Runs each case under `timeout 60`; each must exit 2 and name its value on stderr.
void expect_bad_input(const std::string& cli, const std::vector<Case>& cases,
                      const std::map<std::string, std::string>& env, const std::string& io) {
  for (const auto& c : cases) {
    std::vector<std::string> args{"60", cli};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CliResult r = run_cli("/usr/bin/timeout", args, env, io);
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains(c.named));
  }
}

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST_CASE("cli bad input: byte counts that overflow or carry a sign, a blank or junk", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  std::vector<Case> cases;
  for (const char* bad : {"18014398509481985K", "99999999999999999999999", " -1", "", "1G "})
    cases.push_back({{"cache", "prune", "--max-bytes", bad}, "--max-bytes='" + std::string(bad) + "'"});
  expect_bad_input(*cli, cases, env, io.path());
  auto bad_env = env;
  bad_env["FP8JIT_CACHE_MAX_BYTES"] = "18014398509481985K";
  expect_bad_input(*cli, {{{"cache", "stats"}, "FP8JIT_CACHE_MAX_BYTES='18014398509481985K'"}},
                   bad_env, io.path());
}

TEST_CASE("cli bad input: shape files that are empty, not files, malformed or binary", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::string fifo = io.path() + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string empty = write(io.path(), "empty.csv", "");
  const std::string comments = write(io.path(), "comments.csv", "# N,K\n\n");
  const std::string junk = write(io.path(), "junk.csv", "4096abc,4096xyz\n");
  const std::string binary = write(io.path(), "binary.csv", std::string("\x7f" "ELF\x00\x1b[2J", 9));
  const std::vector<std::string> dry{"--target", "gfx942", "--dry-run"};
  std::vector<Case> cases;
  for (const auto& [file, named] : std::vector<std::pair<std::string, std::string>>{
           {empty, "no weight shapes in " + empty},
           {comments, "no weight shapes in " + comments},
           {"/dev/zero", "/dev/zero: it is a character device, not a regular file"},
           {fifo, fifo + ": it is a FIFO, not a regular file"},
           {junk, "N must be a decimal integer, got '4096abc'"},
           {binary, "\\x7fELF\\x00\\x1b[2J"}}) {
    std::vector<std::string> args{"warmup", "--shapes", file};
    args.insert(args.end(), dry.begin(), dry.end());
    cases.push_back({args, named});
  }
  cases.push_back({{"run", "--cross", "--target", "gfx942", "--shapes", empty}, "no weight shapes"});
  cases.push_back({{"bench", "--shapes", fifo}, "FIFO"});
  cases.push_back({{"tune", "--shapes", junk, "--out", io.path() + "/t.csv"}, "4096abc"});
  expect_bad_input(*cli, cases, env, io.path());
  CHECK_FALSE(std::filesystem::exists(io.path() + "/t.csv"));  // refused before it is opened
  const CliResult r = run_cli(*cli, {"warmup", "--shapes", binary, "--dry-run", "--target", "gfx942"},
                              env, io.path());
  for (const char ch : r.err) CHECK((ch == '\n' || (ch >= 0x20 && ch < 0x7f)));
}

TEST_CASE("cli bad input: M, N, K outside the GEMM limits, in every command", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::string shapes = write(io.path(), "shapes.csv", "1024,512\n");
  const std::string big_m = "1099511627776";
  expect_bad_input(*cli,
                   {{{"warmup", "--shapes", shapes, "--target", "gfx942", "--dry-run", "--m", big_m},
                     "M = " + big_m},
                    {{"warmup", "--shapes", shapes, "--target", "gfx942", "--dry-run", "--m-range",
                      "1:" + big_m},
                     "M = " + big_m},
                    {{"run", "--cross", "--target", "gfx942", "--shapes", shapes, "--m", big_m},
                     "M = " + big_m},
                    {{"bench", "--shapes", shapes, "--m", big_m}, "M = " + big_m},
                    {{"tune", "--shapes", shapes, "--m", "0", "--out", io.path() + "/t.csv"},
                     "M = 0"},
                    {{"explain", "9223372036854775807", "57344", "8192", "--target", "sm_90a"},
                     "M = 9223372036854775807 must be >= 1 and <= 2147483647"},
                    {{"explain", "1", "2147483648", "4096", "--target", "sm_90a"},
                     "N = 2147483648 must be at most 2147483632"},
                    {{"explain", "1", "4096", "2147483648", "--target", "gfx942"},
                     "K = 2147483648 must be at most 2147483616"}},
                   env, io.path());
  // The largest GEMM the limits allow is explained with sane figures (no overflowed percentages).
  const CliResult r = run_cli(*cli, {"explain", "2147483647", "2147483632", "2147483616",
                                     "--target", "sm_90a"},
                              env, io.path());
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("tile efficiency 100%"));
  CHECK_THAT(r.out, !Catch::Contains("-1") && !Catch::Contains("nan") && !Catch::Contains("inf"));
}

TEST_CASE("cli bad input: unknown or repeated target features, and CU counts below 0", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::string shapes = write(io.path(), "shapes.csv", "1024,512\n");
  const std::vector<std::string> warm{"warmup", "--shapes", shapes, "--dry-run", "--target"};
  auto with = [&](std::vector<std::string> a, std::initializer_list<std::string> more) {
    a.insert(a.end(), more);
    return a;
  };
  expect_bad_input(
      *cli,
      {{with(warm, {"gfx942:bogus+"}), "unknown feature 'bogus' (allowed: sramecc+, sramecc-, "
                                       "xnack+, xnack-; each at most once)"},
       {with(warm, {"gfx942:xnack+:xnack-"}), "feature 'xnack' is given twice"},
       {{"cache", "clear", "--target", "gfx942:bogus+"}, "gfx942:bogus+"},
       {{"cache", "clear", "--target", "gfx942:xnack+:xnack-"}, "gfx942:xnack+:xnack-"},
       {{"explain", "1", "4096", "4096", "--target", "gfx942:sramecc"}, "gfx942:sramecc"},
       {{"explain", "1", "4096", "4096", "--target", "sm_90a", "--cu", "-5"}, "--cu: -5"},
       {{"explain", "1", "4096", "4096", "--target", "sm_90a", "--cu", "-1"}, "--cu: -1"},
       {with(warm, {"gfx942", "--cu-num", "-5"}), "--cu-num: -5"}},
      env, io.path());
  // 0 keeps its documented meaning: any device of the arch.
  CHECK(run_cli(*cli, {"explain", "1", "4096", "4096", "--target", "sm_90a", "--cu", "0"}, env,
                io.path())
            .status == 0);
}

TEST_CASE("cli bad input: a tuned table that is a device is refused at once, naming it", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir cache, io;
  auto env = std::map<std::string, std::string>{{"FP8JIT_CACHE_DIR", cache.path()},
                                                {"FP8JIT_TUNED_TABLES", "/dev/zero"}};
  expect_bad_input(*cli,
                   {{{"explain", "1", "4096", "4096", "--target", "sm_90a"},
                     "failed to read tuned table /dev/zero: it is a character device"},
                    {{"warmup", "--target", "gfx942", "--dry-run"}, "tuned table /dev/zero"}},
                   env, io.path());
}

}  // namespace fp8jit::test
