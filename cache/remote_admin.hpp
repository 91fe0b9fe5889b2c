// What `fp8jit cache ls|stats|verify|prune|clear|export|import --remote` is built on: the remote
// layer's entries walked with SCAN over its namespace (remote_store.hpp), listed, checked, counted,
// removed, copied to a disk store (export goes through an archive of a temp cache) and back.
// Unlike the build path, these talk to Redis on connections that ignore the circuit breaker and
// throw CacheError ("failed to <what> on <url>: <why>") when it does not answer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cache/disk_store.hpp"
#include "cache/inspect.hpp"
#include "cache/remote_store.hpp"

namespace fp8jit::cache {

// One Redis key of the namespace.
struct RemoteListed {
  std::string redis_key;
  std::string target, key;  // empty when the key is not an entry key of the layout
  std::uint64_t size = 0;   // STRLEN
  long long ttl_s = -1;     // seconds left; -1: no expiry
  EntryKind kind = EntryKind::kernel;
  std::string kernel_name, created;  // from the metadata (a record's name for a record)
  std::string problem;      // why the value is no entry ("" when it is, or with verify)
  std::string category;     // with problem: "bad_checksum", ..., "foreign"
};

// Every entry key (fp8jit:v<fmt>:entry:*) of `remote`, sorted, with `target` (an arch names its
// feature variants) only those. Without `verify` only the head of each value is read (header and
// metadata, no checksum); with it, the whole value is checked (check_remote_value).
std::vector<RemoteListed> remote_list(RemoteStore& remote, bool verify,
                                      const std::optional<std::string>& target = std::nullopt);

struct RemoteVerifyReport {
  std::uint64_t entries = 0, entries_ok = 0;
  std::vector<RemoteListed> damaged;
  bool ok() const { return damaged.empty(); }
};
RemoteVerifyReport remote_verify(RemoteStore& remote);

struct RemoteLayerStats {
  std::string url;  // redacted
  std::string server_version, maxmemory_policy;
  std::uint64_t used_memory = 0, maxmemory = 0, evicted_keys = 0;
  std::uint64_t entries = 0, bytes = 0, leases = 0;
  std::map<std::string, TargetStats> targets;
};
RemoteLayerStats remote_stats(RemoteStore& remote);

struct RemoteRemoveReport {
  std::uint64_t entries_removed = 0, damaged_removed = 0, leases_removed = 0, bytes_freed = 0;
  std::uint64_t entries_kept = 0, bytes_kept = 0;
};
// Deletes every entry (or those of `target`) and, with no target, every lease.
RemoteRemoveReport remote_clear(RemoteStore& remote,
                                const std::optional<std::string>& target = std::nullopt);
// Deletes the values that do not verify (they would stand in the way of SET NX) and, with
// `max_bytes`, the entries idle longest (OBJECT IDLETIME) until the rest fit in it.
RemoteRemoveReport remote_prune(RemoteStore& remote, std::optional<std::uint64_t> max_bytes);

struct RemoteTransfer {
  std::uint64_t copied = 0, already_present = 0;
  std::vector<std::string> skipped;  // "<what>: <why>"
};
// Publishes every verified value of `remote` (of `target`) into `dest` (a disk store).
RemoteTransfer remote_download(RemoteStore& remote, DiskStore& dest,
                               const std::optional<std::string>& target = std::nullopt);
// Offers every verified entry of the disk store `src` to `remote` (SET NX).
RemoteTransfer remote_upload(const DiskStore& src, RemoteStore& remote);

}  // namespace fp8jit::cache
