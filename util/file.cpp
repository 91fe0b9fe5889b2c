#include "util/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "fp8jit/error.hpp"
#include "util/text.hpp"

namespace fp8jit::util {

FileDescriptor::FileDescriptor(FileDescriptor&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              std::string_view what) {
  const auto fail = [&](const std::string& why) {
    throw InvalidArgument("failed to read " + std::string(what) + " " + escaped(path, 4096) +
                          ": " + why);
  };
  // NOTE: no O_NOFOLLOW: these are paths a user typed or an install laid out, where a symlink is
  // ordinary; what must not happen is blocking on, or streaming from, something not a file.
  const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) fail(std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(std::string("it is ") + kind_of(st.st_mode) +
                                 ", not a regular file");
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
    if (got < 0) fail(std::string("read error: ") + std::strerror(errno));
    if (got == 0) break;
    used += static_cast<std::size_t>(got);
  }
  if (used > max_bytes) fail(too_big);
  text.resize(used);
  return text;
}

}  // namespace fp8jit::util
