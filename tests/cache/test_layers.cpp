// CacheLayers: lookup order across a writable layer and read-only layers, stores into the
// writable one only, and strict read-only mode.
#include <catch2/catch.hpp>

#include "cache/archive.hpp"
#include "cache/inspect.hpp"
#include "cache/layers.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/cache/cache_fixtures.hpp"

namespace {

using namespace fp8jit::test::cache_fixtures;

// `e` with a binary that tells which layer it was written to.
fc::Entry marked(fc::Entry e, std::uint8_t mark) {
  e.binary.assign(64, mark);
  return e;
}

void publish(const std::string& root, const fc::Entry& e) {
  fc::DiskStore store(root);
  REQUIRE(store.store(e).outcome == fc::StoreResult::Outcome::published);
}

}  // namespace

TEST_CASE("cache: layers are searched writable first, then each read-only layer in order",
          "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string rw = tmp.path() + "/rw", ro1 = tmp.path() + "/ro1", ro2 = tmp.path() + "/ro2";
  const fc::Entry a = make_entry("sm_90a", "a"), b = make_entry("sm_90a", "b");
  const fc::Entry c = make_entry("gfx942:sramecc+:xnack-", "c");
  publish(ro1, marked(a, 1));
  publish(ro2, marked(a, 2));
  publish(ro2, marked(b, 2));
  publish(rw, marked(c, 0));
  publish(ro1, marked(c, 1));
  const auto ro_before = std::make_pair(snapshot(ro1), snapshot(ro2));

  fc::CacheLayers layers(fc::LayersConfig{rw, {ro1, ro2, ro1, rw}, false, 0});
  REQUIRE(layers.size() == 3);  // repeated roots are opened once
  CHECK(layers.can_store());
  CHECK_FALSE(layers.writable()->read_only());
  CHECK(layers.layer(1).read_only());
  CHECK(layers.layer(2).read_only());

  const auto hit_a = layers.load(a.target, a.key);
  REQUIRE(hit_a);
  CHECK(hit_a->layer == 1);
  CHECK(hit_a->entry.binary == std::vector<std::uint8_t>(64, 1));
  const auto hit_b = layers.load(b.target, b.key);
  REQUIRE(hit_b);
  CHECK(hit_b->layer == 2);
  const auto hit_c = layers.load(c.target, c.key);
  REQUIRE(hit_c);
  CHECK(hit_c->layer == 0);
  CHECK(hit_c->entry.binary == std::vector<std::uint8_t>(64, 0));
  CHECK_FALSE(layers.load("sm_90a", make_entry("sm_90a", "none").key));

  // A read-only hit is not copied up; a store goes to the writable layer only.
  CHECK_FALSE(fs::exists(layers.writable()->entry_path(a.target, a.key)));
  const fc::Entry d = make_entry("sm_90a", "d");
  CHECK(layers.store(d).outcome == fc::StoreResult::Outcome::published);
  CHECK(fs::exists(layers.writable()->entry_path(d.target, d.key)));
  CHECK(std::make_pair(snapshot(ro1), snapshot(ro2)) == ro_before);
}

TEST_CASE("cache: a damaged entry in one layer falls through to the next, which is left as is",
          "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string rw = tmp.path() + "/rw", ro = tmp.path() + "/ro", ro_bad = tmp.path() + "/bad";
  const fc::Entry e = make_entry("sm_90a", "e");
  publish(rw, e);
  publish(ro_bad, e);
  publish(ro, marked(e, 7));
  fc::DiskStore probe(rw);
  const std::string rw_path = probe.entry_path(e.target, e.key);
  auto bytes = read_bytes(rw_path);
  bytes[bytes.size() / 2] ^= 1;
  write_bytes(rw_path, bytes);
  const std::string ro_bad_path = fc::DiskStore(ro_bad).entry_path(e.target, e.key);
  auto bad = read_bytes(ro_bad_path);
  bad.resize(bad.size() - 1);
  write_bytes(ro_bad_path, bad);
  const auto ro_before = snapshot(ro_bad);

  fc::CacheLayers layers(fc::LayersConfig{rw, {ro_bad, ro}, false, 0});
  std::vector<std::string> warnings;
  layers.set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
  const auto hit = layers.load(e.target, e.key);
  REQUIRE(hit);
  CHECK(hit->layer == 2);
  CHECK(hit->entry.binary == std::vector<std::uint8_t>(64, 7));
  CHECK(warnings.size() == 2);
  CHECK_FALSE(fs::exists(rw_path));               // quarantined in the writable layer
  CHECK(files_containing(rw, ".bad-").size() == 1);
  CHECK(snapshot(ro_bad) == ro_before);           // reported, left in place

  // The driver refusing a read-only layer's binary only reports.
  layers.quarantine(hit->layer, e.target, e.key, "driver refused it");
  CHECK(fs::exists(layers.layer(2).entry_path(e.target, e.key)));
  CHECK(warnings.size() == 3);
}

TEST_CASE("cache: without a writable root the layers only read", "[cache]") {
  fp8jit::test::TempDir tmp;
  const fc::Entry e = make_entry("sm_90a", "e");
  publish(tmp.path() + "/ro", e);
  fc::CacheLayers layers(fc::LayersConfig{"", {tmp.path() + "/ro"}, false, 0});
  CHECK(layers.writable() == nullptr);
  CHECK_FALSE(layers.can_store());
  CHECK(layers.load(e.target, e.key).has_value());
  CHECK_FALSE(layers.store(make_entry("sm_90a", "f")).ok());
  CHECK(layers.prune().skipped_read_only);
  CHECK_FALSE(fc::clear(layers).errors.empty());
}
