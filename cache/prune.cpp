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

// Removes `f` if it is still the file the walk saw; true when it was removed.
bool remove_walked(const DiskStore& store, const TreeFile& f, PruneReport& report) {
  const int err = remove_walked(store.root(), f);
  if (err == ESTALE) return false;
  if (err != 0) {
    report.errors.push_back("failed to remove " + f.path + ": " + std::strerror(err));
    return false;
  }
  report.bytes_freed += f.size;
  return true;
}

// Removes the key lock `f` unless a compile holds it (then it is not stale).
bool remove_idle_key_lock(const DiskStore& store, const TreeFile& f, PruneReport& report) {
  const util::FileDescriptor dir = open_parent(store.root(), f);
  if (!dir || !still_walked(dir.get(), f)) return false;
  const util::OpenedFile lock = util::open_regular(dir.get(), f.name, O_RDWR);
  if (!lock.ok() || lock.st.st_ino != f.ino) return false;
  if (::flock(lock.fd.get(), LOCK_EX | LOCK_NB) != 0) return false;  // held: a compile runs
  if (::unlinkat(dir.get(), f.name.c_str(), 0) != 0) {
    if (errno != ENOENT)
      report.errors.push_back("failed to remove " + f.path + ": " + std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace

PruneLock::PruneLock(const DiskStore& store) {
  const std::string path = version_dir(store.root()) + "/" + std::string(kPruneLockName);
  const util::OpenedDir dir = util::open_dirs(store.root(), std::vector{version_dir_name()});
  if (!dir.fd) {
    error_ = "failed to open the prune lock " + path + ": " + dir.why;
    return;
  }
  const std::string name(kPruneLockName);
  util::OpenedFile f = util::open_regular(dir.fd.get(), name, O_RDWR | O_CREAT, 0644);
  if (f.status == util::OpenedFile::Status::not_regular && !S_ISDIR(f.st.st_mode)) {
    // NOTE: a link or special file planted at the lock's name: remove the name (never what it
    // points to) and make the lock file afresh.
    ::unlinkat(dir.fd.get(), name.c_str(), 0);
    f = util::open_regular(dir.fd.get(), name, O_RDWR | O_CREAT | O_EXCL, 0644);
  }
  if (!f.ok()) {
    error_ = "failed to open the prune lock " + path + ": " + f.why;
    return;
  }
  if (::flock(f.fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) error_ = "failed to lock " + path + ": " + std::strerror(errno);
    return;
  }
  fd_ = std::move(f.fd);  // closing it releases the flock
}

PruneReport prune(const DiskStore& store, const PruneOptions& options) {
  PruneReport report;
  if (store.read_only()) {
    report.skipped_read_only = true;
    return report;
  }
  // NOTE: an absent tree has nothing to prune; do not create directories just to lock them.
  if (!util::open_dirs(store.root(), std::vector{version_dir_name()}).fd) return report;
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
        if (older_than(f, options.temp_age) && remove_walked(store, f, report))
          ++report.temps_removed;
        break;
      case TreeFileKind::quarantined:
        if (older_than(f, options.quarantine_age) && remove_walked(store, f, report))
          ++report.quarantined_removed;
        break;
      case TreeFileKind::lock:
        // NOTE: a key lock is removed by its holder; one left by a killed process is idle.
        if (!f.key.empty() && older_than(f, options.temp_age))
          remove_idle_key_lock(store, f, report);
        break;
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
      if (total > goal && remove_walked(store, f, report)) {
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
