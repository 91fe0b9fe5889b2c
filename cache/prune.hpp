// Eviction: keeps a writable cache tree under a size budget, least-recently-used entries first
// (an entry's mtime is its LRU clock: DiskStore::load refreshes it on every hit), and removes
// what crashed writers and readers left behind (temp files older than an hour, quarantined
// entries older than a day).
//
// Pruning holds a try-lock, flock(LOCK_EX | LOCK_NB) on <root>/v<fmt>/.prune.lock (opened without
// following a link; a link or special file planted there is replaced), so that
// concurrent processes do not prune together: one that does not get the lock skips (another is
// pruning the same tree right now). Writers never take the lock: a publish is a rename, and
// pruning only ever removes *.fp8k entries, stale temps and old quarantined files, never a temp
// file younger than the temp age (a writer may still be filling it). A key's compile lock
// (DiskStore::lock_key) older than the temp age that no process holds is removed too.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cache/disk_store.hpp"
#include "util/file.hpp"

namespace fp8jit::cache {

struct PruneOptions {
  // Budget for the bytes of all entries (*.fp8k) of the tree; 0: no budget (only the clean-up of
  // temps and quarantined files runs).
  std::uint64_t max_bytes = 0;
  // When over budget, evict down to this fraction of it, so that a cache at its limit is not
  // pruned again on the next store (1.0: down to the budget itself).
  double low_water = 0.9;
  // Temp files (<key>.tmp.*) older than this are left by crashed writers.
  std::chrono::seconds temp_age{3600};
  // Quarantined entries (<key>.fp8k.bad-*) are kept this long for inspection.
  std::chrono::seconds quarantine_age{86400};
};

struct PruneReport {
  std::uint64_t entries_removed = 0;
  std::uint64_t bytes_freed = 0;  // of removed entries, temps and quarantined files
  std::uint64_t temps_removed = 0;
  std::uint64_t quarantined_removed = 0;
  std::uint64_t entries_kept = 0;  // after pruning
  std::uint64_t bytes_kept = 0;    // of the entries kept
  bool skipped_locked = false;     // another process or thread holds the prune lock
  bool skipped_read_only = false;  // the store is read-only: nothing was looked at
  std::vector<std::string> errors;  // "failed to remove <path>: <cause>", one per file

  bool skipped() const { return skipped_locked || skipped_read_only; }
};

// The prune lock of a tree, held while the object lives (flock on its own open file description,
// so it also excludes other threads of the same process).
class PruneLock {
 public:
  // Tries to take the lock of `store` (a writable store whose version directory exists) without
  // waiting; creates the lock file when missing. held() tells whether it was taken; error() says
  // why not when the lock file could not even be opened or locked.
  explicit PruneLock(const DiskStore& store);
  PruneLock(PruneLock&& other) noexcept = default;
  PruneLock& operator=(PruneLock&&) = delete;
  PruneLock(const PruneLock&) = delete;
  PruneLock& operator=(const PruneLock&) = delete;

  bool held() const { return static_cast<bool>(fd_); }
  const std::string& error() const { return error_; }

 private:
  util::FileDescriptor fd_;
  std::string error_;
};

// Prunes the tree of `store` under its prune lock: removes temps older than temp_age and
// quarantined files older than quarantine_age, then, while the entries exceed max_bytes, removes
// the least recently used (oldest mtime; ties by path) until they fit in low_water * max_bytes.
// An entry replaced since the walk (another inode or mtime) is left alone. Skips (and reports
// so) a read-only store and a tree whose lock is held. Never throws for file-system errors: they
// are listed in the report.
PruneReport prune(const DiskStore& store, const PruneOptions& options);

}  // namespace fp8jit::cache
