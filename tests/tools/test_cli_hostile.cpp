// The `fp8jit` command against a cache that someone else has written into, and against paths that
// are no archives: every run ends (bounded: a hang is killed and fails the test), nothing is
// written outside the cache, and bad input exits 2 naming the value.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cache/disk_store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/cache/cache_fixtures.hpp"
#include "tests/tools/cli.hpp"

namespace fp8jit::test {
namespace {

namespace fs = std::filesystem;

CliResult run_bounded(const std::string& cli, const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env, const std::string& dir,
                      double seconds) {
  static int counter = 0;
  CliProcess p(cli, args, env, dir + "/bounded" + std::to_string(++counter));
  CliResult r = p.wait_for(seconds);
  std::string cmd = "fp8jit";
  for (const auto& a : args) cmd += " " + a;
  UNSCOPED_INFO("$ " << cmd << "\nexit status " << r.status << (r.timed_out ? " (hung: killed)" : "")
                     << "\n--- stdout ---\n" << r.out.substr(0, 3000) << "--- stderr ---\n"
                     << r.err.substr(0, 3000));
  return r;
}

}  // namespace

TEST_CASE("cli warmup: FIFOs and links planted at entries and directories hang nothing, are "
          "served never, and send no write outside the cache",
          "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip({"sm_90a", "gfx942"})) return;
  TempDir cache, io, outside;
  const std::string shapes = io.path() + "/shapes.csv";
  std::ofstream(shapes) << "4096,2048\n1024,4096\n";
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::vector<std::string> warm{"warmup", "--shapes", shapes, "--m", "1,32", "--bias", "on",
                                      "--target", "sm_90a,gfx942", "-j2", "--json"};
  const CliResult first = run_bounded(*cli, warm, env, io.path(), 120);
  REQUIRE(first.status == 0);
  const auto kernels = nlohmann::json::parse(first.out)["kernels"];
  REQUIRE(kernels.size() >= 4);
  REQUIRE(run_bounded(*cli, {"cache", "clear"}, env, io.path(), 60).status == 0);

  // A FIFO at every other entry's path; every gfx942 prefix directory a link to `outside`.
  cache::DiskStore store(cache.path());
  std::size_t fifos = 0;
  for (std::size_t i = 0; i < kernels.size(); ++i) {
    const std::string target = kernels[i]["target"], key = kernels[i]["key"];
    const std::string path = store.entry_path(target, key);
    if (target == "gfx942") {
      const fs::path prefix = fs::path(path).parent_path();
      fs::create_directories(prefix.parent_path());
      fs::remove_all(prefix);
      fs::create_symlink(outside.path(), prefix);
    } else if (i % 2 == 0) {
      fs::create_directories(fs::path(path).parent_path());
      REQUIRE(::mkfifo(path.c_str(), 0644) == 0);
      ++fifos;
    }
  }
  REQUIRE(fifos >= 1);
  const auto before = cache_fixtures::snapshot(outside.path());

  const CliResult again = run_bounded(*cli, warm, env, io.path(), 120);
  CHECK_FALSE(again.timed_out);
  CHECK(again.status == 0);
  const CliResult verify = run_bounded(*cli, {"cache", "verify"}, env, io.path(), 60);
  CHECK_FALSE(verify.timed_out);
  CHECK(verify.status == 0);
  CHECK(cache_fixtures::snapshot(outside.path()) == before);
  CHECK(run_bounded(*cli, {"cache", "stats", "--json"}, env, io.path(), 60).status == 0);
}

TEST_CASE("cli: links at entries, at the prune lock and at export's temp names redirect no read "
          "or write",
          "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip({"sm_90a"})) return;
  TempDir cache, io, outside;
  const std::string shapes = io.path() + "/shapes.csv";
  std::ofstream(shapes) << "4096,2048\n";
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::vector<std::string> warm{"warmup", "--shapes", shapes, "--m", "1,32", "--bias",
                                      "on",     "--target", "sm_90a", "--json"};
  const CliResult first = run_bounded(*cli, warm, env, io.path(), 120);
  REQUIRE(first.status == 0);
  const auto kernels = nlohmann::json::parse(first.out)["kernels"];
  REQUIRE(kernels.size() >= 2);

  // Every entry moved outside, a link to it left in its place.
  cache::DiskStore store(cache.path());
  for (std::size_t i = 0; i < kernels.size(); ++i) {
    const std::string target = kernels[i]["target"], key = kernels[i]["key"];
    const std::string path = store.entry_path(target, key);
    const std::string moved = outside.path() + "/entry" + std::to_string(i);
    fs::rename(path, moved);
    fs::create_symlink(moved, path);
  }
  // The prune lock and the names a predictable export temp file would take point outside.
  const std::string lock = cache.path() + "/v1/.prune.lock";
  fs::remove(lock);
  fs::create_symlink(outside.path() + "/made-by-prune", lock);
  const std::string archive = io.path() + "/cache.tar";
  const std::string victim = outside.path() + "/victim";
  std::ofstream(victim) << "must stay as it is\n";
  for (int pid = ::getpid(); pid < ::getpid() + 400; ++pid)
    fs::create_symlink(victim, archive + ".tmp." + std::to_string(pid));
  fs::create_symlink(victim, archive);
  const auto before = cache_fixtures::snapshot(outside.path());

  const CliResult again = run_bounded(*cli, warm, env, io.path(), 120);
  REQUIRE(again.status == 0);
  for (const auto& k : nlohmann::json::parse(again.out)["kernels"]) {
    INFO(k.dump());
    CHECK(k["status"] == "compiled");  // none served through its link
  }
  CHECK(run_bounded(*cli, {"cache", "prune", "--max-bytes", "1G"}, env, io.path(), 60).status == 0);
  CHECK(run_bounded(*cli, {"cache", "export", archive}, env, io.path(), 60).status == 0);
  CHECK(cache_fixtures::snapshot(outside.path()) == before);
  CHECK_FALSE(fs::is_symlink(archive));
  CHECK(run_bounded(*cli, {"cache", "verify"}, env, io.path(), 60).status == 0);
}

TEST_CASE("cli cache import and export: a FIFO, a device, an empty file or a directory exits 2 at "
          "once, naming the path",
          "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::string fifo = io.path() + "/fifo.tar", empty = io.path() + "/empty.tar";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  std::ofstream(empty).flush();
  for (const std::string& path : {fifo, std::string("/dev/null"), empty}) {
    const CliResult r = run_bounded(*cli, {"cache", "import", path}, env, io.path(), 30);
    CHECK_FALSE(r.timed_out);
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains(path));
  }
  const CliResult dir = run_bounded(*cli, {"cache", "export", io.path()}, env, io.path(), 30);
  CHECK(dir.status == 2);
  CHECK_THAT(dir.err, Catch::Contains("is a directory"));
}

}  // namespace fp8jit::test
