#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cache/disk_store.hpp"
#include "util/time.hpp"
#include "fp8jit/error.hpp"

namespace fc = fp8jit::cache;
namespace fs = std::filesystem;

namespace {

// A fresh directory under TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "fp8jit-cache-test.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string str(const std::string& sub = "") const { return (path_ / sub).string(); }

 private:
  fs::path path_;
};

fc::Entry make_entry(const std::string& target, const std::string& name,
                     std::size_t binary_bytes = 256) {
  fc::Entry e;
  e.key = fc::derive_key(
      {"spec " + name, "source " + name, "nvrtc", "nvrtc 13.0", target, "", "0.1.0"});
  e.target = target;
  e.meta = {{"kernel_name", name}, {"compile_ms", 12.5}, {"created", fp8jit::util::utc_now_iso8601()}};
  for (std::size_t i = 0; i < binary_bytes; ++i)
    e.binary.push_back(static_cast<std::uint8_t>(i * 31 + name.size()));
  e.source = "// source of " + name + "\n";
  return e;
}

// Every path under `root` with its type, size and mtime (ns): any write, rename, create or touch
// changes it.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  std::vector<fs::path> paths{root};
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    paths.push_back(it->path());
  }
  for (const auto& p : paths) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    out[p.string()] = std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                      std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  }
  return out;
}

std::vector<std::string> files_containing(const fs::path& root, const std::string& part) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().find(part) != std::string::npos)
      out.push_back(it->path().string());
  }
  return out;
}

void set_old_mtime(const std::string& path) {
  const struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};  // 2001-09-09
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

std::int64_t mtime_sec(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mtim.tv_sec;
}

void flip_byte(const std::string& path, std::size_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x40));
}

struct Warnings {
  std::vector<std::string> lines;
  void attach(fc::DiskStore& store) {
    store.set_warning_handler([this](const std::string& w) { lines.push_back(w); });
  }
};

}  // namespace

TEST_CASE("cache: target directory names are safe and map back", "[cache]") {
  CHECK(fc::target_dir_name("sm_90a") == "sm_90a");
  CHECK(fc::target_dir_name("gfx942:sramecc+:xnack-") == "gfx942%3Asramecc+%3Axnack-");
  CHECK(fc::target_dir_name("..") == "%2E.");
  CHECK(fc::target_dir_name("-x") == "%2Dx");
  CHECK(fc::target_dir_name("a/b") == "a%2Fb");
  CHECK(fc::target_dir_name("50%") == "50%25");
  CHECK_THROWS_AS(fc::target_dir_name(""), fp8jit::InvalidArgument);
  for (const std::string& t :
       std::vector<std::string>{"sm_90a", "gfx942:sramecc+:xnack-", "..", ".", "-x", "a/b", "50%",
                                std::string("nul\0x", 5), "caf\xc3\xa9"}) {
    const std::string name = fc::target_dir_name(t);
    CHECK(name.find('/') == std::string::npos);
    CHECK(name.find(':') == std::string::npos);
    CHECK(name.find('\0') == std::string::npos);
    CHECK(name != ".");
    CHECK(name != "..");
    CHECK(fc::target_from_dir_name(name) == t);
  }
  for (const std::string bad : {"", "%4", "%zz", "%3a", "a:b", "%41", ".hidden"}) {
    CHECK_FALSE(fc::target_from_dir_name(bad).has_value());
  }
}

TEST_CASE("cache: entry paths follow <root>/v<fmt>/<target>/<k0k1>/<key>.fp8k", "[cache]") {
  fc::DiskStore store("/var/cache/fp8jit");
  const std::string key = "0123456789abcdef0123456789abcdef";
  CHECK(store.entry_path("gfx942:sramecc+:xnack-", key) ==
        "/var/cache/fp8jit/v1/gfx942%3Asramecc+%3Axnack-/01/" + key + ".fp8k");
  CHECK_THROWS_AS(store.entry_path("sm_90a", "../../etc/passwd"), fp8jit::InvalidArgument);
  CHECK_THROWS_AS(store.entry_path("", key), fp8jit::InvalidArgument);
  CHECK_THROWS_AS(fc::DiskStore(""), fp8jit::InvalidArgument);
}

TEST_CASE("cache: store then load round trips, and a miss is silent and creates nothing", "[cache]") {
  TempDir tmp;
  fc::DiskStore store(tmp.str("cache"));
  Warnings warnings;
  warnings.attach(store);
  const fc::Entry e = make_entry("gfx942:sramecc+:xnack-", "a");

  CHECK_FALSE(store.load(e.target, e.key).has_value());
  CHECK_FALSE(fs::exists(tmp.str("cache")));  // directories appear on the first store
  CHECK(store.list(true).empty());

  const fc::StoreResult r = store.store(e);
  REQUIRE(r.ok());
  CHECK(r.outcome == fc::StoreResult::Outcome::published);
  CHECK(r.error.empty());
  const std::string path = store.entry_path(e.target, e.key);
  CHECK(fs::is_regular_file(path));
  CHECK((fs::status(path).permissions() & fs::perms::others_read) != fs::perms::none);

  const auto loaded = store.load(e.target, e.key);
  REQUIRE(loaded.has_value());
  CHECK(loaded->key == e.key);
  CHECK(loaded->target == e.target);
  CHECK(loaded->meta == e.meta);
  CHECK(loaded->binary == e.binary);
  CHECK(loaded->source == e.source);
  // Same key for another target is another file.
  CHECK_FALSE(store.load("sm_90a", e.key).has_value());

  // Storing it again finds the valid winner and keeps it.
  CHECK(store.store(e).outcome == fc::StoreResult::Outcome::kept_existing);

  // list: entries only, not temp or quarantined files; target recovered from the directory.
  const fs::path dir = fs::path(path).parent_path();
  std::ofstream(dir / (e.key + ".tmp.1.abcdef")) << "partial";
  std::ofstream(dir / (e.key + ".fp8k.bad-20250101T000000Z")) << "junk";
  const auto listed = store.list(true);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].path == path);
  CHECK(listed[0].target == e.target);
  CHECK(listed[0].key == e.key);
  CHECK(listed[0].size == fs::file_size(path));
  CHECK(listed[0].verified);
  CHECK(listed[0].problem.empty());
  CHECK_FALSE(store.list(false)[0].verified);
  CHECK(warnings.lines.empty());
}

TEST_CASE("cache: a hit refreshes the entry's mtime", "[cache]") {
  TempDir tmp;
  fc::DiskStore store(tmp.str());
  const fc::Entry e = make_entry("sm_90a", "lru");
  REQUIRE(store.store(e).ok());
  const std::string path = store.entry_path(e.target, e.key);
  set_old_mtime(path);
  REQUIRE(store.load(e.target, e.key).has_value());
  CHECK(mtime_sec(path) > 1000000000 + 24 * 3600);
}

TEST_CASE("cache: a corrupt entry is quarantined, reported once and missed", "[cache]") {
  TempDir tmp;
  fc::DiskStore store(tmp.str());
  Warnings warnings;
  warnings.attach(store);
  const fc::Entry e = make_entry("sm_90a", "corrupt");
  REQUIRE(store.store(e).ok());
  const std::string path = store.entry_path(e.target, e.key);
  flip_byte(path, 200);

  CHECK_FALSE(store.load(e.target, e.key).has_value());
  REQUIRE(warnings.lines.size() == 1);
  CHECK_THAT(warnings.lines[0], Catch::Contains(path) && Catch::Contains("checksum mismatch") &&
                                    Catch::Contains("moved to " + path + ".bad-"));
  CHECK_FALSE(fs::exists(path));
  CHECK(files_containing(tmp.path(), ".bad-").size() == 1);

  CHECK_FALSE(store.load(e.target, e.key).has_value());  // now a plain miss
  CHECK(warnings.lines.size() == 1);

  REQUIRE(store.store(e).outcome == fc::StoreResult::Outcome::published);  // replaced
  CHECK(store.load(e.target, e.key).has_value());
  CHECK(warnings.lines.size() == 1);
}

TEST_CASE("cache: an entry the driver refuses is quarantined on request", "[cache]") {
  TempDir tmp;
  const fc::Entry e = make_entry("sm_90a", "refused");
  fc::DiskStore store(tmp.str());
  REQUIRE(store.store(e).ok());
  const std::string path = store.entry_path(e.target, e.key);
  const auto before = snapshot(tmp.path());

  fc::DiskStore read_only(tmp.str(), /*read_only=*/true);
  Warnings ro_warnings;
  ro_warnings.attach(read_only);
  read_only.quarantine(e.target, e.key, "CUDA_ERROR_INVALID_IMAGE");
  read_only.quarantine(e.target, e.key, "CUDA_ERROR_INVALID_IMAGE");
  REQUIRE(ro_warnings.lines.size() == 1);
  CHECK_THAT(ro_warnings.lines[0], Catch::Contains("CUDA_ERROR_INVALID_IMAGE"));
  CHECK(snapshot(tmp.path()) == before);

  Warnings warnings;
  warnings.attach(store);
  store.quarantine(e.target, e.key, "CUDA_ERROR_INVALID_IMAGE");
  REQUIRE(warnings.lines.size() == 1);
  CHECK_THAT(warnings.lines[0], Catch::Contains(path) &&
                                    Catch::Contains("CUDA_ERROR_INVALID_IMAGE") &&
                                    Catch::Contains("moved to"));
  CHECK_FALSE(fs::exists(path));
  CHECK(files_containing(tmp.path(), ".bad-").size() == 1);
  store.quarantine(e.target, e.key, "again");  // no file: nothing to do
  CHECK(warnings.lines.size() == 1);
  CHECK_FALSE(store.load(e.target, e.key).has_value());
}

TEST_CASE("cache: an entry under another key's name is rejected", "[cache]") {
  TempDir tmp;
  fc::DiskStore store(tmp.str());
  Warnings warnings;
  warnings.attach(store);
  const fc::Entry a = make_entry("sm_90a", "a"), b = make_entry("sm_90a", "b");
  REQUIRE(store.store(a).ok());
  const std::string b_path = store.entry_path(b.target, b.key);
  fs::create_directories(fs::path(b_path).parent_path());
  fs::copy_file(store.entry_path(a.target, a.key), b_path);

  CHECK_FALSE(store.load(b.target, b.key).has_value());
  REQUIRE(warnings.lines.size() == 1);
  CHECK_THAT(warnings.lines[0], Catch::Contains("holds key " + a.key));
  // A damaged file under the final name is replaced by the next store.
  std::ofstream(b_path) << "garbage";
  CHECK(store.store(b).outcome == fc::StoreResult::Outcome::published);
  CHECK(store.load(b.target, b.key).has_value());
}

TEST_CASE("cache: a read-only store never writes, renames or touches", "[cache]") {
  TempDir tmp;
  const std::string root = tmp.str("layer");
  const fc::Entry good = make_entry("sm_90a", "good"), bad = make_entry("sm_90a", "bad");
  {
    fc::DiskStore writer(root);
    REQUIRE(writer.store(good).ok());
    REQUIRE(writer.store(bad).ok());
    flip_byte(writer.entry_path(bad.target, bad.key), 50);
    for (const auto& p :
         {writer.entry_path(good.target, good.key), writer.entry_path(bad.target, bad.key)}) {
      set_old_mtime(p);
    }
  }
  // NOTE: tests run as root, for whom chmod does not stop writes; the snapshot of names, sizes
  // and mtimes (directories included) is what proves nothing was written.
  const auto before = snapshot(root);

  fc::DiskStore store(root, /*read_only=*/true);
  CHECK(store.read_only());
  Warnings warnings;
  warnings.attach(store);
  const auto hit = store.load(good.target, good.key);
  REQUIRE(hit.has_value());
  CHECK(hit->binary == good.binary);
  CHECK_FALSE(store.load(bad.target, bad.key).has_value());
  CHECK_FALSE(store.load(bad.target, bad.key).has_value());
  REQUIRE(warnings.lines.size() == 1);  // once, although the file stays
  CHECK_THAT(warnings.lines[0], Catch::Contains("read-only"));
  const fc::Entry fresh = make_entry("gfx950", "fresh");
  CHECK_FALSE(store.load(fresh.target, fresh.key).has_value());
  const fc::StoreResult r = store.store(fresh);
  CHECK(r.outcome == fc::StoreResult::Outcome::failed);
  CHECK_THAT(r.error, Catch::Contains("read-only"));
  const auto listed = store.list(true);
  REQUIRE(listed.size() == 2);
  int problems = 0;
  for (const auto& info : listed) problems += !info.problem.empty();
  CHECK(problems == 1);

  CHECK(snapshot(root) == before);

  fc::DiskStore absent(tmp.str("nothing-here"), /*read_only=*/true);
  CHECK_FALSE(absent.store(fresh).ok());
  CHECK_FALSE(absent.load(fresh.target, fresh.key).has_value());
  CHECK_FALSE(fs::exists(tmp.str("nothing-here")));
}

TEST_CASE("cache: storing where nothing can be written returns an error", "[cache]") {
  TempDir tmp;
  std::ofstream(tmp.str("file")) << "a regular file";
  fc::DiskStore store(tmp.str("file/cache"));
  const fc::Entry e = make_entry("sm_90a", "x");
  fc::StoreResult r;
  REQUIRE_NOTHROW(r = store.store(e));
  CHECK(r.outcome == fc::StoreResult::Outcome::failed);
  CHECK_THAT(r.error, Catch::StartsWith("failed to store cache entry " + e.key));

  fc::Entry no_key = e;
  no_key.key = "not-a-key";
  REQUIRE_NOTHROW(r = fc::DiskStore(tmp.str("ok")).store(no_key));
  CHECK_FALSE(r.ok());
  CHECK_FALSE(fs::exists(tmp.str("ok")));
}

TEST_CASE("cache: a write that fails midway leaves neither a temp nor a final file", "[cache]") {
  TempDir tmp;
  fc::DiskStore store(tmp.str());
  const fc::Entry e = make_entry("sm_90a", "big", 1 << 16);
  // The child caps its file size (RLIMIT_FSIZE) so that the write fails as on a full disk.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit limit = {4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const fc::StoreResult r = store.store(e);
    const bool expected = !r.ok() && r.error.find("cannot write") != std::string::npos;
    if (!expected) std::fprintf(stderr, "child: unexpected store result: %s\n", r.error.c_str());
    ::_exit(expected ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_FALSE(fs::exists(store.entry_path(e.target, e.key)));
  CHECK(files_containing(tmp.path(), ".tmp.").empty());
  CHECK(store.store(e).outcome == fc::StoreResult::Outcome::published);  // without the cap
}

TEST_CASE("cache: concurrent writers in 8 processes publish only whole entries", "[cache]") {
  TempDir tmp;
  const std::string root = tmp.str("cache");
  constexpr int kProcesses = 8, kRounds = 20, kOwnKeys = 3;
  const fc::Entry shared = make_entry("gfx942:sramecc+:xnack-", "shared", 1 << 15);

  int gate[2];
  REQUIRE(::pipe(gate) == 0);
  std::vector<pid_t> children;
  for (int c = 0; c < kProcesses; ++c) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(gate[1]);
      char byte;
      while (::read(gate[0], &byte, 1) < 0) {
      }  // EOF: everyone starts together
      fc::DiskStore store(root);
      int failures = 0;
      for (int round = 0; round < kRounds; ++round) {
        failures += !store.store(shared).ok();
        for (int k = 0; k < kOwnKeys; ++k) {
          failures +=
              !store.store(make_entry("sm_90a", std::to_string(c) + "/" + std::to_string(k))).ok();
        }
        failures += !store.load(shared.target, shared.key).has_value();
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  int clean_exits = 0;
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    clean_exits += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  CHECK(clean_exits == kProcesses);

  fc::DiskStore store(root);
  const auto listed = store.list(true);
  CHECK(listed.size() == 1 + kProcesses * kOwnKeys);
  for (const auto& info : listed) CHECK(info.problem.empty());
  CHECK(files_containing(root, ".tmp.").empty());
  CHECK(files_containing(root, ".bad-").empty());
  const auto loaded = store.load(shared.target, shared.key);
  REQUIRE(loaded.has_value());
  CHECK(loaded->binary == shared.binary);
}
