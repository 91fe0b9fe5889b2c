// The files of one cache tree (<root>/v<kFormatVersion>/...) sorted into what they are, without
// reading them: the one walk that prune, verify, stats and clear share.
//
//   v<fmt>/.prune.lock                        lock     (prune.hpp)
//   v<fmt>/<target dir>/<k0k1>/<key>.fp8k     entry    (k0k1 = the key's first two characters)
//   v<fmt>/<target dir>/<k0k1>/<key>.tmp.*    temp     (a writer's temp file, or a crash's)
//   v<fmt>/<target dir>/<k0k1>/<key>.fp8k.bad-*  quarantined (a damaged entry moved aside)
//   anything else under v<fmt>/               foreign  (a directory that is not a target or
//                                             prefix directory is reported once, not entered)
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace fp8jit::cache {

enum class TreeFileKind { entry, temp, quarantined, lock, foreign };

struct TreeFile {
  TreeFileKind kind = TreeFileKind::foreign;
  std::string path;          // <root>/v<fmt>/...
  std::string target;        // entry, temp, quarantined: from the directory name
  std::string key;           // entry, temp, quarantined: from the file name
  std::uint64_t size = 0;    // bytes (lstat)
  struct timespec mtime {};  // lstat
  std::uint64_t dev = 0, ino = 0;
  std::string why;           // foreign: what is wrong with the name or type
};

// The directory <root>/v<kFormatVersion>.
std::string version_dir(const std::string& root);

// Every file and foreign directory under version_dir(root), sorted by path. Never follows a
// symbolic link (one is foreign). A missing root yields nothing; an unreadable directory is
// skipped. Never throws for the tree's contents (only for allocation).
std::vector<TreeFile> walk_tree(const std::string& root);

// Seconds since the epoch with fractions, for comparing mtimes.
double seconds_of(const struct timespec& t);

}  // namespace fp8jit::cache
