// `fp8jit cache ...` end to end on a cache filled by a real `fp8jit warmup`.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/tools/cli.hpp"

namespace fp8jit::test {
namespace {

using nlohmann::json;

// A cache holding a few sm_90a and gfx942 kernels of one small weight; REQUIREs success.
json warm(const std::string& cli, const std::map<std::string, std::string>& env,
          const std::string& io) {
  const std::string shapes = io + "/shapes.csv";
  std::ofstream(shapes) << "2048,1024\n";
  const CliResult w = run_cli(cli,
                              {"warmup", "--shapes", shapes, "--m", "1", "--bias", "off",
                               "--target", "sm_90a,gfx942", "-j2", "--json"},
                              env, io);
  REQUIRE(w.status == 0);
  const CliResult ls = run_cli(cli, {"cache", "ls", "--json"}, env, io);
  REQUIRE(ls.status == 0);
  return json::parse(ls.out)["entries"];
}

void flip_byte(const std::string& path, std::uint64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&c, 1);
  REQUIRE(f.flush());
}

}  // namespace

TEST_CASE("cli cache verify --json names the one entry whose byte was flipped, and only it",
          "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip({"sm_90a", "gfx942"})) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const json entries = warm(*cli, env, io.path());
  REQUIRE(entries.size() >= 4);

  const CliResult clean = run_cli(*cli, {"cache", "verify", "--json"}, env, io.path());
  REQUIRE(clean.status == 0);
  const json ok = json::parse(clean.out);
  CHECK(ok["ok"] == true);
  CHECK(ok["entries"] == entries.size());
  CHECK(ok["entries_ok"] == entries.size());
  CHECK(ok["damaged"].empty());

  const json& victim = entries[entries.size() / 2];
  const std::string path = victim["path"];
  flip_byte(path, victim["size"].get<std::uint64_t>() / 2);  // inside the binary, not the header

  const CliResult bad = run_cli(*cli, {"cache", "verify", "--json"}, env, io.path());
  CHECK(bad.status == 1);
  const json report = json::parse(bad.out);
  CHECK(report["ok"] == false);
  CHECK(report["entries"] == entries.size());
  CHECK(report["entries_ok"] == entries.size() - 1);
  REQUIRE(report["damaged"].size() == 1);
  CHECK(report["damaged"][0]["path"] == path);
  CHECK(report["damaged"][0]["damage"] == "bad_checksum");
  // The human form names it too.
  const CliResult text = run_cli(*cli, {"cache", "verify"}, env, io.path());
  CHECK(text.status == 1);
  CHECK_THAT(text.out, Catch::Contains(path) && Catch::Contains("DAMAGED"));
}

TEST_CASE("cli cache show: spec, metadata, resources, source and v_mfma disassembly of gfx942",
          "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip({"sm_90a", "gfx942"})) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const json entries = warm(*cli, env, io.path());
  std::string key, kernel;
  for (const auto& e : entries)
    if (e["target"] == "gfx942" && e["kernel_name"].get<std::string>().rfind("fp8gemm", 0) == 0) {
      key = e["key"];
      kernel = e["kernel_name"];
    }
  REQUIRE_FALSE(key.empty());

  const CliResult show = run_cli(*cli, {"cache", "show", key.substr(0, 10)}, env, io.path());
  REQUIRE(show.status == 0);
  CHECK_THAT(show.out, Catch::Contains(key) && Catch::Contains("fp8jit.spec/") &&
                           Catch::Contains("registers=") && Catch::Contains(kernel) &&
                           Catch::Contains("well-formed ELF"));

  const CliResult src = run_cli(*cli, {"cache", "show", key, "--source"}, env, io.path());
  REQUIRE(src.status == 0);
  CHECK_THAT(src.out, Catch::Contains("--- source ---") && Catch::Contains("extern \"C\""));

  const CliResult dis = run_cli(*cli, {"cache", "show", key, "--disasm"}, env, io.path());
  if (dis.out.find("disassembler not available") != std::string::npos) {
    WARN("SKIPPED (disassembly part): " << dis.out);
    CHECK(dis.status == 1);
    return;
  }
  REQUIRE(dis.status == 0);
  CHECK_THAT(dis.out, Catch::Contains("v_mfma"));

  const CliResult js = run_cli(*cli, {"cache", "show", key, "--json"}, env, io.path());
  REQUIRE(js.status == 0);
  const json j = json::parse(js.out);
  CHECK(j["key"] == key);
  CHECK(j["meta"]["kernel_name"] == kernel);
  CHECK(j["binary_problem"] == "");

  const CliResult missing = run_cli(*cli, {"cache", "show", "0123456789abcdef"}, env, io.path());
  CHECK(missing.status == 1);
  CHECK_THAT(missing.err, Catch::Contains("0123456789abcdef"));
}

TEST_CASE("cli cache stats, export, clear, import and prune round-trip the entries", "[cli]") {
  const auto cli = cli_or_skip();
  if (!cli || !toolchains_or_skip({"sm_90a", "gfx942"})) return;
  TempDir cache, io;
  const std::map<std::string, std::string> env{{"FP8JIT_CACHE_DIR", cache.path()}};
  const json entries = warm(*cli, env, io.path());
  const std::size_t n = entries.size();

  const CliResult st = run_cli(*cli, {"cache", "stats", "--json"}, env, io.path());
  REQUIRE(st.status == 0);
  const json stats = json::parse(st.out);
  REQUIRE(stats["layers"].size() == 1);
  CHECK(stats["layers"][0]["entries"] == n);
  CHECK(stats["layers"][0]["targets"].contains("gfx942"));

  const std::string archive = io.path() + "/kernels.tar";
  const CliResult ex = run_cli(*cli, {"cache", "export", archive, "--json"}, env, io.path());
  REQUIRE(ex.status == 0);
  CHECK(json::parse(ex.out)["entries"] == n);

  const CliResult cl = run_cli(*cli, {"cache", "clear", "--json"}, env, io.path());
  REQUIRE(cl.status == 0);
  CHECK(json::parse(cl.out)["entries_removed"] == n);
  const CliResult empty = run_cli(*cli, {"cache", "ls", "--json"}, env, io.path());
  CHECK(json::parse(empty.out)["entries"].empty());

  const CliResult im = run_cli(*cli, {"cache", "import", archive, "--json"}, env, io.path());
  REQUIRE(im.status == 0);
  CHECK(json::parse(im.out)["imported"] == n);
  const CliResult vf = run_cli(*cli, {"cache", "verify", "--json"}, env, io.path());
  CHECK(vf.status == 0);
  CHECK(json::parse(vf.out)["entries_ok"] == n);

  const CliResult pr = run_cli(*cli, {"cache", "prune", "--max-bytes", "1", "--json"}, env,
                               io.path());
  REQUIRE(pr.status == 0);
  CHECK(json::parse(pr.out)["entries_kept"] == 0);
  CHECK(json::parse(run_cli(*cli, {"cache", "ls", "--json"}, env, io.path()).out)["entries"]
            .empty());
}

}  // namespace fp8jit::test
