// DiskStore: one directory tree of cache entries, one self-checking file per kernel (entry.hpp),
//
//   <root>/v<kFormatVersion>/<target dir>/<key[0:2]>/<key>.fp8k
//
// where <target dir> is the target string with every byte outside [A-Za-z0-9._+-], and a leading
// '.' or '-', written as %XX (uppercase hex): "gfx942:sramecc+:xnack-" ->
// "gfx942%3Asramecc+%3Axnack-". The mapping is reversible, so a listing recovers the target from
// the path.
//
// Entries are published atomically (temp file in the same directory, fsync, rename), verified on
// every read, and a damaged one is renamed aside and treated as a miss. Safe to use from several
// threads and several processes at once; the only lock across processes is the optional per-key
// compile lock (lock_key). CacheLayers (layers.hpp) stacks a writable store over read-only ones;
// prune.hpp keeps one under a budget.
//
// The tree is treated as hostile ground (util/file.hpp): every directory below the root is opened
// relative to its parent without following a link, every file with O_NOFOLLOW | O_NONBLOCK and
// accepted only when regular. What is found where an entry or one of its directories belongs and
// is no regular file or directory (a symbolic link, a FIFO, a socket, a device) is reported once
// and, in a writable store, removed (the name only: nothing it points to is touched); a directory
// at an entry's name is moved aside like a damaged entry.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

#include "cache/entry.hpp"
#include "util/file.hpp"

namespace fp8jit::cache {

// File name extension of an entry, and of a key's compile lock (lock_key).
constexpr std::string_view kEntryExtension = ".fp8k";
constexpr std::string_view kKeyLockExtension = ".lock";
// The prune lock's name in v<fmt>/ (prune.hpp).
constexpr std::string_view kPruneLockName = ".prune.lock";
// Files larger than this are not read: no kernel is that large, so the file is damaged.
constexpr std::uint64_t kMaxEntryFileBytes = std::uint64_t{1} << 30;

// The directory name of `target` (mapping above). Throws InvalidArgument for an empty target.
std::string target_dir_name(std::string_view target);
// The inverse of target_dir_name; nullopt when `name` is not one of its results.
std::optional<std::string> target_from_dir_name(std::string_view name);

struct StoreResult {
  enum class Outcome {
    published,      // our entry is now the file under the final name
    kept_existing,  // a valid entry for the key was already there (another writer won); ours
                    // was discarded
    failed,         // nothing was published; `error` says why
  };
  Outcome outcome = Outcome::failed;
  std::string error;  // "failed to store cache entry <key> in <dir>: <cause>" when failed
  std::uint64_t bytes = 0;  // published: the size of the file now under the final name

  bool ok() const { return outcome != Outcome::failed; }
};

// One entry file found by DiskStore::list.
struct EntryInfo {
  std::string path;
  std::string target;  // recovered from the directory name
  std::string key;     // the file name without its extension
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point mtime;  // last store or hit (writable stores)
  bool verified = false;                        // list(true) read and decoded the file
  std::string problem;  // list(true): why the file does not decode; empty when it does
};

class DiskStore {
 public:
  // A store rooted at `root`, which need not exist yet: directories are created on the first
  // store. A read-only store never creates, renames, touches or writes anything, so it can sit on
  // a read-only mount or a cache shipped in an image.
  explicit DiskStore(std::string root, bool read_only = false);

  DiskStore(const DiskStore&) = delete;
  DiskStore& operator=(const DiskStore&) = delete;

  const std::string& root() const { return root_; }
  bool read_only() const { return read_only_; }

  // Where the entry of (`target`, `key`) lives. Throws InvalidArgument when `key` is not a key
  // (is_valid_key) or `target` is empty.
  std::string entry_path(std::string_view target, std::string_view key) const;

  // The verified entry of (`target`, `key`), or nullopt. A missing file is a silent miss. A file
  // that does not verify (or is for another target) is a miss reported once through the warning
  // handler and, unless read-only, renamed to <path>.bad-<UTC timestamp> so that the next store
  // replaces it. A file that cannot be read (permissions, I/O error) is a miss reported once and
  // left in place. A hit refreshes the file's mtime (the LRU clock), unless read-only. Throws
  // InvalidArgument as entry_path does.
  std::optional<Entry> load(std::string_view target, std::string_view key);

  // Treats the entry of (`target`, `key`) as damaged although it decodes (the driver refused its
  // binary): reports `why` once through the warning handler and, unless read-only, renames the
  // file to <path>.bad-<UTC timestamp>. Nothing happens when there is no file. Throws
  // InvalidArgument as entry_path does.
  void quarantine(std::string_view target, std::string_view key, const std::string& why);

  // Publishes `entry` under entry_path(entry.target, entry.key): writes a unique temp file
  // <key>.tmp.<pid>.XXXXXX in the same directory, fsyncs it, and renames it over the final name,
  // unless a valid entry is already there (then ours is discarded: kept_existing). Then fsyncs the
  // directory. Never throws: failures (read-only store, unwritable root, ENOSPC, an entry that
  // cannot be encoded) come back as an error, with no partial file under the final name and no
  // temp file left behind.
  StoreResult store(const Entry& entry);

  // Every entry file (*.fp8k) under <root>/v<kFormatVersion>/, sorted by path; with `verify`,
  // each is also read and decoded (read-only: nothing is quarantined or touched). Temp files,
  // quarantined files and other format versions are not listed. A missing root lists nothing.
  std::vector<EntryInfo> list(bool verify) const;

  // The compile lock of one key: held by the one process (or thread) that compiles the kernel
  // while the others wait for its entry, so that a kernel is compiled once per cache. An
  // advisory flock on <key>.lock beside the entry: the kernel releases it when its holder dies,
  // so a dead process never blocks. The holder removes the file when it lets go.
  class KeyLock {
   public:
    KeyLock() = default;
    KeyLock(KeyLock&&) noexcept = default;
    KeyLock& operator=(KeyLock&&) noexcept;
    KeyLock(const KeyLock&) = delete;
    KeyLock& operator=(const KeyLock&) = delete;
    ~KeyLock() { release(); }
    bool held() const { return static_cast<bool>(fd_); }
    void release() noexcept;

   private:
    friend class DiskStore;
    util::FileDescriptor dir_, fd_;
    std::string name_;
  };
  enum class LockOutcome {
    acquired,     // the lock is ours
    timed_out,    // another process held it for all of `timeout`
    unavailable,  // read-only store, or the lock file cannot be made (the reason was warned)
  };
  // Takes the compile lock of (`target`, `key`), waiting up to `timeout` while another holds it.
  // Never throws for the file system (InvalidArgument as entry_path does).
  LockOutcome lock_key(std::string_view target, std::string_view key,
                       std::chrono::milliseconds timeout, KeyLock& lock);

  // Receives each warning (one line, no prefix, no newline). Default: writes
  // "fp8jit: warning: <message>" to stderr. May be called from any thread that uses the store.
  void set_warning_handler(std::function<void(const std::string&)> handler);

 private:
  void warn(const std::string& message);
  // Reports a bad file `name` of directory `dir_fd` (at `path`) once per (path, inode) and, with
  // `quarantine` unless read-only, moves it aside (a regular file or a directory) or removes it
  // (a link or special file).
  void reject(int dir_fd, const std::string& name, const std::string& path, const std::string& why,
              bool quarantine, const struct stat& st);
  // Opens the directories of (`target`, `key`): with `create`, makes them, and removes (reporting
  // once) a link or special file that stands where one of them belongs.
  util::OpenedDir open_entry_dir(std::string_view target, std::string_view key, bool create);

  std::string root_;
  bool read_only_;
  std::mutex mutex_;  // guards the two members below
  std::function<void(const std::string&)> warning_handler_;
  std::set<std::string> reported_;  // "<path>@<dev>:<ino>" of bad files already reported
};

}  // namespace fp8jit::cache
