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
#include <utility>

#include "fp8jit/error.hpp"

namespace fp8jit::cache {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int err) { return std::strerror(err); }

// What a message may show of a string that has not been validated yet.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 64) out += "...";
  return out;
}

// An owned file descriptor: closed once, by whoever holds it last.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Closes now and returns errno of close(), or 0.
  int close_checked() {
    if (fd_ < 0) return 0;
    const int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  void reset() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  int fd_ = -1;
};

// A temp file made by mkstemp; unlinked on destruction unless published with release().
class TempFile {
 public:
  // Creates <dir>/<stem>.tmp.<pid>.XXXXXX; on failure returns an empty TempFile and sets *err.
  static TempFile create(const fs::path& dir, const std::string& stem, int* err) {
    std::string pattern =
        (dir / (stem + ".tmp." + std::to_string(::getpid()) + ".XXXXXX")).string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) {
      *err = errno;
      return TempFile();
    }
    TempFile t;
    t.fd_ = FileDescriptor(fd);
    t.path_ = std::move(pattern);
    return t;
  }

  TempFile() = default;
  TempFile(TempFile&&) noexcept = default;
  TempFile& operator=(TempFile&&) = delete;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    fd_.close_checked();
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  explicit operator bool() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  int close_checked() { return fd_.close_checked(); }
  // The file now lives under another name; do not unlink.
  void release() { path_.clear(); }

 private:
  FileDescriptor fd_;
  std::string path_;
};

// Writes all of `bytes`; returns 0 or errno.
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

// An entry file read into memory, still unverified.
struct FileRead {
  enum class Status { ok, missing, unreadable, damaged };
  Status status = Status::missing;
  std::string error;  // unreadable, damaged
  std::vector<std::uint8_t> bytes;
  struct stat st {};
  FileDescriptor fd;  // open when ok, so a hit can refresh the mtime of this very file
};

FileRead read_entry_file(const std::string& path) {
  FileRead r;
  r.fd = FileDescriptor(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!r.fd) {
    const int err = errno;
    r.status = (err == ENOENT || err == ENOTDIR) ? FileRead::Status::missing
                                                 : FileRead::Status::unreadable;
    r.error = "cannot open: " + errno_text(err);
    return r;
  }
  if (::fstat(r.fd.get(), &r.st) != 0) {
    r.status = FileRead::Status::unreadable;
    r.error = "cannot stat: " + errno_text(errno);
    return r;
  }
  if (!S_ISREG(r.st.st_mode)) {
    r.status = FileRead::Status::damaged;
    r.error = "not a regular file";
    return r;
  }
  const auto size = static_cast<std::uint64_t>(r.st.st_size);
  if (size > kMaxEntryFileBytes) {
    r.status = FileRead::Status::damaged;
    r.error = std::to_string(size) + " bytes, more than any entry (" +
              std::to_string(kMaxEntryFileBytes) + ")";
    return r;
  }
  r.bytes.resize(size);
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(r.fd.get(), r.bytes.data() + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.status = FileRead::Status::unreadable;
      r.error = "cannot read: " + errno_text(errno);
      return r;
    }
    if (n == 0) break;  // shrank under us: decode will call it truncated
    got += static_cast<std::size_t>(n);
  }
  r.bytes.resize(got);
  r.status = FileRead::Status::ok;
  return r;
}

// An entry file read and verified: `entry` is set exactly when `problem` is empty.
struct Verified {
  FileRead read;
  std::optional<Entry> entry;
  std::string problem;
};

Verified read_and_verify(const std::string& path, std::string_view target, std::string_view key) {
  Verified v;
  v.read = read_entry_file(path);
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

// "20250601T123456Z": a file-name-safe UTC timestamp.
std::string compact_utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
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

// Entries of `dir` sorted by name; none when it cannot be read.
std::vector<fs::directory_entry> sorted_children(const fs::path& dir) {
  std::vector<fs::directory_entry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(*it);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
  return out;
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

std::optional<Entry> DiskStore::load(std::string_view target, std::string_view key) {
  const std::string path = entry_path(target, key);
  Verified v = read_and_verify(path, target, key);
  if (v.entry) {
    // NOTE: a failed refresh is ignored: it only makes eviction's LRU order less exact.
    if (!read_only_) ::futimens(v.read.fd.get(), nullptr);
    return std::move(v.entry);
  }
  if (v.read.status == FileRead::Status::missing) return std::nullopt;
  const bool damaged = v.read.status == FileRead::Status::damaged;
  reject(path, v.problem, /*quarantine=*/damaged, v.read.st.st_dev, v.read.st.st_ino);
  return std::nullopt;
}

void DiskStore::quarantine(std::string_view target, std::string_view key, const std::string& why) {
  const std::string path = entry_path(target, key);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  reject(path, why, /*quarantine=*/true, st.st_dev, st.st_ino);
}

void DiskStore::reject(const std::string& path, const std::string& why, bool quarantine,
                       std::uint64_t dev, std::uint64_t ino) {
  {
    const std::string id = path + "@" + std::to_string(dev) + ":" + std::to_string(ino);
    std::lock_guard lock(mutex_);
    if (!reported_.insert(id).second) return;
  }
  std::string message = "failed to load cache entry " + path + ": " + why;
  if (!quarantine) {
    message += "; treated as a miss";
  } else if (read_only_) {
    message += "; treated as a miss (read-only cache: left in place)";
  } else {
    // NOTE: rename only the file we read: if another process replaced it meanwhile (a fresh
    // publish), the new file is not ours to move aside.
    struct stat now {};
    const std::string bad = path + ".bad-" + compact_utc_now();
    if (::stat(path.c_str(), &now) != 0 || now.st_dev != dev || now.st_ino != ino) {
      message += "; treated as a miss (already replaced)";
    } else if (::rename(path.c_str(), bad.c_str()) != 0) {
      message += "; treated as a miss (could not move it aside: " + errno_text(errno) + ")";
    } else {
      message += "; moved to " + bad;
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
  const fs::path dir = fs::path(path).parent_path();
  where = dir.string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return failed("cannot create the directory: " + ec.message());

  int err = 0;
  TempFile temp = TempFile::create(dir, entry.key, &err);
  if (!temp) return failed("cannot create a temp file: " + errno_text(err));
  // NOTE: mkstemp creates 0600; entries are meant to be readable by other users of a shared or
  // shipped cache.
  ::fchmod(temp.fd(), 0644);
  if ((err = write_all(temp.fd(), bytes)) != 0) return failed("cannot write: " + errno_text(err));
  if (::fsync(temp.fd()) != 0) return failed("cannot fsync: " + errno_text(errno));
  if ((err = temp.close_checked()) != 0) return failed("cannot close: " + errno_text(err));

  // The loser of a race keeps the winner's entry (same key: same kernel) and drops its own.
  if (read_and_verify(path, entry.target, entry.key).entry)
    return StoreResult{Outcome::kept_existing, {}};
  if (::rename(temp.path().c_str(), path.c_str()) != 0) {
    return failed("cannot rename " + temp.path() + " into place: " + errno_text(errno));
  }
  temp.release();

  // NOTE: the entry is complete under its final name already; a directory that cannot be
  // fsynced (some file systems refuse) only risks losing it on power loss, so that is not an
  // error.
  FileDescriptor dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) ::fsync(dir_fd.get());
  return StoreResult{Outcome::published, {}, bytes.size()};
}

std::vector<EntryInfo> DiskStore::list(bool verify) const {
  std::vector<EntryInfo> out;
  const fs::path base = fs::path(root_) / ("v" + std::to_string(kFormatVersion));
  for (const auto& target_dir : sorted_children(base)) {
    std::error_code ec;
    if (!target_dir.is_directory(ec)) continue;
    const auto target = target_from_dir_name(target_dir.path().filename().string());
    if (!target) continue;
    for (const auto& prefix_dir : sorted_children(target_dir.path())) {
      if (!prefix_dir.is_directory(ec)) continue;
      for (const auto& file : sorted_children(prefix_dir.path())) {
        const fs::path& p = file.path();
        if (p.extension() != kEntryExtension) continue;
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        EntryInfo info;
        info.path = p.string();
        info.target = *target;
        info.key = p.stem().string();
        info.size = static_cast<std::uint64_t>(st.st_size);
        info.mtime = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::seconds(st.st_mtim.tv_sec) +
                std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
        if (verify) {
          info.verified = true;
          // NOTE: decode checks the key itself; a name that is no key fails that check.
          info.problem = read_and_verify(info.path, info.target, info.key).problem;
        }
        out.push_back(std::move(info));
      }
    }
  }
  return out;
}

}  // namespace fp8jit::cache
