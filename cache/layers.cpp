#include "cache/layers.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace fp8jit::cache {

namespace {

// What identifies the directory `root` names: its device and inode when it exists, else its
// absolute, normalized path ("dup", "dup/", "//dup" and a link to it are one directory).
std::string identity_of(const std::string& root) {
  struct stat st {};
  if (::stat(root.c_str(), &st) == 0)
    return "inode " + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  std::error_code ec;
  const auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(root, ec), ec);
  std::string path = ec ? root : p.lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return "path " + path;
}

}  // namespace

CacheLayers::CacheLayers(const LayersConfig& config) : max_bytes_(config.max_bytes) {
  std::vector<std::string> seen;  // identity_of each root opened
  if (!config.writable_root.empty()) {
    layers_.push_back(std::make_unique<DiskStore>(config.writable_root, config.read_only));
    seen.push_back(identity_of(config.writable_root));
    has_writable_ = true;
  }
  for (const std::string& root : config.readonly_roots) {
    if (root.empty()) continue;
    std::string id = identity_of(root);
    if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
    layers_.push_back(std::make_unique<DiskStore>(root, /*read_only=*/true));
    seen.push_back(std::move(id));
  }
  if (!config.remote.url.empty()) remote_ = std::make_unique<RemoteStore>(config.remote);
  warning_handler_ = [](const std::string& message) {
    const std::string line = "fp8jit: warning: " + message + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

std::vector<const DiskStore*> CacheLayers::stores() const {
  std::vector<const DiskStore*> out;
  for (const auto& l : layers_) out.push_back(l.get());
  return out;
}

std::optional<CacheLayers::Hit> CacheLayers::load(std::string_view target, std::string_view key,
                                                  bool remote) {
  // NOTE: a read-only hit is not copied up: the read-only layer already keeps the entry for as long
  // as it exists, a copy would only double the disk it takes and count against the writable
  // layer's budget, and copying would turn a pure lookup into a write on every first use.
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (auto entry = layers_[i]->load(target, key)) return Hit{std::move(*entry), i};
  }
  if (!remote || !remote_) return std::nullopt;
  auto entry = remote_->load(target, key);
  if (!entry) return std::nullopt;
  return keep_remote_hit(std::move(*entry));
}

CacheLayers::Hit CacheLayers::keep_remote_hit(Entry entry) {
  // NOTE: unlike a read-only layer's hit, a remote one is copied to the disk: the next process on
  // this node then finds it without a network round trip, and the remote value may be evicted.
  Hit hit{std::move(entry), kRemoteOnly, true};
  if (can_store()) {
    const StoreResult r = layers_.front()->store(hit.entry);
    if (r.outcome == StoreResult::Outcome::published) maybe_prune_after(r.bytes);
    if (r.ok()) hit.layer = 0;
  }
  return hit;
}

void CacheLayers::quarantine(std::size_t layer, std::string_view target, std::string_view key,
                             const std::string& why) {
  if (layer < layers_.size()) layers_[layer]->quarantine(target, key, why);
}

StoreResult CacheLayers::store(const Entry& entry, bool share) {
  if (!has_writable_)
    return StoreResult{StoreResult::Outcome::failed,
                       "failed to store cache entry: no writable cache directory"};
  StoreResult r = layers_.front()->store(entry);
  if (r.outcome == StoreResult::Outcome::published) maybe_prune_after(r.bytes);
  if (share && remote_ && !layers_.front()->read_only()) remote_->store(entry);
  return r;
}

void CacheLayers::maybe_prune_after(std::uint64_t bytes_published) {
  PruneOptions options;
  options.max_bytes = max_bytes_;
  {
    std::lock_guard lock(mu_);
    ++stores_since_prune_;
    if (estimate_) *estimate_ += bytes_published;
    const bool due = !estimate_ || stores_since_prune_ >= kStoresPerPrune ||
                     (max_bytes_ > 0 && *estimate_ > max_bytes_);
    if (!due) return;
  }
  if (pruning_.exchange(true)) return;  // another thread of this process is at it
  const PruneReport report = run_prune(options);
  {
    std::lock_guard lock(mu_);
    stores_since_prune_ = 0;
    // NOTE: when another process holds the lock it is pruning this very tree; assume it reaches
    // its goal rather than walk again on the next store.
    if (report.skipped_locked) {
      estimate_ = static_cast<std::uint64_t>(static_cast<double>(max_bytes_) * options.low_water);
    } else {
      estimate_ = report.bytes_kept;
    }
  }
  pruning_ = false;
  if (!report.errors.empty() && !prune_failure_reported_.exchange(true)) {
    std::function<void(const std::string&)> handler;
    {
      std::lock_guard lock(mu_);
      handler = warning_handler_;
    }
    if (handler)
      handler("cache pruning: " + report.errors.front() +
              " (further pruning failures are not reported)");
  }
}

PruneReport CacheLayers::run_prune(const PruneOptions& options) {
  PruneReport report = cache::prune(*layers_.front(), options);
  if (!report.skipped()) ++prunes_run_;
  return report;
}

PruneReport CacheLayers::prune(std::optional<std::uint64_t> max_bytes,
                               std::optional<double> low_water) {
  if (!has_writable_) {
    PruneReport report;
    report.skipped_read_only = true;
    return report;
  }
  PruneOptions options;
  options.max_bytes = max_bytes.value_or(max_bytes_);
  if (low_water) options.low_water = *low_water;
  PruneReport report = run_prune(options);
  if (!report.skipped()) {
    std::lock_guard lock(mu_);
    estimate_ = report.bytes_kept;
    stores_since_prune_ = 0;
  }
  return report;
}

void CacheLayers::set_warning_handler(std::function<void(const std::string&)> handler) {
  for (auto& l : layers_) l->set_warning_handler(handler);
  if (remote_) remote_->set_warning_handler(handler);
  std::lock_guard lock(mu_);
  warning_handler_ = std::move(handler);
}

}  // namespace fp8jit::cache
