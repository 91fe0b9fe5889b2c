// The API under `fp8jit cache ls|show|stats|clear`: listings with metadata across layers, reading
// one entry file, sizes per target, clearing the writable layer.
#include <catch2/catch.hpp>

#include "cache/inspect.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/cache/cache_fixtures.hpp"

namespace {

using namespace fp8jit::test::cache_fixtures;

}  // namespace

TEST_CASE("cache: list_entries shows every entry of every layer with its metadata", "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string rw = tmp.path() + "/rw", ro = tmp.path() + "/ro";
  const fc::Entry a = make_entry("sm_90a", "a", 300);
  const fc::Entry b = make_entry("gfx942:sramecc+:xnack-", "b", 500);
  REQUIRE(fc::DiskStore(rw).store(a).ok());
  REQUIRE(fc::DiskStore(ro).store(b).ok());
  // A damaged entry is listed with its problem.
  const fc::Entry c = make_entry("sm_90a", "c");
  fc::DiskStore rw_store(rw);
  REQUIRE(rw_store.store(c).ok());
  write_bytes(rw_store.entry_path(c.target, c.key), {'j', 'u', 'n', 'k'});

  fc::CacheLayers layers(fc::LayersConfig{rw, {ro}, false, 0});
  const auto listed = fc::list_entries(layers);
  REQUIRE(listed.size() == 3);
  const auto find = [&](const std::string& key) {
    for (const auto& e : listed)
      if (e.key == key) return e;
    FAIL("not listed: " << key);
    return fc::ListedEntry{};
  };
  const fc::ListedEntry la = find(a.key), lb = find(b.key), lc = find(c.key);
  CHECK(la.layer == 0);
  CHECK(la.writable);
  CHECK(la.target == "sm_90a");
  CHECK(la.kernel_name == "k_a");
  CHECK(la.spec == "spec a");
  CHECK(la.toolchain == "nvrtc");
  CHECK(la.toolchain_version == "nvrtc 13.0");
  CHECK(la.created == "2025-06-01T12:34:56Z");
  CHECK(la.library_version == "0.1.0");
  CHECK(la.meta["target"] == "sm_90a");
  CHECK(la.size == fc::encode_entry(a).size());
  CHECK(la.problem.empty());
  CHECK(lb.layer == 1);
  CHECK_FALSE(lb.writable);
  CHECK(lb.target == "gfx942:sramecc+:xnack-");
  CHECK(lb.kernel_name == "k_b");
  CHECK(lc.problem.find("truncated") != std::string::npos);

  // `show`: the whole entry, read without touching it.
  const auto before = snapshot(rw);
  const fc::CheckedFile shown = fc::read_entry_file(la.path);
  REQUIRE(shown.ok());
  CHECK(shown.entry->binary == a.binary);
  CHECK(shown.entry->source == a.source);
  CHECK(shown.bytes == fc::encode_entry(a));
  const fc::CheckedFile bad = fc::read_entry_file(lc.path);
  CHECK_FALSE(bad.ok());
  CHECK(bad.damage == fc::Damage::bad_length);
  CHECK(fc::read_entry_file(rw + "/missing.fp8k").damage == fc::Damage::unreadable);
  CHECK(snapshot(rw) == before);
}

TEST_CASE("cache: stats counts entries and bytes per layer and target", "[cache]") {
  fp8jit::test::TempDir tmp;
  fc::DiskStore store(tmp.path());
  std::uint64_t sm90_bytes = 0;
  for (int i = 0; i < 3; ++i) {
    const fc::Entry e = make_entry("sm_90a", "n" + std::to_string(i), 100 + i);
    REQUIRE(store.store(e).ok());
    sm90_bytes += fc::encode_entry(e).size();
  }
  const fc::Entry amd = make_entry("gfx950", "amd", 1000);
  REQUIRE(store.store(amd).ok());
  const fs::path dir = fs::path(store.entry_path(amd.target, amd.key)).parent_path();
  write_bytes((dir / (amd.key + ".tmp.1.abcdef")).string(), {1, 2, 3});
  write_bytes((dir / (amd.key + ".fp8k.bad-20250101T000000Z")).string(), {1, 2, 3, 4});
  write_bytes((dir / "stray.txt").string(), {1});

  fc::CacheLayers layers(fc::LayersConfig{tmp.path(), {}, false, 0});
  const auto s = fc::stats(layers);
  REQUIRE(s.size() == 1);
  CHECK(s[0].root == tmp.path());
  CHECK(s[0].writable);
  CHECK(s[0].entries == 4);
  CHECK(s[0].bytes == sm90_bytes + fc::encode_entry(amd).size());
  CHECK(s[0].temps == 1);
  CHECK(s[0].temp_bytes == 3);
  CHECK(s[0].quarantined == 1);
  CHECK(s[0].quarantined_bytes == 4);
  CHECK(s[0].foreign == 1);
  REQUIRE(s[0].targets.size() == 2);
  CHECK(s[0].targets.at("sm_90a").entries == 3);
  CHECK(s[0].targets.at("sm_90a").bytes == sm90_bytes);
  CHECK(s[0].targets.at("gfx950").entries == 1);
}

TEST_CASE("cache: clear removes the writable layer's entries, all or one target's", "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string rw = tmp.path() + "/rw", ro = tmp.path() + "/ro";
  fc::DiskStore store(rw);
  const fc::Entry a = make_entry("sm_90a", "a"), b = make_entry("gfx942", "b");
  const fc::Entry c = make_entry("sm_90a", "c");
  for (const auto* e : {&a, &b, &c}) REQUIRE(store.store(*e).ok());
  REQUIRE(fc::DiskStore(ro).store(a).ok());
  const fs::path dir = fs::path(store.entry_path(b.target, b.key)).parent_path();
  const std::string fresh_temp = (dir / (b.key + ".tmp.1.abcdef")).string();
  write_bytes(fresh_temp, {1});
  const auto ro_before = snapshot(ro);

  fc::CacheLayers layers(fc::LayersConfig{rw, {ro}, false, 0});
  const fc::ClearReport one = fc::clear(layers, std::string("sm_90a"));
  CHECK(one.errors.empty());
  CHECK(one.entries_removed == 2);
  CHECK(one.bytes_freed == fc::encode_entry(a).size() + fc::encode_entry(c).size());
  CHECK(fs::exists(store.entry_path(b.target, b.key)));

  const fc::ClearReport all = fc::clear(layers);
  CHECK(all.entries_removed == 1);
  CHECK(fc::list_entries(layers).size() == 1);  // the read-only layer's
  CHECK(fs::exists(fresh_temp));                 // a writer may still be filling it
  CHECK(snapshot(ro) == ro_before);

  fc::CacheLayers strict(fc::LayersConfig{rw, {}, true, 0});
  REQUIRE(store.store(a).ok());
  const fc::ClearReport refused = fc::clear(strict);
  CHECK(refused.entries_removed == 0);
  REQUIRE(refused.errors.size() == 1);
  CHECK(refused.errors[0].find("read-only") != std::string::npos);
  CHECK(fs::exists(store.entry_path(a.target, a.key)));
}
