#include "compiler/process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "fp8jit/error.hpp"

extern char** environ;

namespace fp8jit::compiler {

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

TempDir::TempDir(const std::string& prefix) {
  std::error_code ec;
  std::string pattern = (std::filesystem::temp_directory_path(ec) / (prefix + "-XXXXXX")).string();
  if (ec) pattern = "/tmp/" + prefix + "-XXXXXX";
  if (!::mkdtemp(pattern.data()))
    throw Error("failed to create a temporary directory " + pattern + ": " + std::strerror(errno));
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Binary run_compiler(const CompileRequest& request, const std::string& compiler,
                    const std::vector<std::string>& options, const std::filesystem::path& source,
                    const std::filesystem::path& output, const std::string& described_as) {
  {
    std::ofstream f(source, std::ios::binary);
    f << request.source;
    if (!f.flush())
      throw Error("failed to write " + source.string() + " for " + request.kernel_name);
  }
  std::vector<std::string> argv{compiler};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {source.string(), "-o", output.string()});
  const ProcessResult r = run_process(argv);
  if (r.status != 0) {
    std::string joined;
    for (const auto& o : options) joined += o + " ";
    throw CompileError("failed to compile " + request.kernel_name + " for " +
                           request.target.str() + " with " + described_as + ": exit status " +
                           std::to_string(r.status),
                       r.output, joined, request.spec,
                       dump_source(request.dump_dir, request.kernel_name, request.source));
  }
  Binary bin;
  bin.log = r.output;
  std::ifstream f(output, std::ios::binary);
  bin.bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return bin;
}

}  // namespace fp8jit::compiler
