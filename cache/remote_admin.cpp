#include "cache/remote_admin.hpp"

#include <algorithm>
#include <charconv>

#include "cache/key.hpp"
#include "fp8jit/error.hpp"
#include "util/text.hpp"

namespace fp8jit::cache {
namespace {

// Every key of `remote` matching `prefix`* (no glob characters in it), sorted.
std::vector<std::string> scan(RemoteStore& remote, const std::string& prefix) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  const std::string pattern = prefix + "*";
  do {
    const RedisReply r =
        remote.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, "list the keys");
    if (r.type != RedisReply::Type::array || r.elements.size() != 2)
      throw CacheError("failed to list the keys on " + remote.url().redacted +
                       ": SCAN answered " + util::escaped(r.str, 120));
    cursor = r.elements[0].str;
    for (const auto& k : r.elements[1].elements) keys.push_back(k.str);
  } while (cursor != "0");
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// Splits "<prefix><target dir>:<key>" into `l.target` and `l.key`; false (and `l.problem`) when
// the name is not one the layout makes.
bool parse_entry_key(const std::string& redis_key, RemoteListed& l) {
  l.redis_key = redis_key;
  const std::string rest = redis_key.substr(remote_entry_prefix().size());
  const auto colon = rest.rfind(':');
  std::optional<std::string> target;
  if (colon != std::string::npos) target = target_from_dir_name(rest.substr(0, colon));
  if (!target || !is_valid_key(rest.substr(colon + 1))) {
    l.problem = "not an entry key of the layout (fp8jit:v" + std::to_string(kFormatVersion) +
                ":entry:<target dir>:<32 hex digits>)";
    l.category = "foreign";
    return false;
  }
  l.target = *target;
  l.key = rest.substr(colon + 1);
  return true;
}

bool target_matches(const std::optional<std::string>& filter, const std::string& target) {
  return !filter || target == *filter || target.starts_with(*filter + ":");
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::uint64_t to_u64(const std::string& s) {
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// The value of `field` in an INFO reply ("field:value" lines).
std::string info_field(const std::string& info, const std::string& field) {
  const std::string needle = field + ":";
  std::size_t at = 0;
  while ((at = info.find(needle, at)) != std::string::npos) {
    if (at == 0 || info[at - 1] == '\n') {
      const auto end = info.find_first_of("\r\n", at);
      return info.substr(at + needle.size(), end == std::string::npos ? end : end - at - needle.size());
    }
    at += needle.size();
  }
  return "";
}

// Reads the whole value of `l` (within the layer's cap) and checks it; fills problem/category.
std::optional<Entry> read_checked(RemoteStore& remote, RemoteListed& l) {
  const std::string end = std::to_string(remote.config().max_value_bytes);
  const RedisReply r = remote.command({"GETRANGE", l.redis_key, "0", end}, "read " + l.redis_key);
  if (r.type != RedisReply::Type::string) {
    l.problem = "not a string value: " + util::escaped(r.str, 120);
    l.category = "bad_length";
    return std::nullopt;
  }
  if (r.str.size() > remote.config().max_value_bytes) {
    l.problem = "larger than " + std::to_string(remote.config().max_value_bytes) + " bytes";
    l.category = "unreadable";
    return std::nullopt;
  }
  RemoteValueCheck c = check_remote_value(bytes_of(r.str), l.target, l.key);
  if (!c.problem.empty()) {
    l.problem = c.problem;
    l.category = c.category;
    return std::nullopt;
  }
  return std::move(c.entry);
}

}  // namespace

std::vector<RemoteListed> remote_list(RemoteStore& remote, bool verify,
                                      const std::optional<std::string>& target) {
  std::vector<RemoteListed> out;
  for (const std::string& k : scan(remote, remote_entry_prefix())) {
    RemoteListed l;
    const bool parsed = parse_entry_key(k, l);
    if (parsed && !target_matches(target, l.target)) continue;
    if (!parsed && target) continue;
    const RedisReply size = remote.command({"STRLEN", k}, "read " + k);
    l.size = size.type == RedisReply::Type::integer ? static_cast<std::uint64_t>(size.integer) : 0;
    const RedisReply ttl = remote.command({"TTL", k}, "read " + k);
    l.ttl_s = ttl.type == RedisReply::Type::integer && ttl.integer >= 0 ? ttl.integer : -1;
    if (!parsed) {
      out.push_back(std::move(l));
      continue;
    }
    std::optional<Entry> e;
    if (verify) {
      e = read_checked(remote, l);
    } else {
      const RedisReply head = remote.command({"GETRANGE", k, "0", "65535"}, "read " + k);
      DecodeResult d = decode_entry_head(bytes_of(head.str), l.size, l.key);
      if (!d.ok()) {
        l.problem = d.error;
        l.category = problem_name(d.problem);
      } else {
        e = std::move(d.entry);
      }
    }
    if (e) {
      l.kind = entry_kind(e->meta);
      l.kernel_name = e->meta.value(l.kind == EntryKind::kernel ? "kernel_name" : "name", "");
      l.created = e->meta.value("created", "");
    }
    out.push_back(std::move(l));
  }
  return out;
}

RemoteVerifyReport remote_verify(RemoteStore& remote) {
  RemoteVerifyReport r;
  for (auto& l : remote_list(remote, true)) {
    ++r.entries;
    if (l.problem.empty())
      ++r.entries_ok;
    else
      r.damaged.push_back(std::move(l));
  }
  return r;
}

RemoteLayerStats remote_stats(RemoteStore& remote) {
  RemoteLayerStats s;
  s.url = remote.url().redacted;
  const std::string server = remote.command({"INFO", "server"}, "read INFO").str;
  const std::string memory = remote.command({"INFO", "memory"}, "read INFO").str;
  const std::string stats = remote.command({"INFO", "stats"}, "read INFO").str;
  s.server_version = info_field(server, "redis_version");
  s.used_memory = to_u64(info_field(memory, "used_memory"));
  s.maxmemory = to_u64(info_field(memory, "maxmemory"));
  s.maxmemory_policy = info_field(memory, "maxmemory_policy");
  s.evicted_keys = to_u64(info_field(stats, "evicted_keys"));
  for (const auto& l : remote_list(remote, false)) {
    ++s.entries;
    s.bytes += l.size;
    if (!l.target.empty()) {
      ++s.targets[l.target].entries;
      s.targets[l.target].bytes += l.size;
    }
  }
  s.leases = scan(remote, remote_lease_prefix()).size();
  return s;
}

RemoteRemoveReport remote_clear(RemoteStore& remote, const std::optional<std::string>& target) {
  RemoteRemoveReport r;
  for (const auto& l : remote_list(remote, false, target)) {
    const RedisReply d = remote.command({"DEL", l.redis_key}, "remove " + l.redis_key);
    if (d.type == RedisReply::Type::integer && d.integer > 0) {
      ++r.entries_removed;
      r.bytes_freed += l.size;
    }
  }
  if (!target)
    for (const auto& k : scan(remote, remote_lease_prefix())) {
      const RedisReply d = remote.command({"DEL", k}, "remove " + k);
      if (d.type == RedisReply::Type::integer && d.integer > 0) ++r.leases_removed;
    }
  return r;
}

RemoteRemoveReport remote_prune(RemoteStore& remote, std::optional<std::uint64_t> max_bytes) {
  RemoteRemoveReport r;
  struct Kept {
    std::string key;
    std::uint64_t size, idle;
  };
  std::vector<Kept> kept;
  for (const auto& l : remote_list(remote, true)) {
    if (!l.problem.empty()) {
      const RedisReply d = remote.command({"DEL", l.redis_key}, "remove " + l.redis_key);
      if (d.type == RedisReply::Type::integer && d.integer > 0) {
        ++r.damaged_removed;
        r.bytes_freed += l.size;
      }
      continue;
    }
    // NOTE: reading the value above made it recently used; IDLETIME is read before that would
    // matter only under an LFU policy, where it is an error and the order falls back to the key.
    const RedisReply idle = remote.command({"OBJECT", "IDLETIME", l.redis_key}, "read " + l.redis_key);
    kept.push_back({l.redis_key, l.size,
                    idle.type == RedisReply::Type::integer ? static_cast<std::uint64_t>(idle.integer) : 0});
  }
  std::uint64_t total = 0;
  for (const auto& k : kept) total += k.size;
  if (max_bytes) {
    std::stable_sort(kept.begin(), kept.end(), [](const Kept& a, const Kept& b) { return a.idle > b.idle; });
    std::size_t i = 0;
    for (; i < kept.size() && total > *max_bytes; ++i) {
      const RedisReply d = remote.command({"DEL", kept[i].key}, "remove " + kept[i].key);
      if (d.type == RedisReply::Type::integer && d.integer > 0) {
        ++r.entries_removed;
        r.bytes_freed += kept[i].size;
      }
      total -= kept[i].size;
    }
    kept.erase(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(i));
  }
  r.entries_kept = kept.size();
  r.bytes_kept = total;
  return r;
}

RemoteTransfer remote_download(RemoteStore& remote, DiskStore& dest,
                               const std::optional<std::string>& target) {
  RemoteTransfer t;
  for (auto& l : remote_list(remote, false, target)) {
    if (l.target.empty()) continue;  // not an entry key: nothing to copy
    l.problem.clear();
    std::optional<Entry> e = read_checked(remote, l);
    if (!e) {
      t.skipped.push_back(l.redis_key + ": " + l.category + ": " + l.problem);
      continue;
    }
    const StoreResult s = dest.store(*e);
    if (!s.ok())
      t.skipped.push_back(l.redis_key + ": " + s.error);
    else if (s.outcome == StoreResult::Outcome::kept_existing)
      ++t.already_present;
    else
      ++t.copied;
  }
  return t;
}

RemoteTransfer remote_upload(const DiskStore& src, RemoteStore& remote) {
  RemoteTransfer t;
  for (const auto& info : src.list(false)) {
    const CheckedFile f = read_entry_file(info.path);
    if (!f.ok()) {
      t.skipped.push_back(info.path + ": " + damage_name(f.damage) + ": " + f.detail);
      continue;
    }
    const std::vector<std::uint8_t> bytes = encode_entry(*f.entry);
    if (bytes.size() > remote.config().max_value_bytes) {
      t.skipped.push_back(info.path + ": larger than " +
                          std::to_string(remote.config().max_value_bytes) + " bytes");
      continue;
    }
    const std::string rkey = remote_entry_key(f.entry->target, f.entry->key);
    const std::string_view value(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::vector<std::string_view> args{"SET", rkey, value, "NX"};
    const std::string ttl = std::to_string(remote.config().ttl_s);
    if (remote.config().ttl_s > 0) args.insert(args.end(), {"EX", ttl});
    const RedisReply r = remote.command(args, "store " + rkey);
    if (r.is_ok())
      ++t.copied;
    else if (r.type == RedisReply::Type::nil)
      ++t.already_present;
    else
      t.skipped.push_back(info.path + ": " + util::escaped(r.str, 200));
  }
  return t;
}

}  // namespace fp8jit::cache
