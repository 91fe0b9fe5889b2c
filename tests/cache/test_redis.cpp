// The remote layer's configuration: URLs (what parses, what is refused and how the message reads,
// never with the password), and a missing hiredis library (the layer is skipped, nothing fails).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "cache/remote_store.hpp"
#include "fp8jit/error.hpp"
#include "fp8jit/options.hpp"
#include "tests/support/skip.hpp"

namespace fp8jit::test {
namespace {

std::string refusal(const std::string& url) {
  try {
    cache::parse_redis_url(url, "FP8JIT_CACHE_REMOTE");
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("remote cache URL: redis:// forms parse into host and port and db and credentials",
          "[cache][remote]") {
  auto u = cache::parse_redis_url("redis://cache.local", "x");
  CHECK(u.host == "cache.local");
  CHECK(u.port == 6379);
  CHECK(u.db == 0);
  CHECK(u.password.empty());
  u = cache::parse_redis_url("redis://alice:p%40ss%3Aw@10.0.0.5:7000/3", "x");
  CHECK(u.host == "10.0.0.5");
  CHECK(u.port == 7000);
  CHECK(u.db == 3);
  CHECK(u.user == "alice");
  CHECK(u.password == "p@ss:w");
  CHECK(u.redacted == "redis://alice:***@10.0.0.5:7000/3");
  u = cache::parse_redis_url("redis://:secret@[::1]:6380/", "x");
  CHECK(u.host == "::1");
  CHECK(u.port == 6380);
  CHECK(u.user.empty());
  CHECK(u.password == "secret");
  CHECK(u.redacted.find("secret") == std::string::npos);
}

TEST_CASE("remote cache URL: a bad URL is refused naming the variable and the URL without its "
          "password and the rule",
          "[cache][remote]") {
  for (const std::string bad :
       {"http://h:1", "redis://", "redis://:pw@", "redis://h:0", "redis://h:70000", "redis://h:x",
        "redis://h:", "redis://h/db", "redis://h/70000", "redis://h?timeout=1", "redis://u@h",
        "redis://:p%zz@h", "redis://[::1"}) {
    INFO(bad);
    const std::string why = refusal(bad);
    CHECK_THAT(why, Catch::StartsWith("failed to read FP8JIT_CACHE_REMOTE='"));
  }
  const std::string why = refusal("redis://bob:hunter2@h:99999");
  CHECK_THAT(why, Catch::Contains("redis://bob:***@h:99999"));
  CHECK_THAT(why, Catch::Contains("1..65535"));
  CHECK(why.find("hunter2") == std::string::npos);
  const std::string tls = refusal("rediss://:hunter2@h:6380");
  CHECK_THAT(tls, Catch::Contains("TLS (rediss://) is not supported"));
  CHECK(tls.find("hunter2") == std::string::npos);
}

TEST_CASE("remote cache: FP8JIT_CACHE_REMOTE and its timeouts are read into Options and a bad "
          "one names the variable",
          "[cache][remote]") {
  ::setenv("FP8JIT_CACHE_REMOTE", "redis://127.0.0.1:1/2", 1);
  ::setenv("FP8JIT_CACHE_REMOTE_TIMEOUT_MS", "20", 1);
  ::setenv("FP8JIT_CACHE_REMOTE_MAX_VALUE_BYTES", "2M", 1);
  const Options o = Options::from_env();
  CHECK(o.cache_remote == "redis://127.0.0.1:1/2");
  CHECK(o.cache_remote_timeout_ms == 20);
  CHECK(o.cache_remote_connect_timeout_ms == 50);
  CHECK(o.cache_remote_max_value_bytes == (2u << 20));
  ::setenv("FP8JIT_CACHE_REMOTE_TIMEOUT_MS", "0", 1);
  CHECK_THROWS_WITH(Options::from_env(), Catch::Contains("FP8JIT_CACHE_REMOTE_TIMEOUT_MS"));
  ::unsetenv("FP8JIT_CACHE_REMOTE_TIMEOUT_MS");
  ::setenv("FP8JIT_CACHE_REMOTE", "redis://:pw@h:x", 1);
  CHECK_THROWS_WITH(Options::from_env(), Catch::Contains("FP8JIT_CACHE_REMOTE='redis://:***@h:x'"));
  ::unsetenv("FP8JIT_CACHE_REMOTE");
  ::unsetenv("FP8JIT_CACHE_REMOTE_MAX_VALUE_BYTES");
}

TEST_CASE("remote cache: without a hiredis library the layer is skipped with one warning and "
          "nothing throws",
          "[cache][remote]") {
  cache::RemoteConfig config;
  config.url = "redis://127.0.0.1:1";
  config.library_candidates = {"libhiredis-not-installed.so.0"};
  cache::RemoteStore remote(config);
  std::vector<std::string> warnings;
  remote.set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
  const std::string key(32, 'a');
  CHECK_FALSE(remote.load("sm_90a", key));
  CHECK_FALSE(remote.load("sm_90a", key));
  const auto lease = remote.lease_or_wait("sm_90a", key);
  CHECK(lease.outcome == cache::RemoteStore::LeaseResult::Outcome::unavailable);
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("redis://127.0.0.1:1 is not used"));
  CHECK_THAT(warnings[0], Catch::Contains("libhiredis-not-installed"));
  CHECK(remote.stats().skipped == 3);
  CHECK(remote.stats().errors == 0);
  CHECK_THROWS_WITH(remote.command({"PING"}, "ping"), Catch::Contains("no hiredis library"));
}

TEST_CASE("redis client: a server that closes the connection while a large value is sent is a "
          "failed command and no SIGPIPE",
          "[cache][remote]") {
  std::string why;
  const auto lib = cache::Hiredis::load(&why);
  if (!lib) {
    skip("hiredis is not loadable: " + why);
    return;
  }
  // A server that answers the PING of the connect, then closes: the client's next writes meet a
  // reset connection, where write(2) raises SIGPIPE.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::thread server([listener] {
    const int c = ::accept(listener, nullptr, nullptr);
    if (c < 0) return;
    char buf[256];
    (void)!::read(c, buf, sizeof buf);  // *1\r\n$4\r\nPING\r\n
    (void)!::write(c, "+PONG\r\n", 7);
    ::close(c);
  });
  const auto url = cache::parse_redis_url("redis://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), "x");
  std::string error;
  bool auth = false;
  auto conn = cache::RedisConnection::open(*lib, url, {std::chrono::milliseconds(1000),
                                                       std::chrono::milliseconds(1000)},
                                           error, auth);
  server.join();
  REQUIRE(conn);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the close has arrived
  const std::string value(32u << 20, 'x');
  for (int i = 0; i < 3 && !conn->broken(); ++i) conn->command({"SET", "k", value});
  CHECK(conn->broken());  // and the process is still here
  ::close(listener);
}

}  // namespace fp8jit::test
