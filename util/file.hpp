// Reading small files a user names (shape lists, tuned tables) without trusting them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fp8jit::util {

// An open file descriptor, closed on destruction. Move-only.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& o) noexcept;
  FileDescriptor& operator=(FileDescriptor&& o) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The whole content of the regular file at `path`, at most `max_bytes` long. Opened with
// O_NONBLOCK and checked with fstat, so a FIFO, a device (/dev/zero) or a directory is refused at
// once instead of blocking or streaming for ever; the read stops past `max_bytes`, so a file that
// grows while it is read cannot exceed it either. Throws InvalidArgument "failed to read <what>
// <path>: <why>" (the path escaped) when the file cannot be opened or read, is not a regular
// file, or is larger than max_bytes.
std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              std::string_view what);

}  // namespace fp8jit::util
