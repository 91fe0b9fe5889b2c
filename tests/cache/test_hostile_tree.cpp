// The cache as hostile ground: what another user of a shared cache directory can place in it — a
// FIFO, a symbolic link (at an entry, a target or prefix directory, the prune lock), a directory
// where a file belongs, a forged entry with a valid checksum — must never hang a process, send a
// read or a write outside the cache, or be served. Operations that could hang run in a forked
// child with an alarm, so that a regression fails the test instead of stalling CI.
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "cache/archive.hpp"
#include "cache/inspect.hpp"
#include "cache/layers.hpp"
#include "cache/prune.hpp"
#include "cache/tree.hpp"
#include "fp8jit/error.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/cache/cache_fixtures.hpp"

namespace {

using namespace fp8jit::test::cache_fixtures;

// Runs `body` in a child that SIGALRM kills after `seconds`: a hang becomes a failure.
ChildResult run_bounded(int seconds, const std::function<int(std::string&)>& body) {
  return run_in_child([&](std::string& out) {
    ::alarm(static_cast<unsigned>(seconds));
    return body(out);
  });
}

bool hung(const ChildResult& r) { return WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGALRM; }

// Every regular file under `dir` (recursively) with its size and mtime.
std::map<std::string, std::string> outside_snapshot(const std::string& dir) {
  return snapshot(dir);
}

struct Scene {
  fp8jit::test::TempDir tmp;
  std::string root = tmp.path() + "/cache";
  std::string outside = tmp.path() + "/outside";  // where planted links point
  fc::Entry e = make_entry("sm_90a", "victim", 512);
  Scene() {
    fs::create_directories(outside);
    write_bytes(outside + "/precious", {1, 2, 3, 4});
  }
  std::string entry_path() const { return fc::DiskStore(root).entry_path(e.target, e.key); }
  std::string prefix_dir() const { return fs::path(entry_path()).parent_path().string(); }
  std::string target_dir() const { return fs::path(prefix_dir()).parent_path().string(); }
};

}  // namespace

TEST_CASE("cache: a FIFO at an entry's path hangs no load, store, verify, list or export, and is "
          "removed from a writable cache",
          "[cache]") {
  Scene s;
  fs::create_directories(s.prefix_dir());
  REQUIRE(::mkfifo(s.entry_path().c_str(), 0644) == 0);

  // Read-only first: reported, left in place, nothing hangs.
  ChildResult r = run_bounded(10, [&](std::string& out) {
    fc::CacheLayers layers(fc::LayersConfig{"", {s.root}});
    std::vector<std::string> warnings;
    layers.set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
    if (layers.load(s.e.target, s.e.key)) return 1;
    const fc::VerifyReport v = fc::verify(layers);
    if (v.damaged.size() != 1) return 2;
    out = v.damaged[0].detail;
    (void)fc::list_entries(layers);
    (void)fc::export_entries(layers, {}, s.tmp.path() + "/out.tar");
    return warnings.size() == 1 ? 0 : 3;
  });
  INFO(r.text);
  CHECK_FALSE(hung(r));
  CHECK(r.exited(0));
  CHECK(r.text.find("FIFO") != std::string::npos);
  struct stat st {};
  REQUIRE(::lstat(s.entry_path().c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));  // a read-only layer changes nothing

  // Writable: the FIFO is removed on load, and a store publishes a real entry.
  r = run_bounded(10, [&](std::string& out) {
    fc::DiskStore store(s.root);
    store.set_warning_handler([&](const std::string& w) { out += w + "\n"; });
    if (store.load(s.e.target, s.e.key)) return 1;
    if (!store.store(s.e).ok()) return 2;
    return store.load(s.e.target, s.e.key) ? 0 : 3;
  });
  INFO(r.text);
  CHECK_FALSE(hung(r));
  CHECK(r.exited(0));
  CHECK(r.text.find("removed it") != std::string::npos);
  REQUIRE(::lstat(s.entry_path().c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
}

TEST_CASE("cache: a FIFO given to import is refused at once", "[cache]") {
  Scene s;
  const std::string fifo = s.tmp.path() + "/archive.tar";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  const ChildResult r = run_bounded(10, [&](std::string& out) {
    fc::CacheLayers layers(fc::LayersConfig{s.root});
    try {
      fc::import_entries(fifo, layers);
    } catch (const fp8jit::InvalidArgument& e) {
      out = e.what();
      return 0;
    }
    return 1;
  });
  INFO(r.text);
  CHECK_FALSE(hung(r));
  CHECK(r.exited(0));
  CHECK(r.text.find("FIFO") != std::string::npos);
}

TEST_CASE("cache: a symbolic link at an entry's path is never served, and what it points to is "
          "never touched",
          "[cache]") {
  Scene s;
  // The link points at a valid entry outside the cache: the loader must not follow it.
  const std::string target = s.outside + "/entry.fp8k";
  write_bytes(target, fc::encode_entry(s.e));
  set_mtime(target, 1'000'000'000);
  fs::create_directories(s.prefix_dir());
  fs::create_symlink(target, s.entry_path());
  const auto before = outside_snapshot(s.outside);

  fc::CacheLayers ro(fc::LayersConfig{"", {s.root}});
  ro.set_warning_handler([](const std::string&) {});
  CHECK_FALSE(ro.load(s.e.target, s.e.key));
  const fc::VerifyReport v = fc::verify(ro);
  REQUIRE(v.damaged.size() == 1);  // load and verify agree: it is no entry
  CHECK(v.damaged[0].damage == fc::Damage::foreign);
  CHECK(fc::read_entry_file(s.entry_path()).damage == fc::Damage::unreadable);

  fc::DiskStore rw(s.root);
  std::vector<std::string> warnings;
  rw.set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
  CHECK_FALSE(rw.load(s.e.target, s.e.key));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("symbolic link") != std::string::npos);
  CHECK_FALSE(fs::is_symlink(s.entry_path()));  // the link is gone, not moved aside
  CHECK(fc::walk_tree(s.root).empty());
  CHECK(outside_snapshot(s.outside) == before);  // no mtime refreshed through the link
}

TEST_CASE("cache: a symbolic link as a target or prefix directory sends no write outside the "
          "cache",
          "[cache]") {
  for (const bool at_target : {true, false}) {
    DYNAMIC_SECTION((at_target ? "target directory" : "prefix directory")) {
      Scene s;
      const std::string link = at_target ? s.target_dir() : s.prefix_dir();
      fs::create_directories(fs::path(link).parent_path());
      fs::create_symlink(s.outside, link);
      const auto before = outside_snapshot(s.outside);

      fc::DiskStore ro(s.root, /*read_only=*/true);
      ro.set_warning_handler([](const std::string&) {});
      CHECK_FALSE(ro.load(s.e.target, s.e.key));
      CHECK(fs::is_symlink(link));  // read-only: left in place

      fc::DiskStore store(s.root);
      std::vector<std::string> warnings;
      store.set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
      const fc::StoreResult r = store.store(s.e);
      INFO(r.error);
      REQUIRE(r.ok());
      CHECK(outside_snapshot(s.outside) == before);
      CHECK_FALSE(fs::is_symlink(link));
      CHECK(fs::is_regular_file(s.entry_path()));
      REQUIRE(warnings.size() == 1);
      CHECK(warnings[0].find("symbolic link") != std::string::npos);
      // What was stored is what the walk (stats, prune, clear) sees.
      const auto files = fc::walk_tree(s.root);
      REQUIRE(files.size() == 1);
      CHECK(files[0].kind == fc::TreeFileKind::entry);
      CHECK(store.load(s.e.target, s.e.key).has_value());
    }
  }
}

TEST_CASE("cache: walks never enter a symbolic link: stats, verify, clear and prune see it as "
          "foreign and touch nothing outside",
          "[cache]") {
  Scene s;
  fc::DiskStore store(s.root);
  REQUIRE(store.store(s.e).ok());
  // A directory outside that looks like a target directory full of entries.
  const fc::Entry other = make_entry("gfx942", "outside", 256);
  fc::DiskStore outside_store(s.outside);
  REQUIRE(outside_store.store(other).ok());
  fs::create_symlink(fc::version_dir(s.outside) + "/gfx942", fc::version_dir(s.root) + "/gfx942");
  const auto before = outside_snapshot(s.outside);

  fc::CacheLayers layers(fc::LayersConfig{s.root, {}, false, 1});
  const auto st = fc::stats(layers);
  CHECK(st[0].entries == 1);
  CHECK(st[0].foreign == 1);
  CHECK(fc::verify(layers).damaged.size() == 1);
  const fc::PruneReport p = layers.prune(1);  // a budget of one byte: evicts everything it sees
  CHECK(p.entries_removed == 1);
  const fc::ClearReport c = fc::clear(layers);
  CHECK(c.errors.empty());
  CHECK(outside_snapshot(s.outside) == before);
  for (const fc::TreeFile& f : fc::walk_tree(s.root)) {  // clear removed the planted link itself
    INFO(f.path);
    CHECK(f.kind == fc::TreeFileKind::lock);
  }
}

TEST_CASE("cache: a symbolic link at the prune lock is replaced, never written through", "[cache]") {
  Scene s;
  fc::DiskStore store(s.root);
  REQUIRE(store.store(s.e).ok());
  const std::string lock = fc::version_dir(s.root) + "/.prune.lock";
  const std::string victim = s.outside + "/created-by-prune";
  fs::create_symlink(victim, lock);
  fc::PruneOptions options;
  options.max_bytes = 1 << 30;
  const fc::PruneReport r = fc::prune(store, options);
  CHECK(r.errors.empty());
  CHECK_FALSE(r.skipped());
  CHECK_FALSE(fs::exists(victim));
  CHECK_FALSE(fs::is_symlink(lock));
  CHECK(fs::is_regular_file(lock));
}

TEST_CASE("cache: a directory at an entry's path is moved aside, counts as quarantined and is "
          "pruned like one",
          "[cache]") {
  Scene s;
  fs::create_directories(s.entry_path() + "/inner");
  write_bytes(s.entry_path() + "/inner/file", {9});
  fc::DiskStore store(s.root);
  store.set_warning_handler([](const std::string&) {});
  CHECK_FALSE(store.load(s.e.target, s.e.key));
  REQUIRE(store.store(s.e).ok());
  CHECK(store.load(s.e.target, s.e.key).has_value());

  fc::CacheLayers layers(fc::LayersConfig{s.root});
  const fc::VerifyReport v = fc::verify(layers);
  CHECK(v.ok());  // a quarantined directory is no damage: verify does not fail forever
  CHECK(v.quarantined == 1);

  fc::PruneOptions options;
  options.quarantine_age = std::chrono::seconds(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const fc::PruneReport r = fc::prune(store, options);
  CHECK(r.errors.empty());
  CHECK(r.quarantined_removed == 1);
  CHECK(fc::verify(layers).quarantined == 0);
}

TEST_CASE("cache: a forged entry whose checksum is valid but whose binary no loader takes fails "
          "verify",
          "[cache]") {
  Scene s;
  fc::Entry forged = s.e;
  forged.binary = std::vector<std::uint8_t>(512, 0x41);  // no ELF header
  fc::DiskStore store(s.root);
  REQUIRE(store.store(forged).ok());
  REQUIRE(store.load(s.e.target, s.e.key).has_value());  // it decodes: the store cannot tell
  fc::CacheLayers layers(fc::LayersConfig{s.root});
  const fc::VerifyReport v = fc::verify(layers);
  REQUIRE(v.damaged.size() == 1);
  CHECK(v.damaged[0].damage == fc::Damage::bad_binary);
  CHECK(fc::read_entry_file(s.entry_path()).damage == fc::Damage::bad_binary);
  // Export ships verified entries only.
  CHECK(fc::export_entries(layers, {}, s.tmp.path() + "/a.tar").entries == 0);
}

TEST_CASE("cache: export never writes through a planted link, and replaces a link at its "
          "destination instead of following it",
          "[cache]") {
  Scene s;
  fc::DiskStore store(s.root);
  REQUIRE(store.store(s.e).ok());
  fc::CacheLayers layers(fc::LayersConfig{s.root});
  const std::string archive = s.tmp.path() + "/cache.tar";
  // The names a predictable temp file would have had, and the destination itself, all point at
  // the victim.
  const std::string victim = s.outside + "/precious";
  fs::create_symlink(victim, archive + ".tmp." + std::to_string(::getpid()));
  fs::create_symlink(victim, archive);
  const auto before = outside_snapshot(s.outside);
  CHECK(fc::export_entries(layers, {}, archive).entries == 1);
  CHECK(outside_snapshot(s.outside) == before);
  CHECK_FALSE(fs::is_symlink(archive));
  CHECK(fs::is_regular_file(archive));
  CHECK_THROWS_AS(fc::export_entries(layers, {}, s.outside), fp8jit::InvalidArgument);
}

TEST_CASE("cache: import refuses an empty file and a device, and keeps the layer's budget",
          "[cache]") {
  Scene s;
  fc::CacheLayers src(fc::LayersConfig{s.tmp.path() + "/src"});
  for (int i = 0; i < 8; ++i)
    REQUIRE(src.store(make_entry("sm_90a", "b" + std::to_string(i), 4096)).ok());
  const std::string archive = s.tmp.path() + "/all.tar";
  REQUIRE(fc::export_entries(src, {}, archive).entries == 8);
  const std::string empty = s.tmp.path() + "/empty.tar";
  write_bytes(empty, {});

  fc::CacheLayers dest(fc::LayersConfig{s.root, {}, false, 3 * 4096});
  CHECK_THROWS_AS(fc::import_entries(empty, dest), fp8jit::InvalidArgument);
  CHECK_THROWS_AS(fc::import_entries("/dev/null", dest), fp8jit::InvalidArgument);
  const fc::ImportReport r = fc::import_entries(archive, dest);
  CHECK(r.imported == 8);
  CHECK(r.evicted >= 5);
  CHECK(fc::stats(dest)[0].bytes <= 3 * 4096);
}

TEST_CASE("cache: read-only layers are one directory however they are spelled", "[cache]") {
  Scene s;
  const std::string dup = s.tmp.path() + "/dup";
  fs::create_directories(dup);
  fs::create_symlink(dup, s.tmp.path() + "/link");
  fc::CacheLayers layers(
      fc::LayersConfig{s.root, {dup, dup + "/", "/" + dup, s.tmp.path() + "/link", dup + "/."}});
  CHECK(layers.size() == 2);
  const std::string missing = s.tmp.path() + "/missing";
  fc::CacheLayers absent(fc::LayersConfig{"", {missing, missing + "/", missing + "/./"}});
  CHECK(absent.size() == 1);
}

TEST_CASE("cache: the key lock admits one holder, times out for a live one, and a dead holder "
          "never blocks",
          "[cache]") {
  Scene s;
  fc::DiskStore store(s.root);
  fc::DiskStore::KeyLock mine;
  REQUIRE(store.lock_key(s.e.target, s.e.key, std::chrono::milliseconds(0), mine) ==
          fc::DiskStore::LockOutcome::acquired);
  // Another process waits while we hold it, and times out.
  ChildResult r = run_bounded(20, [&](std::string& out) {
    fc::DiskStore other(s.root);
    fc::DiskStore::KeyLock theirs;
    const auto t0 = std::chrono::steady_clock::now();
    const auto outcome = other.lock_key(s.e.target, s.e.key, std::chrono::milliseconds(300), theirs);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
    out = std::to_string(ms) + " ms";
    return outcome == fc::DiskStore::LockOutcome::timed_out && ms >= 290 ? 0 : 1;
  });
  INFO(r.text);
  CHECK(r.exited(0));
  mine.release();
  CHECK(files_containing(s.root, ".lock").empty());  // the holder removes it

  // A holder killed with the lock held: the next taker gets it at once.
  r = run_bounded(20, [&](std::string&) {
    fc::DiskStore other(s.root);
    fc::DiskStore::KeyLock theirs;
    if (other.lock_key(s.e.target, s.e.key, std::chrono::milliseconds(0), theirs) !=
        fc::DiskStore::LockOutcome::acquired)
      return 1;
    ::kill(::getpid(), SIGKILL);
    return 2;
  });
  CHECK((WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL));
  CHECK(files_containing(s.root, ".lock").size() == 1);  // left behind by the dead holder
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(store.lock_key(s.e.target, s.e.key, std::chrono::seconds(30), mine) ==
        fc::DiskStore::LockOutcome::acquired);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  mine.release();

  // A link planted at the lock's name is replaced, never written through.
  const std::string victim = s.outside + "/lock-victim";
  fs::create_symlink(victim, fs::path(s.entry_path()).replace_extension(".lock"));
  store.set_warning_handler([](const std::string&) {});
  CHECK(store.lock_key(s.e.target, s.e.key, std::chrono::milliseconds(0), mine) ==
        fc::DiskStore::LockOutcome::acquired);
  CHECK_FALSE(fs::exists(victim));
}

TEST_CASE("cache: prune removes a key lock left by a dead process, never a held one", "[cache]") {
  Scene s;
  fc::DiskStore store(s.root);
  REQUIRE(store.store(s.e).ok());
  const std::string lock = fs::path(s.entry_path()).replace_extension(".lock").string();
  write_bytes(lock, {});
  set_mtime(lock, now_seconds() - 7200);
  const fc::Entry held_entry = make_entry("sm_90a", "held");
  fc::DiskStore::KeyLock held;
  REQUIRE(store.lock_key(held_entry.target, held_entry.key, std::chrono::milliseconds(0), held) ==
          fc::DiskStore::LockOutcome::acquired);
  const std::string held_path =
      fs::path(store.entry_path(held_entry.target, held_entry.key)).replace_extension(".lock").string();
  set_mtime(held_path, now_seconds() - 7200);
  const fc::PruneReport r = fc::prune(store, {});
  CHECK(r.errors.empty());
  CHECK_FALSE(fs::exists(lock));
  CHECK(fs::exists(held_path));
}
