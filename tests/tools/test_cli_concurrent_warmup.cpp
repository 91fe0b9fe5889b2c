// Reliability: eight `fp8jit warmup` processes fill the same empty cache at once.
//
// "Loadable" on a machine without a GPU means: every entry decodes and verifies (magic, lengths,
// checksum, key, target), and its binary is a well-formed ELF object of the right machine (cubin:
// EM_CUDA, AMD code object: EM_AMDGPU). Each process checks the same of the binary it got, built
// or read back from the cache (fp8jit::warmup does, per kernel), and reports it in its JSON.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "cache/inspect.hpp"
#include "cache/layers.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/tools/cli.hpp"

namespace fp8jit::test {

TEST_CASE("cli warmup: 8 processes warm the same empty cache at once: each kernel compiled once, "
          "every entry valid, none partial, each reader got a loadable kernel",
          "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip({"sm_90a", "gfx942"})) return;
  TempDir cache, io;
  const std::string shapes = io.path() + "/shapes.csv";
  std::ofstream(shapes) << "4096,2048\n1024,4096\n";
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::vector<std::string> args{"warmup", "--shapes", shapes,          "--m", "1,32",
                                      "--bias", "on",       "--target", "sm_90a,gfx942",
                                      "-j1",    "--json"};
  constexpr int kProcesses = 8;
  std::vector<CliProcess> procs;
  for (int i = 0; i < kProcesses; ++i)
    procs.emplace_back(*cli, args, env, io.path() + "/proc" + std::to_string(i));

  std::set<std::string> keys;  // what the processes got
  std::size_t compiled = 0, n = 0;
  for (int i = 0; i < kProcesses; ++i) {
    const CliResult r = procs[i].wait();
    INFO("process " << i << " exit " << r.status << "\n" << r.err);
    REQUIRE(r.status == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["summary"]["failed"] == 0);
    if (i == 0) n = j["kernels"].size();
    CHECK(j["kernels"].size() == n);
    compiled += j["summary"]["compiled"].get<std::size_t>();
    for (const auto& k : j["kernels"]) {
      INFO(k.dump());
      CHECK(k["error"] == "");
      CHECK_FALSE(k["binary_format"].get<std::string>().empty());  // a well-formed ELF
      CHECK(k["binary_bytes"].get<std::uint64_t>() > 0);
      keys.insert(k["key"].get<std::string>());
    }
  }
  REQUIRE(n >= 4);
  CHECK(keys.size() == n);  // all eight got the same kernels
  CHECK(compiled == n);     // each kernel compiled once in all: the key locks single-flight it

  // Nothing partial: under the version directory only entries (and the prune lock) remain; no
  // temp file, no quarantined file, nothing else.
  std::size_t entries = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(cache.path())) {
    if (!f.is_regular_file()) continue;
    const std::string name = f.path().filename().string();
    INFO(f.path().string());
    const bool entry = f.path().extension() == ".fp8k";
    CHECK((entry || name == ".prune.lock"));  // no temp, no key lock left behind
    if (!entry) continue;
    ++entries;
    const cache::CheckedFile checked = cache::read_entry_file(f.path().string());
    INFO(checked.detail);
    REQUIRE(checked.ok());
    CHECK(keys.count(checked.entry->key) == 1);
    const auto& bin = checked.entry->binary;
    REQUIRE(bin.size() > 64);
    CHECK(std::memcmp(bin.data(), "\x7f" "ELF", 4) == 0);
    const int machine = bin[18] | bin[19] << 8;
    CHECK(machine == (checked.entry->target.rfind("sm_", 0) == 0 ? 190 : 224));
  }
  CHECK(entries == n);

  const CliResult v = run_cli(*cli, {"cache", "verify", "--json"}, env, io.path());
  CHECK(v.status == 0);
  const nlohmann::json report = nlohmann::json::parse(v.out);
  CHECK(report["entries_ok"] == n);
  CHECK(report["damaged"].empty());
  CHECK(report["temps"] == 0);
  CHECK(report["quarantined"] == 0);
}

}  // namespace fp8jit::test

namespace fp8jit::test {

TEST_CASE("cli warmup: warmups racing cache clear and prune loops never fail spuriously",
          "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip({"sm_90a", "gfx942"})) return;
  TempDir cache, io;
  const std::string shapes = io.path() + "/shapes.csv";
  std::ofstream(shapes) << "4096,2048\n1024,4096\n2048,1024\n";
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const std::vector<std::string> args{"warmup", "--shapes", shapes,          "--m", "1,32",
                                      "--bias", "both",     "--target", "sm_90a,gfx942",
                                      "-j1",    "--json"};
  // Clears and prunes (to one byte: everything) in a loop, in this process, while they run.
  std::atomic<bool> stop{false};
  std::atomic<int> sweeps{0};
  std::jthread sweeper([&] {
    cache::CacheLayers layers(cache::LayersConfig{cache.path()});
    layers.set_warning_handler([](const std::string&) {});
    while (!stop) {
      cache::clear(layers);
      layers.prune(1);
      ++sweeps;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  constexpr int kProcesses = 4;
  std::vector<CliProcess> procs;
  for (int i = 0; i < kProcesses; ++i)
    procs.emplace_back(*cli, args, env, io.path() + "/proc" + std::to_string(i));
  for (int i = 0; i < kProcesses; ++i) {
    const CliResult r = procs[i].wait();
    INFO("process " << i << " exit " << r.status << "\n" << r.err << "\n" << r.out.substr(0, 4000));
    CHECK(r.status == 0);
    CHECK(r.err.find("no entry is at") == std::string::npos);
  }
  stop = true;
  sweeper.join();
  CHECK(sweeps > 10);
}

}  // namespace fp8jit::test
