#include "cache/redis.hpp"

// NOTE: the header gives the layouts of redisContext and redisReply of the hiredis the build
// saw, and its soname; the functions always come from dlopen (Hiredis::load), so that a missing
// library costs the remote layer, never the start of the process.
#include <hiredis/hiredis.h>

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <charconv>

#include "fp8jit/error.hpp"
#include "util/text.hpp"

namespace fp8jit::cache {
namespace {

#define FP8JIT_STR2(x) #x
#define FP8JIT_STR(x) FP8JIT_STR2(x)
constexpr const char* kHiredisSoname = "libhiredis.so." FP8JIT_STR(HIREDIS_SONAME);

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX-decodes `s`; false on a bad escape.
bool percent_decode(std::string_view s, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 1 < s.size() ? hex_digit(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool parse_number(std::string_view s, int lo, int hi, int& out) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

RedisReply copy_reply(const redisReply* r) {
  RedisReply out;
  if (!r) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::string; break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::integer; break;
    case REDIS_REPLY_ARRAY: out.type = RedisReply::Type::array; break;
    default: out.type = RedisReply::Type::nil; break;
  }
  if (r->str) out.str.assign(r->str, r->len);
  out.integer = r->integer;
  if (r->type == REDIS_REPLY_ARRAY)
    for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
  return out;
}

// NOTE: hiredis writes with write(2), and a write to a connection the server has reset raises
// SIGPIPE, whose default action ends the process (a Redis killed while a large value is being
// sent). While a guard lives, SIGPIPE is blocked in this thread; one that the guarded calls raised
// is taken off the pending set before the mask is restored, so the write fails with EPIPE instead.
// A SIGPIPE that was already pending before is left for the host.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_{}, old_{};
  bool was_pending_ = false;
};

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

std::string redact_url(std::string_view url) {
  const auto scheme = url.find("://");
  const std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t end = std::min(url.size(), url.find_first_of("/?#", start));
  const std::string_view authority = url.substr(start, end - start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return util::escaped(url, 200);
  const auto colon = authority.find(':');
  if (colon == std::string_view::npos || colon > at) return util::escaped(url, 200);
  return util::escaped(std::string(url.substr(0, start + colon + 1)) + "***" +
                           std::string(url.substr(start + at)),
                       200);
}

RedisUrl parse_redis_url(std::string_view url, std::string_view what) {
  RedisUrl u;
  u.redacted = redact_url(url);
  const auto fail = [&](const std::string& rule) {
    throw InvalidArgument("failed to read " + std::string(what) + "='" + u.redacted + "': " + rule);
  };
  if (url.starts_with("rediss://"))
    fail("TLS (rediss://) is not supported: the hiredis this library loads (" +
         std::string(kHiredisSoname) +
         ") has no TLS; use redis:// on a trusted network, or a TLS tunnel (stunnel, spiped) "
         "to a local port");
  if (!url.starts_with("redis://"))
    fail("expected redis://[user:password@]host[:port][/db]");
  std::string_view rest = url.substr(8);
  if (rest.find_first_of("?#") != std::string_view::npos)
    fail("a query or fragment (?...#...) is not supported");
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !parse_number(db, 0, 65535, u.db))
      fail("the database after '/' must be a number in 0..65535");
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    const std::string_view user = userinfo.substr(0, colon);
    if (!percent_decode(user, u.user)) fail("a bad %XX escape in the user name");
    if (colon != std::string_view::npos &&
        !percent_decode(userinfo.substr(colon + 1), u.password))
      fail("a bad %XX escape in the password");
    if (!u.user.empty() && u.password.empty()) fail("a user name needs a password (user:password@)");
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) fail("an IPv6 address needs its closing ']'");
    u.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) fail("expected ':port' after ']'");
    if (!after.empty()) port = after.substr(1);
    if (after == ":") fail("the port after ':' is empty");
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) fail("the port after ':' is empty");
    }
  }
  if (u.host.empty()) fail("no host");
  if (!port.empty() && !parse_number(port, 1, 65535, u.port))
    fail("the port must be a number in 1..65535");
  return u;
}

// ---- hiredis ---------------------------------------------------------------------------------

std::unique_ptr<Hiredis> Hiredis::load(std::string* why, const std::vector<std::string>& candidates) {
  std::unique_ptr<Hiredis> h(new Hiredis());
  h->lib_ = util::DynLib::open_first(
      candidates.empty() ? std::vector<std::string>{kHiredisSoname} : candidates, why);
  if (!h->lib_) return nullptr;
  std::string missing;
  h->lib_.bind(h->connect_with_timeout_, "redisConnectWithTimeout", &missing);
  h->lib_.bind(h->set_timeout_, "redisSetTimeout", &missing);
  h->lib_.bind(h->command_argv_, "redisCommandArgv", &missing);
  h->lib_.bind(h->free_reply_, "freeReplyObject", &missing);
  h->lib_.bind(h->free_context_, "redisFree", &missing);
  if (!missing.empty()) {
    if (why) *why += h->lib_.path() + " lacks " + missing;
    return nullptr;
  }
  return h;
}

std::unique_ptr<RedisConnection> RedisConnection::open(const Hiredis& lib, const RedisUrl& url,
                                                       Timeouts timeouts, std::string& error,
                                                       bool& auth_failed) {
  auth_failed = false;
  auto* c = static_cast<redisContext*>(
      lib.connect_with_timeout_(url.host.c_str(), url.port, to_timeval(timeouts.connect)));
  const std::string where = "failed to connect to " + url.redacted + ": ";
  if (!c) {
    error = where + "out of memory";
    return nullptr;
  }
  if (c->err) {
    error = where + (c->errstr[0] ? c->errstr : "connection failed");
    lib.free_context_(c);
    return nullptr;
  }
  std::unique_ptr<RedisConnection> conn(new RedisConnection(lib, c));
  if (lib.set_timeout_(c, to_timeval(timeouts.command)) != 0) {
    error = where + "cannot set the command timeout";
    return nullptr;
  }
  std::vector<std::string_view> auth{"AUTH"};
  if (!url.user.empty()) auth.push_back(url.user);
  if (!url.password.empty()) auth.push_back(url.password);
  // NOTE: a PING without credentials is what tells a server that wants some (NOAUTH) from one
  // that answers.
  const RedisResult r = url.password.empty() ? conn->command({"PING"}) : conn->command(auth);
  if (!r.ok) {
    error = where + r.error;
    return nullptr;
  }
  if (r.reply.is_error()) {
    auth_failed = r.reply.str.starts_with("NOAUTH") || r.reply.str.starts_with("WRONGPASS") ||
                  r.reply.str.starts_with("ERR") || r.reply.str.starts_with("NOPERM");
    error = "failed to authenticate to " + url.redacted + ": " + util::escaped(r.reply.str, 200);
    return nullptr;
  }
  if (url.db != 0) {
    const std::string db = std::to_string(url.db);
    const RedisResult s = conn->command({"SELECT", db});
    if (!s.ok || s.reply.is_error()) {
      error = "failed to select database " + db + " of " + url.redacted + ": " +
              (s.ok ? util::escaped(s.reply.str, 200) : s.error);
      return nullptr;
    }
  }
  return conn;
}

RedisConnection::~RedisConnection() {
  if (context_) lib_.free_context_(context_);
}

RedisResult RedisConnection::command(const std::vector<std::string_view>& args) {
  RedisResult out;
  if (broken_) {
    out.error = "the connection failed before";
    return out;
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  const SigpipeGuard no_sigpipe;
  auto* reply = static_cast<redisReply*>(
      lib_.command_argv_(context_, static_cast<int>(argv.size()), argv.data(), lens.data()));
  auto* c = static_cast<redisContext*>(context_);
  if (!reply || c->err) {
    broken_ = true;
    out.error = c->errstr[0] ? c->errstr : "no reply";
    if (c->err == REDIS_ERR_IO && out.error == "Resource temporarily unavailable") {
      out.error = "no reply within the command timeout";
      out.timed_out = true;
    }
    if (reply) lib_.free_reply_(reply);
    return out;
  }
  out.ok = true;
  out.reply = copy_reply(reply);
  lib_.free_reply_(reply);
  return out;
}

}  // namespace fp8jit::cache
