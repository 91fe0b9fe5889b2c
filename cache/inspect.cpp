#include "cache/inspect.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cache/tree.hpp"

namespace fp8jit::cache {
namespace {

namespace fs = std::filesystem;

// Reads up to `limit` bytes of the regular file `fd`; false (with `why`) on an I/O error.
bool read_up_to(int fd, std::uint64_t limit, std::vector<std::uint8_t>& out, std::string& why) {
  out.resize(limit);
  std::size_t got = 0;
  while (got < limit) {
    const ssize_t n = ::read(fd, out.data() + got, limit - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = std::string("cannot read: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) break;  // shrank under us: decode calls it truncated
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return true;
}

// An open, regular, not absurdly large file, or why not.
struct OpenFile {
  int fd = -1;
  std::uint64_t size = 0;
  std::string why;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

void open_entry(const std::string& path, OpenFile& f) {
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (f.fd < 0) {
    f.why = std::string("cannot open: ") + std::strerror(errno);
    return;
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    f.why = std::string("cannot stat: ") + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    f.why = "not a regular file";
  } else if (static_cast<std::uint64_t>(st.st_size) > kMaxEntryFileBytes) {
    f.why = std::to_string(st.st_size) + " bytes, more than any entry";
  }
  f.size = static_cast<std::uint64_t>(st.st_size);
}

Damage damage_of(DecodeProblem p) {
  switch (p) {
    case DecodeProblem::bad_magic: return Damage::bad_magic;
    case DecodeProblem::bad_version: return Damage::bad_version;
    case DecodeProblem::bad_length: return Damage::bad_length;
    case DecodeProblem::bad_checksum: return Damage::bad_checksum;
    case DecodeProblem::key_mismatch: return Damage::key_mismatch;
    case DecodeProblem::bad_metadata:
    case DecodeProblem::none: break;
  }
  return Damage::bad_metadata;
}

// The target named by the directory two levels above an entry file, if any.
std::optional<std::string> target_of_path(const fs::path& p) {
  return target_from_dir_name(p.parent_path().parent_path().filename().string());
}

std::string json_string(const nlohmann::json& meta, const char* member) {
  const auto it = meta.find(member);
  return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

const char* damage_name(Damage damage) {
  switch (damage) {
    case Damage::bad_magic: return "bad_magic";
    case Damage::bad_version: return "bad_version";
    case Damage::bad_length: return "bad_length";
    case Damage::bad_checksum: return "bad_checksum";
    case Damage::bad_metadata: return "bad_metadata";
    case Damage::key_mismatch: return "key_mismatch";
    case Damage::wrong_target: return "wrong_target";
    case Damage::unreadable: return "unreadable";
    case Damage::foreign: return "foreign";
  }
  return "unknown";
}

CheckedFile read_entry_file(const std::string& path) {
  CheckedFile out;
  try {
    OpenFile f;
    open_entry(path, f);
    std::vector<std::uint8_t> bytes;
    if (f.why.empty()) read_up_to(f.fd, f.size, bytes, f.why);
    if (!f.why.empty()) {
      out.damage = Damage::unreadable;
      out.detail = f.why;
      return out;
    }
    const fs::path p(path);
    DecodeResult d = decode_entry(bytes, p.stem().string());
    if (!d.ok()) {
      out.damage = damage_of(d.problem);
      out.detail = d.error;
      return out;
    }
    if (const auto target = target_of_path(p); target && *target != d.entry->target) {
      out.damage = Damage::wrong_target;
      out.detail = "holds an entry for target \"" + d.entry->target + "\" in the directory of \"" +
                   *target + "\"";
      return out;
    }
    out.entry = std::move(d.entry);
    out.bytes = std::move(bytes);
  } catch (const std::exception& e) {  // allocation
    out.damage = Damage::unreadable;
    out.detail = e.what();
  }
  return out;
}

std::vector<ListedEntry> list_entries(const CacheLayers& layers) {
  std::vector<ListedEntry> out;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const DiskStore& store = layers.layer(i);
    for (const TreeFile& t : walk_tree(store.root())) {
      if (t.kind != TreeFileKind::entry) continue;
      ListedEntry e;
      e.layer = i;
      e.writable = !store.read_only();
      e.path = t.path;
      e.target = t.target;
      e.key = t.key;
      e.size = t.size;
      e.mtime = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::seconds(t.mtime.tv_sec) + std::chrono::nanoseconds(t.mtime.tv_nsec)));
      OpenFile f;
      open_entry(t.path, f);
      std::vector<std::uint8_t> head;
      if (f.why.empty() && read_up_to(f.fd, std::min<std::uint64_t>(f.size, kEntryHeaderBytes),
                                      head, f.why)) {
        const std::uint64_t need = entry_head_bytes(head, f.size);
        if (need > head.size()) {
          std::vector<std::uint8_t> rest;
          if (read_up_to(f.fd, need - head.size(), rest, f.why))
            head.insert(head.end(), rest.begin(), rest.end());
        }
      }
      if (!f.why.empty()) {
        e.problem = f.why;
      } else if (DecodeResult d = decode_entry_head(head, f.size, t.key); !d.ok()) {
        e.problem = d.error;
      } else {
        e.meta = std::move(d.entry->meta);
        e.kernel_name = json_string(e.meta, "kernel_name");
        e.spec = json_string(e.meta, "spec");
        e.toolchain = json_string(e.meta, "toolchain");
        e.toolchain_version = json_string(e.meta, "toolchain_version");
        e.created = json_string(e.meta, "created");
        e.library_version = json_string(e.meta, "library_version");
        e.meta["target"] = d.entry->target;
        if (d.entry->target != t.target)
          e.problem = "holds an entry for target \"" + d.entry->target + "\"";
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

VerifyReport verify(const CacheLayers& layers) {
  VerifyReport report;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    for (const TreeFile& t : walk_tree(layers.layer(i).root())) {
      switch (t.kind) {
        case TreeFileKind::entry: {
          ++report.entries;
          const CheckedFile c = read_entry_file(t.path);
          if (c.ok()) {
            ++report.entries_ok;
          } else {
            report.damaged.push_back({i, t.path, c.damage, c.detail});
          }
          break;
        }
        case TreeFileKind::temp: ++report.temps; break;
        case TreeFileKind::quarantined: ++report.quarantined; break;
        case TreeFileKind::lock: break;
        case TreeFileKind::foreign:
          report.damaged.push_back({i, t.path, Damage::foreign, t.why});
          break;
      }
    }
  }
  return report;
}

std::vector<LayerStats> stats(const CacheLayers& layers) {
  std::vector<LayerStats> out;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const DiskStore& store = layers.layer(i);
    LayerStats s;
    s.root = store.root();
    s.writable = !store.read_only();
    for (const TreeFile& t : walk_tree(store.root())) {
      switch (t.kind) {
        case TreeFileKind::entry: {
          ++s.entries;
          s.bytes += t.size;
          TargetStats& per = s.targets[t.target];
          ++per.entries;
          per.bytes += t.size;
          break;
        }
        case TreeFileKind::temp:
          ++s.temps;
          s.temp_bytes += t.size;
          break;
        case TreeFileKind::quarantined:
          ++s.quarantined;
          s.quarantined_bytes += t.size;
          break;
        case TreeFileKind::lock: break;
        case TreeFileKind::foreign: ++s.foreign; break;
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

ClearReport clear(CacheLayers& layers, const std::optional<std::string>& target) {
  ClearReport report;
  if (!layers.can_store()) {
    report.errors.push_back(layers.writable()
                                ? "failed to clear " + layers.writable()->root() +
                                      ": the cache is read-only"
                                : "failed to clear the cache: no writable cache directory");
    return report;
  }
  for (const TreeFile& t : walk_tree(layers.writable()->root())) {
    const bool ours = t.kind == TreeFileKind::entry || t.kind == TreeFileKind::quarantined;
    if (!ours || (target && t.target != *target)) continue;
    if (::unlink(t.path.c_str()) != 0) {
      if (errno != ENOENT)
        report.errors.push_back("failed to remove " + t.path + ": " + std::strerror(errno));
      continue;
    }
    report.bytes_freed += t.size;
    ++(t.kind == TreeFileKind::entry ? report.entries_removed : report.quarantined_removed);
  }
  return report;
}

}  // namespace fp8jit::cache
