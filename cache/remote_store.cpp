#include "cache/remote_store.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <thread>

#include "cache/binary_check.hpp"
#include "cache/disk_store.hpp"
#include "cache/key.hpp"
#include "fp8jit/error.hpp"
#include "util/text.hpp"

namespace fp8jit::cache {
namespace {

std::string namespace_prefix() { return "fp8jit:v" + std::to_string(kFormatVersion) + ":"; }

// The credentials were refused: the whole layer is unusable until they change.
bool is_auth_error(const RedisReply& r) {
  return r.is_error() && (r.str.starts_with("NOAUTH") || r.str.starts_with("WRONGPASS"));
}

// NOTE: NOPERM is not an authentication failure on the build path: a node whose ACL user may read
// but not write (a fleet's consumers, beside the warmup nodes that fill the layer) keeps its hits;
// each refused write is counted like a full server's. The cache commands report it as an error.
bool is_refusal(const RedisReply& r) {
  return is_auth_error(r) || (r.is_error() && r.str.starts_with("NOPERM"));
}

// Deletes the lease only while it still holds our token: a lease that expired and was taken by
// another node stays theirs.
constexpr std::string_view kReleaseScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
    "return 0";

}  // namespace

std::vector<std::pair<std::string, std::uint64_t>> stats_fields(const RemoteStats& s) {
  return {{"hits", s.hits},
          {"misses", s.misses},
          {"bad_values", s.bad_values},
          {"too_large", s.too_large},
          {"stores", s.stores},
          {"store_exists", s.store_exists},
          {"store_failed", s.store_failed},
          {"leases_taken", s.leases_taken},
          {"lease_waits", s.lease_waits},
          {"lease_found", s.lease_found},
          {"lease_timeouts", s.lease_timeouts},
          {"errors", s.errors},
          {"reconnects", s.reconnects},
          {"skipped", s.skipped},
          {"breaker_trips", s.breaker_trips}};
}

std::string remote_entry_prefix() { return namespace_prefix() + "entry:"; }
std::string remote_lease_prefix() { return namespace_prefix() + "lease:"; }

std::string remote_entry_key(std::string_view target, std::string_view key) {
  return remote_entry_prefix() + target_dir_name(target) + ":" + std::string(key);
}

std::string remote_lease_key(std::string_view target, std::string_view key) {
  return remote_lease_prefix() + target_dir_name(target) + ":" + std::string(key);
}

RemoteValueCheck check_remote_value(std::span<const std::uint8_t> bytes, std::string_view target,
                                    std::string_view key) {
  RemoteValueCheck c;
  DecodeResult d = decode_entry(bytes, key);
  if (!d.ok()) {
    c.problem = d.error;
    c.category = problem_name(d.problem);
    return c;
  }
  if (d.entry->target != target) {
    c.problem = "holds an entry for target \"" + util::escaped(d.entry->target, 64) +
                "\", expected \"" + util::escaped(target, 64) + "\"";
    c.category = "wrong_target";
    return c;
  }
  if (const std::string p = content_problem(*d.entry); !p.empty()) {
    c.problem = "its content is not usable: " + p;
    c.category = "bad_binary";
    return c;
  }
  c.entry = std::move(d.entry);
  return c;
}

RemoteStore::RemoteStore(RemoteConfig config)
    : config_(std::move(config)), url_(parse_redis_url(config_.url, "the remote cache URL")) {
  const std::uint64_t cap = std::min<std::uint64_t>(config_.max_value_bytes, kMaxEntryFileBytes);
  config_.max_value_bytes = cap;
  getrange_end_ = std::to_string(cap);  // GETRANGE's end is inclusive: cap + 1 bytes at most
  warning_handler_ = [](const std::string& message) {
    const std::string line = "fp8jit: warning: " + message + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

RemoteStore::~RemoteStore() = default;

void RemoteStore::set_warning_handler(std::function<void(const std::string&)> handler) {
  std::lock_guard lock(mu_);
  warning_handler_ = std::move(handler);
}

void RemoteStore::warn(const std::string& message) {
  std::function<void(const std::string&)> h;
  {
    std::lock_guard lock(mu_);
    h = warning_handler_;
  }
  if (h) h(message);
}

void RemoteStore::warn_once(const std::string& what, const std::string& message) {
  {
    std::lock_guard lock(mu_);
    if (!reported_.insert(what).second) return;
  }
  warn(message);
}

RemoteStats RemoteStore::stats() const {
  RemoteStats s;
  s.hits = n_.hits, s.misses = n_.misses, s.bad_values = n_.bad_values, s.too_large = n_.too_large;
  s.stores = n_.stores, s.store_exists = n_.store_exists, s.store_failed = n_.store_failed;
  s.leases_taken = n_.leases_taken, s.lease_waits = n_.lease_waits, s.lease_found = n_.lease_found;
  s.lease_timeouts = n_.lease_timeouts, s.errors = n_.errors, s.reconnects = n_.reconnects;
  s.skipped = n_.skipped;
  s.breaker_trips = n_.breaker_trips;
  return s;
}

// ---- connections and the breaker ----------------------------------------------------------------

bool RemoteStore::load_library(std::string& why) {
  // NOTE: called with mu_ held; dlopen happens once per store.
  if (!library_tried_) {
    library_tried_ = true;
    lib_ = Hiredis::load(&why, config_.library_candidates);
    if (!lib_) why = "no hiredis library could be loaded: " + why;
  }
  return lib_ != nullptr;
}

bool RemoteStore::admit() {
  std::string why;
  {
    std::lock_guard lock(mu_);
    const bool had_tried = library_tried_;
    if (!load_library(why)) {
      ++n_.skipped;
      if (had_tried) return false;
    } else if (!open_) {
      return true;
    } else if (std::chrono::steady_clock::now() < open_until_ || probing_) {
      ++n_.skipped;
      return false;
    } else {
      probing_ = true;  // half open: this one command probes the server
      return true;
    }
  }
  warn("remote cache " + url_.redacted + " is not used: " + why);
  return false;
}

void RemoteStore::succeeded() {
  std::lock_guard lock(mu_);
  failures_in_row_ = 0;
  open_ = probing_ = false;
}

void RemoteStore::failed(const std::string& error, bool auth) {
  ++n_.errors;
  bool tripped = false;
  {
    std::lock_guard lock(mu_);
    ++failures_in_row_;
    const bool was_probe = probing_;
    probing_ = false;
    if (auth || was_probe || failures_in_row_ >= kFailuresToTrip) {
      tripped = !open_ || was_probe;
      open_ = true;
      open_until_ = std::chrono::steady_clock::now() + kCooldown;
    }
  }
  if (!tripped) return;
  ++n_.breaker_trips;
  warn_once(auth ? "auth" : "breaker",
            "remote cache " + url_.redacted + (auth ? " refused the credentials: " : " failed: ") +
                error + "; kernels are compiled locally, and the remote cache is tried again " +
                std::to_string(kCooldown.count()) + " s later (not reported again)");
}

std::unique_ptr<RedisConnection> RemoteStore::take(std::string& error, bool& auth, bool* reused) {
  if (reused) *reused = false;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      if (reused) *reused = true;
      return c;
    }
  }
  // NOTE: connect outside the lock, so that no thread waits for another's connect timeout.
  return RedisConnection::open(*lib_, url_, config_.timeouts, error, auth);
}

void RemoteStore::give_back(std::unique_ptr<RedisConnection> c) {
  if (!c || c->broken()) return;
  std::lock_guard lock(mu_);
  if (idle_.size() < 16) idle_.push_back(std::move(c));
}

std::optional<RedisReply> RemoteStore::run(const std::vector<std::string_view>& args) {
  if (!admit()) return std::nullopt;
  std::string error;
  bool auth = false, reused = false;
  std::unique_ptr<RedisConnection> c = take(error, auth, &reused);
  if (!c) {
    failed(error, auth);
    return std::nullopt;
  }
  RedisResult r = c->command(args);
  // NOTE: an idle connection the server closed (its `timeout` setting, a restart) fails at once
  // with EOF or a reset, before the command reached any server: one retry on a fresh connection.
  // A timeout is not retried: that would double the delay a slow server adds.
  if (!r.ok && reused && !r.timed_out) {
    ++n_.reconnects;
    c = take(error, auth);
    if (!c) {
      failed(error, auth);
      return std::nullopt;
    }
    r = c->command(args);
  }
  if (!r.ok) {
    failed("failed to run " + std::string(args.front()) + ": " + r.error, false);
    return std::nullopt;
  }
  give_back(std::move(c));
  if (is_auth_error(r.reply)) {
    failed(util::escaped(r.reply.str, 200), true);
    return std::nullopt;
  }
  succeeded();
  return std::move(r.reply);
}

RedisReply RemoteStore::command(const std::vector<std::string_view>& args, const std::string& what) {
  std::string why;
  bool have_lib = false;
  {
    std::lock_guard lock(mu_);
    have_lib = load_library(why);
    if (!have_lib && why.empty()) why = "no hiredis library could be loaded";
  }
  const std::string where = "failed to " + what + " on " + url_.redacted + ": ";
  if (!have_lib) throw CacheError(where + why);
  std::string error;
  bool auth = false;
  std::unique_ptr<RedisConnection> c = take(error, auth);
  if (!c) throw CacheError("failed to " + what + ": " + error);  // `error` names the URL
  RedisResult r = c->command(args);
  if (!r.ok) throw CacheError(where + r.error);
  give_back(std::move(c));
  if (is_refusal(r.reply)) throw CacheError(where + util::escaped(r.reply.str, 200));
  return std::move(r.reply);
}

// ---- entries ------------------------------------------------------------------------------------

std::optional<Entry> RemoteStore::load(std::string_view target, std::string_view key) {
  const std::string rkey = remote_entry_key(target, key);
  const auto r = run({"GETRANGE", rkey, "0", getrange_end_});
  if (!r) return std::nullopt;
  if ((r->type == RedisReply::Type::string && r->str.empty()) || r->type == RedisReply::Type::nil) {
    ++n_.misses;
    return std::nullopt;
  }
  // NOTE: an error reply other than WRONGTYPE (NOPERM, LOADING after a restart) says nothing about
  // the value: a miss, reported once. WRONGTYPE is another type under our key: a bad value, which
  // the next compile's store replaces.
  if (r->is_error() && !r->str.starts_with("WRONGTYPE")) {
    ++n_.misses;
    warn_once("read-error", "remote cache " + url_.redacted + " refused a read: " +
                                util::escaped(r->str, 200) + " (further refusals are not reported)");
    return std::nullopt;
  }
  if (r->type == RedisReply::Type::string && r->str.size() > config_.max_value_bytes) {
    ++n_.too_large;
    ++n_.misses;
    warn_once("large:" + rkey, "remote cache " + url_.redacted + ": the value of " + rkey +
                                   " is larger than " + std::to_string(config_.max_value_bytes) +
                                   " bytes (FP8JIT_CACHE_REMOTE_MAX_VALUE_BYTES); not used");
    return std::nullopt;
  }
  RemoteValueCheck c;
  if (r->type != RedisReply::Type::string) {
    c.problem = "not a string value: " + util::escaped(r->str, 120);
    c.category = "bad_length";
  } else {
    const auto* p = reinterpret_cast<const std::uint8_t*>(r->str.data());
    c = check_remote_value(std::span(p, r->str.size()), target, key);
  }
  if (!c.problem.empty()) {
    bool first = false;
    {
      std::lock_guard lock(mu_);
      first = bad_keys_.insert(rkey).second;
    }
    if (first) ++n_.bad_values;  // a value read again (the lease's second look) counts once
    warn_once("bad:" + rkey, "remote cache " + url_.redacted + ": the value of " + rkey +
                                 " is damaged (" + c.category + ": " + c.problem +
                                 "); not used, compiled afresh");
    return std::nullopt;
  }
  ++n_.hits;
  return std::move(c.entry);
}

RemoteStore::StoreOutcome RemoteStore::store(const Entry& entry) {
  std::vector<std::uint8_t> bytes;
  try {
    bytes = encode_entry(entry);
  } catch (const Error&) {
    return StoreOutcome::failed;  // the disk store reports an entry that cannot be encoded
  }
  if (bytes.size() > config_.max_value_bytes) {
    ++n_.too_large;
    return StoreOutcome::too_large;
  }
  const std::string rkey = remote_entry_key(entry.target, entry.key);
  bool replace = false;
  {
    std::lock_guard lock(mu_);
    replace = bad_keys_.erase(rkey) != 0;
  }
  const std::string_view value(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<std::string_view> args{"SET", rkey, value};
  if (!replace) args.push_back("NX");
  const std::string ttl = std::to_string(config_.ttl_s);
  if (config_.ttl_s > 0) args.insert(args.end(), {"EX", ttl});
  const auto r = run(args);
  if (!r) return StoreOutcome::skipped;
  if (r->is_ok()) {
    ++n_.stores;
    return StoreOutcome::stored;
  }
  if (r->type == RedisReply::Type::nil) {
    ++n_.store_exists;
    return StoreOutcome::exists;
  }
  ++n_.store_failed;
  warn_once("store", "remote cache " + url_.redacted + " refused a write: " +
                         util::escaped(r->str, 200) + " (further refusals are not reported)");
  return StoreOutcome::failed;
}

RemoteStore::StoreOutcome RemoteStore::store_if_missing(const Entry& entry) {
  const auto r = run({"EXISTS", remote_entry_key(entry.target, entry.key)});
  if (!r) return StoreOutcome::skipped;
  if (r->type == RedisReply::Type::integer && r->integer > 0) {
    ++n_.store_exists;
    return StoreOutcome::exists;
  }
  return store(entry);
}

// ---- leases -------------------------------------------------------------------------------------

RemoteStore::Lease& RemoteStore::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    store_ = o.store_;
    key_ = std::move(o.key_);
    token_ = std::move(o.token_);
    o.store_ = nullptr;
  }
  return *this;
}

void RemoteStore::Lease::release() noexcept {
  if (!store_) return;
  store_->release_lease(key_, token_);
  store_ = nullptr;
}

void RemoteStore::release_lease(const std::string& key, const std::string& token) noexcept {
  try {
    run({"EVAL", kReleaseScript, "1", key, token});
  } catch (...) {  // the lease then expires by itself
  }
}

RemoteStore::LeaseResult RemoteStore::lease_or_wait(std::string_view target, std::string_view key) {
  LeaseResult out;
  const std::string lkey = remote_lease_key(target, key);
  std::string token;
  {
    std::lock_guard lock(mu_);
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::random_device rd;
    token = std::string(host) + ":" + std::to_string(::getpid()) + ":" +
            std::to_string(++token_counter_) + ":" + std::to_string(rd());
  }
  const std::string px = std::to_string(std::max<long long>(1, config_.lease.count()));
  const auto deadline = std::chrono::steady_clock::now() + wait_bound();
  auto poll = std::chrono::milliseconds(20);
  bool waited = false;
  for (;;) {
    const auto r = run({"SET", lkey, token, "NX", "PX", px});
    if (!r || (r->is_error())) {
      out.outcome = LeaseResult::Outcome::unavailable;  // no answer, or a full server
      break;
    }
    if (r->is_ok()) {
      ++n_.leases_taken;
      out.lease.store_ = this;
      out.lease.key_ = lkey;
      out.lease.token_ = token;
      // NOTE: the holder before us may have published and let go between our miss and our SET.
      if (auto e = load(target, key)) {
        out.lease.release();
        out.outcome = LeaseResult::Outcome::found;
        out.entry = std::move(e);
        if (waited) ++n_.lease_found;
      } else {
        out.outcome = LeaseResult::Outcome::acquired;
      }
      break;
    }
    // Held by another node: wait for its entry.
    if (!waited) ++n_.lease_waits;
    waited = true;
    if (std::chrono::steady_clock::now() + poll > deadline) {
      ++n_.lease_timeouts;
      out.outcome = LeaseResult::Outcome::timed_out;
      break;
    }
    std::this_thread::sleep_for(poll);
    poll = std::min(std::chrono::milliseconds(250), poll * 3 / 2);
    if (auto e = load(target, key)) {
      ++n_.lease_found;
      out.outcome = LeaseResult::Outcome::found;
      out.entry = std::move(e);
      break;
    }
  }
  return out;
}

}  // namespace fp8jit::cache
