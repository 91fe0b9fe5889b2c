// Files and directories on ground that others can write: a shared cache directory, /tmp.
//
// The rule everything here follows: below a trusted root, a directory is opened one component at a
// time relative to its parent's descriptor with O_DIRECTORY | O_NOFOLLOW, and a file with
// O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, then fstat'ed and accepted only when it is a regular file
// (O_NONBLOCK is cleared afterwards). So a symbolic link never redirects a read or a write out of
// the tree, and a FIFO or device never blocks the caller. Files are created with O_EXCL under
// unpredictable names, and renamed or removed relative to the directory descriptor they were
// checked in.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fp8jit::util {

// An owned file descriptor: closed once, by whoever holds it last.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& o) noexcept;
  FileDescriptor& operator=(FileDescriptor&& o) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Closes now; returns errno of close(), or 0.
  int close_checked();

 private:
  void reset() noexcept;
  int fd_ = -1;
};

std::string errno_text(int err);

// What a file of `mode` is, for a message: "a symbolic link", "a FIFO", "a directory", ...
const char* file_kind(mode_t mode);

// The outcome of opening a name that must be a regular file.
struct OpenedFile {
  enum class Status {
    ok,           // fd is open on a regular file; st is its fstat
    missing,      // no such name (ENOENT, or a directory on the way is missing)
    not_regular,  // a symbolic link, FIFO, socket, device or directory; st is its lstat
    failed,       // any other error (permissions, I/O); err says which
  };
  Status status = Status::missing;
  FileDescriptor fd;
  struct stat st {};
  int err = 0;
  std::string why;  // not ok: what is wrong, for a message

  bool ok() const { return status == Status::ok; }
};

// Opens `name` (one component, or a path when dir_fd is AT_FDCWD) in directory `dir_fd` without
// following a final symbolic link or blocking on a FIFO: flags | O_NOFOLLOW | O_NONBLOCK |
// O_CLOEXEC, fstat, regular files only, then O_NONBLOCK cleared. `flags` is O_RDONLY or O_RDWR,
// optionally with O_CREAT (then `mode` applies).
OpenedFile open_regular(int dir_fd, const std::string& name, int flags = 0, mode_t mode = 0644);

// Reads the whole of the open regular file `fd` of `size` bytes; false (with `why`) on an I/O
// error. A file that shrinks meanwhile yields what was there.
bool read_all(int fd, std::uint64_t size, std::vector<std::uint8_t>& out, std::string& why);

// Writes all of `bytes`; returns 0 or errno.
int write_all(int fd, std::span<const std::uint8_t> bytes);

// The directory `root`/below[0]/below[1]/..., or why not. `root` is trusted (the user named it; a
// symbolic link at or above it is followed); every component below it is opened with O_NOFOLLOW,
// so a symbolic link there is refused, never followed.
struct OpenedDir {
  FileDescriptor fd;
  int err = 0;          // 0 when fd is open; ENOENT: a component is missing
  std::string why;      // when not: which component and what is wrong with it
  bool refused = false;  // a component exists but is no directory (a symbolic link, a file, ...)
  FileDescriptor parent;  // refused: the directory holding that component
  std::string component;  // refused: its name there
};

struct DirOptions {
  bool create = false;  // make missing components (mode 0755) and, with create, the root itself
};
OpenedDir open_dirs(const std::string& root, std::span<const std::string> below,
                    DirOptions options = {});

// The lstat of `name` in `dir_fd`; false when it does not exist.
bool lstat_at(int dir_fd, const std::string& name, struct stat& st);

// The names in the directory `dir_fd` (not "." or ".."), all read before it returns, so the
// caller may remove them; none when it cannot be read. `dir_fd` stays open and unmoved.
std::vector<std::string> dir_names(int dir_fd);

// Removes `name` from `dir_fd` (never follows it): a directory with everything below it, at most
// `depth` levels down (a deeper one is left, ENOTEMPTY), anything else with unlinkat. Returns 0
// or the first errno.
int remove_tree_at(int dir_fd, const std::string& name, int depth = 16);

// A file made with O_CREAT | O_EXCL | O_NOFOLLOW under an unpredictable name
// <stem>.tmp.<pid>.<random> in a directory; unlinked (relative to that directory) on destruction
// unless released.
class TempFile {
 public:
  // Creates it in `dir_fd` (mode 0600); on failure returns an empty TempFile and sets *err.
  static TempFile create(int dir_fd, const std::string& stem, int* err);

  TempFile() = default;
  TempFile(TempFile&& o) noexcept;
  TempFile& operator=(TempFile&&) = delete;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  explicit operator bool() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }  // within its directory
  int close_checked() { return fd_.close_checked(); }
  // The file now lives under another name; do not unlink it.
  void release() { name_.clear(); }

 private:
  FileDescriptor fd_;
  int dir_fd_ = -1;  // not owned: the caller keeps the directory open while this lives
  std::string name_;
};

// The whole content of the regular file at `path`, at most `max_bytes` long: for small files a user
// names (shape lists, tuned tables). Opened with O_NONBLOCK and checked with fstat, so a FIFO, a
// device (/dev/zero) or a directory is refused at once instead of blocking or streaming for ever;
// the read stops past `max_bytes`, so a file that grows while it is read cannot exceed it either.
// Unlike open_regular, a link is followed: these are paths a user typed or an install laid out.
// Throws InvalidArgument "failed to read <what> <path>: <why>" (the path escaped) when the file
// cannot be opened or read, is not a regular file, or is larger than max_bytes.
std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              std::string_view what);

// A random lowercase alphanumeric string of `n` characters (for unpredictable file names).
std::string random_suffix(std::size_t n);

// Writes `contents` to `path` through a temp file made with mkstemp beside it (O_EXCL, an
// unpredictable name: a link planted there is never written through), then renames it over
// `path`: a crash or a full disk never leaves a part of the file under its name. Throws
// fp8jit::Error "failed to write <what> <path>: <cause>".
void replace_file(const std::string& path, std::string_view contents, const char* what);

}  // namespace fp8jit::util
