// Export/import of entries as one ustar archive: round trip, filters, interchange with tar(1),
// and members that must never be published (damaged, escaping the root, other versions).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cache/archive.hpp"
#include "cache/inspect.hpp"
#include "cache/tar.hpp"
#include "fp8jit/error.hpp"
#include "support/temp_dir.hpp"
#include "tests/cache/cache_fixtures.hpp"

namespace {

using namespace fp8jit::test::cache_fixtures;
namespace tar = fp8jit::cache::tar;

std::string member_path(const fc::Entry& e) {
  return "v" + std::to_string(fc::kFormatVersion) + "/" + fc::target_dir_name(e.target) + "/" +
         e.key.substr(0, 2) + "/" + e.key + ".fp8k";
}

void add(std::ostream& out, const std::string& path, const std::vector<std::uint8_t>& bytes) {
  tar::write_member(out, path, bytes, 1700000000);
}

bool have_tar() { return std::system("tar --version >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("cache: export then import round-trips entries across layers", "[cache]") {
  fp8jit::test::TempDir tmp;
  const std::string rw = tmp.path() + "/rw", ro = tmp.path() + "/ro";
  const fc::Entry a = make_entry("sm_90a", "a", 1000);
  const fc::Entry b = make_entry("gfx942:sramecc+:xnack-", "b", 700);
  const fc::Entry c = make_entry("sm_90a", "c", 513);
  REQUIRE(fc::DiskStore(rw).store(a).ok());
  REQUIRE(fc::DiskStore(rw).store(b).ok());
  REQUIRE(fc::DiskStore(ro).store(b).ok());  // in both layers: exported once
  REQUIRE(fc::DiskStore(ro).store(c).ok());
  fc::CacheLayers layers(fc::LayersConfig{rw, {ro}, false, 0});
  const std::string archive = tmp.path() + "/out/cache.tar";
  fs::create_directories(tmp.path() + "/out");
  const auto before = snapshot(tmp.path());
  const fc::ExportReport ex = fc::export_entries(layers, {}, archive);
  CHECK(ex.entries == 3);
  CHECK(ex.skipped.empty());
  CHECK(ex.bytes == fc::encode_entry(a).size() + fc::encode_entry(b).size() +
                        fc::encode_entry(c).size());
  CHECK(fs::file_size(archive) % tar::kBlock == 0);
  CHECK(files_containing(tmp.path() + "/out", ".tmp.").empty());
  {
    // The cache itself is unchanged (the archive's directory is left out).
    const auto cache_only = [](std::map<std::string, std::string> m) {
      for (auto it = m.begin(); it != m.end();)
        it = it->first.find("/out") != std::string::npos ? m.erase(it) : std::next(it);
      return m;
    };
    CHECK(cache_only(snapshot(tmp.path())) == cache_only(before));
  }

  fc::CacheLayers dest_layers(fc::LayersConfig{tmp.path() + "/dest"});
  fc::DiskStore& dest = *dest_layers.writable();
  const fc::ImportReport im = fc::import_entries(archive, dest_layers);
  CHECK(im.ok());
  CHECK(im.members == 3);
  CHECK(im.imported == 3);
  for (const auto* e : {&a, &b, &c}) {
    const auto loaded = dest.load(e->target, e->key);
    REQUIRE(loaded);
    CHECK(loaded->binary == e->binary);
    CHECK(loaded->meta == e->meta);
  }
  // Again: everything is already there.
  const fc::ImportReport again = fc::import_entries(archive, dest_layers);
  CHECK(again.imported == 0);
  CHECK(again.already_present == 3);

  // Filters.
  CHECK(fc::export_entries(layers, {std::string("sm_90a"), {}}, archive).entries == 2);
  CHECK(fc::export_entries(layers, {std::nullopt, {c.key, "0123"}}, archive).entries == 1);
  CHECK(fc::export_entries(layers, {std::string("gfx950"), {}}, archive).entries == 0);
  CHECK(fc::import_entries(archive, dest_layers).members == 0);
}

TEST_CASE("cache: archives interchange with tar(1)", "[cache]") {
  if (!have_tar()) {
    WARN("SKIPPED: no tar command");
    return;
  }
  fp8jit::test::TempDir tmp;
  const std::string src = tmp.path() + "/src";
  fc::DiskStore store(src);
  const fc::Entry a = make_entry("sm_90a", "a", 100);
  const fc::Entry b = make_entry("gfx942:sramecc+:xnack-", "b", 2000);
  REQUIRE(store.store(a).ok());
  REQUIRE(store.store(b).ok());
  fc::CacheLayers layers(fc::LayersConfig{src, {}, false, 0});
  const std::string archive = tmp.path() + "/a.tar";
  REQUIRE(fc::export_entries(layers, {}, archive).entries == 2);

  // tar lists and extracts ours: the extracted tree is a valid cache.
  const std::string x = tmp.path() + "/x";
  fs::create_directories(x);
  REQUIRE(std::system(("tar -xf '" + archive + "' -C '" + x + "'").c_str()) == 0);
  fc::CacheLayers extracted(fc::LayersConfig{x, {}, true, 0});
  const fc::VerifyReport v = fc::verify(extracted);
  CHECK(v.ok());
  CHECK(v.entries == 2);
  for (const auto* e : {&a, &b}) {
    CHECK(read_bytes(fc::DiskStore(x).entry_path(e->target, e->key)) ==
          read_bytes(store.entry_path(e->target, e->key)));
  }

  // Ours imports what tar makes of a cache tree, and rejects the rest of the tree by name.
  const fs::path dir = fs::path(store.entry_path(a.target, a.key)).parent_path();
  write_bytes((dir / (a.key + ".tmp.1.abcdef")).string(), {1, 2});
  const std::string made = tmp.path() + "/made.tar";
  REQUIRE(std::system(("tar -cf '" + made + "' -C '" + src + "' v1").c_str()) == 0);
  fc::CacheLayers dest_layers(fc::LayersConfig{tmp.path() + "/dest"});
  fc::DiskStore& dest = *dest_layers.writable();
  const fc::ImportReport im = fc::import_entries(made, dest_layers);
  CHECK(im.imported == 2);
  REQUIRE(im.rejected.size() == 1);
  CHECK(im.rejected[0].find(".tmp.") != std::string::npos);
  CHECK(im.archive_error.empty());
}

TEST_CASE("cache: import rejects damaged members and paths that escape the root", "[cache]") {
  fp8jit::test::TempDir tmp;
  const fc::Entry good = make_entry("sm_90a", "good", 300);
  const fc::Entry other = make_entry("sm_90a", "other", 300);
  const fc::Entry amd = make_entry("gfx942", "amd", 300);
  const auto good_bytes = fc::encode_entry(good);
  auto flipped = fc::encode_entry(other);
  flipped[100] ^= 0x10;
  const std::string version = "v" + std::to_string(fc::kFormatVersion);

  const std::string archive = tmp.path() + "/bad.tar";
  {
    std::ofstream out(archive, std::ios::binary);
    add(out, "/" + member_path(good), good_bytes);                        // absolute
    add(out, "../" + member_path(good), good_bytes);                      // escapes
    add(out, version + "/sm_90a/../../../etc/x.fp8k", good_bytes);        // escapes
    add(out, "v999/sm_90a/" + good.key.substr(0, 2) + "/" + good.key + ".fp8k",
        good_bytes);                                                      // another format
    add(out, version + "/sm_90a/zz/" + good.key + ".fp8k", good_bytes);    // wrong prefix dir
    add(out, version + "/sm_90a/README", good_bytes);                     // not an entry path
    add(out, member_path(other), flipped);                                // checksum
    add(out, member_path(other), good_bytes);                             // key mismatch
    add(out, version + "/sm_90a/" + amd.key.substr(0, 2) + "/" + amd.key + ".fp8k",
        fc::encode_entry(amd));  // a valid gfx942 entry in the sm_90a directory
    add(out, "./" + member_path(good), good_bytes);  // the only good one
    tar::write_end(out);
  }
  fc::CacheLayers dest_layers(fc::LayersConfig{tmp.path() + "/dest"});
  fc::DiskStore& dest = *dest_layers.writable();
  const fc::ImportReport im = fc::import_entries(archive, dest_layers);
  CHECK(im.members == 10);
  CHECK(im.imported == 1);
  CHECK(im.failed.empty());
  CHECK(im.archive_error.empty());
  REQUIRE(im.rejected.size() == 9);
  CHECK(im.rejected[0].find("absolute") != std::string::npos);
  CHECK(im.rejected[1].find("escapes") != std::string::npos);
  CHECK(im.rejected[2].find("escapes") != std::string::npos);
  CHECK(im.rejected[3].find("format version 999") != std::string::npos);
  CHECK(im.rejected[4].find("not an entry path") != std::string::npos);
  CHECK(im.rejected[5].find("not an entry path") != std::string::npos);
  CHECK(im.rejected[6].find("checksum") != std::string::npos);
  CHECK(im.rejected[7].find("holds key") != std::string::npos);
  CHECK(im.rejected[8].find("target") != std::string::npos);
  // Only the good entry exists anywhere under the destination; nothing escaped.
  const auto files = files_containing(tmp.path(), ".fp8k");
  CHECK(files == std::vector<std::string>{dest.entry_path(good.target, good.key)});
  CHECK_FALSE(fs::exists(tmp.path() + "/etc"));
  CHECK(dest.load(good.target, good.key).has_value());
}

TEST_CASE("cache: a truncated or corrupted archive imports the members before the damage",
          "[cache]") {
  fp8jit::test::TempDir tmp;
  const fc::Entry a = make_entry("sm_90a", "a", 3000), b = make_entry("sm_90a", "b", 3000);
  std::ostringstream out;
  add(out, member_path(a), fc::encode_entry(a));
  add(out, member_path(b), fc::encode_entry(b));
  tar::write_end(out);
  const std::string whole = out.str();

  int imports = 0;
  const auto import_of = [&](const std::string& bytes) {
    const std::string path = tmp.path() + "/t.tar";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    fc::CacheLayers dest_layers(fc::LayersConfig{tmp.path() + "/dest" + std::to_string(++imports)});
    return fc::import_entries(path, dest_layers);
  };
  const std::size_t second = tar::kBlock + (fc::encode_entry(a).size() + 511) / 512 * 512;

  const fc::ImportReport cut = import_of(whole.substr(0, second + tar::kBlock + 100));
  CHECK(cut.imported == 1);
  CHECK(cut.archive_error.find("truncated") != std::string::npos);

  std::string bad_header = whole;
  bad_header[second + 10] ^= 1;  // the second header's name: checksum no longer matches
  const fc::ImportReport hdr = import_of(bad_header);
  CHECK(hdr.imported == 1);
  CHECK(hdr.archive_error.find("checksum") != std::string::npos);

  std::string bad_data = whole;
  bad_data[600] ^= 1;  // inside the first entry
  const fc::ImportReport data = import_of(bad_data);
  CHECK(data.imported == 1);
  CHECK(data.rejected.size() == 1);
  CHECK(data.archive_error.empty());

  fc::CacheLayers dest_layers(fc::LayersConfig{tmp.path() + "/dest"});
  fc::DiskStore& dest = *dest_layers.writable();
  CHECK_THROWS_AS(fc::import_entries(tmp.path() + "/missing.tar", dest_layers), fp8jit::Error);
}

TEST_CASE("cache: export skips entries that do not verify and fails cleanly when it cannot write",
          "[cache]") {
  fp8jit::test::TempDir tmp;
  fc::DiskStore store(tmp.path() + "/c");
  const fc::Entry a = make_entry("sm_90a", "a"), b = make_entry("sm_90a", "b");
  REQUIRE(store.store(a).ok());
  REQUIRE(store.store(b).ok());
  auto bytes = read_bytes(store.entry_path(b.target, b.key));
  bytes[50] ^= 1;
  write_bytes(store.entry_path(b.target, b.key), bytes);
  fc::CacheLayers layers(fc::LayersConfig{tmp.path() + "/c", {}, false, 0});

  const fc::ExportReport r = fc::export_entries(layers, {}, tmp.path() + "/a.tar");
  CHECK(r.entries == 1);
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].find(b.key) != std::string::npos);

  CHECK_THROWS_AS(fc::export_entries(layers, {}, tmp.path() + "/no/such/dir/a.tar"),
                  fp8jit::Error);
  write_bytes(tmp.path() + "/file", {1});
  CHECK_THROWS_AS(fc::export_entries(layers, {}, tmp.path() + "/file/a.tar"), fp8jit::Error);
  CHECK(files_containing(tmp.path(), ".tar.tmp.").empty());
}
