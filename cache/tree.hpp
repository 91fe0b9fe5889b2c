// The files of one cache tree (<root>/v<kFormatVersion>/...) sorted into what they are, without
// reading them: the one walk that prune, verify, stats, clear and export share.
//
//   v<fmt>/.prune.lock                        lock     (prune.hpp)
//   v<fmt>/<target dir>/<k0k1>/<key>.fp8k     entry    (k0k1 = the key's first two characters)
//   v<fmt>/<target dir>/<k0k1>/<key>.tmp.*    temp     (a writer's temp file, or a crash's)
//   v<fmt>/<target dir>/<k0k1>/<key>.lock     lock     (a compile in progress: DiskStore::lock_key)
//   v<fmt>/<target dir>/<k0k1>/<key>.fp8k.bad-*  quarantined (a damaged entry moved aside; a
//                                             regular file or a directory)
//   anything else under v<fmt>/               foreign  (a directory that is not a target or
//                                             prefix directory is reported once, not entered)
//
// The walk opens each directory relative to its parent's descriptor and never follows a symbolic
// link (one is foreign, wherever it is). Whoever acts on a walked file afterwards reopens its
// directory the same way (open_parent) and checks that the name still is the file walked
// (still_walked), so that nothing swapped in meanwhile is read, removed or followed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "util/file.hpp"

namespace fp8jit::cache {

enum class TreeFileKind { entry, temp, quarantined, lock, foreign };

struct TreeFile {
  TreeFileKind kind = TreeFileKind::foreign;
  std::string path;               // <root>/v<fmt>/..., for messages
  std::vector<std::string> dirs;  // the directories below the root that hold it: {"v<fmt>", ...}
  std::string name;               // its name in the last of them
  std::string target;             // entry, temp, quarantined, key lock: from the directory name
  std::string key;                // entry, temp, quarantined, key lock: from the file name
  std::uint64_t size = 0;         // bytes (lstat)
  mode_t mode = 0;                // lstat
  struct timespec mtime {};       // lstat
  std::uint64_t dev = 0, ino = 0;
  std::string why;                // foreign: what is wrong with the name or type
};

// The directory <root>/v<kFormatVersion>, and its name.
std::string version_dir(const std::string& root);
std::string version_dir_name();

// Every file and foreign directory under version_dir(root), sorted by path. Never follows a
// symbolic link. A missing root yields nothing; an unreadable directory is skipped. Never throws
// for the tree's contents (only for allocation).
std::vector<TreeFile> walk_tree(const std::string& root);

// The directory that holds `f`, opened below `root` without following a link; an empty
// descriptor when it is gone or no longer a directory.
util::FileDescriptor open_parent(const std::string& root, const TreeFile& f);

// Whether `f.name` in `dir_fd` is still the file the walk saw (device, inode, mtime).
bool still_walked(int dir_fd, const TreeFile& f);

// Removes `f` (a directory with its contents) if it is still the file walked: 0 when removed,
// ESTALE when it was replaced or is gone, else the errno of the failure.
int remove_walked(const std::string& root, const TreeFile& f);

// Seconds since the epoch with fractions, for comparing mtimes.
double seconds_of(const struct timespec& t);
// The same instant as a system_clock time point, for listings.
std::chrono::system_clock::time_point time_point_of(const struct timespec& t);

}  // namespace fp8jit::cache
