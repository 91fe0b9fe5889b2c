#include "util/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

#include "fp8jit/error.hpp"
#include "util/text.hpp"

namespace fp8jit::util {

FileDescriptor::FileDescriptor(FileDescriptor&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

int FileDescriptor::close_checked() {
  if (fd_ < 0) return 0;
  const int rc = ::close(std::exchange(fd_, -1));
  return rc == 0 ? 0 : errno;
}

void FileDescriptor::reset() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

std::string errno_text(int err) { return std::strerror(err); }

const char* file_kind(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISREG(mode)) return "a regular file";
  return "not a regular file";
}

bool lstat_at(int dir_fd, const std::string& name, struct stat& st) {
  return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

namespace {

// Takes f.fd (opened with O_NONBLOCK) only if it is a regular file: fstat into f.st, then
// O_NONBLOCK cleared; otherwise f.fd is closed and f says why.
void accept_regular(OpenedFile& f) {
  const int fd = f.fd.get();
  if (::fstat(fd, &f.st) != 0) {
    f.err = errno;
    f.status = OpenedFile::Status::failed;
    f.why = "cannot stat: " + errno_text(f.err);
  } else if (!S_ISREG(f.st.st_mode)) {
    f.status = OpenedFile::Status::not_regular;
    f.why = std::string(file_kind(f.st.st_mode)) + ", not a regular file";
  } else if (const int fl = ::fcntl(fd, F_GETFL);
             fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    f.err = errno;
    f.status = OpenedFile::Status::failed;
    f.why = "cannot clear O_NONBLOCK: " + errno_text(f.err);
  } else {
    f.status = OpenedFile::Status::ok;
    return;
  }
  f.fd = FileDescriptor();
}

}  // namespace

OpenedFile open_regular(int dir_fd, const std::string& name, int flags, mode_t mode) {
  OpenedFile f;
  const int fd = ::openat(dir_fd, name.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
  if (fd < 0) {
    f.err = errno;
    if (f.err == ENOENT || f.err == ENOTDIR) {
      f.status = OpenedFile::Status::missing;
      f.why = "no such file";
      return f;
    }
    // NOTE: ELOOP is O_NOFOLLOW meeting a symbolic link; ENXIO a FIFO opened for writing with no
    // reader; EISDIR a directory opened for writing. Each is a name that is not a regular file.
    if ((f.err == ELOOP || f.err == ENXIO || f.err == EISDIR || f.err == EWOULDBLOCK) &&
        lstat_at(dir_fd, name, f.st) && !S_ISREG(f.st.st_mode)) {
      f.status = OpenedFile::Status::not_regular;
      f.why = std::string(file_kind(f.st.st_mode)) + ", not a regular file";
      return f;
    }
    f.status = OpenedFile::Status::failed;
    f.why = "cannot open: " + errno_text(f.err);
    return f;
  }
  f.fd = FileDescriptor(fd);
  accept_regular(f);
  return f;
}

bool read_all(int fd, std::uint64_t size, std::vector<std::uint8_t>& out, std::string& why) {
  out.resize(size);
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, out.data() + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = "cannot read: " + errno_text(errno);
      return false;
    }
    if (n == 0) break;  // shrank under us: the caller's decode calls it truncated
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return true;
}

int write_all(int fd, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return 0;
}

OpenedDir open_dirs(const std::string& root, std::span<const std::string> below,
                    DirOptions options) {
  OpenedDir d;
  if (options.create) {
    std::error_code ec;
    std::filesystem::create_directories(root, ec);  // the root is trusted: links above it are fine
  }
  d.fd = FileDescriptor(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d.fd) {
    d.err = errno;
    d.why = root + ": " + errno_text(d.err);
    d.fd = FileDescriptor();
    return d;
  }
  std::string where = root;
  for (const std::string& name : below) {
    where += "/" + name;
    int fd = ::openat(d.fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && options.create) {
      if (::mkdirat(d.fd.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        d.err = errno;
        d.why = "cannot create " + where + ": " + errno_text(d.err);
        d.fd = FileDescriptor();
        return d;
      }
      fd = ::openat(d.fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      d.err = errno;
      struct stat st {};
      if (d.err != ENOENT && lstat_at(d.fd.get(), name, st) && !S_ISDIR(st.st_mode)) {
        d.refused = true;
        d.why = where + " is " + file_kind(st.st_mode) + ", not a directory";
        d.parent = std::move(d.fd);
        d.component = name;
      } else {
        d.why = where + ": " + errno_text(d.err);
      }
      d.fd = FileDescriptor();
      return d;
    }
    d.fd = FileDescriptor(fd);
  }
  return d;
}

std::vector<std::string> dir_names(int dir_fd) {
  std::vector<std::string> names;
  const int fd = ::dup(dir_fd);
  if (fd < 0) return names;
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return names;
  }
  ::rewinddir(dir);
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);  // closes the duplicate, not dir_fd
  return names;
}

int remove_tree_at(int dir_fd, const std::string& name, int depth) {
  struct stat st {};
  if (!lstat_at(dir_fd, name, st)) return errno;
  if (!S_ISDIR(st.st_mode)) return ::unlinkat(dir_fd, name.c_str(), 0) == 0 ? 0 : errno;
  if (depth <= 0) return ENOTEMPTY;
  const FileDescriptor dir(
      ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return errno;
  int first = 0;
  for (const std::string& child : dir_names(dir.get())) {
    const int err = remove_tree_at(dir.get(), child, depth - 1);
    if (err != 0 && first == 0) first = err;
  }
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && first == 0) first = errno;
  return first;
}

std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              std::string_view what) {
  const auto fail = [&](const std::string& why) {
    throw InvalidArgument("failed to read " + std::string(what) + " " + escaped(path, 4096) +
                          ": " + why);
  };
  // NOTE: no O_NOFOLLOW, unlike open_regular: a link is ordinary in a path a user typed.
  OpenedFile f;
  f.fd = FileDescriptor(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!f.fd) fail(std::strerror(errno));
  accept_regular(f);
  if (!f.ok()) fail(f.status == OpenedFile::Status::not_regular ? "it is " + f.why : f.why);
  const struct stat& st = f.st;
  const FileDescriptor& fd = f.fd;
  const std::string too_big = "it is larger than " + std::to_string(max_bytes) + " bytes";
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) fail(too_big);
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t used = 0;
  for (;;) {
    if (used == text.size()) {
      if (used > max_bytes) fail(too_big);
      text.resize(std::min(max_bytes + 1, used + 4096));  // it may have grown since fstat
    }
    const ssize_t got = ::read(fd.get(), text.data() + used, text.size() - used);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("read error: " + errno_text(errno));
    if (got == 0) break;
    used += static_cast<std::size_t>(got);
  }
  if (used > max_bytes) fail(too_big);
  text.resize(used);
  return text;
}

std::string random_suffix(std::size_t n) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += kChars[rng() % (sizeof kChars - 1)];
  return out;
}

TempFile TempFile::create(int dir_fd, const std::string& stem, int* err) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = stem + ".tmp." + std::to_string(::getpid()) + "." + random_suffix(10);
    const int fd = ::openat(dir_fd, name.c_str(),
                            O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      *err = errno;
      return TempFile();
    }
    TempFile t;
    t.fd_ = FileDescriptor(fd);
    t.dir_fd_ = dir_fd;
    t.name_ = std::move(name);
    return t;
  }
  *err = EEXIST;
  return TempFile();
}

TempFile::TempFile(TempFile&& o) noexcept
    : fd_(std::move(o.fd_)), dir_fd_(o.dir_fd_), name_(std::exchange(o.name_, {})) {}

TempFile::~TempFile() {
  fd_.close_checked();
  if (!name_.empty()) ::unlinkat(dir_fd_, name_.c_str(), 0);
}

void replace_file(const std::string& path, std::string_view contents, const char* what) {
  const auto fail = [&](const std::string& cause) {
    return Error(std::string("failed to write ") + what + " " + path + ": " + cause);
  };
  const std::filesystem::path dest(path);
  std::string temp = (dest.parent_path() / ("." + dest.filename().string() + ".tmp.XXXXXX")).string();
  FileDescriptor fd(::mkstemp(temp.data()));
  if (!fd) throw fail("cannot create a temp file beside it: " + errno_text(errno));
  ::fchmod(fd.get(), 0644);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(contents.data());
  if (const int err = write_all(fd.get(), {bytes, contents.size()}); err != 0 || ::fsync(fd.get()) != 0) {
    const int e = err ? err : errno;
    ::unlink(temp.c_str());
    throw fail(errno_text(e));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(temp.c_str());
    throw fail(errno_text(e));
  }
}

}  // namespace fp8jit::util
