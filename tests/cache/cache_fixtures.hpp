// Helpers shared by the cache tests: sample entries, tree snapshots, mtimes, damage, and running a
// piece of a test in a forked child (for kills, mounts, rlimits and locks held by another process).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cache/disk_store.hpp"
#include "cache/entry.hpp"
#include "cache/key.hpp"

namespace fp8jit::test::cache_fixtures {

namespace fs = std::filesystem;
namespace fc = fp8jit::cache;

// A deterministic binary of `bytes` (at least 128) that passes cache::binary_problem for
// `target`: an ELF header of the target's machine and one section header inside the file, the
// rest a pattern that depends on `seed`.
inline std::vector<std::uint8_t> fake_elf(const std::string& target, std::size_t bytes,
                                          std::size_t seed) {
  bytes = std::max<std::size_t>(bytes, 128);
  std::vector<std::uint8_t> b;
  for (std::size_t i = 0; i < bytes; ++i) b.push_back(static_cast<std::uint8_t>(i * 31 + seed));
  const std::uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::copy(std::begin(ident), std::end(ident), b.begin());
#if defined(__aarch64__)
  const std::uint16_t host = 183;
#else
  const std::uint16_t host = 62;
#endif
  const std::uint16_t machine = target.rfind("emu-", 0) == 0  ? host
                                : target.rfind("sm_", 0) == 0 ? 190
                                                              : 224;
  const auto put = [&](std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
  };
  put(18, machine, 2);
  put(40, 64, 8);  // e_shoff: right after the header
  put(58, 64, 2);  // e_shentsize
  put(60, 1, 2);   // e_shnum
  return b;
}

// A deterministic entry named `name` for `target` with a binary of `binary_bytes` (at least 128:
// a binary the loader checks accept, fake_elf).
inline fc::Entry make_entry(const std::string& target, const std::string& name,
                            std::size_t binary_bytes = 256) {
  fc::Entry e;
  e.key = fc::derive_key(
      {"spec " + name, "source " + name, "nvrtc", "nvrtc 13.0", target, "-O3", "0.1.0"});
  e.target = target;
  e.meta = {{"kernel_name", "k_" + name},       {"spec", "spec " + name},
            {"toolchain", "nvrtc"},             {"toolchain_version", "nvrtc 13.0"},
            {"created", "2025-06-01T12:34:56Z"}, {"library_version", "0.1.0"},
            {"compile_ms", 12.5}};
  e.binary = fake_elf(target, binary_bytes, name.size());
  e.source = "// source of " + name + "\n";
  return e;
}

// Every path under `root` (itself included) with its mode, size and mtime in ns: any write,
// rename, create or touch changes it.
inline std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  std::vector<fs::path> paths{root};
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    paths.push_back(it->path());
  for (const auto& p : paths) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;
    out[p.string()] = std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                      std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  }
  return out;
}

// Regular files under `root` whose name contains `part`.
inline std::vector<std::string> files_containing(const fs::path& root, const std::string& part) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().filename().string().find(part) != std::string::npos)
      out.push_back(it->path().string());
  }
  return out;
}

// Sets both atime and mtime of `path` to `seconds` since the epoch.
inline void set_mtime(const std::string& path, std::int64_t seconds) {
  const struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

inline std::int64_t now_seconds() { return static_cast<std::int64_t>(::time(nullptr)); }

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// Recomputes the trailing checksum, so that damage reaches the checks after it.
inline void reseal(std::vector<std::uint8_t>& b) {
  const std::size_t body = b.size() - fc::kEntryChecksumBytes;
  const auto sum = fc::hash128(std::span<const std::uint8_t>(b).first(body));
  std::copy(sum.begin(), sum.end(), b.begin() + static_cast<std::ptrdiff_t>(body));
}

struct ChildResult {
  int status = -1;   // waitpid status
  std::string text;  // what the child wrote to its message pipe
  bool exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
};

// Runs `body` in a forked child that writes messages into `out` and exits with body's return
// value (the child never returns into Catch). Waits for it and returns its status and messages.
inline ChildResult run_in_child(const std::function<int(std::string& out)>& body) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::string out;
    int code = 99;
    try {
      code = body(out);
    } catch (const std::exception& e) {
      out += std::string("child threw: ") + e.what();
    }
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::write(pipe_fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(code);
  }
  ::close(pipe_fds[1]);
  ChildResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    r.text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  REQUIRE(::waitpid(pid, &r.status, 0) == pid);
  return r;
}

}  // namespace fp8jit::test::cache_fixtures
