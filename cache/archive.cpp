#include "cache/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "cache/inspect.hpp"
#include "cache/tree.hpp"
#include "fp8jit/error.hpp"
#include "util/file.hpp"
#include "util/text.hpp"

// NOTE: libarchive.a is linked in (CMakeLists.txt says why) and needs only libc as long as this
// file calls no more than its tar reader and ustar writer: another format or a compression filter
// would need zlib, libxml2 and the rest, and the link would fail for want of them.

namespace fp8jit::cache {
namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// What a message may show of a path from an untrusted archive.
std::string printable(std::string_view s) { return util::escaped(s, 200); }

struct EntryPath {
  std::string target, key;
};

// Parses v<fmt>/<target dir>/<k0k1>/<key>.fp8k (after any leading "./"); sets `why` when the path
// is not one.
std::optional<EntryPath> parse_entry_path(std::string_view path, std::string& why) {
  if (path.empty()) {
    why = "empty path";
    return std::nullopt;
  }
  if (path.front() == '/') {
    why = "absolute path: escapes the cache root";
    return std::nullopt;
  }
  std::vector<std::string> parts = split(path, '/');
  for (const std::string& p : parts) {
    if (p == "..") {
      why = "'..' in the path: escapes the cache root";
      return std::nullopt;
    }
  }
  const auto first = std::find_if(parts.begin(), parts.end(), [](auto& p) { return p != "."; });
  parts.erase(parts.begin(), first);
  const std::string version = "v" + std::to_string(kFormatVersion);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!parts.empty() && parts[0] != version && parts[0].size() > 1 && parts[0][0] == 'v' &&
      std::all_of(parts[0].begin() + 1, parts[0].end(), digit)) {
    why = "an entry of format version " + parts[0].substr(1) + ", this library reads " +
          std::to_string(kFormatVersion);
    return std::nullopt;
  }
  why = "not an entry path (" + version + "/<target>/<k0k1>/<key>" + std::string(kEntryExtension) +
        ")";
  if (parts.size() != 4 || parts[0] != version) return std::nullopt;
  const auto target = target_from_dir_name(parts[1]);
  const std::string& file = parts[3];
  if (!target || file.size() <= kEntryExtension.size() || !file.ends_with(kEntryExtension))
    return std::nullopt;
  const std::string key = file.substr(0, file.size() - kEntryExtension.size());
  if (!is_valid_key(key) || parts[2] != key.substr(0, 2)) return std::nullopt;
  why.clear();
  return EntryPath{*target, key};
}

// Owners of libarchive's handles.
struct ReadArchiveFree {
  void operator()(archive* a) const noexcept { archive_read_free(a); }
};
struct WriteArchiveFree {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};
using ReadArchive = std::unique_ptr<archive, ReadArchiveFree>;
using WriteArchive = std::unique_ptr<archive, WriteArchiveFree>;
using ArchiveEntry = std::unique_ptr<archive_entry, EntryFree>;

std::string error_of(archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

// A tar reader over nothing yet: tar in any of its dialects (ustar, pax, GNU, v7), no compression.
ReadArchive new_tar_reader() {
  ReadArchive a(archive_read_new());
  if (!a) throw std::bad_alloc();
  archive_read_support_format_tar(a.get());
  return a;
}

// The member `e` just read, checked (its data read when its path and kind qualify). Sets `stop`
// when reading its data failed: the stream is damaged, the member is not reported.
std::optional<ArchiveMember> check_member(archive* a, archive_entry* e, std::string& stop) {
  const char* stored = archive_entry_pathname(e);
  const std::string path = stored ? stored : "";
  const char* hardlink = archive_entry_hardlink(e);
  const mode_t type = archive_entry_filetype(e);
  if (type == AE_IFDIR && !hardlink) return std::nullopt;  // extracting makes them anyway
  ArchiveMember out;
  out.path = printable(path);
  std::string why;
  const auto where = parse_entry_path(path, why);
  const auto size = archive_entry_size(e);
  if (!where) {
    out.problem = why;
  } else if (hardlink) {
    out.problem = "not a regular file (a hard link to " + printable(hardlink) + ")";
  } else if (type != AE_IFREG) {
    out.problem =
        std::string("not a regular file (") + util::file_kind(archive_entry_mode(e)) + ")";
  } else if (archive_entry_sparse_count(e) > 0) {
    // Its data would be mostly holes that libarchive fills in: no entry is written that way.
    out.problem = "a sparse file, not an entry";
  } else if (!archive_entry_size_is_set(e) || size < 0 ||
             static_cast<std::uint64_t>(size) > kMaxEntryFileBytes) {
    out.problem = std::to_string(size) + " bytes, more than any entry (" +
                  std::to_string(kMaxEntryFileBytes) + ")";
  }
  if (!out.problem.empty()) return out;
  // Read in chunks, so that a lying size costs no more memory than the stream holds.
  constexpr std::size_t kChunk = 1 << 20;
  std::vector<std::uint8_t> data;
  while (data.size() < static_cast<std::uint64_t>(size)) {
    const std::size_t old = data.size();
    data.resize(old + std::min<std::uint64_t>(kChunk, static_cast<std::uint64_t>(size) - old));
    const la_ssize_t got = archive_read_data(a, data.data() + old, data.size() - old);
    if (got < 0) {
      stop = error_of(a);
      return std::nullopt;
    }
    data.resize(old + static_cast<std::size_t>(got));
    if (got == 0) {
      out.problem = "data shorter than its size (" + std::to_string(data.size()) + " of " +
                    std::to_string(size) + " bytes)";
      return out;
    }
  }
  if (DecodeResult d = decode_entry(data, where->key); !d.ok()) {
    out.problem = d.error;
  } else if (d.entry->target != where->target) {
    out.problem = "holds an entry for target \"" + printable(d.entry->target) +
                  "\" in the directory of \"" + printable(where->target) + "\"";
  } else {
    out.entry = std::move(d.entry);
  }
  return out;
}

// Reads the members of the opened tar reader `a` (scan_archive).
std::string scan(archive* a, const std::function<void(ArchiveMember&&)>& on_member) {
  // NOTE: after a fatal error libarchive answers every call, the header position too, with
  // ARCHIVE_FATAL: the offset of the last member read is kept to say where the damage is.
  la_int64_t member_at = -1;
  const auto damaged = [&](const std::string& why) {
    const la_int64_t at = archive_read_header_position(a);
    const std::string where = at >= 0          ? "at byte " + std::to_string(at)
                              : member_at >= 0 ? "after the member at byte " +
                                                     std::to_string(member_at)
                                               : "at its start";
    return "damaged archive " + where + ": " + why;
  };
  for (;;) {
    archive_entry* e = nullptr;
    const int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) return "";
    // NOTE: libarchive answers a bad header checksum with ARCHIVE_RETRY, to scan for the next
    // header that looks valid; a tar stream cannot be resynchronized reliably, so reading stops
    // at any error. A warning (a name it could not convert, say) still returns the member.
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return damaged(error_of(a));
    member_at = archive_read_header_position(a);
    std::string stop;
    std::optional<ArchiveMember> m = check_member(a, e, stop);
    if (!stop.empty())
      return "damaged archive in the data of the member at byte " + std::to_string(member_at) +
             ": " + stop;
    if (m) on_member(std::move(*m));
  }
}

}  // namespace

bool EntryFilter::matches(std::string_view t, std::string_view key) const {
  if (target && *target != t) return false;
  return keys.empty() || std::find(keys.begin(), keys.end(), key) != keys.end();
}

ExportReport export_entries(const CacheLayers& layers, const EntryFilter& filter,
                            const std::string& archive_path) {
  const auto fail = [&](const std::string& cause) {
    return Error("failed to export cache entries to " + archive_path + ": " + cause);
  };
  struct stat st {};
  if (::stat(archive_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw InvalidArgument("failed to export cache entries to " + archive_path +
                          ": it is a directory; name the archive file to write");
  // NOTE: written to a temp file made with mkstemp (O_EXCL, an unpredictable name) beside the
  // destination, then renamed over it: a crash or a full disk never leaves a truncated archive
  // under the final name, and a link planted under a guessable name is never written through.
  const std::filesystem::path dest(archive_path);
  std::string temp = (dest.parent_path() / ("." + dest.filename().string() + ".tmp.XXXXXX")).string();
  util::FileDescriptor fd(::mkstemp(temp.data()));
  if (!fd) throw fail("cannot create a temp file beside it: " + util::errno_text(errno));
  ::fchmod(fd.get(), 0644);
  ExportReport report;
  try {
    WriteArchive out(archive_write_new());
    if (!out) throw std::bad_alloc();
    // ustar, the tar every tar(1) reads; blocked like tar(1) but without padding the last block,
    // so the file ends with the two end blocks.
    if (archive_write_set_format_ustar(out.get()) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(out.get(), 1) != ARCHIVE_OK ||
        archive_write_open_fd(out.get(), fd.get()) != ARCHIVE_OK)
      throw fail("cannot start the archive: " + error_of(out.get()));
    std::set<std::string> done;  // keys exported (or seen valid) already
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const std::string& root = layers.layer(i).root();
      for (const TreeFile& t : walk_tree(root)) {
        if (t.kind != TreeFileKind::entry || !filter.matches(t.target, t.key)) continue;
        if (done.count(t.target + "/" + t.key)) continue;
        const CheckedFile c = read_entry_file(root, t);
        if (!c.ok()) {
          report.skipped.push_back(t.path + ": " + c.detail);
          continue;
        }
        const std::string member = version_dir_name() + "/" + target_dir_name(t.target) + "/" +
                                   t.key.substr(0, 2) + "/" + t.key + std::string(kEntryExtension);
        ArchiveEntry e(archive_entry_new());
        if (!e) throw std::bad_alloc();
        archive_entry_set_pathname(e.get(), member.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0644);
        archive_entry_set_uid(e.get(), 0);
        archive_entry_set_gid(e.get(), 0);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(c.bytes.size()));
        archive_entry_set_mtime(e.get(), t.mtime.tv_sec > 0 ? t.mtime.tv_sec : 0, 0);
        if (archive_write_header(out.get(), e.get()) != ARCHIVE_OK ||
            archive_write_data(out.get(), c.bytes.data(), c.bytes.size()) !=
                static_cast<la_ssize_t>(c.bytes.size()) ||
            archive_write_finish_entry(out.get()) != ARCHIVE_OK)
          throw fail("cannot add " + member + ": " + error_of(out.get()));
        done.insert(t.target + "/" + t.key);
        ++report.entries;
        report.bytes += c.bytes.size();
      }
    }
    // Writes the end blocks and flushes; the fd stays open (libarchive does not close it).
    if (archive_write_close(out.get()) != ARCHIVE_OK)
      throw fail("cannot write " + temp + ": " + error_of(out.get()));
    if (::fsync(fd.get()) != 0) throw fail("cannot fsync " + temp + ": " + util::errno_text(errno));
    if (::rename(temp.c_str(), archive_path.c_str()) != 0)
      throw fail("cannot rename " + temp + " into place: " + util::errno_text(errno));
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  return report;
}

std::string scan_archive(std::span<const std::uint8_t> bytes,
                         const std::function<void(ArchiveMember&&)>& on_member) {
  ReadArchive a = new_tar_reader();
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK)
    return "unreadable archive: " + error_of(a.get());
  return scan(a.get(), on_member);
}

std::string scan_archive(int fd, const std::function<void(ArchiveMember&&)>& on_member) {
  ReadArchive a = new_tar_reader();
  constexpr std::size_t kReadBlock = 64 * 1024;
  if (archive_read_open_fd(a.get(), fd, kReadBlock) != ARCHIVE_OK)
    return "unreadable archive: " + error_of(a.get());
  return scan(a.get(), on_member);
}

ImportReport import_entries(const std::string& archive_path, CacheLayers& layers) {
  const auto bad = [&](const std::string& cause) {
    return InvalidArgument("failed to import cache entries from " + archive_path + ": " + cause);
  };
  // NOTE: opened like a cache file (no blocking on a FIFO, regular files only): a path the user
  // typed may name a FIFO or a device as easily as an archive.
  util::OpenedFile f = util::open_regular(AT_FDCWD, archive_path);
  if (f.status == util::OpenedFile::Status::not_regular)
    throw bad(f.why + "; name a tar archive made by `fp8jit cache export`");
  if (!f.ok()) throw Error("failed to import cache entries from " + archive_path + ": " + f.why);
  if (f.st.st_size == 0) throw bad("the file is empty, not a tar archive");
  if (!layers.can_store())
    throw CacheError("failed to import cache entries from " + archive_path +
                     ": the cache is read-only or has no writable directory");
  DiskStore& store = *layers.writable();
  ImportReport report;
  report.archive_error = scan_archive(f.fd.get(), [&](ArchiveMember&& m) {
    ++report.members;
    if (!m.entry) {
      report.rejected.push_back(m.path + ": " + m.problem);
      return;
    }
    const StoreResult r = store.store(*m.entry);
    switch (r.outcome) {
      case StoreResult::Outcome::published: ++report.imported; break;
      case StoreResult::Outcome::kept_existing: ++report.already_present; break;
      case StoreResult::Outcome::failed: report.failed.push_back(r.error); break;
    }
  });
  if (report.members == 0 && report.archive_error.empty())
    report.archive_error = "no member: not an archive of cache entries";
  // NOTE: an import is a store like any other: it keeps the layer under its budget (least
  // recently used first, so the entries just imported go last).
  if (report.imported > 0 && layers.max_bytes() > 0) {
    const PruneReport pruned = layers.prune();
    report.evicted = pruned.entries_removed;
    for (const std::string& e : pruned.errors) report.failed.push_back(e);
  }
  return report;
}

}  // namespace fp8jit::cache
