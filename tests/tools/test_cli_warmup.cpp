// `fp8jit warmup` end to end: the real binary, real NVRTC and clang compiles, a private cache.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "tests/support/temp_dir.hpp"
#include "tests/tools/cli.hpp"

namespace fp8jit::test {
namespace {

using nlohmann::json;

const std::vector<std::string> kTargets = {"sm_90a", "gfx942"};

std::string write_shapes(const std::string& dir) {
  const std::string path = dir + "/shapes.csv";
  std::ofstream(path) << "# one small weight\n4096,4096\n";
  return path;
}

// The numbers of a "summary: T kernels: C compiled, K already cached, F failed" line.
std::vector<int> summary_of(const std::string& out) {
  std::smatch m;
  const std::regex re(R"(summary: (\d+) kernels: (\d+) compiled, (\d+) already cached, (\d+) failed)");
  if (!std::regex_search(out, m, re)) return {};
  return {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4])};
}

}  // namespace

TEST_CASE("cli warmup: a shape list for sm_90a and gfx942 compiles N, a second run caches N",
          "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip(kTargets)) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::vector<std::string> args{"warmup", "--shapes", write_shapes(io.path()), "--m",
                                      "1,64",   "--target", "sm_90a,gfx942", "-j2"};

  auto with = [&](std::vector<std::string> extra) {
    auto a = args;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const CliResult plan = run_cli(*cli, with({"--dry-run", "--json"}), env, io.path());
  REQUIRE(plan.status == 0);
  const json planned = json::parse(plan.out);
  const std::size_t n = planned["kernels"].size();
  // Per target: the packing kernel and at least one GEMM per bias setting.
  REQUIRE(n >= 6);
  REQUIRE(planned["summary"]["kernels"] == n);

  const CliResult first = run_cli(*cli, args, env, io.path());
  REQUIRE(first.status == 0);
  CHECK(summary_of(first.out) == std::vector<int>{int(n), int(n), 0, 0});
  // Not a terminal: one plain line per kernel, no bar redraws.
  CHECK(first.out.find('\r') == std::string::npos);
  CHECK(std::count(first.out.begin(), first.out.end(), '\n') >= long(n));

  const CliResult second = run_cli(*cli, args, env, io.path());
  REQUIRE(second.status == 0);
  CHECK(summary_of(second.out) == std::vector<int>{int(n), 0, int(n), 0});

  // The terminal form: one line redrawn in place with the count and an ETA, then the summary.
  const CliResult bar = run_cli(*cli, with({"--progress", "bar"}), env, io.path());
  REQUIRE(bar.status == 0);
  CHECK_THAT(bar.out, Catch::Contains("\r[") && Catch::Contains("ETA") &&
                          Catch::Contains("/" + std::to_string(n) + "]"));
  CHECK(summary_of(bar.out) == std::vector<int>{int(n), 0, int(n), 0});

  const CliResult third = run_cli(*cli, with({"--json"}), env, io.path());
  REQUIRE(third.status == 0);
  const json report = json::parse(third.out);
  CHECK(report["summary"]["compiled"] == 0);
  CHECK(report["summary"]["cached"] == n);
  std::set<std::string> keys;
  for (const auto& k : report["kernels"]) {
    CHECK(k["status"] == "cached");
    CHECK(k["error"] == "");
    CHECK_FALSE(k["binary_format"].get<std::string>().empty());
    keys.insert(k["key"].get<std::string>());
  }
  CHECK(keys.size() == n);

  const CliResult ls = run_cli(*cli, {"cache", "ls", "--json"}, env, io.path());
  REQUIRE(ls.status == 0);
  const json listed = json::parse(ls.out);
  std::set<std::string> listed_keys, targets;
  for (const auto& e : listed["entries"]) {
    listed_keys.insert(e["key"].get<std::string>());
    targets.insert(e["target"].get<std::string>());
    CHECK(e["problem"] == "");
    CHECK(e["size"].get<std::uint64_t>() > 0);
  }
  CHECK(listed_keys == keys);
  CHECK(targets == std::set<std::string>{"gfx942", "sm_90a"});
}

TEST_CASE("cli warmup: --m-range expands to M buckets and a model preset plans every weight",
          "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const CliResult r = run_cli(*cli,
                              {"warmup", "--model", "llama3-70b", "--m-range", "1:8192", "--target",
                               "sm_90a,gfx942", "--dry-run", "--json"},
                              env, io.path());
  REQUIRE(r.status == 0);
  const json plan = json::parse(r.out);
  std::set<std::int64_t> ms;
  std::set<std::string> weights;
  for (const auto& k : plan["kernels"]) {
    for (const auto& m : k["m_values"]) ms.insert(m.get<std::int64_t>());
    const std::string spec = k["spec"];
    if (spec.find("op=gemm") != std::string::npos)
      weights.insert(spec.substr(spec.find(" n="), spec.find(" cfg=") - spec.find(" n=")));
    CHECK_FALSE(k["rule"].get<std::string>().empty());
  }
  CHECK(ms.count(1));
  CHECK(ms.count(8192));
  CHECK(ms.size() >= 8);  // every bucket of 1..8192, not only the ends
  CHECK(weights.size() == 4);
  CHECK(std::filesystem::is_empty(cache.path()));  // a dry run writes nothing
}

TEST_CASE("cli: bad input exits 2 with a message naming the value", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::string shapes = write_shapes(io.path());
  const std::vector<std::string> base{"warmup", "--shapes", shapes, "--dry-run"};
  struct Case {
    std::vector<std::string> args;
    std::string named;
  };
  const std::vector<Case> cases = {
      {{"--target", "sm_99z"}, "sm_99z"},
      {{"--m", "0"}, "'0'"},
      {{"--m", "1,abc"}, "abc"},
      {{"--m-range", "9:1"}, "9:1"},
      {{"--m-range", "12"}, "12"},
      {{"--model", "llama9"}, "llama9"},
      {{"--shapes", "/nonexistent/shapes.csv"}, "/nonexistent/shapes.csv"},
      {{"--bias", "maybe"}, "maybe"},
      {{"--out", "fp64"}, "fp64"},
      {{"--frobnicate"}, "--frobnicate"},
  };
  for (const auto& c : cases) {
    auto args = base;
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CliResult r = run_cli(*cli, args, env, io.path());
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains(c.named));
  }
  const std::vector<Case> cache_cases = {
      {{"cache", "show", "zz"}, "zz"},
      {{"cache", "prune", "--max-bytes", "12Q"}, "12Q"},
      {{"cache", "ls", "--target", "gfx1234"}, "gfx1234"},
      {{"cache", "import", "/nonexistent/a.tar"}, "/nonexistent/a.tar"},
      {{"cache", "frob"}, "frob"},
  };
  for (const auto& c : cache_cases) {
    const CliResult r = run_cli(*cli, c.args, env, io.path());
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains(c.named));
  }
  // Nothing to warm up at all (no shapes, no tuned table: not even the shipped ones) is a usage
  // error too.
  auto no_tables = env;
  no_tables["FP8JIT_TUNED_TABLES"] = "none";
  const CliResult none = run_cli(*cli, {"warmup", "--target", "sm_90a"}, no_tables, io.path());
  CHECK(none.status == 2);
  CHECK_THAT(none.err, Catch::Contains("no weight shapes"));
}

TEST_CASE("cli warmup: weights and M values from a tuned table's rows", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::string table = io.path() + "/tuned.csv";
  std::ofstream(table) << "arch,cu_num,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw\n"
                          "gfx942,304,48,1024,512,e4m3fnuz,bf16,0,bm16_bn128_bk64_w4_s2_k1,9,1,1\n";
  const CliResult r = run_cli(*cli,
                              {"warmup", "--tables", table, "--target", "gfx942", "--m-range",
                               "1:100", "--bias", "off", "--dry-run", "--json"},
                              env, io.path());
  REQUIRE(r.status == 0);
  bool row_kernel = false;
  const json plan = json::parse(r.out);
  for (const auto& k : plan["kernels"]) {
    const std::string spec = k["spec"];
    if (spec.find("op=gemm") == std::string::npos) continue;
    CHECK_THAT(spec, Catch::Contains("n=1024 k=512"));
    const auto ms = k["m_values"].get<std::vector<std::int64_t>>();
    if (std::find(ms.begin(), ms.end(), 48) != ms.end()) {
      row_kernel = true;
      CHECK_THAT(spec, Catch::Contains("cfg=bm16_bn128_bk64_w4_s2_k1"));
      CHECK_THAT(k["rule"].get<std::string>(), Catch::Contains("tuned.csv:2"));
    }
  }
  CHECK(row_kernel);

  // No row for the target's arch and no shapes given: nothing to build, a usage error.
  const CliResult none = run_cli(*cli, {"warmup", "--tables", table, "--target", "sm_90a"}, env,
                                 io.path());
  CHECK(none.status == 2);
  CHECK_THAT(none.err, Catch::Contains("no weight shapes") && Catch::Contains("sm_90a"));

  // A malformed row names the file, line and column.
  std::ofstream(table, std::ios::app) << "gfx942,304,x,1024,512,e4m3fnuz,bf16,0,bm16,9,1,1\n";
  const CliResult bad = run_cli(*cli, {"warmup", "--tables", table, "--target", "gfx942"}, env,
                                io.path());
  CHECK(bad.status == 2);
  CHECK_THAT(bad.err, Catch::Contains(table + ":3:"));
}

TEST_CASE("cli: --help of every command explains it with examples", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir io;
  for (const std::vector<std::string> args :
       {std::vector<std::string>{"--help"}, {"warmup", "--help"}, {"cache", "--help"},
        {"run", "--help"}}) {
    const CliResult r = run_cli(*cli, args, {}, io.path());
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("Examples"));
  }
  for (const char* sub : {"ls", "show", "verify", "prune", "clear", "stats", "export", "import"}) {
    const CliResult r = run_cli(*cli, {"cache", sub, "--help"}, {}, io.path());
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("--json"));
  }
}

TEST_CASE("cli warmup: a kernel that cannot be stored is a failure: exit status 1", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip({"sm_90a"})) return;
  TempDir io;
  const std::string not_a_dir = io.path() + "/file";
  std::ofstream(not_a_dir) << "a file where the cache directory should be\n";
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", not_a_dir}};
  const CliResult r = run_cli(*cli,
                              {"warmup", "--shapes", write_shapes(io.path()), "--m", "1", "--bias",
                               "off", "--target", "sm_90a", "-j1"},
                              env, io.path());
  CHECK(r.status == 1);
  const auto s = summary_of(r.out);
  REQUIRE(s.size() == 4);
  CHECK(s[0] >= 2);
  CHECK(s[3] == s[0]);  // every kernel failed, none counted as compiled
  CHECK_THAT(r.out, Catch::Contains("failed to store"));
  CHECK_THAT(r.err, Catch::Contains("Not a directory"));
}

}  // namespace fp8jit::test
