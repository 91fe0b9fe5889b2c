#include "cache/tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "cache/disk_store.hpp"
#include "cache/key.hpp"

namespace fp8jit::cache {
namespace {

struct Child {
  std::string name;
  struct stat st {};
};

// The children of the directory `dir_fd` sorted by name, lstat'ed; none when it cannot be read.
std::vector<Child> children(int dir_fd) {
  std::vector<Child> out;
  for (std::string& name : util::dir_names(dir_fd)) {
    Child c;
    c.name = std::move(name);
    if (!util::lstat_at(dir_fd, c.name, c.st)) continue;  // gone meanwhile
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Child& a, const Child& b) { return a.name < b.name; });
  return out;
}

// `name` in `dir_fd` as a directory, never through a link; empty when it is none (any more).
util::FileDescriptor open_child_dir(int dir_fd, const std::string& name) {
  return util::FileDescriptor(
      ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

struct Where {
  std::string path;
  std::vector<std::string> dirs;
};

TreeFile file_of(const Where& w, const Child& c, TreeFileKind kind) {
  TreeFile f;
  f.kind = kind;
  f.path = w.path + "/" + c.name;
  f.dirs = w.dirs;
  f.name = c.name;
  f.size = static_cast<std::uint64_t>(c.st.st_size);
  f.mode = c.st.st_mode;
  f.mtime = c.st.st_mtim;
  f.dev = c.st.st_dev;
  f.ino = c.st.st_ino;
  return f;
}

TreeFile foreign(const Where& w, const Child& c, std::string why) {
  TreeFile f = file_of(w, c, TreeFileKind::foreign);
  f.why = std::move(why);
  return f;
}

bool is_prefix_name(std::string_view name) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return name.size() == 2 && hex(name[0]) && hex(name[1]);
}

// Sorts one file of a prefix directory.
TreeFile classify(const Where& w, const Child& c, const std::string& target,
                  std::string_view prefix) {
  const std::string_view name = c.name;
  const std::string_view key = name.substr(0, std::min(name.size(), kKeyHexLength));
  const bool named = is_valid_key(key) && key.substr(0, 2) == prefix;
  const std::string_view rest = named ? name.substr(key.size()) : std::string_view();
  const bool quarantined = named && rest.starts_with(std::string(kEntryExtension) + ".bad-");
  // NOTE: a quarantined name may hold a directory (what was found at an entry's path is moved
  // aside as it is); anything else must be a regular file.
  if (!S_ISREG(c.st.st_mode) && !(quarantined && S_ISDIR(c.st.st_mode)))
    return foreign(w, c, std::string(util::file_kind(c.st.st_mode)) + ", not a regular file");
  if (!named) return foreign(w, c, "not named after a key of its directory");
  TreeFileKind kind;
  if (rest == kEntryExtension) {
    kind = TreeFileKind::entry;
  } else if (rest.starts_with(".tmp.")) {
    kind = TreeFileKind::temp;
  } else if (quarantined) {
    kind = TreeFileKind::quarantined;
  } else if (rest == kKeyLockExtension) {
    kind = TreeFileKind::lock;
  } else {
    return foreign(w, c, "neither an entry, a temp file, a lock nor a quarantined entry");
  }
  TreeFile f = file_of(w, c, kind);
  f.target = target;
  f.key = std::string(key);
  return f;
}

}  // namespace

std::string version_dir_name() { return "v" + std::to_string(kFormatVersion); }

std::string version_dir(const std::string& root) { return root + "/" + version_dir_name(); }

std::vector<TreeFile> walk_tree(const std::string& root) {
  std::vector<TreeFile> out;
  const std::vector<std::string> top{version_dir_name()};
  const util::OpenedDir v = util::open_dirs(root, top);
  if (!v.fd) return out;
  const Where vw{version_dir(root), top};
  for (const Child& t : children(v.fd.get())) {
    if (t.name == kPruneLockName && S_ISREG(t.st.st_mode)) {
      out.push_back(file_of(vw, t, TreeFileKind::lock));
      continue;
    }
    const auto target = target_from_dir_name(t.name);
    if (!S_ISDIR(t.st.st_mode) || !target) {
      out.push_back(foreign(vw, t,
                            S_ISLNK(t.st.st_mode)  ? "a symbolic link"
                            : S_ISDIR(t.st.st_mode) ? "not a target directory"
                                                    : "not a target directory or the prune lock"));
      continue;
    }
    const util::FileDescriptor tfd = open_child_dir(v.fd.get(), t.name);
    if (!tfd) continue;  // replaced meanwhile
    Where tw{vw.path + "/" + t.name, vw.dirs};
    tw.dirs.push_back(t.name);
    for (const Child& p : children(tfd.get())) {
      if (!S_ISDIR(p.st.st_mode) || !is_prefix_name(p.name)) {
        out.push_back(foreign(tw, p, S_ISLNK(p.st.st_mode) ? "a symbolic link"
                                                           : "not a key-prefix directory"));
        continue;
      }
      const util::FileDescriptor pfd = open_child_dir(tfd.get(), p.name);
      if (!pfd) continue;
      Where pw{tw.path + "/" + p.name, tw.dirs};
      pw.dirs.push_back(p.name);
      for (const Child& f : children(pfd.get())) out.push_back(classify(pw, f, *target, p.name));
    }
  }
  return out;
}

util::FileDescriptor open_parent(const std::string& root, const TreeFile& f) {
  return std::move(util::open_dirs(root, f.dirs).fd);
}

bool still_walked(int dir_fd, const TreeFile& f) {
  struct stat now {};
  return util::lstat_at(dir_fd, f.name, now) && now.st_dev == f.dev && now.st_ino == f.ino &&
         now.st_mtim.tv_sec == f.mtime.tv_sec && now.st_mtim.tv_nsec == f.mtime.tv_nsec;
}

int remove_walked(const std::string& root, const TreeFile& f) {
  // NOTE: POSIX has no "unlink if still this inode"; re-checking right before the unlink narrows
  // the window to microseconds, and losing that race only costs a recompile, never a wrong kernel.
  const util::FileDescriptor dir = open_parent(root, f);
  if (!dir || !still_walked(dir.get(), f)) return ESTALE;
  const int err = util::remove_tree_at(dir.get(), f.name);
  return err == ENOENT ? ESTALE : err;
}

double seconds_of(const struct timespec& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::chrono::system_clock::time_point time_point_of(const struct timespec& t) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec)));
}

}  // namespace fp8jit::cache
