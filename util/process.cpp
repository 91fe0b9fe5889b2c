#include "util/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string_view>
#include <utility>

#include "fp8jit/error.hpp"
#include "util/file.hpp"

extern char** environ;

namespace fp8jit::util {

// Runs argv[0] (an absolute path) with no shell, stdin from /dev/null and stdout + stderr
// captured. Throws Error when the process cannot be started.
ProcessResult run_process(const std::vector<std::string>& args) {
  int fds[2];
  // O_CLOEXEC: a child spawned concurrently by another thread must not inherit our write end, or
  // our read would wait for that child too.
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw Error("failed to run " + args[0] + ": pipe: " + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw Error("failed to run " + args[0] + ": " + std::strerror(rc));
  }
  ProcessResult result;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0)
      result.output.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

namespace {

// The <pid> of a name "<prefix>-<pid>-XXXXXX" (mkdtemp's six characters); -1 for other names.
pid_t temp_dir_pid(std::string_view name, std::string_view prefix) {
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix ||
      name[prefix.size()] != '-')
    return -1;
  name.remove_prefix(prefix.size() + 1);
  const auto dash = name.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 9 || name.size() != dash + 7)
    return -1;
  pid_t pid = 0;
  for (const char c : name.substr(0, dash)) {
    if (c < '0' || c > '9') return -1;
    pid = pid * 10 + (c - '0');
  }
  return pid > 0 ? pid : -1;
}

}  // namespace

int reclaim_stale_temp_dirs(const std::filesystem::path& parent, const std::string& prefix,
                            std::chrono::seconds min_age) {
  // NOTE: `parent` itself ($TMPDIR, /tmp) is the user's choice, so a link there is followed;
  // nothing below it is.
  const FileDescriptor dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return 0;
  const int at = dir.get();
  const uid_t me = ::geteuid();
  const std::time_t now = std::time(nullptr);
  int removed = 0;
  for (const std::string& name : dir_names(at)) {
    const pid_t pid = temp_dir_pid(name, prefix);
    if (pid <= 0) continue;
    struct stat st;
    if (::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != me || now - st.st_mtime <= min_age.count())
      continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to signal
    // The directory emptied must be the one checked: the name may have been replaced since. Its
    // contents go without following a link at any depth (ours nest a few levels; deeper stays).
    const FileDescriptor fd(
        ::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat opened;
    if (!fd || ::fstat(fd.get(), &opened) != 0 || opened.st_dev != st.st_dev ||
        opened.st_ino != st.st_ino)
      continue;
    bool emptied = true;
    for (const std::string& child : dir_names(fd.get()))
      emptied = remove_tree_at(fd.get(), child, 8) == 0 && emptied;
    if (emptied && ::unlinkat(at, name.c_str(), AT_REMOVEDIR) == 0) ++removed;
  }
  return removed;
}

TempDir::TempDir(const std::string& prefix) {
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::temp_directory_path(ec);
  if (ec) parent = "/tmp";
  reclaim_stale_temp_dirs(parent, prefix, kStaleTempDirAge);
  std::string pattern = (parent / (prefix + "-" + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    throw Error("failed to create a temporary directory " + pattern + ": " + std::strerror(errno));
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace fp8jit::util
