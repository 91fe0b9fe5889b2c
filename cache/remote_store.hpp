// RemoteStore: the remote cache layer, on Redis, that a fleet shares under each node's disk cache
// (CacheLayers looks it up after the local and read-only layers, and offers it what it compiles).
//
//   fp8jit:v<fmt>:entry:<target dir>:<key>   the entry: the very bytes of its disk file (entry.hpp)
//   fp8jit:v<fmt>:lease:<target dir>:<key>   a compile lease: a token, set NX with an expiry
//
// <target dir> is target_dir_name(target) (no ':' in it). A value is trusted no more than a file
// of a shared directory: it is decoded and checked (checksum, key, target, format, a binary a
// loader takes: content_problem) before it is used, and one that is not is counted, reported once
// and never used; the next compile replaces it. Writes are SET NX (the first writer wins), with an
// optional expiry and a size cap per value.
//
// Fleet-wide single flight (lease_or_wait): before a compile a node takes the kernel's lease with
// SET NX PX; the others poll for the entry, and take the lease themselves when it expires, so a
// dead node delays them one lease at most.
//
// A dead, slow or full Redis never fails a build and bounds its delay: every command has the
// connect and command timeouts of the configuration, and after kFailuresToTrip failures in a row
// the circuit breaker skips the layer for kCooldown (then one command probes it again); the first
// trip is reported once. A full Redis (an OOM error to a write) costs the write, not the reads.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/entry.hpp"
#include "cache/redis.hpp"

namespace fp8jit::cache {

struct RemoteConfig {
  std::string url;  // redis://...; empty: no remote layer
  RedisConnection::Timeouts timeouts;
  std::chrono::milliseconds lease{30'000};  // how long a compile lease holds
  std::uint64_t ttl_s = 0;                  // expiry of a stored value; 0: none
  std::uint64_t max_value_bytes = std::uint64_t{64} << 20;  // larger values are neither stored nor read
  std::vector<std::string> library_candidates;  // hiredis libraries to try; empty: the build's soname
};

// What the layer did in this process: the counts tests and `fp8jit warmup --json` report.
struct RemoteStats {
  std::uint64_t hits = 0;          // verified values used
  std::uint64_t misses = 0;        // no value
  std::uint64_t bad_values = 0;    // values that did not verify (never used), once per value
  std::uint64_t too_large = 0;     // values over max_value_bytes, not read or not stored
  std::uint64_t stores = 0;        // values written
  std::uint64_t store_exists = 0;  // a value was there already (SET NX lost)
  std::uint64_t store_failed = 0;  // the server refused a write (OOM: full)
  std::uint64_t leases_taken = 0;  // compile leases this process held
  std::uint64_t lease_waits = 0;   // builds that waited for another node's lease
  std::uint64_t lease_found = 0;   // of which found the entry the other node published
  std::uint64_t lease_timeouts = 0;  // waits that gave up at the bound and compiled
  std::uint64_t errors = 0;        // commands with no reply (timeout, refused, closed) or auth failed
  std::uint64_t reconnects = 0;    // idle connections the server had closed, replaced at once
  std::uint64_t skipped = 0;       // commands not sent: the breaker was open or hiredis is absent
  std::uint64_t breaker_trips = 0;
};

// Each count of `s` under its member's name, in declaration order (for JSON and tables).
std::vector<std::pair<std::string, std::uint64_t>> stats_fields(const RemoteStats& s);

// The Redis keys of an entry and of its lease.
std::string remote_entry_key(std::string_view target, std::string_view key);
std::string remote_lease_key(std::string_view target, std::string_view key);
// "fp8jit:v<fmt>:entry:", the prefix of every entry key (SCAN patterns).
std::string remote_entry_prefix();
std::string remote_lease_prefix();

// A value read from Redis, checked as a disk file is (decode_entry, target, content_problem).
struct RemoteValueCheck {
  std::optional<Entry> entry;  // set exactly when `problem` is empty
  std::string problem;
  std::string category;        // "bad_checksum", "key_mismatch", "wrong_target", "bad_binary", ...
};
RemoteValueCheck check_remote_value(std::span<const std::uint8_t> bytes, std::string_view target,
                                    std::string_view key);

class RemoteStore {
 public:
  // Throws InvalidArgument for a URL that does not parse (parse_redis_url). Connects lazily.
  explicit RemoteStore(RemoteConfig config);
  RemoteStore(const RemoteStore&) = delete;
  RemoteStore& operator=(const RemoteStore&) = delete;
  ~RemoteStore();

  const RedisUrl& url() const { return url_; }
  const RemoteConfig& config() const { return config_; }

  // The verified entry of (`target`, `key`), or nullopt (a miss, a bad value, or no answer).
  std::optional<Entry> load(std::string_view target, std::string_view key);

  enum class StoreOutcome { stored, exists, too_large, failed, skipped };
  // Offers `entry` (SET NX, PX the TTL). Where this process found a bad value under the key, the
  // value is replaced (SET without NX). Never throws.
  StoreOutcome store(const Entry& entry);
  // store(), after an EXISTS finds no value under the key: what a warmup offers for every kernel
  // it found on disk, so that a warm node sends a few bytes per kernel, not the entries again.
  StoreOutcome store_if_missing(const Entry& entry);

  // A held compile lease; released (deleted if still ours) on destruction.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept { *this = std::move(o); }
    Lease& operator=(Lease&& o) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }
    bool held() const { return store_ != nullptr; }
    void release() noexcept;

   private:
    friend class RemoteStore;
    RemoteStore* store_ = nullptr;
    std::string key_, token_;
  };
  struct LeaseResult {
    enum class Outcome {
      acquired,     // the lease is ours: compile, store, then let it go
      found,        // another node published the entry meanwhile: `entry`
      unavailable,  // no answer (or a full server): compile without a lease
      timed_out,    // waited the bound for another node: compile anyway
    };
    Outcome outcome = Outcome::unavailable;
    std::optional<Entry> entry;
    Lease lease;
  };
  // Takes the lease of (`target`, `key`), or waits for the node that holds it: polls for the
  // entry (20 ms, growing to 250 ms) and retries the lease (taken once the holder's expires),
  // for at most wait_bound().
  LeaseResult lease_or_wait(std::string_view target, std::string_view key);
  std::chrono::milliseconds wait_bound() const { return 2 * config_.lease; }

  // One command through the breaker (nullopt: not sent, or no reply), for the layer's own use.
  std::optional<RedisReply> run(const std::vector<std::string_view>& args);
  // One command on a connection of its own, ignoring the breaker, for `fp8jit cache --remote` and
  // `info`: throws CacheError "failed to <what> on <url>: <why>" when there is no reply or
  // hiredis is absent; an error reply comes back as one.
  RedisReply command(const std::vector<std::string_view>& args, const std::string& what);

  RemoteStats stats() const;

  static constexpr int kFailuresToTrip = 3;
  static constexpr std::chrono::seconds kCooldown{30};

  // Receives each warning (one line, no prefix). Default: "fp8jit: warning: <message>" on stderr.
  void set_warning_handler(std::function<void(const std::string&)> handler);

 private:
  bool admit();
  void succeeded();
  void failed(const std::string& error, bool auth);
  void warn(const std::string& message);
  void warn_once(const std::string& what, const std::string& message);
  // A connection from the pool or a new one; nullptr with `error` (and `auth`) when none.
  // `reused` (when given): the connection came from the pool.
  std::unique_ptr<RedisConnection> take(std::string& error, bool& auth, bool* reused = nullptr);
  void give_back(std::unique_ptr<RedisConnection> c);
  bool load_library(std::string& why);
  void release_lease(const std::string& key, const std::string& token) noexcept;

  RemoteConfig config_;
  RedisUrl url_;
  std::string getrange_end_;  // max_value_bytes as GETRANGE's last index (max + 1 bytes back)

  mutable std::mutex mu_;  // guards everything below but the counters
  bool library_tried_ = false;
  std::unique_ptr<Hiredis> lib_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;
  int failures_in_row_ = 0;
  bool open_ = false, probing_ = false;
  std::chrono::steady_clock::time_point open_until_;
  std::set<std::string> reported_;  // warnings given once
  std::set<std::string> bad_keys_;  // entry keys whose value did not verify here
  std::function<void(const std::string&)> warning_handler_;
  std::uint64_t token_counter_ = 0;

  struct Counters {
    std::atomic<std::uint64_t> hits{0}, misses{0}, bad_values{0}, too_large{0}, stores{0},
        store_exists{0}, store_failed{0}, leases_taken{0}, lease_waits{0}, lease_found{0},
        lease_timeouts{0}, errors{0}, reconnects{0}, skipped{0}, breaker_trips{0};
  } n_;
};

}  // namespace fp8jit::cache
