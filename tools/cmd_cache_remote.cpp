// `fp8jit cache ls|stats|verify|prune|clear|export|import --remote`: printing over the remote
// layer's administration (cache/remote_admin.hpp). Export and import go through a temp cache, so
// that archives are written and read by the same hardened code as the disk layer's.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cache/archive.hpp"
#include "cache/remote_admin.hpp"
#include "compiler/target.hpp"
#include "fp8jit/error.hpp"
#include "jit/kernel_builder.hpp"
#include "tools/commands.hpp"
#include "util/bytes.hpp"
#include "util/process.hpp"

namespace fp8jit::tools {
namespace {

using nlohmann::json;

std::unique_ptr<cache::RemoteStore> open_remote(const Options& o, const CacheArgs& a) {
  if (o.cache_remote.empty())
    throw InvalidArgument("failed to run cache " + a.action +
                          " --remote: no remote cache is configured (FP8JIT_CACHE_REMOTE or "
                          "--cache-remote redis://host:port)");
  return std::make_unique<cache::RemoteStore>(jit::remote_config(o));
}

std::optional<std::string> canonical_target(const std::optional<std::string>& t) {
  if (!t) return std::nullopt;
  return compiler::Target::parse(*t).str();
}

json listed_json(const cache::RemoteListed& l) {
  return {{"redis_key", l.redis_key}, {"target", l.target},       {"key", l.key},
          {"size", l.size},           {"ttl_s", l.ttl_s},         {"kind", cache::kind_name(l.kind)},
          {"kernel_name", l.kernel_name}, {"created", l.created}, {"problem", l.problem},
          {"damage", l.category}};
}

int finish(const CacheArgs& a, bool ok, json j, const std::string& text) {
  if (a.json) {
    j["ok"] = ok;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s", text.c_str());
  }
  return ok ? 0 : 1;
}

std::string line(const char* format, auto... args) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

}  // namespace

int cmd_cache_remote(const Options& o, const CacheArgs& a) {
  auto remote = open_remote(o, a);
  const std::string url = remote->url().redacted;
  const auto target = canonical_target(a.target);
  if (a.action == "ls") {
    const auto entries = cache::remote_list(*remote, false, target);
    json j = {{"url", url}, {"entries", json::array()}};
    std::string text = line("%-32s %-10s %10s  %-20s  %s\n", "key", "target", "bytes", "created", "kernel");
    for (const auto& l : entries) {
      j["entries"].push_back(listed_json(l));
      text += line("%-32s %-10s %10llu  %-20s  %s\n", l.key.empty() ? l.redis_key.c_str() : l.key.c_str(),
                   l.target.c_str(), static_cast<unsigned long long>(l.size), l.created.c_str(),
                   l.problem.empty() ? l.kernel_name.c_str() : ("UNREADABLE: " + l.problem).c_str());
    }
    text += line("%zu entries in %s\n", entries.size(), url.c_str());
    return finish(a, true, j, text);
  }
  if (a.action == "stats") {
    const cache::RemoteLayerStats s = cache::remote_stats(*remote);
    json targets = json::object();
    for (const auto& [t, v] : s.targets) targets[t] = {{"entries", v.entries}, {"bytes", v.bytes}};
    json j = {{"url", s.url},         {"server_version", s.server_version},
              {"entries", s.entries}, {"bytes", s.bytes},
              {"leases", s.leases},   {"used_memory", s.used_memory},
              {"maxmemory", s.maxmemory}, {"maxmemory_policy", s.maxmemory_policy},
              {"evicted_keys", s.evicted_keys}, {"targets", targets}};
    std::string text = line("remote layer %s (Redis %s)\n  %llu entries, %llu bytes, %llu leases\n"
                            "  server memory %llu of %llu bytes (policy %s), %llu keys evicted\n",
                            s.url.c_str(), s.server_version.c_str(),
                            static_cast<unsigned long long>(s.entries),
                            static_cast<unsigned long long>(s.bytes),
                            static_cast<unsigned long long>(s.leases),
                            static_cast<unsigned long long>(s.used_memory),
                            static_cast<unsigned long long>(s.maxmemory), s.maxmemory_policy.c_str(),
                            static_cast<unsigned long long>(s.evicted_keys));
    for (const auto& [t, v] : s.targets)
      text += line("  %-26s %6llu entries %12llu bytes\n", t.c_str(),
                   static_cast<unsigned long long>(v.entries), static_cast<unsigned long long>(v.bytes));
    return finish(a, true, j, text);
  }
  if (a.action == "verify") {
    const cache::RemoteVerifyReport r = cache::remote_verify(*remote);
    json j = {{"url", url}, {"entries", r.entries}, {"entries_ok", r.entries_ok},
              {"damaged", json::array()}};
    std::string text;
    for (const auto& d : r.damaged) {
      j["damaged"].push_back(listed_json(d));
      text += line("DAMAGED %-13s %s\n  %s\n", d.category.c_str(), d.redis_key.c_str(), d.problem.c_str());
    }
    text += line("%llu values checked in %s: %llu ok, %zu damaged\n",
                 static_cast<unsigned long long>(r.entries), url.c_str(),
                 static_cast<unsigned long long>(r.entries_ok), r.damaged.size());
    return finish(a, r.ok(), j, text);
  }
  if (a.action == "prune" || a.action == "clear") {
    std::optional<std::uint64_t> max;
    if (a.max_bytes) max = util::parse_bytes(*a.max_bytes, "--max-bytes");
    const cache::RemoteRemoveReport r =
        a.action == "prune" ? cache::remote_prune(*remote, max) : cache::remote_clear(*remote, target);
    json j = {{"url", url}, {"entries_removed", r.entries_removed},
              {"damaged_removed", r.damaged_removed}, {"leases_removed", r.leases_removed},
              {"bytes_freed", r.bytes_freed}, {"entries_kept", r.entries_kept},
              {"bytes_kept", r.bytes_kept}};
    return finish(a, true, j,
                  line("%s %s: %llu entries, %llu damaged values and %llu leases removed "
                       "(%llu bytes)\n",
                       a.action == "prune" ? "pruned" : "cleared", url.c_str(),
                       static_cast<unsigned long long>(r.entries_removed),
                       static_cast<unsigned long long>(r.damaged_removed),
                       static_cast<unsigned long long>(r.leases_removed),
                       static_cast<unsigned long long>(r.bytes_freed)));
  }
  if (a.action == "export") {
    util::TempDir tmp("fp8jit-remote-export");
    cache::CacheLayers staging(cache::LayersConfig{tmp.path().string()});
    const cache::RemoteTransfer t = cache::remote_download(*remote, *staging.writable(), target);
    const cache::ExportReport r = cache::export_entries(staging, {}, a.file);
    json j = {{"url", url}, {"archive", a.file}, {"entries", r.entries}, {"bytes", r.bytes},
              {"skipped", t.skipped}};
    std::string text;
    for (const auto& s : t.skipped) text += "skipped (does not verify): " + s + "\n";
    text += line("exported %llu entries of %s to %s\n", static_cast<unsigned long long>(r.entries),
                 url.c_str(), a.file.c_str());
    return finish(a, t.skipped.empty() && r.skipped.empty(), j, text);
  }
  if (a.action == "import") {
    util::TempDir tmp("fp8jit-remote-import");
    cache::CacheLayers staging(cache::LayersConfig{tmp.path().string()});
    const cache::ImportReport r = cache::import_entries(a.file, staging);
    const cache::RemoteTransfer t = cache::remote_upload(*staging.writable(), *remote);
    json j = {{"url", url},           {"archive", a.file},     {"members", r.members},
              {"imported", t.copied}, {"already_present", t.already_present},
              {"rejected", r.rejected}, {"failed", t.skipped}, {"archive_error", r.archive_error}};
    std::string text;
    for (const auto& s : r.rejected) text += "rejected: " + s + "\n";
    for (const auto& s : t.skipped) text += "failed: " + s + "\n";
    if (!r.archive_error.empty()) text += "archive error: " + r.archive_error + "\n";
    text += line("imported %llu of %llu entries into %s (%llu already present)\n",
                 static_cast<unsigned long long>(t.copied), static_cast<unsigned long long>(r.members),
                 url.c_str(), static_cast<unsigned long long>(t.already_present));
    return finish(a, r.ok() && t.skipped.empty(), j, text);
  }
  throw InvalidArgument("failed to run cache " + a.action + " --remote: only ls, stats, verify, "
                        "prune, clear, export and import work on the remote layer");
}

}  // namespace fp8jit::tools
