// Running the real fp8jit binary from tests: its path comes from FP8JIT_TEST_CLI (set by CTest);
// each run gets a clean FP8JIT_* environment plus what the test sets, and its stdout and stderr
// are captured through files (so that many processes can run at once without pipe deadlocks).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/target.hpp"
#include "compiler/toolchain.hpp"
#include "tests/support/skip.hpp"

extern char** environ;

namespace fp8jit::test {

struct CliResult {
  int status = -1;  // exit status; 128 + signal when killed
  std::string out, err;
  bool timed_out = false;  // wait_for killed it
};

// The fp8jit binary, or nullopt after printing "SKIPPED (<test>): <why>".
inline std::optional<std::string> cli_or_skip() {
  const char* p = std::getenv("FP8JIT_TEST_CLI");
  std::string why;
  if (!p || !*p)
    why = "FP8JIT_TEST_CLI is not set (CTest sets it to the built fp8jit binary)";
  else if (::access(p, X_OK) != 0)
    why = std::string("FP8JIT_TEST_CLI=") + p + " is not an executable file";
  if (why.empty()) return std::string(p);
  skip(why);
  return std::nullopt;
}

// True when this machine can build every target in `targets`; else prints why the test skips.
inline bool toolchains_or_skip(const std::vector<std::string>& targets) {
  for (const auto& t : targets)
    if (!toolchains_for_or_skip(t)) return false;
  return true;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A started fp8jit process; wait() collects it.
class CliProcess {
 public:
  // Starts `cli args...` with the FP8JIT_* variables of this process removed and `env` added;
  // stdout and stderr go to <io_prefix>.out / .err.
  CliProcess(const std::string& cli, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env, std::string io_prefix)
      : prefix_(std::move(io_prefix)) {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "FP8JIT_", 7) != 0) envs.emplace_back(*e);
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<std::string> argv_s{cli};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : envs) envp.push_back(s.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, (prefix_ + ".out").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, (prefix_ + ".err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (::posix_spawn(&pid_, cli.c_str(), &fa, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;
  CliProcess(CliProcess&& o) noexcept : prefix_(std::move(o.prefix_)), pid_(o.pid_) { o.pid_ = -1; }
  ~CliProcess() {
    if (pid_ > 0) wait();
  }

  CliResult wait() { return wait_for(-1); }

  // wait(), but a process still running after `seconds` (>= 0) is killed with SIGKILL and
  // reported as timed_out: a hang becomes a failure instead of a stalled test run.
  CliResult wait_for(double seconds) {
    CliResult r;
    if (pid_ <= 0) return r;
    int status = 0;
    if (seconds >= 0) {
      for (double waited = 0;; waited += 0.01) {
        const pid_t got = ::waitpid(pid_, &status, WNOHANG);
        if (got == pid_) break;
        if (got < 0 && errno != EINTR) break;
        if (waited >= seconds) {
          ::kill(pid_, SIGKILL);
          r.timed_out = true;
          while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
          }
          break;
        }
        ::usleep(10'000);
      }
    } else {
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(prefix_ + ".out");
    r.err = read_file(prefix_ + ".err");
    return r;
  }

 private:
  std::string prefix_;
  pid_t pid_ = -1;
};

// Runs fp8jit to completion (see CliProcess); `dir` holds the captured output files.
inline CliResult run_cli(const std::string& cli, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env, const std::string& dir) {
  static int counter = 0;  // NOTE: test cases run on one thread; this only numbers the files
  CliProcess p(cli, args, env, dir + "/run" + std::to_string(++counter));
  CliResult r = p.wait();
  std::string cmd = "fp8jit";
  for (const auto& a : args) cmd += " " + a;
  UNSCOPED_INFO("$ " << cmd << "\nexit status " << r.status << "\n--- stdout ---\n"
                     << r.out << "--- stderr ---\n" << r.err);
  return r;
}

}  // namespace fp8jit::test
