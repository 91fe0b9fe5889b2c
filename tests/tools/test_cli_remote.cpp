// `fp8jit warmup` and `fp8jit cache ... --remote` against a real redis-server (one per test, on a
// free port; skipped with a line where there is none), on the emulator target: eight nodes (each
// its own cache directory) warm the same kernels through one Redis and compile each once in all;
// Redis killed in the middle of warmups and restarted; the cache commands on the remote layer.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cache/remote_store.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/tools/cli.hpp"

namespace fp8jit::test {
namespace {

std::vector<std::string> warmup_args(const std::string& shapes) {
  return {"warmup", "--shapes", shapes, "--m", "1,64", "--bias", "both",
          "--target", "emu-sm89", "-j1", "--json"};
}

std::string write_shapes(const TempDir& io) {
  const std::string shapes = io.path() + "/shapes.csv";
  std::ofstream(shapes) << "1024,512\n512,1024\n";
  return shapes;
}

}  // namespace

TEST_CASE("cli remote: 8 nodes warm the same kernels through one Redis: each kernel compiled "
          "once in all and every node gets loadable kernels and every value in Redis verifies",
          "[cli][remote]") {
  const auto cli = cli_or_skip();
  auto redis = cli && toolchains_or_skip({"emu-sm89"}) ? redis_or_skip() : nullptr;
  if (!redis) return;
  TempDir io;
  const std::string shapes = write_shapes(io);
  constexpr int kNodes = 8;
  std::vector<std::unique_ptr<TempDir>> dirs;
  std::vector<CliProcess> procs;
  for (int i = 0; i < kNodes; ++i) {
    dirs.push_back(std::make_unique<TempDir>());
    procs.emplace_back(*cli, warmup_args(shapes),
                       std::map<std::string, std::string>{{"FP8JIT_CACHE_DIR", dirs.back()->path()},
                                                          {"FP8JIT_CACHE_REMOTE", redis->url()}},
                       io.path() + "/node" + std::to_string(i));
  }
  std::set<std::string> keys;
  std::size_t compiled = 0, from_remote = 0, n = 0;
  for (int i = 0; i < kNodes; ++i) {
    const CliResult r = procs[i].wait_for(120);
    INFO("node " << i << " exit " << r.status << "\n" << r.err);
    REQUIRE(r.status == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["summary"]["failed"] == 0);
    if (i == 0) n = j["kernels"].size();
    CHECK(j["kernels"].size() == n);
    compiled += j["summary"]["compiled"].get<std::size_t>();
    from_remote += j["summary"]["from_remote"].get<std::size_t>();
    CHECK(j["remote"]["bad_values"] == 0);
    CHECK(j["remote"]["errors"] == 0);
    for (const auto& k : j["kernels"]) {
      CHECK(k["error"] == "");
      CHECK_FALSE(k["binary_format"].get<std::string>().empty());  // a loadable ELF object
      keys.insert(k["key"].get<std::string>());
    }
  }
  REQUIRE(n >= 5);
  CHECK(keys.size() == n);
  CHECK(compiled == n);  // once in all: the leases single-flight it across the nodes
  CHECK(from_remote == n * kNodes - n);

  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_REMOTE", redis->url()}};
  const CliResult v = run_cli(*cli, {"cache", "verify", "--remote", "--json"}, env, io.path());
  CHECK(v.status == 0);
  const nlohmann::json report = nlohmann::json::parse(v.out);
  CHECK(report["entries"] == n);
  CHECK(report["entries_ok"] == n);
  const CliResult s = run_cli(*cli, {"cache", "stats", "--remote", "--json"}, env, io.path());
  CHECK(nlohmann::json::parse(s.out)["leases"] == 0);  // every lease was let go
}

TEST_CASE("cli remote: Redis killed in the middle of warmups and restarted: every warmup "
          "succeeds and the restarted server is used again",
          "[cli][remote]") {
  const auto cli = cli_or_skip();
  auto redis = cli && toolchains_or_skip({"emu-sm89"}) ? redis_or_skip() : nullptr;
  if (!redis) return;
  TempDir io, a, b, c;
  const std::string shapes = io.path() + "/shapes.csv";
  std::ofstream(shapes) << "1024,512\n512,1024\n2048,512\n512,2048\n";
  std::vector<CliProcess> procs;
  for (const TempDir* d : {&a, &b})
    procs.emplace_back(*cli, warmup_args(shapes),
                       std::map<std::string, std::string>{{"FP8JIT_CACHE_DIR", d->path()},
                                                          {"FP8JIT_CACHE_REMOTE", redis->url()}},
                       d->path() + "-out");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  redis->kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(redis->restart());
  for (auto& p : procs) {
    const CliResult r = p.wait_for(120);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["summary"]["failed"] == 0);
    for (const auto& k : j["kernels"]) CHECK_FALSE(k["binary_format"].get<std::string>().empty());
    // The counts say what happened: commands lost while it was down, or connections it had closed
    // and that were made again.
    INFO(j["remote"].dump());
    CHECK(j["remote"]["errors"].get<int>() + j["remote"]["reconnects"].get<int>() >= 1);
    CHECK(j["remote"]["bad_values"] == 0);
  }
  // The restarted (empty) server holds what the two stored after the restart: a new node takes
  // those and fills in the rest, and the one after it compiles nothing.
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", c.path()},
                                               {"FP8JIT_CACHE_REMOTE", redis->url()}};
  CliResult r = run_cli(*cli, warmup_args(shapes), env, io.path());
  REQUIRE(r.status == 0);
  const nlohmann::json third = nlohmann::json::parse(r.out);
  const std::size_t n = third["kernels"].size();
  CHECK(third["summary"]["compiled"].get<std::size_t>() +
            third["summary"]["from_remote"].get<std::size_t>() == n);
  CHECK(third["remote"]["stores"] == third["summary"]["compiled"]);
  CHECK(third["remote"]["errors"] == 0);
  TempDir d;
  r = run_cli(*cli, warmup_args(shapes),
              {{"FP8JIT_CACHE_DIR", d.path()}, {"FP8JIT_CACHE_REMOTE", redis->url()}}, io.path());
  REQUIRE(r.status == 0);
  CHECK(nlohmann::json::parse(r.out)["summary"]["compiled"] == 0);
}

TEST_CASE("cli remote: cache ls and verify and prune and clear and export and import --remote "
          "with info showing the layer and a wrong password an error naming the URL without it",
          "[cli][remote]") {
  const auto cli = cli_or_skip();
  auto redis = cli && toolchains_or_skip({"emu-sm89"}) ? redis_or_skip({"--requirepass", "pw1"})
                                                       : nullptr;
  if (!redis) return;
  TempDir io, a, b;
  const std::string shapes = write_shapes(io);
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", a.path()},
                                               {"FP8JIT_CACHE_REMOTE", redis->url("pw1")}};
  // A warmup pushes what it built; a second one over the same disk pushes nothing new.
  CliResult r = run_cli(*cli, warmup_args(shapes), env, io.path());
  REQUIRE(r.status == 0);
  const std::size_t n = nlohmann::json::parse(r.out)["kernels"].size();
  r = run_cli(*cli, {"cache", "ls", "--remote", "--json"}, env, io.path());
  REQUIRE(r.status == 0);
  const auto listed = nlohmann::json::parse(r.out)["entries"];
  CHECK(listed.size() == n);
  // Damage one value: verify names it (exit 1), prune removes it, a warmup restores it.
  const std::string victim = listed[0]["redis_key"];
  redis->command({"SETRANGE", victim, "100", "XXXX"}, "pw1");
  r = run_cli(*cli, {"cache", "verify", "--remote", "--json"}, env, io.path());
  CHECK(r.status == 1);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["damaged"].size() == 1);
  CHECK(j["damaged"][0]["redis_key"] == victim);
  CHECK(j["damaged"][0]["damage"] == "bad_checksum");
  r = run_cli(*cli, {"cache", "prune", "--remote", "--json"}, env, io.path());
  CHECK(nlohmann::json::parse(r.out)["damaged_removed"] == 1);
  r = run_cli(*cli, warmup_args(shapes), env, io.path());  // all on disk: offered again
  CHECK(nlohmann::json::parse(r.out)["remote"]["stores"] == 1);
  CHECK(run_cli(*cli, {"cache", "verify", "--remote"}, env, io.path()).status == 0);

  // Export the remote layer, clear it, import the archive back: a fresh node compiles nothing.
  const std::string archive = io.path() + "/remote.tar";
  r = run_cli(*cli, {"cache", "export", archive, "--remote", "--json"}, env, io.path());
  REQUIRE(r.status == 0);
  CHECK(nlohmann::json::parse(r.out)["entries"] == n);
  r = run_cli(*cli, {"cache", "clear", "--remote", "--json"}, env, io.path());
  CHECK(nlohmann::json::parse(r.out)["entries_removed"] == n);
  r = run_cli(*cli, {"cache", "import", archive, "--remote", "--json"}, env, io.path());
  REQUIRE(r.status == 0);
  CHECK(nlohmann::json::parse(r.out)["imported"] == n);
  r = run_cli(*cli, warmup_args(shapes),
              {{"FP8JIT_CACHE_DIR", b.path()}, {"FP8JIT_CACHE_REMOTE", redis->url("pw1")}},
              io.path());
  CHECK(nlohmann::json::parse(r.out)["summary"]["compiled"] == 0);

  r = run_cli(*cli, {"info"}, env, io.path());
  CHECK_THAT(r.out, Catch::Contains("remote redis://:***@127.0.0.1:"));
  CHECK_THAT(r.out, Catch::Contains("answers: PING"));
  r = run_cli(*cli, {"--cache-remote", redis->url("bad-pw"), "cache", "ls", "--remote"}, env,
              io.path());
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("redis://:***@127.0.0.1:"));
  CHECK_THAT(r.err, Catch::Contains("WRONGPASS"));
  CHECK(r.err.find("bad-pw") == std::string::npos);
  r = run_cli(*cli, {"cache", "ls", "--remote"}, {{"FP8JIT_CACHE_DIR", a.path()}}, io.path());
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("no remote cache is configured"));
}

}  // namespace fp8jit::test
