// A small Redis client for the remote cache layer (remote_store.hpp): the URL it is configured
// with, and one connection with bounded connect and command times. The protocol is hiredis's
// (Debian's libhiredis0.14), loaded with dlopen through one symbol table, so that the library
// and its command start where hiredis is absent; only its header is needed at build time.
//
// Timeouts: a connect gives up after `connect_timeout` (hiredis polls a non-blocking connect);
// every later socket read or write after `command_timeout` (SO_RCVTIMEO / SO_SNDTIMEO). A
// connection that timed out or failed once is broken and never used again. A write to a connection
// the server closed fails with EPIPE, never with a SIGPIPE that would end the host process
// (blocked and taken back in the calling thread around each command). Host names are
// resolved by getaddrinfo, which no timeout bounds: give an address, or a name the local resolver
// answers (/etc/hosts), where a stalled DNS server must not delay a first call.
#pragma once

#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/dynlib.hpp"

namespace fp8jit::cache {

// redis://[user[:password]@]host[:port][/db] (host may be [an IPv6 address]; user and password
// may hold %XX escapes).
struct RedisUrl {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user;      // empty: AUTH with the password alone (the "default" user)
  std::string password;  // empty: no AUTH
  std::string redacted;  // the URL with the password written as "***": what messages show
};

// Parses `url`, the value of `what` (a variable or option name, for messages). Throws
// InvalidArgument naming `what`, the URL without its password, and the rule: another scheme,
// rediss:// (TLS: the hiredis of Debian 12 has none), a missing host, a port outside 1..65535, a
// db that is not a number in 0..65535, a query or fragment, a bad %XX escape.
RedisUrl parse_redis_url(std::string_view url, std::string_view what);

// `url` with whatever stands between "scheme://user:" and the last '@' of the authority written
// as "***"; usable on text that does not parse.
std::string redact_url(std::string_view url);

// One reply, copied out of hiredis's reply object.
struct RedisReply {
  enum class Type { nil, string, integer, status, error, array };
  Type type = Type::nil;
  std::string str;  // string, status, error
  long long integer = 0;
  std::vector<RedisReply> elements;  // array

  bool is_error() const { return type == Type::error; }
  bool is_ok() const { return type == Type::status && str == "OK"; }
};

// The outcome of one command: `ok` false when no reply came (timeout, connection closed, refused):
// the connection is broken then and `error` says why. An error reply of the server (OOM, WRONGTYPE,
// NOAUTH) is ok with reply.type error.
struct RedisResult {
  bool ok = false;
  bool timed_out = false;  // !ok because no reply came within the command timeout
  std::string error;
  RedisReply reply;
};

// hiredis's functions, bound once per object from libhiredis.so.<the build's header's soname>.
class Hiredis {
 public:
  // nullptr (and *why says what was tried) when no hiredis library loads or a symbol is missing.
  // `candidates` replaces the library names tried (tests use it to simulate a missing library).
  static std::unique_ptr<Hiredis> load(std::string* why,
                                       const std::vector<std::string>& candidates = {});
  const std::string& path() const { return lib_.path(); }

 private:
  friend class RedisConnection;
  Hiredis() = default;
  util::DynLib lib_;
  void* (*connect_with_timeout_)(const char*, int, struct timeval) = nullptr;
  int (*set_timeout_)(void*, struct timeval) = nullptr;
  void* (*command_argv_)(void*, int, const char**, const std::size_t*) = nullptr;
  void (*free_reply_)(void*) = nullptr;
  void (*free_context_)(void*) = nullptr;
};

// One connection: connected, authenticated and on its db, or not made at all.
class RedisConnection {
 public:
  struct Timeouts {
    std::chrono::milliseconds connect{50};
    std::chrono::milliseconds command{50};
  };
  // Connects to `url`, then AUTH and SELECT as it says. nullptr on failure, with `error` saying
  // why ("failed to connect to redis://...: Connection refused", with the URL redacted) and
  // `auth_failed` set when the server refused the credentials (or asked for some).
  static std::unique_ptr<RedisConnection> open(const Hiredis& lib, const RedisUrl& url,
                                               Timeouts timeouts, std::string& error,
                                               bool& auth_failed);
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;
  ~RedisConnection();

  // Runs one command (binary-safe arguments). After a result that is not ok, broken() is true.
  RedisResult command(const std::vector<std::string_view>& args);
  bool broken() const { return broken_; }

 private:
  RedisConnection(const Hiredis& lib, void* context) : lib_(lib), context_(context) {}
  const Hiredis& lib_;
  void* context_;  // redisContext*
  bool broken_ = false;
};

}  // namespace fp8jit::cache
