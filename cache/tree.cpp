#include "cache/tree.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <string_view>

#include "cache/disk_store.hpp"
#include "cache/key.hpp"

namespace fp8jit::cache {
namespace {

struct Child {
  std::string name;
  std::string path;
  struct stat st {};
};

// The children of `dir` sorted by name, lstat'ed; none when it cannot be read.
std::vector<Child> children(const std::string& dir) {
  std::vector<Child> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    Child c;
    c.name = std::string(name);
    c.path = dir + "/" + c.name;
    if (::lstat(c.path.c_str(), &c.st) != 0) continue;  // gone meanwhile
    out.push_back(std::move(c));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const Child& a, const Child& b) { return a.name < b.name; });
  return out;
}

TreeFile file_of(const Child& c, TreeFileKind kind) {
  TreeFile f;
  f.kind = kind;
  f.path = c.path;
  f.size = static_cast<std::uint64_t>(c.st.st_size);
  f.mtime = c.st.st_mtim;
  f.dev = c.st.st_dev;
  f.ino = c.st.st_ino;
  return f;
}

TreeFile foreign(const Child& c, std::string why) {
  TreeFile f = file_of(c, TreeFileKind::foreign);
  f.why = std::move(why);
  return f;
}

bool is_prefix_name(std::string_view name) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return name.size() == 2 && hex(name[0]) && hex(name[1]);
}

// Sorts one file of a prefix directory.
TreeFile classify(const Child& c, const std::string& target, std::string_view prefix) {
  if (!S_ISREG(c.st.st_mode)) return foreign(c, "not a regular file");
  const std::string_view name = c.name;
  const std::string_view key = name.substr(0, std::min(name.size(), kKeyHexLength));
  if (!is_valid_key(key) || key.substr(0, 2) != prefix)
    return foreign(c, "not named after a key of its directory");
  const std::string_view rest = name.substr(key.size());
  TreeFileKind kind;
  if (rest == kEntryExtension) {
    kind = TreeFileKind::entry;
  } else if (rest.starts_with(".tmp.")) {
    kind = TreeFileKind::temp;
  } else if (rest.starts_with(std::string(kEntryExtension) + ".bad-")) {
    kind = TreeFileKind::quarantined;
  } else {
    return foreign(c, "neither an entry, a temp file nor a quarantined entry");
  }
  TreeFile f = file_of(c, kind);
  f.target = target;
  f.key = std::string(key);
  return f;
}

}  // namespace

std::string version_dir(const std::string& root) {
  return root + "/v" + std::to_string(kFormatVersion);
}

std::vector<TreeFile> walk_tree(const std::string& root) {
  std::vector<TreeFile> out;
  for (const Child& t : children(version_dir(root))) {
    if (t.name == ".prune.lock" && S_ISREG(t.st.st_mode)) {
      out.push_back(file_of(t, TreeFileKind::lock));
      continue;
    }
    const auto target = target_from_dir_name(t.name);
    if (!S_ISDIR(t.st.st_mode) || !target) {
      out.push_back(foreign(t, S_ISDIR(t.st.st_mode) ? "not a target directory"
                                                     : "not a target directory or the prune lock"));
      continue;
    }
    for (const Child& p : children(t.path)) {
      if (!S_ISDIR(p.st.st_mode) || !is_prefix_name(p.name)) {
        out.push_back(foreign(p, "not a key-prefix directory"));
        continue;
      }
      for (const Child& f : children(p.path)) out.push_back(classify(f, *target, p.name));
    }
  }
  return out;
}

double seconds_of(const struct timespec& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace fp8jit::cache
