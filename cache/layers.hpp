// CacheLayers: the disk cache as the library sees it: one writable DiskStore (Options::cache_dir)
// over any number of read-only ones (Options::cache_readonly_dirs: a prebuilt cache shipped in an
// image, a shared mount), consulted in that order. Stores go to the writable layer only, which is
// kept under its size budget (prune.hpp) without a directory walk per store.
//
// Strict read-only mode (Options::cache_read_only) opens the writable layer read-only as well:
// then nothing is ever written, renamed or touched (no entries, no mtimes, no quarantine, no
// pruning, no lock file).
//
// Under the disk layers, an optional remote layer on Redis shared by a fleet (remote_store.hpp,
// LayersConfig::remote): a lookup that misses every disk layer asks it, and a verified value is
// published into the writable layer before it is returned; store() offers what it publishes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cache/disk_store.hpp"
#include "cache/prune.hpp"
#include "cache/remote_store.hpp"

namespace fp8jit::cache {

struct LayersConfig {
  std::string writable_root;                // empty: no writable layer
  std::vector<std::string> readonly_roots;  // consulted in order after the writable layer
  bool read_only = false;                   // strict: open writable_root read-only too
  std::uint64_t max_bytes = 0;              // budget of the writable layer; 0: none
  RemoteConfig remote;                      // remote.url empty: no remote layer
};

class CacheLayers {
 public:
  // One DiskStore per root (none is created on disk until the first store). A read-only root that
  // is the writable one, or one already given (the same directory however spelled: by device and
  // inode, or by normalized absolute path while it does not exist), is opened once.
  explicit CacheLayers(const LayersConfig& config);

  CacheLayers(const CacheLayers&) = delete;
  CacheLayers& operator=(const CacheLayers&) = delete;

  // The layers in lookup order: the writable one first (when configured), then the read-only ones.
  std::size_t size() const { return layers_.size(); }
  DiskStore& layer(std::size_t i) { return *layers_.at(i); }
  const DiskStore& layer(std::size_t i) const { return *layers_.at(i); }
  std::vector<const DiskStore*> stores() const;
  // The writable layer's store (opened read-only in strict mode), or nullptr when none.
  DiskStore* writable() { return has_writable_ ? layers_.front().get() : nullptr; }
  const DiskStore* writable() const { return has_writable_ ? layers_.front().get() : nullptr; }
  // Whether store() can publish at all (a writable layer, not strict read-only mode).
  bool can_store() const { return has_writable_ && !layers_.front()->read_only(); }
  std::uint64_t max_bytes() const { return max_bytes_; }

  // The remote layer, or nullptr when none is configured.
  RemoteStore* remote() { return remote_.get(); }

  // The index of Hit::layer for a remote hit that could not be kept on disk (strict read-only
  // mode, a failed write): quarantine() ignores it.
  static constexpr std::size_t kRemoteOnly = static_cast<std::size_t>(-1);
  struct Hit {
    Entry entry;
    std::size_t layer = 0;  // index into the layers, for quarantine()
    bool remote = false;    // came from the remote layer (then kept in the writable layer)
  };
  // The first layer's verified entry for (`target`, `key`) (DiskStore::load on each in order: a
  // damaged file is a miss there and the search goes on). A hit in a read-only layer is not copied
  // into the writable one. With `remote`, a miss in every disk layer asks the remote layer, whose
  // verified value is published into the writable layer (layer 0 of the hit) unless it cannot be
  // (kRemoteOnly). Throws InvalidArgument for a malformed key or empty target.
  std::optional<Hit> load(std::string_view target, std::string_view key, bool remote = true);
  // A verified entry the remote layer gave (load, or RemoteStore::lease_or_wait), published into
  // the writable layer when it can be, as load() does.
  Hit keep_remote_hit(Entry entry);

  // DiskStore::quarantine on layer `layer` (a read-only layer only reports).
  void quarantine(std::size_t layer, std::string_view target, std::string_view key,
                  const std::string& why);

  // Publishes into the writable layer (a failed StoreResult when !can_store()). After a publish,
  // prunes when this process's running estimate of the layer's size exceeds the budget, and at
  // least on the first publish and every kStoresPerPrune publishes (so that other processes'
  // writes are accounted for); a prune that finds the lock held is skipped. With `share`, the
  // entry is also offered to the remote layer (whatever the disk's outcome: a full disk is no
  // reason to keep it from the fleet). Never throws.
  StoreResult store(const Entry& entry, bool share = true);
  static constexpr std::uint64_t kStoresPerPrune = 256;

  // Prunes the writable layer now (`fp8jit cache prune`), to `max_bytes` when given, else to the
  // configured budget. A report with skipped_read_only when there is nothing writable.
  PruneReport prune(std::optional<std::uint64_t> max_bytes = std::nullopt,
                    std::optional<double> low_water = std::nullopt);

  // Prunes that actually ran (lock taken) in this object, on demand or after stores.
  std::uint64_t prunes_run() const { return prunes_run_; }

  // Sets the warning handler of every layer, also used for the first failure of an automatic
  // prune (later ones are not reported).
  void set_warning_handler(std::function<void(const std::string&)> handler);

 private:
  void maybe_prune_after(std::uint64_t bytes_published);
  PruneReport run_prune(const PruneOptions& options);

  std::vector<std::unique_ptr<DiskStore>> layers_;
  std::unique_ptr<RemoteStore> remote_;
  bool has_writable_ = false;
  std::uint64_t max_bytes_ = 0;

  std::mutex mu_;  // guards the estimate below
  std::optional<std::uint64_t> estimate_;  // bytes of the writable layer; empty: never walked
  std::uint64_t stores_since_prune_ = 0;
  std::atomic<bool> pruning_{false};  // one automatic prune per process at a time
  std::atomic<std::uint64_t> prunes_run_{0};
  std::atomic<bool> prune_failure_reported_{false};
  std::function<void(const std::string&)> warning_handler_;  // guarded by mu_
};

}  // namespace fp8jit::cache
