#include "cache/archive.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ext/stdio_filebuf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "cache/inspect.hpp"
#include "cache/tar.hpp"
#include "cache/tree.hpp"
#include "fp8jit/error.hpp"
#include "util/file.hpp"
#include "util/text.hpp"

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
    __gnu_cxx::stdio_filebuf<char> buf(fd.get(), std::ios::out | std::ios::binary);
    std::ostream out(&buf);
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
        tar::write_member(out, member, c.bytes, t.mtime.tv_sec);
        done.insert(t.target + "/" + t.key);
        ++report.entries;
        report.bytes += c.bytes.size();
      }
    }
    tar::write_end(out);
    out.flush();
    if (!out) throw fail("cannot write " + temp + ": " + util::errno_text(errno));
    if (::fsync(fd.get()) != 0) throw fail("cannot fsync " + temp + ": " + util::errno_text(errno));
    if (::rename(temp.c_str(), archive_path.c_str()) != 0)
      throw fail("cannot rename " + temp + " into place: " + util::errno_text(errno));
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  return report;
}

std::string scan_archive(std::istream& in, const std::function<void(ArchiveMember&&)>& on_member) {
  tar::Reader reader(in, kMaxEntryFileBytes);
  while (auto m = reader.next()) {
    if (m->type == '5') continue;  // directories: extracting makes them anyway
    ArchiveMember out;
    out.path = printable(m->path);
    std::string why;
    const auto where = parse_entry_path(m->path, why);
    if (!where) {
      out.problem = why;
    } else if (m->type != '0' && m->type != '7') {
      out.problem = std::string("not a regular file (tar type '") + printable({&m->type, 1}) + "')";
    } else if (!m->problem.empty()) {
      out.problem = m->problem;
    } else if (DecodeResult d = decode_entry(m->data, where->key); !d.ok()) {
      out.problem = d.error;
    } else if (d.entry->target != where->target) {
      out.problem = "holds an entry for target \"" + printable(d.entry->target) +
                    "\" in the directory of \"" + printable(where->target) + "\"";
    } else {
      out.entry = std::move(d.entry);
    }
    on_member(std::move(out));
  }
  return reader.error();
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
  __gnu_cxx::stdio_filebuf<char> buf(f.fd.get(), std::ios::in | std::ios::binary);
  std::istream in(&buf);
  ImportReport report;
  report.archive_error = scan_archive(in, [&](ArchiveMember&& m) {
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
