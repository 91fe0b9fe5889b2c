#include "cache/inspect.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cache/binary_check.hpp"
#include "cache/tree.hpp"
#include "util/file.hpp"
#include "util/text.hpp"

namespace fp8jit::cache {
namespace {

namespace fs = std::filesystem;

// An open, regular, not absurdly large file, or why not.
struct OpenFile {
  util::FileDescriptor fd;
  std::uint64_t size = 0;
  std::string why;
};

// Opens `name` of `dir_fd` (AT_FDCWD: a path) as util::open_regular does.
void open_entry(int dir_fd, const std::string& name, OpenFile& f) {
  util::OpenedFile o = util::open_regular(dir_fd, name);
  if (!o.ok()) {
    f.why = o.why;
    return;
  }
  f.size = static_cast<std::uint64_t>(o.st.st_size);
  if (f.size > kMaxEntryFileBytes) {
    f.why = std::to_string(f.size) + " bytes, more than any entry";
    return;
  }
  f.fd = std::move(o.fd);
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
    case Damage::bad_binary: return "bad_binary";
    case Damage::unreadable: return "unreadable";
    case Damage::foreign: return "foreign";
  }
  return "unknown";
}

namespace {

// Reads and checks the entry `name` of `dir_fd` (AT_FDCWD: `path`) found at `path`.
CheckedFile check_entry_file(int dir_fd, const std::string& name, const std::string& path) {
  CheckedFile out;
  try {
    OpenFile f;
    open_entry(dir_fd, name, f);
    std::vector<std::uint8_t> bytes;
    if (f.why.empty()) util::read_all(f.fd.get(), f.size, bytes, f.why);
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
      out.detail = "holds an entry for target \"" + util::escaped(d.entry->target) +
                   "\" in the directory of \"" + util::escaped(*target) + "\"";
      return out;
    }
    if (std::string problem = content_problem(*d.entry); !problem.empty()) {
      out.damage = Damage::bad_binary;
      out.detail = entry_kind(d.entry->meta) == EntryKind::kernel
                       ? "its binary is not loadable: " + problem
                       : "its content is not usable: " + problem;
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

}  // namespace

CheckedFile read_entry_file(const std::string& path) {
  return check_entry_file(AT_FDCWD, path, path);
}

CheckedFile read_entry_file(const std::string& root, const TreeFile& file) {
  const util::FileDescriptor dir = open_parent(root, file);
  if (!dir) {
    CheckedFile out;
    out.damage = Damage::unreadable;
    out.detail = "its directory is gone or no longer a directory";
    return out;
  }
  return check_entry_file(dir.get(), file.name, file.path);
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
      e.mtime = time_point_of(t.mtime);
      OpenFile f;
      const util::FileDescriptor dir = open_parent(store.root(), t);
      if (dir)
        open_entry(dir.get(), t.name, f);
      else
        f.why = "its directory is gone or no longer a directory";
      std::vector<std::uint8_t> head;
      if (f.why.empty() &&
          util::read_all(f.fd.get(), std::min<std::uint64_t>(f.size, kEntryHeaderBytes), head, f.why)) {
        const std::uint64_t need = entry_head_bytes(head, f.size);
        if (need > head.size()) {
          std::vector<std::uint8_t> rest;
          if (util::read_all(f.fd.get(), need - head.size(), rest, f.why))
            head.insert(head.end(), rest.begin(), rest.end());
        }
      }
      if (!f.why.empty()) {
        e.problem = f.why;
      } else if (DecodeResult d = decode_entry_head(head, f.size, t.key); !d.ok()) {
        e.problem = d.error;
      } else {
        e.meta = std::move(d.entry->meta);
        e.kind = entry_kind(e.meta);
        e.kernel_name = json_string(e.meta, e.kind == EntryKind::kernel ? "kernel_name" : "name");
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
          const CheckedFile c = read_entry_file(layers.layer(i).root(), t);
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
  const std::string& root = layers.writable()->root();
  for (const TreeFile& t : walk_tree(root)) {
    const bool ours = t.kind == TreeFileKind::entry || t.kind == TreeFileKind::quarantined;
    // NOTE: a link or special file is never ours: whoever planted it cannot redirect anything
    // (nothing follows it), and removing the name touches nothing it points to.
    const bool planted = t.kind == TreeFileKind::foreign && !S_ISREG(t.mode) && !S_ISDIR(t.mode);
    if (!(ours && (!target || t.target == *target)) && !(planted && !target)) continue;
    if (const int err = remove_walked(root, t); err != 0) {
      if (err != ESTALE)
        report.errors.push_back("failed to remove " + t.path + ": " + std::strerror(err));
      continue;
    }
    if (planted) continue;
    report.bytes_freed += t.size;
    ++(t.kind == TreeFileKind::entry ? report.entries_removed : report.quarantined_removed);
  }
  return report;
}

}  // namespace fp8jit::cache
