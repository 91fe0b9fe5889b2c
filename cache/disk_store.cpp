#include "cache/disk_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>
#include <utility>

#include <sys/file.h>

#include "cache/tree.hpp"
#include "fp8jit/error.hpp"
#include "util/text.hpp"
#include "util/time.hpp"

namespace fp8jit::cache {
namespace {

namespace fs = std::filesystem;
using util::errno_text;
using util::FileDescriptor;
using util::OpenedFile;

// What a message may show of a string that has not been validated yet.
std::string printable(std::string_view s) { return util::escaped(s, 64); }

// An entry file read into memory, still unverified.
struct FileRead {
  enum class Status { ok, missing, unreadable, damaged };
  Status status = Status::missing;
  std::string error;  // unreadable, damaged
  std::vector<std::uint8_t> bytes;
  struct stat st {};  // ok: fstat; damaged: fstat or lstat
  FileDescriptor fd;  // open when ok, so a hit can refresh the mtime of this very file
};

// Reads the entry file `name` of the directory `dir_fd`: never through a symbolic link, never
// blocking on a FIFO, regular files only.
FileRead read_entry_file(int dir_fd, const std::string& name) {
  FileRead r;
  OpenedFile f = util::open_regular(dir_fd, name);
  r.st = f.st;
  switch (f.status) {
    case OpenedFile::Status::ok: break;
    case OpenedFile::Status::missing: r.status = FileRead::Status::missing; return r;
    case OpenedFile::Status::not_regular:
      r.status = FileRead::Status::damaged;
      r.error = f.why;
      return r;
    case OpenedFile::Status::failed:
      r.status = FileRead::Status::unreadable;
      r.error = f.why;
      return r;
  }
  const auto size = static_cast<std::uint64_t>(r.st.st_size);
  if (size > kMaxEntryFileBytes) {
    r.status = FileRead::Status::damaged;
    r.error = std::to_string(size) + " bytes, more than any entry (" +
              std::to_string(kMaxEntryFileBytes) + ")";
    return r;
  }
  if (!util::read_all(f.fd.get(), size, r.bytes, r.error)) {
    r.status = FileRead::Status::unreadable;
    return r;
  }
  r.fd = std::move(f.fd);
  r.status = FileRead::Status::ok;
  return r;
}

// An entry file read and verified: `entry` is set exactly when `problem` is empty.
struct Verified {
  FileRead read;
  std::optional<Entry> entry;
  std::string problem;
};

Verified read_and_verify(int dir_fd, const std::string& name, std::string_view target,
                         std::string_view key) {
  Verified v;
  v.read = read_entry_file(dir_fd, name);
  if (v.read.status != FileRead::Status::ok) {
    v.problem = v.read.error;
    return v;
  }
  DecodeResult d = decode_entry(v.read.bytes, key);
  if (!d.ok()) {
    v.read.status = FileRead::Status::damaged;
    v.problem = std::move(d.error);
  } else if (d.entry->target != target) {
    v.read.status = FileRead::Status::damaged;
    v.problem = "holds an entry for target \"" + printable(d.entry->target) + "\", expected \"" +
                printable(target) + "\"";
  } else {
    v.entry = std::move(d.entry);
  }
  return v;
}

std::vector<std::string> entry_dirs(std::string_view target, std::string_view key) {
  return {version_dir_name(), target_dir_name(target), std::string(key.substr(0, 2))};
}

std::string entry_file_name(std::string_view key) {
  return std::string(key) + std::string(kEntryExtension);
}

bool keeps_verbatim(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '+' || c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // only uppercase is ever written, so only uppercase maps back
}

}  // namespace

std::string target_dir_name(std::string_view target) {
  if (target.empty())
    throw InvalidArgument("failed to name the cache directory of a target: empty target");
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < target.size(); ++i) {
    const auto c = static_cast<unsigned char>(target[i]);
    // NOTE: a leading '.' or '-' is escaped too, so that no name is ".", "..", hidden, or read as
    // an option by a shell command.
    const bool leading_special = i == 0 && (c == '.' || c == '-');
    if (keeps_verbatim(c) && !leading_special) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::optional<std::string> target_from_dir_name(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '%') {
      out += name[i];
      continue;
    }
    if (i + 2 >= name.size()) return std::nullopt;
    const int hi = hex_value(name[i + 1]), lo = hex_value(name[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  // Only names that target_dir_name would have produced map back (one spelling per target).
  if (out.empty() || target_dir_name(out) != name) return std::nullopt;
  return out;
}

DiskStore::DiskStore(std::string root, bool read_only)
    : root_(std::move(root)), read_only_(read_only) {
  if (root_.empty())
    throw InvalidArgument("failed to open the disk cache: the root directory is empty");
  warning_handler_ = [](const std::string& message) {
    const std::string line = "fp8jit: warning: " + message + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

std::string DiskStore::entry_path(std::string_view target, std::string_view key) const {
  if (!is_valid_key(key)) {
    throw InvalidArgument("failed to locate cache entry \"" + printable(key) +
                          "\": a key is 32 lowercase hex characters");
  }
  const std::string file = std::string(key) + std::string(kEntryExtension);
  return (fs::path(root_) / ("v" + std::to_string(kFormatVersion)) / target_dir_name(target) /
          std::string(key.substr(0, 2)) / file)
      .string();
}

util::OpenedDir DiskStore::open_entry_dir(std::string_view target, std::string_view key,
                                          bool create) {
  const std::vector<std::string> dirs = entry_dirs(target, key);
  util::OpenedDir d = util::open_dirs(root_, dirs, {.create = create && !read_only_});
  for (int repairs = 0; !d.fd && d.refused && repairs < static_cast<int>(dirs.size()); ++repairs) {
    // NOTE: only what is not our own layout is removed: a link or special file (its name only,
    // never what it points to) or a regular file standing where a directory of ours belongs.
    struct stat st {};
    if (!util::lstat_at(d.parent.get(), d.component, st)) st = {};
    const std::string id = root_ + "/" + d.component + "@" + std::to_string(st.st_dev) + ":" +
                           std::to_string(st.st_ino);
    bool first = false;
    {
      std::lock_guard lock(mutex_);
      first = reported_.insert(id).second;
    }
    std::string message = "refused a cache directory: " + d.why;
    if (read_only_) {
      if (first) warn(message + "; treated as a miss (read-only cache: left in place)");
      return d;
    }
    if (::unlinkat(d.parent.get(), d.component.c_str(), 0) != 0) {
      if (first) warn(message + "; could not remove it: " + errno_text(errno));
      return d;
    }
    if (first) warn(message + "; removed it (nothing it pointed to was touched)");
    if (!create) return util::OpenedDir{};  // now simply missing
    d = util::open_dirs(root_, dirs, {.create = true});
  }
  return d;
}

std::optional<Entry> DiskStore::load(std::string_view target, std::string_view key) {
  const std::string path = entry_path(target, key);
  const util::OpenedDir dir = open_entry_dir(target, key, /*create=*/false);
  if (!dir.fd) return std::nullopt;  // missing, or a refused directory (reported)
  const std::string name = entry_file_name(key);
  Verified v = read_and_verify(dir.fd.get(), name, target, key);
  if (v.entry) {
    // NOTE: a failed refresh is ignored: it only makes eviction's LRU order less exact. The
    // descriptor is the regular file inside the cache that was read, never a link's target.
    if (!read_only_) ::futimens(v.read.fd.get(), nullptr);
    return std::move(v.entry);
  }
  if (v.read.status == FileRead::Status::missing) return std::nullopt;
  const bool damaged = v.read.status == FileRead::Status::damaged;
  reject(dir.fd.get(), name, path, v.problem, /*quarantine=*/damaged, v.read.st);
  return std::nullopt;
}

void DiskStore::quarantine(std::string_view target, std::string_view key, const std::string& why) {
  const std::string path = entry_path(target, key);
  const util::OpenedDir dir = open_entry_dir(target, key, /*create=*/false);
  if (!dir.fd) return;
  const std::string name = entry_file_name(key);
  struct stat st {};
  if (!util::lstat_at(dir.fd.get(), name, st)) return;
  reject(dir.fd.get(), name, path, why, /*quarantine=*/true, st);
}

void DiskStore::reject(int dir_fd, const std::string& name, const std::string& path,
                       const std::string& why, bool quarantine, const struct stat& st) {
  {
    const std::string id =
        path + "@" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    std::lock_guard lock(mutex_);
    if (!reported_.insert(id).second) return;
  }
  std::string message = "failed to load cache entry " + path + ": " + why;
  if (!quarantine) {
    message += "; treated as a miss";
  } else if (read_only_) {
    message += "; treated as a miss (read-only cache: left in place)";
  } else {
    // NOTE: act only on the file we read: if another process replaced it meanwhile (a fresh
    // publish), the new file is not ours to move aside.
    struct stat now {};
    const std::string bad = name + ".bad-" + util::utc_now_compact();
    if (!util::lstat_at(dir_fd, name, now) || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
      message += "; treated as a miss (already replaced)";
    } else if (!S_ISREG(now.st_mode) && !S_ISDIR(now.st_mode)) {
      // A link or special file holds no entry: remove the name (never what it points to).
      if (::unlinkat(dir_fd, name.c_str(), 0) != 0)
        message += "; treated as a miss (could not remove it: " + errno_text(errno) + ")";
      else
        message += "; removed it (nothing it pointed to was touched)";
    } else if (::renameat(dir_fd, name.c_str(), dir_fd, bad.c_str()) != 0) {
      message += "; treated as a miss (could not move it aside: " + errno_text(errno) + ")";
    } else {
      message += "; moved to " + path + ".bad-" + bad.substr(name.size() + 5);
    }
  }
  warn(message);
}

void DiskStore::warn(const std::string& message) {
  std::function<void(const std::string&)> handler;
  {
    std::lock_guard lock(mutex_);
    handler = warning_handler_;
  }
  if (handler) handler(message);
}

void DiskStore::set_warning_handler(std::function<void(const std::string&)> handler) {
  std::lock_guard lock(mutex_);
  warning_handler_ = std::move(handler);
}

StoreResult DiskStore::store(const Entry& entry) {
  using Outcome = StoreResult::Outcome;
  std::string where = root_;
  const auto failed = [&](const std::string& cause) {
    return StoreResult{Outcome::failed, "failed to store cache entry " + printable(entry.key) +
                                            " in " + where + ": " + cause};
  };
  if (read_only_) return failed("the cache is read-only");

  std::string path;
  std::vector<std::uint8_t> bytes;
  try {
    path = entry_path(entry.target, entry.key);
    bytes = encode_entry(entry);
  } catch (const std::exception& e) {
    return failed(e.what());
  }
  where = fs::path(path).parent_path().string();
  const util::OpenedDir dir = open_entry_dir(entry.target, entry.key, /*create=*/true);
  if (!dir.fd) return failed("cannot open the directory: " + dir.why);
  const int dir_fd = dir.fd.get();
  const std::string name = entry_file_name(entry.key);

  int err = 0;
  util::TempFile temp = util::TempFile::create(dir_fd, entry.key, &err);
  if (!temp) return failed("cannot create a temp file: " + errno_text(err));
  // NOTE: the temp file is created 0600; entries are meant to be readable by other users of a
  // shared or shipped cache.
  ::fchmod(temp.fd(), 0644);
  if ((err = util::write_all(temp.fd(), bytes)) != 0)
    return failed("cannot write: " + errno_text(err));
  if (::fsync(temp.fd()) != 0) return failed("cannot fsync: " + errno_text(errno));
  if ((err = temp.close_checked()) != 0) return failed("cannot close: " + errno_text(err));

  // The loser of a race keeps the winner's entry (same key: same kernel) and drops its own.
  const Verified existing = read_and_verify(dir_fd, name, entry.target, entry.key);
  if (existing.entry) return StoreResult{Outcome::kept_existing, {}};
  // NOTE: rename replaces a damaged file, a link or a special file under the final name (the name
  // only: nothing is written through it); a directory there must be moved aside first.
  if (existing.read.status == FileRead::Status::damaged && S_ISDIR(existing.read.st.st_mode))
    reject(dir_fd, name, path, existing.problem, /*quarantine=*/true, existing.read.st);
  if (::renameat(dir_fd, temp.name().c_str(), dir_fd, name.c_str()) != 0)
    return failed("cannot rename " + temp.name() + " into place: " + errno_text(errno));
  temp.release();

  // NOTE: the entry is complete under its final name already; a directory that cannot be
  // fsynced (some file systems refuse) only risks losing it on power loss, so that is not an
  // error.
  ::fsync(dir_fd);
  return StoreResult{Outcome::published, {}, bytes.size()};
}

std::vector<EntryInfo> DiskStore::list(bool verify) const {
  std::vector<EntryInfo> out;
  for (const TreeFile& f : walk_tree(root_)) {
    if (f.kind != TreeFileKind::entry) continue;
    EntryInfo info;
    info.path = f.path;
    info.target = f.target;
    info.key = f.key;
    info.size = f.size;
    info.mtime = time_point_of(f.mtime);
    if (verify) {
      info.verified = true;
      const FileDescriptor dir = open_parent(root_, f);
      info.problem = dir ? read_and_verify(dir.get(), f.name, info.target, info.key).problem
                         : "its directory is gone or no longer a directory";
    }
    out.push_back(std::move(info));
  }
  return out;
}

DiskStore::KeyLock& DiskStore::KeyLock::operator=(KeyLock&& o) noexcept {
  if (this != &o) {
    release();
    dir_ = std::move(o.dir_);
    fd_ = std::move(o.fd_);
    name_ = std::move(o.name_);
  }
  return *this;
}

void DiskStore::KeyLock::release() noexcept {
  if (!fd_) return;
  // NOTE: removed while still held, so that no newcomer locks a file that is about to go; a
  // waiter that already opened it gets the lock on the removed file, re-checks the cache, and
  // finds the entry published before this release.
  ::unlinkat(dir_.get(), name_.c_str(), 0);
  fd_ = FileDescriptor();  // closing releases the flock
  dir_ = FileDescriptor();
}

DiskStore::LockOutcome DiskStore::lock_key(std::string_view target, std::string_view key,
                                           std::chrono::milliseconds timeout, KeyLock& lock) {
  lock.release();
  const std::string path = entry_path(target, key);  // validates
  if (read_only_) return LockOutcome::unavailable;
  util::OpenedDir dir = open_entry_dir(target, key, /*create=*/true);
  if (!dir.fd) return LockOutcome::unavailable;
  const std::string name = std::string(key) + std::string(kKeyLockExtension);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (bool repaired = false;;) {
    OpenedFile f = util::open_regular(dir.fd.get(), name, O_RDWR | O_CREAT, 0644);
    if (f.status == OpenedFile::Status::not_regular && !repaired) {
      reject(dir.fd.get(), name, path.substr(0, path.size() - kEntryExtension.size()) +
                                     std::string(kKeyLockExtension),
             "the compile lock is " + f.why, /*quarantine=*/true, f.st);
      repaired = true;
      continue;
    }
    if (!f.ok()) return LockOutcome::unavailable;
    for (;;) {
      if (::flock(f.fd.get(), LOCK_EX | LOCK_NB) == 0) break;
      if (errno != EWOULDBLOCK && errno != EINTR) return LockOutcome::unavailable;
      if (std::chrono::steady_clock::now() >= deadline) return LockOutcome::timed_out;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // The previous holder removes the file as it lets go: a lock on a removed file guards
    // nothing, so take the one now under the name.
    struct stat now {};
    if (util::lstat_at(dir.fd.get(), name, now) && now.st_dev == f.st.st_dev &&
        now.st_ino == f.st.st_ino) {
      lock.dir_ = std::move(dir.fd);
      lock.fd_ = std::move(f.fd);
      lock.name_ = name;
      return LockOutcome::acquired;
    }
    if (std::chrono::steady_clock::now() >= deadline) return LockOutcome::timed_out;
  }
}

}  // namespace fp8jit::cache
