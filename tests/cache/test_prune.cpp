// Eviction: LRU order by mtime, clean-up of stale temps and quarantined files, the prune lock
// between processes, and pruning driven by stores.
#include <catch2/catch.hpp>
#include <set>

#include "cache/layers.hpp"
#include "cache/prune.hpp"
#include "cache/tree.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/cache/cache_fixtures.hpp"

namespace {

using namespace fp8jit::test::cache_fixtures;

// Publishes `n` entries of `bytes` binary bytes and returns them in order.
std::vector<fc::Entry> fill(fc::DiskStore& store, int n, std::size_t bytes,
                            const std::string& target = "sm_90a") {
  std::vector<fc::Entry> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(make_entry(target, "e" + std::to_string(i), bytes));
    REQUIRE(store.store(out.back()).outcome == fc::StoreResult::Outcome::published);
  }
  return out;
}

std::set<std::string> keys_on_disk(const fc::DiskStore& store) {
  std::set<std::string> out;
  for (const auto& f : fc::walk_tree(store.root()))
    if (f.kind == fc::TreeFileKind::entry) out.insert(f.key);
  return out;
}

std::uint64_t file_size(const std::string& path) { return fs::file_size(path); }

}  // namespace

TEST_CASE("cache: prune evicts least-recently-used entries first, down to the budget", "[cache]") {
  fp8jit::test::TempDir tmp;
  fc::DiskStore store(tmp.path());
  const auto entries = fill(store, 10, 1000);
  const std::uint64_t each = file_size(store.entry_path("sm_90a", entries[0].key));
  // A recency order unrelated to the store order: entry i was last used at base + order[i].
  const int order[10] = {7, 2, 9, 0, 5, 3, 8, 1, 6, 4};
  const std::int64_t base = now_seconds() - 10000;
  for (int i = 0; i < 10; ++i)
    set_mtime(store.entry_path("sm_90a", entries[i].key), base + order[i]);
  // A hit refreshes the least recently used one: it must survive.
  REQUIRE(store.load("sm_90a", entries[3].key).has_value());

  fc::PruneOptions options;
  options.max_bytes = each * 11 / 2;  // room for 5.5 entries
  options.low_water = 1.0;
  const fc::PruneReport r = fc::prune(store, options);
  CHECK_FALSE(r.skipped());
  CHECK(r.errors.empty());
  CHECK(r.entries_removed == 5);
  CHECK(r.bytes_freed == 5 * each);
  CHECK(r.entries_kept == 5);
  CHECK(r.bytes_kept == 5 * each);
  // Kept: entry 3 (just hit) and the four most recent of the rest (order 9, 8, 7, 6).
  CHECK(keys_on_disk(store) == std::set<std::string>{entries[3].key, entries[2].key,
                                                     entries[6].key, entries[0].key,
                                                     entries[8].key});

  // Within budget: nothing more to do.
  const fc::PruneReport again = fc::prune(store, options);
  CHECK(again.entries_removed == 0);
  CHECK(again.entries_kept == 5);

  // The default low-water mark evicts to 90% of the budget: 4 entries of a 5-entry budget.
  options.max_bytes = each * 9 / 2;
  options.low_water = 0.9;
  CHECK(fc::prune(store, options).entries_kept == 4);
}

TEST_CASE("cache: prune removes stale temps and old quarantined files, and nothing fresh",
          "[cache]") {
  fp8jit::test::TempDir tmp;
  fc::DiskStore store(tmp.path());
  const auto entries = fill(store, 2, 100);
  const std::string entry = store.entry_path("sm_90a", entries[0].key);
  const fs::path dir = fs::path(entry).parent_path();
  const std::string key = entries[0].key;
  const auto make = [&](const std::string& name, std::int64_t age_s) {
    const std::string p = (dir / name).string();
    write_bytes(p, std::vector<std::uint8_t>(100, 1));
    set_mtime(p, now_seconds() - age_s);
    return p;
  };
  const std::string old_temp = make(key + ".tmp.4242.AbC123", 2 * 3600);
  const std::string new_temp = make(key + ".tmp.4243.XyZ789", 60);  // a writer may be at it
  const std::string old_bad = make(key + ".fp8k.bad-20200101T000000Z", 2 * 86400);
  const std::string new_bad = make(key + ".fp8k.bad-20990101T000000Z", 3600);
  const std::string foreign = make("README", 10 * 86400);
  set_mtime(entry, now_seconds() - 365 * 86400);  // old, but no budget: kept

  const fc::PruneReport r = fc::prune(store, fc::PruneOptions{});
  CHECK(r.temps_removed == 1);
  CHECK(r.quarantined_removed == 1);
  CHECK(r.entries_removed == 0);
  CHECK(r.bytes_freed == 200);
  CHECK(r.entries_kept == 2);
  CHECK_FALSE(fs::exists(old_temp));
  CHECK_FALSE(fs::exists(old_bad));
  CHECK(fs::exists(new_temp));
  CHECK(fs::exists(new_bad));
  CHECK(fs::exists(foreign));  // not ours: verify names it, prune leaves it
  CHECK(fs::exists(entry));
}

TEST_CASE("cache: prune skips while another process holds the prune lock", "[cache]") {
  fp8jit::test::TempDir tmp;
  fc::DiskStore store(tmp.path());
  fill(store, 4, 100);
  fc::PruneOptions options;
  options.max_bytes = 1;  // evict everything

  int ready[2], release[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(release) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    fc::PruneLock lock(store);  // a concurrent pruner, mid-prune
    const char held = lock.held() ? 'y' : 'n';
    (void)!::write(ready[1], &held, 1);
    char byte;
    (void)!::read(release[0], &byte, 1);
    ::_exit(0);
  }
  char held = 0;
  REQUIRE(::read(ready[0], &held, 1) == 1);
  REQUIRE(held == 'y');

  const auto before = snapshot(tmp.path());
  const fc::PruneReport skipped = fc::prune(store, options);
  CHECK(skipped.skipped_locked);
  CHECK(skipped.entries_removed == 0);
  CHECK(skipped.errors.empty());
  CHECK(snapshot(tmp.path()) == before);
  CHECK_FALSE(fc::PruneLock(store).held());  // also excluded within one process

  (void)!::write(release[1], "x", 1);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) ::close(fd);

  const fc::PruneReport ran = fc::prune(store, options);
  CHECK_FALSE(ran.skipped_locked);
  CHECK(ran.entries_removed == 4);
}

TEST_CASE("cache: processes pruning at once remove each entry once, the oldest ones", "[cache]") {
  fp8jit::test::TempDir tmp;
  fc::DiskStore store(tmp.path());
  constexpr int kEntries = 120, kKeep = 40, kProcesses = 4;
  const auto entries = fill(store, kEntries, 200);
  std::uint64_t budget = 0;  // exactly the newest kKeep (names differ in length, so sizes do)
  const std::int64_t base = now_seconds() - 100000;
  for (int i = 0; i < kEntries; ++i) {
    set_mtime(store.entry_path("sm_90a", entries[i].key), base + i);
    if (i >= kEntries - kKeep) budget += file_size(store.entry_path("sm_90a", entries[i].key));
  }

  int gate[2];
  REQUIRE(::pipe(gate) == 0);
  std::vector<pid_t> pids;
  std::vector<int> outs;
  for (int c = 0; c < kProcesses; ++c) {
    int report[2];
    REQUIRE(::pipe(report) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(gate[1]);
      char byte;
      while (::read(gate[0], &byte, 1) < 0) {
      }
      fc::PruneOptions options;
      options.max_bytes = budget;
      options.low_water = 1.0;
      const fc::PruneReport r = fc::prune(store, options);
      const std::string line = std::to_string(r.entries_removed) + " " +
                               std::to_string(r.skipped_locked) + " " +
                               std::to_string(r.errors.size());
      (void)!::write(report[1], line.data(), line.size());
      ::_exit(0);
    }
    ::close(report[1]);
    pids.push_back(pid);
    outs.push_back(report[0]);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // go
  std::uint64_t removed = 0, skipped = 0, errors = 0;
  for (int c = 0; c < kProcesses; ++c) {
    char buf[128] = {};
    REQUIRE(::read(outs[c], buf, sizeof buf - 1) > 0);
    ::close(outs[c]);
    unsigned long long r = 0, s = 0, e = 0;
    REQUIRE(std::sscanf(buf, "%llu %llu %llu", &r, &s, &e) == 3);
    removed += r;
    skipped += s;
    errors += e;
    int status = 0;
    REQUIRE(::waitpid(pids[c], &status, 0) == pids[c]);
  }
  INFO("processes that found the lock held: " << skipped);
  CHECK(removed == kEntries - kKeep);
  CHECK(errors == 0);
  std::set<std::string> newest;
  for (int i = kEntries - kKeep; i < kEntries; ++i) newest.insert(entries[i].key);
  CHECK(keys_on_disk(store) == newest);
}

TEST_CASE("cache: stores keep the writable layer under its budget without a walk per store",
          "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::size_t binary = 2000;
  const fc::Entry probe = make_entry("sm_90a", "probe", binary);
  const std::uint64_t each = fc::encode_entry(probe).size();
  const std::uint64_t budget = each * 10;
  fc::CacheLayers layers(fc::LayersConfig{tmp.path(), {}, false, budget});
  constexpr int kStores = 60;
  for (int i = 0; i < kStores; ++i) {
    const fc::Entry e = make_entry("sm_90a", "s" + std::to_string(i), binary);
    REQUIRE(layers.store(e).ok());
  }
  std::uint64_t total = 0;
  for (const auto& f : fc::walk_tree(tmp.path()))
    if (f.kind == fc::TreeFileKind::entry) total += f.size;
  CHECK(total <= budget);
  CHECK(total >= budget / 2);
  // The first store walks once; then one prune per (1 - low_water) * budget of new bytes.
  INFO("prunes: " << layers.prunes_run());
  CHECK(layers.prunes_run() >= 2);
  CHECK(layers.prunes_run() <= kStores / 2 + 1);

  // On demand, with another budget.
  const fc::PruneReport r = layers.prune(each * 3, 1.0);
  CHECK(r.entries_kept == 3);
}

TEST_CASE("cache: a read-only store is never pruned", "[cache]") {
  fp8jit::test::TempDir tmp;
  {
    fc::DiskStore writer(tmp.path());
    fill(writer, 3, 100);
  }
  fc::DiskStore store(tmp.path(), /*read_only=*/true);
  const auto before = snapshot(tmp.path());
  fc::PruneOptions options;
  options.max_bytes = 1;
  const fc::PruneReport r = fc::prune(store, options);
  CHECK(r.skipped_read_only);
  CHECK(r.entries_removed == 0);
  CHECK(snapshot(tmp.path()) == before);
}
