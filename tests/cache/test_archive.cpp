// Export/import of entries as one ustar archive: round trip, filters, interchange with tar(1),
// and members that must never be published (damaged, escaping the root, other versions, links,
// lying sizes).
#include <archive.h>
#include <archive_entry.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>

#include "cache/archive.hpp"
#include "cache/inspect.hpp"
#include "fp8jit/error.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/cache/cache_fixtures.hpp"

namespace {

using namespace fp8jit::test::cache_fixtures;

constexpr std::size_t kTarBlock = 512;

std::string member_path(const fc::Entry& e) {
  return "v" + std::to_string(fc::kFormatVersion) + "/" + fc::target_dir_name(e.target) + "/" +
         e.key.substr(0, 2) + "/" + e.key + ".fp8k";
}

// Builds a ustar stream in memory with libarchive, members of any kind at any path: what the
// author of a hostile archive can write.
class TarBuilder {
 public:
  TarBuilder() : a_(archive_write_new()) {
    archive_write_set_format_ustar(a_.get());
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    REQUIRE(archive_write_open(a_.get(), &bytes_, nullptr, &TarBuilder::append, nullptr) ==
            ARCHIVE_OK);
  }

  // A member of `type`; `link` is a symbolic link's target or, for `hardlink`, the member it
  // links to. `declared` is the size the header claims (default: the data's); libarchive pads
  // missing data with NULs.
  TarBuilder& add(const std::string& path, const std::vector<std::uint8_t>& data,
                  mode_t type = AE_IFREG, const std::string& link = "", bool hardlink = false,
                  std::int64_t declared = -1) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_mtime(e.get(), 1700000000, 0);
    archive_entry_set_size(e.get(),
                           declared >= 0 ? declared : static_cast<std::int64_t>(data.size()));
    if (type == AE_IFLNK) archive_entry_set_symlink(e.get(), link.c_str());
    if (hardlink) archive_entry_set_hardlink(e.get(), link.c_str());
    REQUIRE(archive_write_header(a_.get(), e.get()) == ARCHIVE_OK);
    if (!data.empty())
      REQUIRE(archive_write_data(a_.get(), data.data(), data.size()) ==
              static_cast<la_ssize_t>(data.size()));
    REQUIRE(archive_write_finish_entry(a_.get()) == ARCHIVE_OK);
    return *this;
  }
  // The stream with its end blocks.
  std::string finish() {
    REQUIRE(archive_write_close(a_.get()) == ARCHIVE_OK);
    return bytes_;
  }

 private:
  static la_ssize_t append(archive*, void* out, const void* data, size_t n) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(data), n);
    return static_cast<la_ssize_t>(n);
  }
  struct Free {
    void operator()(archive* a) const { archive_write_free(a); }
  };
  std::string bytes_;
  std::unique_ptr<archive, Free> a_;
};

bool contains_nocase(const std::string& text, const std::string& word) {
  const auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  return lower(text).find(lower(word)) != std::string::npos;
}

// Imports `bytes` written to a file into a fresh cache under `dir`.
fc::ImportReport import_bytes(const std::string& dir, const std::string& bytes) {
  fs::create_directories(dir);
  const std::string path = dir + "/in.tar";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  fc::CacheLayers dest_layers(fc::LayersConfig{dir + "/dest"});
  return fc::import_entries(path, dest_layers);
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
  CHECK(fs::file_size(archive) % kTarBlock == 0);
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
    TarBuilder t;
    t.add("/" + member_path(good), good_bytes);                             // absolute
    t.add("../" + member_path(good), good_bytes);                           // escapes
    t.add(version + "/sm_90a/../../../etc/x.fp8k", good_bytes);             // escapes
    t.add("v999/sm_90a/" + good.key.substr(0, 2) + "/" + good.key + ".fp8k",
          good_bytes);                                                      // another format
    t.add(version + "/sm_90a/zz/" + good.key + ".fp8k", good_bytes);         // wrong prefix dir
    t.add(version + "/sm_90a/README", good_bytes);                          // not an entry path
    t.add(member_path(other), flipped);                                     // checksum
    t.add(member_path(other), good_bytes);                                  // key mismatch
    t.add(version + "/sm_90a/" + amd.key.substr(0, 2) + "/" + amd.key + ".fp8k",
          fc::encode_entry(amd));  // a valid gfx942 entry in the sm_90a directory
    t.add("./" + member_path(good), good_bytes);  // the only good one
    std::ofstream(archive, std::ios::binary) << t.finish();
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
  const std::string whole = TarBuilder()
                                .add(member_path(a), fc::encode_entry(a))
                                .add(member_path(b), fc::encode_entry(b))
                                .finish();

  int imports = 0;
  const auto import_of = [&](const std::string& bytes) {
    return import_bytes(tmp.path() + "/" + std::to_string(++imports), bytes);
  };
  const std::size_t second = kTarBlock + (fc::encode_entry(a).size() + 511) / 512 * 512;

  const fc::ImportReport cut = import_of(whole.substr(0, second + kTarBlock + 100));
  CHECK(cut.imported == 1);
  CHECK(contains_nocase(cut.archive_error, "truncated"));

  const fc::ImportReport cut_header = import_of(whole.substr(0, second + 100));
  CHECK(cut_header.imported == 1);
  CHECK(contains_nocase(cut_header.archive_error, "truncated"));

  std::string bad_header = whole;
  bad_header[second + 10] ^= 1;  // the second header's name: its checksum no longer matches
  const fc::ImportReport hdr = import_of(bad_header);
  CHECK(hdr.imported == 1);
  // libarchive's word for a header whose checksum does not match.
  CHECK(contains_nocase(hdr.archive_error, "damaged tar archive"));
  CHECK(hdr.archive_error.find("at byte " + std::to_string(second)) != std::string::npos);

  std::string bad_data = whole;
  bad_data[600] ^= 1;  // inside the first entry
  const fc::ImportReport data = import_of(bad_data);
  CHECK(data.imported == 1);
  CHECK(data.rejected.size() == 1);
  CHECK(data.archive_error.empty());

  std::string not_tar(4096, 'x');
  const fc::ImportReport garbage = import_of(not_tar);
  CHECK(garbage.members == 0);
  CHECK_FALSE(garbage.archive_error.empty());

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

TEST_CASE("cache: import rejects links, devices and members whose size lies", "[cache]") {
  fp8jit::test::TempDir tmp;
  const fc::Entry good = make_entry("sm_90a", "good", 300);
  const fc::Entry e = make_entry("sm_90a", "e", 300);
  const auto good_bytes = fc::encode_entry(good);

  // Links and special files at a valid entry path: extracted, they would point anywhere.
  const std::string links = TarBuilder()
                                .add(member_path(good), good_bytes)
                                .add(member_path(e), {}, AE_IFLNK, "/etc/passwd")
                                .add(member_path(e), {}, AE_IFREG, member_path(good), true)
                                .add(member_path(e), {}, AE_IFIFO)
                                .add(member_path(e), {}, AE_IFCHR)
                                .add("v1/sm_90a", {}, AE_IFDIR)  // skipped silently
                                .finish();
  const fc::ImportReport l = import_bytes(tmp.path() + "/links", links);
  CHECK(l.members == 5);
  CHECK(l.imported == 1);
  CHECK(l.archive_error.empty());
  REQUIRE(l.rejected.size() == 4);
  CHECK(l.rejected[0].find("symbolic link") != std::string::npos);
  CHECK(l.rejected[1].find("hard link") != std::string::npos);
  CHECK(l.rejected[2].find("FIFO") != std::string::npos);
  CHECK(l.rejected[3].find("not a regular file") != std::string::npos);
  CHECK_FALSE(fc::DiskStore(tmp.path() + "/links/dest").load(e.target, e.key));

  // A member that claims 10 MiB in an archive that ends after 300 bytes of it.
  const std::string claim =
      TarBuilder()
          .add(member_path(good), good_bytes)
          .add(member_path(e), fc::encode_entry(e), AE_IFREG, "", false, 10 << 20)
          .finish();
  const std::size_t second = kTarBlock + (good_bytes.size() + 511) / 512 * 512;
  const fc::ImportReport lie =
      import_bytes(tmp.path() + "/lie", claim.substr(0, second + kTarBlock + 300));
  CHECK(lie.imported == 1);
  CHECK(contains_nocase(lie.archive_error, "truncated"));
  CHECK_FALSE(fc::DiskStore(tmp.path() + "/lie/dest").load(e.target, e.key));

  // A member larger than any entry is rejected without reading it (2 GiB claimed, none there:
  // the header's size field is rewritten and its checksum recomputed).
  std::string huge =
      TarBuilder().add(member_path(good), good_bytes).add(member_path(e), {}).finish();
  char* h = huge.data() + second;
  std::snprintf(h + 124, 12, "%011llo", 2ULL << 30);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (std::size_t i = 0; i < kTarBlock; ++i) sum += static_cast<unsigned char>(h[i]);
  std::snprintf(h + 148, 8, "%06o", sum);
  const fc::ImportReport big = import_bytes(tmp.path() + "/big", huge);
  CHECK(big.imported == 1);
  REQUIRE(big.rejected.size() == 1);
  CHECK(big.rejected[0].find("more than any entry") != std::string::npos);
  CHECK_FALSE(big.archive_error.empty());
}
