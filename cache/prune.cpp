#include "cache/prune.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "cache/tree.hpp"

namespace fp8jit::cache {
namespace {

bool same_file_as_walked(const TreeFile& f) {
  struct stat now {};
  return ::lstat(f.path.c_str(), &now) == 0 && now.st_dev == f.dev && now.st_ino == f.ino &&
         now.st_mtim.tv_sec == f.mtime.tv_sec && now.st_mtim.tv_nsec == f.mtime.tv_nsec;
}

// Removes `f` if it is still the file the walk saw; true when it was removed.
bool remove_walked(const TreeFile& f, PruneReport& report) {
  // NOTE: POSIX has no "unlink if still this inode"; re-checking right before unlink narrows the
  // window to microseconds, and losing that race only costs a recompile, never a wrong kernel.
  if (!same_file_as_walked(f)) return false;
  if (::unlink(f.path.c_str()) != 0) {
    if (errno != ENOENT)
      report.errors.push_back("failed to remove " + f.path + ": " + std::strerror(errno));
    return false;
  }
  report.bytes_freed += f.size;
  return true;
}

}  // namespace

PruneLock::PruneLock(const DiskStore& store) {
  const std::string path = version_dir(store.root()) + "/.prune.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    error_ = "failed to open the prune lock " + path + ": " + std::strerror(errno);
    return;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK)
      error_ = "failed to lock " + path + ": " + std::strerror(errno);
    ::close(fd);
    return;
  }
  fd_ = fd;
}

PruneLock::PruneLock(PruneLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), error_(std::move(other.error_)) {}

PruneLock::~PruneLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

PruneReport prune(const DiskStore& store, const PruneOptions& options) {
  PruneReport report;
  if (store.read_only()) {
    report.skipped_read_only = true;
    return report;
  }
  // NOTE: an absent tree has nothing to prune; do not create directories just to lock them.
  std::error_code ec;
  if (!std::filesystem::is_directory(version_dir(store.root()), ec)) return report;
  PruneLock lock(store);
  if (!lock.held()) {
    if (!lock.error().empty()) report.errors.push_back(lock.error());
    report.skipped_locked = lock.error().empty();
    return report;
  }

  struct timespec now_ts {};
  ::clock_gettime(CLOCK_REALTIME, &now_ts);
  const double now = seconds_of(now_ts);
  const auto older_than = [&](const TreeFile& f, std::chrono::seconds age) {
    return now - seconds_of(f.mtime) > static_cast<double>(age.count());
  };

  std::vector<TreeFile> entries;
  std::uint64_t total = 0;
  for (TreeFile& f : walk_tree(store.root())) {
    switch (f.kind) {
      case TreeFileKind::entry:
        total += f.size;
        entries.push_back(std::move(f));
        break;
      case TreeFileKind::temp:
        if (older_than(f, options.temp_age) && remove_walked(f, report)) ++report.temps_removed;
        break;
      case TreeFileKind::quarantined:
        if (older_than(f, options.quarantine_age) && remove_walked(f, report))
          ++report.quarantined_removed;
        break;
      case TreeFileKind::lock:
      case TreeFileKind::foreign:  // not ours to remove: verify reports it
        break;
    }
  }

  if (options.max_bytes > 0 && total > options.max_bytes) {
    const double fraction = std::clamp(options.low_water, 0.0, 1.0);
    const auto goal = static_cast<std::uint64_t>(static_cast<double>(options.max_bytes) * fraction);
    std::sort(entries.begin(), entries.end(), [](const TreeFile& a, const TreeFile& b) {
      if (a.mtime.tv_sec != b.mtime.tv_sec) return a.mtime.tv_sec < b.mtime.tv_sec;
      if (a.mtime.tv_nsec != b.mtime.tv_nsec) return a.mtime.tv_nsec < b.mtime.tv_nsec;
      return a.path < b.path;
    });
    std::vector<TreeFile> kept;
    for (TreeFile& f : entries) {
      if (total > goal && remove_walked(f, report)) {
        total -= f.size;
        ++report.entries_removed;
      } else {
        kept.push_back(std::move(f));
      }
    }
    entries = std::move(kept);
  }
  report.entries_kept = entries.size();
  report.bytes_kept = total;
  return report;
}

}  // namespace fp8jit::cache
