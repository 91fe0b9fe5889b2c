// run_compiler, the offline toolchains' shared step, with /bin/sh standing in for the compiler:
// `sh -c script source -o output` runs the script with $0 = source and $2 = output. TempDir and
// the reclaiming of the temp directories that killed compiles leave behind.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "compiler/run_compiler.hpp"
#include "util/process.hpp"
#include "fp8jit/error.hpp"

using namespace fp8jit;
using namespace fp8jit::compiler;
using namespace fp8jit::util;
using Catch::Matchers::Contains;

namespace {

CompileRequest request(const std::string& dump_dir) {
  CompileRequest req;
  req.source = "int k;\n";
  req.kernel_name = "k";
  req.target = Target::parse("emu-gfx942");
  req.spec = "test spec";
  req.dump_dir = dump_dir;
  return req;
}

namespace fs = std::filesystem;

// A pid that names no process: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return pid;
}

// Sets the modification time of `p` (not of what a link names) `seconds` into the past.
void age(const fs::path& p, int seconds) {
  const timespec t[2] = {{std::time(nullptr) - seconds, 0}, {std::time(nullptr) - seconds, 0}};
  REQUIRE(::utimensat(AT_FDCWD, p.c_str(), t, AT_SYMLINK_NOFOLLOW) == 0);
}

void write_file(const fs::path& p) { std::ofstream(p) << "x"; }

// A directory as a killed compile leaves it: source, output and a nested directory, `seconds`
// old.
fs::path left_behind(const fs::path& parent, const std::string& name, int seconds) {
  const fs::path d = parent / name;
  fs::create_directories(d / "nested");
  write_file(d / "kernel.hip");
  write_file(d / "nested" / "kernel.co");
  age(d, seconds);
  return d;
}

// Restores an environment variable on scope exit.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("run_compiler returns the output file's bytes and the compiler's log", "[process]") {
  TempDir dir("fp8jit-test");
  const auto req = request(dir.path().string());
  const auto src = dir.path() / "kernel.cpp";
  const auto out = dir.path() / "kernel.so";
  const Binary bin =
      run_compiler(req, "/bin/sh", {"-c", "cp \"$0\" \"$2\"; echo compiled"}, src, out, "sh");
  CHECK(std::string(bin.bytes.begin(), bin.bytes.end()) == req.source);
  CHECK(bin.log == "compiled\n");
  // Writing nothing is not the helper's error: each toolchain names the file it expected.
  std::filesystem::remove(out);
  CHECK(run_compiler(req, "/bin/sh", {"-c", "true"}, src, out, "sh").bytes.empty());
}

TEST_CASE("run_compiler throws CompileError with the log, options, spec and source", "[process]") {
  TempDir dir("fp8jit-test");
  const auto req = request(dir.path().string());
  try {
    run_compiler(req, "/bin/sh", {"-c", "echo broken >&2; exit 3"}, dir.path() / "kernel.cpp",
                 dir.path() / "kernel.so", "the test compiler");
    FAIL("a compiler that exits 3 succeeded");
  } catch (const CompileError& e) {
    CHECK_THAT(e.what(), Contains("failed to compile k for emu-gfx942 with the test compiler: "
                                  "exit status 3"));
    CHECK(e.log() == "broken\n");
    CHECK(e.options() == "-c echo broken >&2; exit 3 ");
    CHECK(e.spec() == "test spec");
    std::ifstream dumped(e.source_path());
    CHECK(std::string(std::istreambuf_iterator<char>(dumped), {}) == req.source);
  }
}

TEST_CASE("TempDir: a private <prefix>-<pid>-XXXXXX removed with its contents", "[process]") {
  fs::path kept;
  {
    TempDir dir("fp8jit-test");
    kept = dir.path();
    const std::string name = kept.filename().string();
    const std::string head = "fp8jit-test-" + std::to_string(::getpid()) + "-";
    CHECK(name.rfind(head, 0) == 0);
    CHECK(name.size() == head.size() + 6);
    CHECK((fs::status(kept).permissions() & fs::perms::all) == fs::perms::owner_all);
    write_file(kept / "kernel.hip");
  }
  CHECK_FALSE(fs::exists(kept));
}

TEST_CASE(
    "reclaim_stale_temp_dirs: only old directories of dead processes and never through a link",
    "[process]") {
  TempDir tmp("fp8jit-test");
  const fs::path parent = tmp.path() / "tmp", outside = tmp.path() / "outside";
  fs::create_directories(parent);
  fs::create_directories(outside);
  write_file(outside / "precious");
  const std::string dead = std::to_string(dead_pid()), live = std::to_string(::getpid());
  const int old = 3600;

  const fs::path stale = left_behind(parent, "fp8jit-clang-" + dead + "-aB3xYz", old);
  // A link inside a stale directory is removed, not followed.
  fs::create_symlink(outside / "precious", stale / "link");
  fs::create_directory_symlink(outside, stale / "nested" / "dirlink");
  age(stale, old);
  const fs::path young = left_behind(parent, "fp8jit-clang-" + dead + "-young1", 10);
  const fs::path running = left_behind(parent, "fp8jit-clang-" + live + "-live01", old);
  const fs::path other_prefix = left_behind(parent, "fp8jit-emu-" + dead + "-aB3xYz", old);
  const fs::path no_pid = left_behind(parent, "fp8jit-clang-aB3xYz", old);
  // Planted by someone else: a link named like a stale directory, to a directory of theirs.
  const fs::path planted = parent / ("fp8jit-clang-" + dead + "-link01");
  fs::create_directory_symlink(outside, planted);
  age(planted, old);
  // A file named like one.
  const fs::path file = parent / ("fp8jit-clang-" + dead + "-file01");
  write_file(file);
  age(file, old);
  fs::path foreign;
  if (::geteuid() == 0) {  // root can make a directory another user owns
    foreign = left_behind(parent, "fp8jit-clang-" + dead + "-other1", old);
    REQUIRE(::chown(foreign.c_str(), 65534, 65534) == 0);
  }

  CHECK(reclaim_stale_temp_dirs(parent, "fp8jit-clang", std::chrono::seconds(600)) == 1);
  CHECK_FALSE(fs::exists(fs::symlink_status(stale)));
  for (const auto& kept : {young, running, other_prefix, no_pid})
    CHECK(fs::exists(kept / "nested" / "kernel.co"));
  CHECK(fs::is_symlink(planted));
  CHECK(fs::is_regular_file(file));
  CHECK(fs::is_regular_file(outside / "precious"));
  if (!foreign.empty()) CHECK(fs::exists(foreign / "nested" / "kernel.co"));
  // Nothing left to reclaim the second time.
  CHECK(reclaim_stale_temp_dirs(parent, "fp8jit-clang", std::chrono::seconds(600)) == 0);
}

TEST_CASE("TempDir: creating one reclaims the stale directories of its prefix", "[process]") {
  TempDir tmp("fp8jit-test");
  const fs::path stale =
      left_behind(tmp.path(), "fp8jit-clang-" + std::to_string(dead_pid()) + "-aB3xYz",
                  static_cast<int>(kStaleTempDirAge.count()) + 60);
  const ScopedEnv env("TMPDIR", tmp.path().string());
  TempDir dir("fp8jit-clang");
  CHECK(dir.path().parent_path() == tmp.path());
  CHECK_FALSE(fs::exists(stale));
}
