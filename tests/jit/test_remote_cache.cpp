// KernelBuilder over a remote layer on a real redis-server (started per test, skipped with a line
// where there is none), on the emulator target, whose compiles are host C++ compiles: a fresh
// cache directory on a warm Redis compiles nothing; damaged values are counted and never used;
// a dead, paused, full or password-protected Redis costs bounded time and never a build.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "cache/binary_check.hpp"
#include "compiler/kernel_spec.hpp"
#include "jit/kernel_builder.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace fp8jit::test {
namespace {

constexpr const char* kTarget = "emu-sm89";

std::vector<compiler::KernelSpec> specs(int count) {
  const auto target = compiler::Target::parse(kTarget);
  const auto cfg = compiler::GemmConfig::parse("bm16_bn32_bk64_w2_s2_k4", target);
  std::vector<compiler::KernelSpec> out;
  for (int i = 0; i < count; ++i)
    out.push_back(compiler::gemm_spec(target, 256 * (i + 1), 512, cfg, OutDType::bf16, false));
  return out;
}

Options options(const std::string& dir, const std::string& url, int lease_ms) {
  Options o;
  o.cache_dir = dir;
  o.cache_remote = url;
  if (lease_ms > 0) o.cache_remote_lease_ms = lease_ms;
  return o;
}

struct Builder {
  Builder(const std::string& dir, const std::string& url,
          std::shared_ptr<const compiler::Toolchains> tc, int lease_ms = 0)
      : b(options(dir, url, lease_ms), std::move(tc)) {
    b.cache_layers()->set_warning_handler([this](const std::string& w) { warnings.push_back(w); });
  }
  cache::RemoteStats stats() { return b.cache_layers()->remote()->stats(); }
  jit::KernelBuilder b;
  std::vector<std::string> warnings;
};

// Every value under the namespace, checked as the layer checks one.
std::size_t verified_values(RedisServer& redis, const std::vector<std::string>& keys) {
  std::size_t ok = 0;
  for (const auto& k : keys) {
    const auto r = redis.command({"GET", cache::remote_entry_key(kTarget, k)});
    if (!r.ok || r.reply.type != cache::RedisReply::Type::string) continue;
    const auto* p = reinterpret_cast<const std::uint8_t*>(r.reply.str.data());
    ok += cache::check_remote_value(std::span(p, r.reply.str.size()), kTarget, k).problem.empty();
  }
  return ok;
}

}  // namespace

TEST_CASE("remote cache: a second fresh cache directory on the same Redis compiles nothing",
          "[jit][remote]") {
  auto tc = toolchains_for_or_skip(kTarget);
  auto redis = tc ? redis_or_skip() : nullptr;
  if (!redis) return;
  TempDir a, b;
  std::vector<std::string> keys;
  {
    Builder first(a.path(), redis->url(), tc);
    for (const auto& s : specs(3)) keys.push_back(first.b.build(s).key);
    CHECK(first.b.compiles() == 3);
    CHECK(first.stats().stores == 3);
    CHECK(first.stats().leases_taken == 3);
  }
  CHECK(verified_values(*redis, keys) == 3);
  Builder second(b.path(), redis->url(), tc);
  for (const auto& s : specs(3)) {
    const jit::BuiltKernel k = second.b.build(s);
    CHECK(k.from_remote);
    CHECK(cache::binary_problem(k.binary, kTarget).empty());
  }
  CHECK(second.b.compiles() == 0);
  CHECK(second.stats().hits == 3);
  CHECK(second.warnings.empty());
  // Kept on the second node's disk: a third builder there needs no network at all.
  Builder again(b.path(), "redis://127.0.0.1:1", tc);
  for (const auto& s : specs(3)) CHECK_FALSE(again.b.build(s).from_remote);
  CHECK(again.b.compiles() == 0);
  CHECK(again.stats().errors == 0);
}

TEST_CASE("remote cache: a value replaced by another key's or truncated or with a flipped byte is "
          "counted and reported once and never used and replaced by the next compile",
          "[jit][remote]") {
  auto tc = toolchains_for_or_skip(kTarget);
  auto redis = tc ? redis_or_skip() : nullptr;
  if (!redis) return;
  TempDir a, b, c;
  std::vector<std::string> keys;
  {
    Builder first(a.path(), redis->url(), tc);
    for (const auto& s : specs(4)) keys.push_back(first.b.build(s).key);
  }
  const auto rkey = [&](int i) { return cache::remote_entry_key(kTarget, keys[i]); };
  const std::string v0 = redis->command({"GET", rkey(0)}).reply.str;
  const std::string v1 = redis->command({"GET", rkey(1)}).reply.str;
  std::string v2 = redis->command({"GET", rkey(2)}).reply.str;
  REQUIRE(v2.size() > 1000);
  redis->command({"SET", rkey(0), v1});                      // another key's value
  redis->command({"SET", rkey(1), v1.substr(0, v1.size() / 2)});  // truncated
  v2[v2.size() / 2] ^= 0x10;                                 // one flipped byte
  redis->command({"SET", rkey(2), v2});
  (void)v0;

  Builder second(b.path(), redis->url(), tc);
  for (const auto& s : specs(4)) {
    const jit::BuiltKernel k = second.b.build(s);
    CHECK(cache::binary_problem(k.binary, kTarget).empty());
  }
  CHECK(second.b.compiles() == 3);  // the three bad values were not used
  CHECK(second.stats().bad_values == 3);
  CHECK(second.stats().hits == 1);
  REQUIRE(second.warnings.size() == 3);  // one per bad value
  CHECK_THAT(second.warnings[0], Catch::Contains("key_mismatch"));
  CHECK_THAT(second.warnings[1], Catch::Contains("bad_length"));
  CHECK_THAT(second.warnings[2], Catch::Contains("bad_checksum"));
  // The compiles replaced them: every value verifies, and a third node compiles nothing.
  CHECK(verified_values(*redis, keys) == 4);
  Builder third(c.path(), redis->url(), tc);
  for (const auto& s : specs(4)) third.b.build(s);
  CHECK(third.b.compiles() == 0);
  CHECK(third.stats().bad_values == 0);
}

TEST_CASE("remote cache: a dead or paused or silent Redis adds a bounded delay to a first call "
          "and trips the breaker once and every build succeeds",
          "[jit][remote]") {
  auto tc = toolchains_for_or_skip(kTarget);
  auto redis = tc ? redis_or_skip() : nullptr;
  if (!redis) return;
  // A server that takes connections and never answers: every command times out.
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(silent, 64) == 0);
  REQUIRE(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const std::string silent_url = "redis://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  // The time a build spends outside its compile, for one kernel on a fresh cache directory.
  const auto overhead_ms = [&](const std::string& url, const compiler::KernelSpec& s,
                               Builder** keep = nullptr) {
    TempDir dir;
    auto* builder = new Builder(dir.path(), url, tc);
    const auto t0 = std::chrono::steady_clock::now();
    const jit::BuiltKernel k = builder->b.build(s);
    const double wall =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    CHECK(cache::binary_problem(k.binary, kTarget).empty());
    if (keep)
      *keep = builder;
    else
      delete builder;
    return wall - k.compile_ms;
  };
  const auto all = specs(3);
  double base = 1e9;
  for (int i = 0; i < 3; ++i) base = std::min(base, overhead_ms("", all[0]));

  // Refused (killed), silent, paused beyond the command timeout.
  TempDir scratch;
  redis->command({"CLIENT", "PAUSE", "4000", "ALL"});
  const std::string paused_url = redis->url();
  RedisServer dead;  // started, then killed: nothing listens on its port
  REQUIRE(dead.ok());
  dead.kill();
  const int per_op = 50 + 50;  // default connect + command timeouts
  for (const auto& [name, url] : {std::pair{"refused", dead.url()}, std::pair{"silent", silent_url},
                                  std::pair{"paused", paused_url}}) {
    Builder* b = nullptr;
    const double first = overhead_ms(url, all[1], &b) - base;
    std::printf("remote cache %s: first call +%.1f ms over no remote layer\n", name, first);
    CHECK(first < 3 * per_op + 100);
    // The breaker is open now: the next kernels pay nothing for the remote layer.
    const auto t0 = std::chrono::steady_clock::now();
    const jit::BuiltKernel k = b->b.build(all[2]);
    const double next =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() -
        k.compile_ms;
    // NOTE: the counts prove it (no command sent); the time only bounds it loosely, since a
    // loaded CI machine's publish (fsync) varies by tens of ms.
    CHECK(next < base + 100);
    CHECK(b->stats().skipped == 3);  // the entry, the lease and the store
    CHECK(b->stats().breaker_trips == 1);
    CHECK(b->stats().errors == cache::RemoteStore::kFailuresToTrip);
    REQUIRE(b->warnings.size() == 1);
    CHECK_THAT(b->warnings[0], Catch::Contains(url));
    delete b;
  }
  ::close(silent);
}

TEST_CASE("remote cache: a Redis at maxmemory (evicting or refusing writes) never fails a build "
          "and never serves a bad value",
          "[jit][remote]") {
  auto tc = toolchains_for_or_skip(kTarget);
  auto redis = tc ? redis_or_skip({"--maxmemory-policy", "allkeys-lru"}) : nullptr;
  if (!redis) return;
  const auto used_memory = [&] {
    const std::string info = redis->command({"INFO", "memory"}).reply.str;
    const auto at = info.find("used_memory:");
    REQUIRE(at != std::string::npos);
    return std::stoll(info.substr(at + 12));
  };
  TempDir a, b, c;
  Builder first(a.path(), redis->url(), tc);
  const auto all = specs(5);
  // Room for about two more entries than the first one (and its client buffers) takes.
  const std::string k0 = first.b.build(all[0]).key;
  const long long entry = redis->command({"STRLEN", cache::remote_entry_key(kTarget, k0)}).reply.integer;
  REQUIRE(entry > 1000);
  redis->command({"CONFIG", "SET", "maxmemory", std::to_string(used_memory() + 2 * entry + entry / 2)});
  for (std::size_t i = 1; i < all.size(); ++i) first.b.build(all[i]);
  CHECK(first.b.compiles() == 5);
  CHECK(first.stats().stores + first.stats().store_failed == 5);
  const long long left = redis->command({"DBSIZE"}).reply.integer;
  INFO("keys left: " << left);
  const std::string stats = redis->command({"INFO", "stats"}).reply.str;
  CHECK(stats.find("evicted_keys:0\r") == std::string::npos);  // values were evicted
  CHECK(left >= 1);
  CHECK(left < 5);
  // Newest first: the least recently used values are the ones evicted.
  Builder second(b.path(), redis->url(), tc);
  for (auto s = all.rbegin(); s != all.rend(); ++s) {
    const jit::BuiltKernel k = second.b.build(*s);
    CHECK(cache::binary_problem(k.binary, kTarget).empty());
  }
  CHECK(second.stats().hits + second.b.compiles() == 5);
  CHECK(second.stats().hits >= 1);
  CHECK(second.stats().bad_values == 0);

  // Full with nothing left to evict: every write is refused (OOM); reads and builds go on.
  redis->command({"CONFIG", "SET", "maxmemory", "1"});
  Builder third(c.path(), redis->url(), tc);
  for (const auto& s : specs(2)) third.b.build(s);
  CHECK(third.b.compiles() == 2);
  CHECK(third.stats().stores == 0);
  CHECK(third.stats().store_failed == 2);
  CHECK(third.stats().breaker_trips == 0);  // a full server answers: it is not dead
  REQUIRE(third.warnings.size() == 1);
  CHECK_THAT(third.warnings[0], Catch::Contains("OOM"));
}

TEST_CASE("remote cache: a wrong password is one warning naming the URL without the password "
          "and builds compile locally",
          "[jit][remote]") {
  auto tc = toolchains_for_or_skip(kTarget);
  auto redis = tc ? redis_or_skip({"--requirepass", "right-pass"}) : nullptr;
  if (!redis) return;
  TempDir a, b;
  Builder wrong(a.path(), redis->url("wrong-pass"), tc);
  for (const auto& s : specs(2)) wrong.b.build(s);
  CHECK(wrong.b.compiles() == 2);
  CHECK(wrong.stats().breaker_trips == 1);
  CHECK(wrong.stats().stores == 0);
  REQUIRE(wrong.warnings.size() == 1);
  CHECK_THAT(wrong.warnings[0], Catch::Contains("redis://:***@127.0.0.1:"));
  CHECK_THAT(wrong.warnings[0], Catch::Contains("WRONGPASS"));
  CHECK(wrong.warnings[0].find("wrong-pass") == std::string::npos);
  Builder right(b.path(), redis->url("right-pass"), tc);
  for (const auto& s : specs(2)) right.b.build(s);
  CHECK(right.stats().stores == 2);
  CHECK(right.warnings.empty());
}

}  // namespace fp8jit::test

namespace fp8jit::test {

TEST_CASE("remote cache: a lease left by a dead node delays a build until it expires and a lease "
          "that never expires delays it twice the lease at most",
          "[jit][remote]") {
  auto tc = toolchains_for_or_skip(kTarget);
  auto redis = tc ? redis_or_skip() : nullptr;
  if (!redis) return;
  const auto all = specs(2);
  std::vector<std::string> keys;
  {
    // The keys, from a builder with no remote layer.
    TempDir scratch;
    Options o;
    o.cache_dir = scratch.path();
    jit::KernelBuilder plain(o, tc);
    for (const auto& s : all) keys.push_back(plain.build(s).key);
  }
  constexpr int kLeaseMs = 400;
  const auto elapsed_ms = [](auto t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  TempDir a;
  Builder b(a.path(), redis->url(), tc, kLeaseMs);

  // A node took the lease and died: it expires, this node takes it and compiles.
  REQUIRE(redis->command({"SET", cache::remote_lease_key(kTarget, keys[0]), "dead-node", "PX",
                          std::to_string(kLeaseMs)}).reply.is_ok());
  auto t0 = std::chrono::steady_clock::now();
  jit::BuiltKernel k = b.b.build(all[0]);
  double waited = elapsed_ms(t0) - k.compile_ms;
  std::printf("remote cache: a dead node's %d ms lease delayed a build %.0f ms\n", kLeaseMs, waited);
  CHECK(cache::binary_problem(k.binary, kTarget).empty());
  CHECK(b.stats().lease_waits == 1);
  CHECK(b.stats().leases_taken == 1);
  CHECK(b.stats().lease_timeouts == 0);
  CHECK(waited < kLeaseMs + 800);

  // A lease with no expiry (a stuck or hostile writer): this node gives up at the bound.
  REQUIRE(redis->command({"SET", cache::remote_lease_key(kTarget, keys[1]), "stuck"}).reply.is_ok());
  t0 = std::chrono::steady_clock::now();
  k = b.b.build(all[1]);
  waited = elapsed_ms(t0) - k.compile_ms;
  CHECK(cache::binary_problem(k.binary, kTarget).empty());
  CHECK(b.stats().lease_waits == 2);
  CHECK(b.stats().lease_timeouts == 1);
  CHECK(waited >= 2 * kLeaseMs - 300);
  CHECK(waited < 2 * kLeaseMs + 800);
  CHECK(b.stats().stores == 2);  // both compiles were offered to the fleet
  CHECK(b.b.compiles() == 2);
  CHECK(b.warnings.empty());
}

TEST_CASE("remote cache: a node whose ACL user may only read gets its hits and compiles the rest "
          "with its writes counted as refused and the breaker closed",
          "[jit][remote]") {
  auto tc = toolchains_for_or_skip(kTarget);
  auto redis = tc ? redis_or_skip() : nullptr;
  if (!redis) return;
  REQUIRE(redis->command({"ACL", "SETUSER", "reader", "on", ">reader-pw", "~fp8jit:*",
                          "+@read", "+@connection"}).reply.is_ok());
  const auto all = specs(3);
  TempDir a, b;
  {
    Builder writer(a.path(), redis->url(), tc);
    writer.b.build(all[0]);
    writer.b.build(all[1]);
    CHECK(writer.stats().stores == 2);
  }
  const std::string url = "redis://reader:reader-pw@127.0.0.1:" + std::to_string(redis->port());
  Builder reader(b.path(), url, tc);
  for (const auto& s : all) CHECK(cache::binary_problem(reader.b.build(s).binary, kTarget).empty());
  CHECK(reader.stats().hits == 2);
  CHECK(reader.b.compiles() == 1);
  CHECK(reader.stats().stores == 0);
  CHECK(reader.stats().store_failed == 1);
  CHECK(reader.stats().breaker_trips == 0);
  CHECK(reader.stats().errors == 0);
  REQUIRE(reader.warnings.size() == 1);  // the refused write, once
  CHECK_THAT(reader.warnings[0], Catch::Contains("NOPERM"));
  CHECK_THAT(reader.warnings[0], Catch::Contains("redis://reader:***@127.0.0.1:"));
}

}  // namespace fp8jit::test
