// Reliability of the disk cache under real failures: writers killed mid-publish, damaged files,
// read-only directories and strict read-only mode, a full disk, and version changes. Each test runs
// the real code on real files (no mocks); mounts run in a child's private mount namespace, with
// the fallback used (and said so) where the sandbox refuses them.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include "cache/archive.hpp"
#include "cache/inspect.hpp"
#include "fp8jit/error.hpp"
#include "cache/layers.hpp"
#include "cache/prune.hpp"
#include "cache/tree.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/cache/cache_fixtures.hpp"

namespace {

using namespace fp8jit::test::cache_fixtures;

void put_u64(std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// In a child: a private mount namespace, so that mounts vanish with the child. "" or why not.
std::string private_mount_namespace() {
  if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare: ") + std::strerror(errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return std::string("make / private: ") + std::strerror(errno);
  return "";
}

constexpr int kMountRefused = 77;

// Every *.fp8k file of the tree verifies, and everything else is a temp file. "" or the problems.
std::string check_tree(const std::string& root, std::uint64_t* entries, std::uint64_t* temps) {
  std::string problems;
  for (const fc::TreeFile& f : fc::walk_tree(root)) {
    switch (f.kind) {
      case fc::TreeFileKind::entry: {
        ++*entries;
        const fc::CheckedFile c = fc::read_entry_file(f.path);
        if (!c.ok()) problems += f.path + ": " + c.detail + "\n";
        break;
      }
      case fc::TreeFileKind::temp: ++*temps; break;
      default: problems += f.path + ": unexpected file (" + f.why + ")\n";
    }
  }
  return problems;
}

}  // namespace

TEST_CASE("cache: a writer killed by SIGKILL at random points never leaves a visible bad entry",
          "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string root = tmp.path() + "/cache";
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  constexpr int kKills = 50;
  std::uint64_t entries = 0, temps = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      fc::DiskStore store(root);
      for (int i = 0; i < 100000; ++i) {
        // Sizes from 1 KiB to 192 KiB, so that kills land in writes, fsyncs and renames; every
        // fifth store repeats a key (the "another writer won" path).
        const std::string name =
            "k" + std::to_string(kill) + "_" + std::to_string(i % 5 == 4 ? 0 : i);
        store.store(make_entry(i % 2 ? "sm_90a" : "gfx942:sramecc+:xnack-", name,
                               1024 + (static_cast<std::size_t>(i) * 37 % 192) * 1024));
      }
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    entries = temps = 0;
    const std::string problems = check_tree(root, &entries, &temps);
    INFO("after kill " << kill);
    CHECK(problems == "");
  }
  std::printf("cache kill test: %d kills, %llu entries published, %llu temp files left\n", kKills,
              static_cast<unsigned long long>(entries), static_cast<unsigned long long>(temps));
  // What crashed writers leave is exactly what prune cleans up once stale.
  fc::DiskStore store(root);
  fc::PruneOptions options;
  options.temp_age = std::chrono::seconds(-1);
  const fc::PruneReport r = fc::prune(store, options);
  CHECK(r.temps_removed == temps);
  CHECK(r.entries_removed == 0);
  CHECK(files_containing(root, ".tmp.").empty());
  fc::CacheLayers layers(fc::LayersConfig{root, {}, false, 0});
  const fc::VerifyReport v = fc::verify(layers);
  CHECK(v.ok());
  CHECK(v.entries == entries);
}

TEST_CASE("cache: verify names each damaged or foreign file and only those, and loads miss them",
          "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string root = tmp.path();
  fc::DiskStore store(root);
  std::vector<fc::Entry> e;
  for (int i = 0; i < 9; ++i) {
    e.push_back(make_entry(i % 3 ? "sm_90a" : "gfx942:sramecc+:xnack-", "d" + std::to_string(i)));
    REQUIRE(store.store(e.back()).ok());
  }
  const auto path = [&](int i) { return store.entry_path(e[i].target, e[i].key); };
  std::map<std::string, fc::Damage> expected;
  using Edit = std::function<void(std::vector<std::uint8_t>&)>;
  const auto damage = [&](int i, fc::Damage d, const Edit& f) {
    auto bytes = read_bytes(path(i));
    f(bytes);
    write_bytes(path(i), bytes);
    expected[path(i)] = d;
  };
  damage(0, fc::Damage::bad_checksum, [](auto& b) { b[b.size() - 40] ^= 0x04; });  // a flipped bit
  damage(1, fc::Damage::bad_magic, [](auto& b) { b[0] = 'X'; });
  damage(2, fc::Damage::bad_length, [](auto& b) { b.resize(b.size() - 7); });  // truncated
  damage(3, fc::Damage::bad_length, [](auto& b) {                              // lying header
    put_u64(b, 24, 1000000);
    reseal(b);
  });
  damage(4, fc::Damage::bad_metadata, [](auto& b) {
    b[fc::kEntryHeaderBytes + fc::kKeyHexLength] = '[';  // the meta's '{'
    reseal(b);
  });
  damage(5, fc::Damage::key_mismatch, [&](auto& b) { b = read_bytes(path(6)); });
  damage(7, fc::Damage::bad_version, [](auto& b) {
    b[8] = 2;
    reseal(b);
  });
  // Foreign files, a temp and a quarantined file (the last two are no damage).
  const std::string v = fc::version_dir(root);
  const fs::path prefix_dir = fs::path(path(8)).parent_path();
  write_bytes(v + "/README", {'h', 'i'});
  write_bytes(v + "/sm_90a/zz/whatever.fp8k", {1});
  write_bytes((prefix_dir / "notes.txt").string(), {1});
  write_bytes((prefix_dir / (e[8].key + ".fp8k.orig")).string(), {1});
  write_bytes((prefix_dir / (e[8].key + ".tmp.12.abcdef")).string(), {1});
  write_bytes((prefix_dir / (e[8].key + ".fp8k.bad-20250101T000000Z")).string(), {1});
  const std::set<std::string> foreign = {v + "/README", v + "/sm_90a/zz",
                                         (prefix_dir / "notes.txt").string(),
                                         (prefix_dir / (e[8].key + ".fp8k.orig")).string()};

  fc::CacheLayers layers(fc::LayersConfig{root, {}, false, 0});
  std::vector<std::string> warnings;
  layers.set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
  const fc::VerifyReport report = fc::verify(layers);
  std::map<std::string, fc::Damage> got;
  std::set<std::string> got_foreign;
  for (const auto& d : report.damaged) {
    INFO(d.path << ": " << fc::damage_name(d.damage) << ": " << d.detail);
    CHECK_FALSE(d.detail.empty());
    if (d.damage == fc::Damage::foreign) got_foreign.insert(d.path);
    else got[d.path] = d.damage;
  }
  CHECK(got == expected);
  CHECK(got_foreign == foreign);
  CHECK(report.entries == 9);
  CHECK(report.entries_ok == 2);
  CHECK(report.temps == 1);
  CHECK(report.quarantined == 1);

  // Lookups: a miss and a quarantine per damaged entry, one warning each; the rest still hit.
  for (int i : {0, 1, 2, 3, 4, 5, 7}) CHECK_FALSE(layers.load(e[i].target, e[i].key));
  CHECK(warnings.size() == 7);
  for (int i : {0, 1, 2, 3, 4, 5, 7}) CHECK_FALSE(layers.load(e[i].target, e[i].key));
  CHECK(warnings.size() == 7);
  CHECK(layers.load(e[6].target, e[6].key).has_value());
  CHECK(layers.load(e[8].target, e[8].key).has_value());
  const fc::VerifyReport after = fc::verify(layers);
  CHECK(after.quarantined == 8);
  CHECK(after.damaged.size() == foreign.size());
  // A recompile's store replaces a quarantined entry.
  REQUIRE(layers.store(e[0]).outcome == fc::StoreResult::Outcome::published);
  CHECK(layers.load(e[0].target, e[0].key).has_value());
}

TEST_CASE("cache: strict read-only mode and read-only layers write nothing at all", "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string rw = tmp.path() + "/rw", ro = tmp.path() + "/ro";
  const fc::Entry a = make_entry("sm_90a", "a"), b = make_entry("sm_90a", "b");
  const fc::Entry bad = make_entry("sm_90a", "bad"), old = make_entry("sm_90a", "old");
  for (const auto* x : {&a, &bad, &old}) REQUIRE(fc::DiskStore(rw).store(*x).ok());
  REQUIRE(fc::DiskStore(ro).store(b).ok());
  fc::DiskStore probe(rw);
  write_bytes(probe.entry_path(bad.target, bad.key), {'F', 'P'});
  set_mtime(probe.entry_path(old.target, old.key), 1000000000);
  const fs::path dir = fs::path(probe.entry_path(a.target, a.key)).parent_path();
  write_bytes((dir / (a.key + ".tmp.1.abcdef")).string(), {1});
  set_mtime((dir / (a.key + ".tmp.1.abcdef")).string(), 1000000000);  // stale
  const std::string archive = tmp.path() + "/in.tar";
  {
    fc::CacheLayers src(fc::LayersConfig{ro, {}, true, 0});
    REQUIRE(fc::export_entries(src, {}, archive).entries == 1);
  }
  const auto before = snapshot(tmp.path());

  fc::CacheLayers layers(fc::LayersConfig{rw, {ro}, /*read_only=*/true, 1});
  std::vector<std::string> warnings;
  layers.set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
  CHECK_FALSE(layers.can_store());
  CHECK(layers.load(a.target, a.key).has_value());  // a hit, mtime untouched
  CHECK(layers.load(b.target, b.key).has_value());
  CHECK(layers.load(old.target, old.key).has_value());
  CHECK_FALSE(layers.load(bad.target, bad.key));  // reported, not moved aside
  CHECK(warnings.size() == 1);
  layers.quarantine(0, a.target, a.key, "driver refused it");
  const fc::StoreResult s = layers.store(make_entry("sm_90a", "new"));
  CHECK_FALSE(s.ok());
  CHECK(s.error.find("read-only") != std::string::npos);
  CHECK(layers.prune().skipped_read_only);
  CHECK(fc::clear(layers).entries_removed == 0);
  CHECK_THROWS_AS(fc::import_entries(archive, layers), fp8jit::CacheError);
  CHECK(fc::list_entries(layers).size() == 4);
  CHECK(fc::verify(layers).damaged.size() == 1);
  CHECK(fc::stats(layers).size() == 2);

  CHECK(snapshot(tmp.path()) == before);  // names, sizes and mtimes
  CHECK_FALSE(fs::exists(fc::version_dir(rw) + "/.prune.lock"));
}

TEST_CASE("cache: a cache on a read-only mount serves hits and fails stores cleanly", "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string root = tmp.path() + "/cache";
  const fc::Entry a = make_entry("sm_90a", "a"), bad = make_entry("sm_90a", "bad");
  REQUIRE(fc::DiskStore(root).store(a).ok());
  REQUIRE(fc::DiskStore(root).store(bad).ok());
  write_bytes(fc::DiskStore(root).entry_path(bad.target, bad.key), {'x'});
  const auto before = snapshot(tmp.path());

  const ChildResult r = run_in_child([&](std::string& out) {
    if (const std::string why = private_mount_namespace(); !why.empty()) {
      out = why;
      return kMountRefused;
    }
    if (::mount(root.c_str(), root.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, root.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      out = std::string("read-only bind mount: ") + std::strerror(errno);
      return kMountRefused;
    }
    // A writable (not strict) cache that happens to sit on a read-only mount.
    fc::CacheLayers layers(fc::LayersConfig{root, {}, false, 1});
    int warnings = 0;
    layers.set_warning_handler([&](const std::string& w) {
      ++warnings;
      out += "warning: " + w + "\n";
    });
    int failures = 0;
    const auto expect = [&](bool ok, const char* what) {
      if (!ok) {
        out += std::string("FAILED: ") + what + "\n";
        ++failures;
      }
    };
    expect(layers.load(a.target, a.key).has_value(), "hit on a read-only mount");
    expect(!layers.load(bad.target, bad.key), "damaged entry is a miss");
    expect(warnings == 1, "one warning for the damaged entry");
    const fc::StoreResult s = layers.store(make_entry("sm_90a", "new"));
    expect(!s.ok(), "store fails");
    out += "store error: " + s.error + "\n";
    const fc::StoreResult s2 = layers.store(make_entry("gfx950", "new"));
    expect(!s2.ok(), "store into a new target directory fails");
    const fc::PruneReport p = layers.prune();
    expect(p.entries_removed == 0 && !p.errors.empty(), "prune cannot lock and says why");
    return failures == 0 ? 0 : 1;
  });
  if (r.exited(kMountRefused)) {
    std::printf("read-only mount test: mount refused (%s); strict read-only mode is covered by "
                "its own test\n", r.text.c_str());
    WARN("read-only mount refused: " << r.text);
    return;
  }
  std::printf("read-only mount test: ran on a read-only bind mount\n");
  INFO(r.text);
  CHECK(r.exited(0));
  CHECK(snapshot(tmp.path()) == before);
}

TEST_CASE("cache: a full disk fails the store with no partial file and no temp left", "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string mnt = tmp.path() + "/mnt";
  fs::create_directories(mnt);
  // The checks, in a child that sees `root` full (tmpfs) or a per-file limit (RLIMIT_FSIZE).
  const auto fill_until_full = [](const std::string& root, std::string& out) {
    fc::DiskStore store(root);
    std::vector<fc::Entry> published;
    fc::Entry failed;
    fc::StoreResult last;
    for (int i = 0; i < 64; ++i) {
      fc::Entry e = make_entry("sm_90a", "full" + std::to_string(i), 12 * 1024);
      last = store.store(e);
      if (!last.ok()) {
        failed = e;
        break;
      }
      published.push_back(e);
    }
    int failures = 0;
    const auto expect = [&](bool ok, const std::string& what) {
      if (!ok) {
        out += "FAILED: " + what + "\n";
        ++failures;
      }
    };
    out += "published " + std::to_string(published.size()) + ", then: " + last.error + "\n";
    expect(!last.ok(), "a store fails");
    expect(last.error.find("cannot write") != std::string::npos ||
               last.error.find("cannot create a temp") != std::string::npos ||
               last.error.find("cannot fsync") != std::string::npos,
           "the error says what failed");
    if (!failed.key.empty())
      expect(!fs::exists(store.entry_path(failed.target, failed.key)), "no partial entry");
    expect(files_containing(root, ".tmp.").empty(), "no temp file left");
    for (const auto& e : published)
      expect(store.load(e.target, e.key).has_value(), "earlier entries still load");
    // One large entry fails the same way.
    const fc::Entry big = make_entry("sm_90a", "big", 256 * 1024);
    const fc::StoreResult rb = store.store(big);
    expect(!rb.ok(), "a large store fails");
    expect(!fs::exists(store.entry_path(big.target, big.key)), "no partial large entry");
    expect(files_containing(root, ".tmp.").empty(), "no temp file left after the large one");
    return failures;
  };

  ChildResult r = run_in_child([&](std::string& out) {
    if (const std::string why = private_mount_namespace(); !why.empty()) {
      out = why;
      return kMountRefused;
    }
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) {
      out = std::string("mount tmpfs: ") + std::strerror(errno);
      return kMountRefused;
    }
    const int failures = fill_until_full(mnt + "/cache", out);
    if (out.find("No space left") == std::string::npos) out += "FAILED: not ENOSPC\n";
    return failures == 0 && out.find("FAILED") == std::string::npos ? 0 : 1;
  });
  if (r.exited(kMountRefused)) {
    const std::string why = r.text;
    std::printf("full-disk test: tmpfs mount refused (%s); using RLIMIT_FSIZE (EFBIG) instead\n",
                why.c_str());
    r = run_in_child([&](std::string& out) {
      ::signal(SIGXFSZ, SIG_IGN);
      const struct rlimit limit = {8 * 1024, 8 * 1024};
      ::setrlimit(RLIMIT_FSIZE, &limit);
      return fill_until_full(tmp.path() + "/cache", out) == 0 ? 0 : 1;
    });
  } else {
    std::printf("full-disk test: ran on a 64 KiB tmpfs (ENOSPC)\n");
  }
  INFO(r.text);
  CHECK(r.exited(0));
}

TEST_CASE("cache: a changed library, toolchain or format version never reuses an entry",
          "[cache]") {
  const fc::KeyInputs base{"spec", "source", "nvrtc", "nvrtc 13.0", "sm_90a", "-O3", "0.1.0"};
  std::set<std::string> keys{fc::derive_key(base)};
  for (int field = 0; field < 7; ++field) {
    fc::KeyInputs changed = base;
    std::string* f[] = {&changed.spec,    &changed.source,  &changed.toolchain,
                        &changed.toolchain_version, &changed.target, &changed.options,
                        &changed.library_version};
    *f[field] += field == 3 ? ".1" : "x";  // e.g. "nvrtc 13.0" -> "nvrtc 13.0.1"
    keys.insert(fc::derive_key(changed));
  }
  CHECK(keys.size() == 8);
  CHECK(fc::derive_key(base) == fc::derive_key(base));

  // Entries of other format versions, laid out exactly like ours, are never read or touched.
  fp8jit::test::TempDir tmp;
  fc::DiskStore store(tmp.path());
  const fc::Entry e = make_entry("sm_90a", "v");
  const std::string ours = store.entry_path(e.target, e.key);
  const std::string vdir = "/v" + std::to_string(fc::kFormatVersion) + "/";
  const std::string rel = ours.substr(ours.find(vdir) + vdir.size());
  for (const std::string& other :
       std::vector<std::string>{"v0", "v" + std::to_string(fc::kFormatVersion + 1)}) {
    write_bytes(tmp.path() + "/" + other + "/" + rel, fc::encode_entry(e));
  }
  const auto before = snapshot(tmp.path());
  fc::CacheLayers layers(fc::LayersConfig{tmp.path(), {}, false, 1});
  CHECK_FALSE(layers.load(e.target, e.key));
  CHECK(fc::list_entries(layers).empty());
  CHECK(fc::verify(layers).entries == 0);
  CHECK(fc::stats(layers)[0].entries == 0);
  CHECK(layers.prune().entries_removed == 0);
  CHECK(fc::clear(layers).entries_removed == 0);
  CHECK(snapshot(tmp.path()) == before);
}
