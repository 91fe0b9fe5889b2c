// Running a tool as a subprocess: no shell, stdin from /dev/null, stdout and stderr captured.
// Used for the offline compilers (clang, the host C++ compiler of emulation targets) and for
// disassemblers; TempDir holds their files.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace fp8jit::util {

struct ProcessResult {
  int status = -1;     // exit status; 128 + signal when killed by one
  std::string output;  // stdout and stderr, interleaved
};

// Runs args[0] (an absolute path) with args. Throws Error when the process cannot be started.
ProcessResult run_process(const std::vector<std::string>& args);

// A private directory (mode 0700, under the system's temp dir) removed with its contents on
// destruction, for a compiler's input and output files: <tmp>/<prefix>-<pid>-XXXXXX. A process
// killed mid-compile leaves its directory behind, so creating one first reclaims the stale
// directories of `prefix` there (reclaim_stale_temp_dirs with kStaleTempDirAge). Throws Error when
// it cannot be created.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// How old a dead process's temp directory must be before it is reclaimed. NOTE: a live process's
// directory is never reclaimed; the age guards against a pid that only looks dead because its
// process runs in another pid namespace sharing the temp dir (a container), whose compiles take
// seconds, not minutes.
inline constexpr std::chrono::seconds kStaleTempDirAge{15 * 60};

// Removes, with everything in them, the directories <parent>/<prefix>-<pid>-<6 characters> that
// belong to the current user, were last modified more than `min_age` ago and whose <pid> names no
// running process (kill(pid, 0) fails with ESRCH). Treats `parent` as hostile (it is /tmp): never
// follows a symbolic link, neither the entry itself nor anything inside it, walks by directory
// fd and leaves anything it cannot check or remove. Returns how many directories it removed.
int reclaim_stale_temp_dirs(const std::filesystem::path& parent, const std::string& prefix,
                            std::chrono::seconds min_age);

}  // namespace fp8jit::util
