// RedisServer: a private redis-server for one test, on a free port of 127.0.0.1, its data in a
// temp directory, killed (and its directory removed) when the object goes. Tests that need one
// and find no redis-server on PATH print "SKIPPED (<test>): no redis-server: <why>".
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cache/redis.hpp"
#include "tests/support/skip.hpp"
#include "tests/support/temp_dir.hpp"

extern char** environ;

namespace fp8jit::test {

// The path of `name` in a directory of PATH, or "".
inline std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream in(path ? path : "");
  for (std::string d; std::getline(in, d, ':');)
    if (!d.empty() && ::access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
  return "";
}

// A TCP port of 127.0.0.1 that nothing listens on right now.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

class RedisServer {
 public:
  // Starts redis-server with `extra` arguments ("--requirepass", "x", ...). ok() says whether it
  // answers; why() what went wrong.
  explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    binary_ = find_on_path("redis-server");
    if (binary_.empty()) {
      why_ = "redis-server is not on PATH (scripts/setup installs Debian's redis-server)";
      return;
    }
    hiredis_ = cache::Hiredis::load(&why_);
    if (!hiredis_) {
      why_ = "hiredis is not loadable: " + why_;
      return;
    }
    port_ = free_port();
    start();
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer() { kill(); }

  bool ok() const { return pid_ > 0 && why_.empty(); }
  const std::string& why() const { return why_; }
  int port() const { return port_; }
  // redis://[:password@]127.0.0.1:<port>
  std::string url(const std::string& password = "") const {
    return "redis://" + (password.empty() ? "" : ":" + password + "@") + "127.0.0.1:" +
           std::to_string(port_);
  }

  // SIGKILL, as a crash would.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  // Starts it again on the same port (empty: its data died with it).
  bool restart() {
    kill();
    why_.clear();
    start();
    return ok();
  }

  // One command on a connection of its own (1 s timeouts), with `password` for AUTH.
  cache::RedisResult command(const std::vector<std::string_view>& args,
                             const std::string& password = "") const {
    std::string error;
    bool auth = false;
    const cache::RedisUrl u = cache::parse_redis_url(url(password), "test");
    auto c = cache::RedisConnection::open(*hiredis_, u,
                                          {std::chrono::milliseconds(1000),
                                           std::chrono::milliseconds(1000)},
                                          error, auth);
    if (!c) return cache::RedisResult{false, false, error, {}};
    return c->command(args);
  }

 private:
  void start() {
    std::vector<std::string> args{binary_,  "--port",       std::to_string(port_),
                                  "--bind", "127.0.0.1",    "--save",
                                  "",       "--appendonly", "no",
                                  "--dir",  dir_.path(),    "--daemonize",
                                  "no",     "--logfile",    dir_.path() + "/redis.log"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (::posix_spawn(&pid_, binary_.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    if (pid_ <= 0) {
      why_ = "failed to start " + binary_;
      return;
    }
    // Up when it answers (a server with a password answers NOAUTH: that is up too).
    for (int i = 0; i < 500; ++i) {
      const cache::RedisResult r = command({"PING"});
      if (r.ok || r.error.find("authenticate") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    why_ = "redis-server on port " + std::to_string(port_) + " did not answer within 5 s";
  }

  std::vector<std::string> extra_;
  std::string binary_, why_;
  std::unique_ptr<cache::Hiredis> hiredis_;
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A running server, or nullptr after printing "SKIPPED (<test>): no redis-server: <why>".
inline std::unique_ptr<RedisServer> redis_or_skip(std::vector<std::string> extra = {}) {
  auto r = std::make_unique<RedisServer>(std::move(extra));
  if (r->ok()) return r;
  skip("no redis-server: " + r->why());
  return nullptr;
}

}  // namespace fp8jit::test
