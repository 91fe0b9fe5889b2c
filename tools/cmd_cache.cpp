// `fp8jit cache ls|show|verify|prune|clear|stats|export|import`: printing (a table for people,
// --json with stable keys for programs) over the cache component's inspection, pruning and
// archive APIs (cache/inspect.hpp, cache/layers.hpp, cache/archive.hpp). The one piece of logic
// here is `show --disasm`: finding a disassembler on this machine and running it.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cache/archive.hpp"
#include "cache/binary_check.hpp"
#include "cache/inspect.hpp"
#include "cache/layers.hpp"
#include "util/process.hpp"
#include "util/time.hpp"
#include "compiler/target.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/fp8jit.hpp"
#include "select/autotune.hpp"
#include "select/tuned_table.hpp"
#include "util/file.hpp"
#include "tools/commands.hpp"
#include "util/bytes.hpp"

// The reports as JSON objects, one key per field under the field's name (the --json keys).
namespace fp8jit::cache {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TargetStats, entries, bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LayerStats, root, writable, entries, bytes, temps, temp_bytes,
                                   quarantined, quarantined_bytes, foreign, targets)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PruneReport, skipped_locked, skipped_read_only, entries_removed,
                                   temps_removed, quarantined_removed, bytes_freed, entries_kept,
                                   bytes_kept, errors)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ClearReport, entries_removed, quarantined_removed, bytes_freed,
                                   errors)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ExportReport, entries, bytes, skipped)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ImportReport, members, imported, already_present, evicted,
                                   rejected, failed, archive_error)
}  // namespace fp8jit::cache

namespace fp8jit::tools {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::unique_ptr<cache::CacheLayers> open_layers(const Options& o) {
  return std::make_unique<cache::CacheLayers>(
      cache::LayersConfig{o.cache_dir, o.cache_readonly_dirs, o.cache_read_only, o.cache_max_bytes});
}

std::string human_bytes(std::uint64_t b) {
  char buf[32];
  if (b < 1024)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else if (b < (1u << 20))
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else if (b < (1u << 30))
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
  else
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
  return buf;
}

// The canonical target string of --target (names the value and the known archs when bad).
std::optional<std::string> target_filter(const std::optional<std::string>& t) {
  if (!t) return std::nullopt;
  return compiler::Target::parse(*t).str();
}

bool target_matches(const std::optional<std::string>& filter, const std::string& target) {
  // "gfx942" also matches "gfx942:sramecc+:xnack-": an arch names all its feature variants.
  return !filter || target == *filter || target.rfind(*filter + ":", 0) == 0;
}

void print_json(const json& j) { std::printf("%s\n", j.dump(2).c_str()); }

// Prints the outcome of a command that can fail: with --json, `fields` and "ok"; else what `text`
// prints. Returns the exit status, 0 when `ok` and 1 otherwise, so that the two always agree.
template <class Text>
int print_outcome(const CacheArgs& a, bool ok, const json& fields, Text&& text) {
  if (a.json) {
    json j = fields;
    j["ok"] = ok;
    print_json(j);
  } else {
    text();
  }
  return ok ? 0 : 1;
}

// ---- ls, stats, verify, prune, clear ---------------------------------------------------------

int cache_ls(const Options& o, const CacheArgs& a) {
  const auto filter = target_filter(a.target);
  const auto layers = open_layers(o);
  std::vector<cache::ListedEntry> entries;
  for (auto& e : cache::list_entries(*layers))
    if (target_matches(filter, e.target)) entries.push_back(std::move(e));
  if (a.json) {
    json j = {{"entries", json::array()}};
    for (const auto& e : entries)
      j["entries"].push_back({{"layer", e.layer},
                              {"writable", e.writable},
                              {"path", e.path},
                              {"target", e.target},
                              {"key", e.key},
                              {"size", e.size},
                              {"mtime", util::iso8601(e.mtime)},
                              {"kernel_name", e.kernel_name},
                              {"spec", e.spec},
                              {"toolchain", e.toolchain},
                              {"toolchain_version", e.toolchain_version},
                              {"created", e.created},
                              {"library_version", e.library_version},
                              {"problem", e.problem}});
    print_json(j);
    return 0;
  }
  std::printf("%-32s %-8s %10s  %-20s  %s\n", "key", "target", "size", "last used (UTC)",
              "kernel");
  std::uint64_t total = 0;
  for (const auto& e : entries) {
    total += e.size;
    const std::string what = e.problem.empty() ? e.kernel_name : "UNREADABLE: " + e.problem;
    std::printf("%-32s %-8s %10s  %-20s  %s%s\n", e.key.c_str(), e.target.c_str(),
                human_bytes(e.size).c_str(), util::iso8601(e.mtime).c_str(), what.c_str(),
                e.writable ? "" : "  [read-only layer]");
  }
  std::printf("%zu entries, %s\n", entries.size(), human_bytes(total).c_str());
  return 0;
}

int cache_stats(const Options& o, const CacheArgs& a) {
  const auto layers = open_layers(o);
  const auto all = cache::stats(*layers);
  if (a.json) {
    json j = {{"layers", all}};
    j["max_bytes"] = layers->max_bytes();
    print_json(j);
    return 0;
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& l = all[i];
    std::printf("layer %zu: %s (%s)\n  %llu entries, %s", i, l.root.c_str(),
                l.writable ? "writable" : "read-only", static_cast<unsigned long long>(l.entries),
                human_bytes(l.bytes).c_str());
    if (l.writable) std::printf(" of a %s budget", human_bytes(layers->max_bytes()).c_str());
    std::printf("\n  %llu temp files (%s), %llu quarantined (%s), %llu foreign\n",
                static_cast<unsigned long long>(l.temps), human_bytes(l.temp_bytes).c_str(),
                static_cast<unsigned long long>(l.quarantined),
                human_bytes(l.quarantined_bytes).c_str(),
                static_cast<unsigned long long>(l.foreign));
    for (const auto& [t, s] : l.targets)
      std::printf("  %-26s %6llu entries %12s\n", t.c_str(),
                  static_cast<unsigned long long>(s.entries), human_bytes(s.bytes).c_str());
  }
  if (all.empty()) std::printf("no cache layers (the disk cache is disabled)\n");
  return 0;
}

int cache_verify(const Options& o, const CacheArgs& a) {
  const auto layers = open_layers(o);
  const cache::VerifyReport r = cache::verify(*layers);
  json j = {{"entries", r.entries},
            {"entries_ok", r.entries_ok},
            {"temps", r.temps},
            {"quarantined", r.quarantined},
            {"damaged", json::array()}};
  for (const auto& d : r.damaged)
    j["damaged"].push_back({{"layer", d.layer},
                            {"path", d.path},
                            {"damage", cache::damage_name(d.damage)},
                            {"detail", d.detail}});
  return print_outcome(a, r.ok(), j, [&] {
    for (const auto& d : r.damaged)
      std::printf("DAMAGED %-13s %s\n  %s\n", cache::damage_name(d.damage), d.path.c_str(),
                  d.detail.c_str());
    std::printf("%llu entries checked: %llu ok, %zu damaged file(s); %llu temp, %llu quarantined\n",
                static_cast<unsigned long long>(r.entries),
                static_cast<unsigned long long>(r.entries_ok), r.damaged.size(),
                static_cast<unsigned long long>(r.temps),
                static_cast<unsigned long long>(r.quarantined));
  });
}

int cache_prune(const Options& o, const CacheArgs& a) {
  std::optional<std::uint64_t> max;
  if (a.max_bytes) max = util::parse_bytes(*a.max_bytes, "--max-bytes");
  const auto layers = open_layers(o);
  const cache::PruneReport r = layers->prune(max);
  const json j = r;
  return print_outcome(a, r.errors.empty() && !r.skipped(), j, [&] {
    if (r.skipped_read_only) {
      std::printf("nothing pruned: the cache is read-only (or disabled)\n");
      return;
    }
    if (r.skipped_locked) {
      std::printf("nothing pruned: another process is pruning %s right now\n", o.cache_dir.c_str());
      return;
    }
    for (const auto& e : r.errors) std::printf("%s\n", e.c_str());
    std::printf("pruned %s: %llu entries, %llu temp and %llu quarantined files removed (%s "
                "freed); %llu entries (%s) kept\n",
                o.cache_dir.c_str(), static_cast<unsigned long long>(r.entries_removed),
                static_cast<unsigned long long>(r.temps_removed),
                static_cast<unsigned long long>(r.quarantined_removed),
                human_bytes(r.bytes_freed).c_str(),
                static_cast<unsigned long long>(r.entries_kept), human_bytes(r.bytes_kept).c_str());
  });
}

int cache_clear(const Options& o, const CacheArgs& a) {
  const auto filter = target_filter(a.target);
  const auto layers = open_layers(o);
  const cache::ClearReport r = cache::clear(*layers, filter);
  const json j = r;
  return print_outcome(a, r.errors.empty(), j, [&] {
    for (const auto& e : r.errors) std::printf("%s\n", e.c_str());
    std::printf("cleared %s%s: %llu entries and %llu quarantined files removed (%s freed)\n",
                o.cache_dir.c_str(), filter ? (" for " + *filter).c_str() : "",
                static_cast<unsigned long long>(r.entries_removed),
                static_cast<unsigned long long>(r.quarantined_removed),
                human_bytes(r.bytes_freed).c_str());
  });
}

// ---- export, import --------------------------------------------------------------------------

int cache_export(const Options& o, const CacheArgs& a) {
  cache::EntryFilter filter;
  filter.target = target_filter(a.target);
  const auto layers = open_layers(o);
  const cache::ExportReport r = cache::export_entries(*layers, filter, a.file);
  json j = r;
  j["archive"] = a.file;
  return print_outcome(a, r.skipped.empty(), j, [&] {
    for (const auto& s : r.skipped) std::printf("skipped (does not verify): %s\n", s.c_str());
    std::printf("exported %llu entries (%s) to %s\n", static_cast<unsigned long long>(r.entries),
                human_bytes(r.bytes).c_str(), a.file.c_str());
  });
}

// The tuned rows the autotuner kept in the cache, as one tuned table (docs/tuned-table.md): every
// row record of every layer that verifies and parses, the first layer's where several hold one.
int cache_export_table(const Options& o, const CacheArgs& a) {
  const auto filter = target_filter(a.target);
  const auto layers = open_layers(o);
  std::set<std::string> seen;
  std::vector<std::pair<select::TunedRow, std::string>> rows;  // the row, and its line
  std::vector<std::string> skipped;
  for (const auto& e : cache::list_entries(*layers)) {
    if (e.kind != cache::EntryKind::tuned_row || !target_matches(filter, e.target) ||
        !seen.insert(e.key).second)
      continue;
    const cache::CheckedFile file = cache::read_entry_file(e.path);
    if (!file.ok()) {
      skipped.push_back(e.path + ": " + file.detail);
      continue;
    }
    const std::string text(file.entry->binary.begin(), file.entry->binary.end());
    try {
      const auto parsed = select::TunedTable::parse(text, e.path);
      if (parsed.rows() != 1) throw InvalidArgument("it holds " + std::to_string(parsed.rows()) + " rows");
      rows.emplace_back(parsed.entries().front(), text.substr(text.find('\n') + 1));
    } catch (const InvalidArgument& err) {
      skipped.push_back(e.path + ": " + err.what());
    }
  }
  const auto order = [](const select::TunedRow& r) {
    return std::make_tuple(r.target.str(), r.device, r.cu_num, r.n, r.k, int(r.out), r.bias, r.m);
  };
  std::sort(rows.begin(), rows.end(),
            [&](const auto& a, const auto& b) { return order(a.first) < order(b.first); });
  std::string out = "# Tuned rows measured by the fp8jit autotuner, exported from the cache " +
                    o.cache_dir + " by fp8jit cache export-table\n" + select::tuned_row_header() + "\n";
  for (const auto& r : rows) out += r.second;
  util::replace_file(a.file, out, "tuned table");
  const json j = {{"table", a.file}, {"rows", rows.size()}, {"skipped", skipped}};
  return print_outcome(a, skipped.empty(), j, [&] {
    for (const auto& s : skipped) std::printf("skipped (does not verify): %s\n", s.c_str());
    std::printf("exported %zu tuned rows to %s\n", rows.size(), a.file.c_str());
  });
}

int cache_import(const Options& o, const CacheArgs& a) {
  const auto layers = open_layers(o);
  if (!layers->can_store())
    throw CacheError("failed to import " + a.file + ": the cache " + o.cache_dir +
                     " is read-only (FP8JIT_CACHE_READ_ONLY) or disabled");
  const cache::ImportReport r = cache::import_entries(a.file, *layers);
  json j = r;
  j["archive"] = a.file;
  return print_outcome(a, r.ok(), j, [&] {
    for (const auto& s : r.rejected) std::printf("rejected: %s\n", s.c_str());
    for (const auto& s : r.failed) std::printf("failed: %s\n", s.c_str());
    if (!r.archive_error.empty()) std::printf("archive error: %s\n", r.archive_error.c_str());
    std::printf("imported %llu of %llu entries into %s (%llu already present)\n",
                static_cast<unsigned long long>(r.imported),
                static_cast<unsigned long long>(r.members), o.cache_dir.c_str(),
                static_cast<unsigned long long>(r.already_present));
    if (r.evicted > 0)
      std::printf("evicted %llu least recently used entries to keep the budget of %s\n",
                  static_cast<unsigned long long>(r.evicted), human_bytes(layers->max_bytes()).c_str());
  });
}

// ---- show and its disassembly ----------------------------------------------------------------

struct Disassembly {
  std::string tool;    // path of the tool that ran ("" when none was found)
  std::string text;    // its output, or why there is none
  bool ok = false;
};

// Runs argv (argv[0] an absolute path) with stdout and stderr captured; -1 (and the reason in
// `output`) when it cannot start.
int run_tool(const std::vector<std::string>& args, std::string& output) {
  try {
    util::ProcessResult r = util::run_process(args);
    output += r.output;
    return r.status;
  } catch (const Error& e) {
    output = e.what();
    return -1;
  }
}

// The first executable of `names` in `dirs` (each directory in order, all names in it), else "".
std::string find_tool(const std::vector<std::string>& names, const std::vector<std::string>& dirs) {
  for (const auto& d : dirs)
    for (const auto& n : names) {
      const std::string p = d + "/" + n;
      if (::access(p.c_str(), X_OK) == 0) return p;
    }
  return "";
}

std::vector<std::string> path_dirs() {
  // NOTE: PATH is the system's executable search path, not an fp8jit setting (see Options).
  std::vector<std::string> out;
  const char* path = std::getenv("PATH");
  std::istringstream in(path ? path : "");
  for (std::string d; std::getline(in, d, ':');)
    if (!d.empty()) out.push_back(d);
  return out;
}

Disassembly disassemble(const cache::Entry& e) {
  const compiler::Target target = compiler::Target::parse(e.target);
  const compiler::Toolchains toolchains;
  auto probe_dir = [&](const char* name, int up) -> std::string {
    for (const auto& p : toolchains.probes())
      if (p.name == name && p.available) {
        fs::path dir = fs::path(p.path).parent_path();
        for (int i = 0; i < up; ++i) dir = dir.parent_path();
        return (up ? dir / "bin" : dir).string();
      }
    return "";
  };
  std::vector<std::string> dirs, names, flags;
  if (target.vendor == compiler::Vendor::amd) {
    // llvm-objdump of the LLVM whose clang builds the kernels first: an older one (Debian's
    // default llvm-14) may not know gfx942 or gfx950.
    if (auto d = probe_dir("clang", 0); !d.empty()) dirs.push_back(d);
    for (int v = 22; v >= 19; --v) dirs.push_back("/usr/lib/llvm-" + std::to_string(v) + "/bin");
    names = {"llvm-objdump"};
    flags = {"-d", "--mcpu=" + target.arch};
  } else {
    if (auto d = probe_dir("nvrtc", 1); !d.empty()) dirs.push_back(d);  // <cuda>/lib*/libnvrtc
    dirs.push_back("/usr/local/cuda/bin");
    names = {"nvdisasm", "cuobjdump"};
  }
  for (const auto& d : path_dirs())
    if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  Disassembly out;
  out.tool = find_tool(names, dirs);
  if (out.tool.empty()) {
    std::string where;
    for (const auto& d : dirs) where += "\n  " + d;
    std::string tools;
    for (const auto& n : names) tools += (tools.empty() ? "" : " or ") + n;
    out.text = "disassembler not available: " + tools + " not found; looked in:" + where;
    return out;
  }
  if (fs::path(out.tool).filename() == "cuobjdump") flags = {"-sass"};
  // The binary goes to a private temp file: the tools read files, not pipes.
  std::error_code ec;
  std::string pattern = (fs::temp_directory_path(ec) / "fp8jit-disasm-XXXXXX").string();
  if (ec) pattern = "/tmp/fp8jit-disasm-XXXXXX";
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    out.text = "failed to write the binary to " + pattern + ": " + std::strerror(errno);
    return out;
  }
  const bool written =
      ::write(fd, e.binary.data(), e.binary.size()) == static_cast<ssize_t>(e.binary.size());
  ::close(fd);
  std::vector<std::string> argv{out.tool};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(pattern);
  const int rc = written ? run_tool(argv, out.text) : -1;
  ::unlink(pattern.c_str());
  out.ok = rc == 0;
  if (!out.ok)
    out.text = out.tool + " failed (exit status " + std::to_string(rc) + "):\n" + out.text;
  return out;
}

int cache_show(const Options& o, const CacheArgs& a) {
  std::string key = a.key;
  for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (key.size() < 6 || key.size() > cache::kKeyHexLength ||
      key.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw InvalidArgument("failed to parse KEY: '" + a.key + "' is not a cache key or a prefix " +
                          "of one (6 to 32 hex characters)");
  const auto layers = open_layers(o);
  std::vector<cache::ListedEntry> found;
  for (auto& e : cache::list_entries(*layers))
    if (e.key.rfind(key, 0) == 0) found.push_back(std::move(e));
  if (found.empty()) {
    std::fprintf(stderr, "fp8jit: error: no cache entry with key %s in %s\n", a.key.c_str(),
                 o.cache_dir.c_str());
    return 1;
  }
  // The same key in several layers is one kernel; a prefix naming several keys is ambiguous.
  for (const auto& e : found)
    if (e.key != found.front().key)
      throw InvalidArgument("failed to find the entry of KEY '" + a.key + "': it is a prefix of " +
                            found.front().key + " and " + e.key + "; give more characters");
  const cache::ListedEntry& listed = found.front();
  const cache::CheckedFile file = cache::read_entry_file(listed.path);
  if (!file.ok()) {
    std::fprintf(stderr, "fp8jit: error: entry %s is damaged (%s): %s\n", listed.path.c_str(),
                 cache::damage_name(file.damage), file.detail.c_str());
    return 1;
  }
  const cache::Entry& e = *file.entry;
  const std::string problem = cache::binary_problem(e.binary, e.target);
  std::optional<Disassembly> dis;
  if (a.disasm) dis = disassemble(e);

  if (a.json) {
    json j = {{"key", e.key},          {"target", e.target},
              {"path", listed.path},   {"layer", listed.layer},
              {"writable", listed.writable}, {"size", listed.size},
              {"mtime", util::iso8601(listed.mtime)}, {"meta", e.meta},
              {"binary_bytes", e.binary.size()}, {"binary_problem", problem},
              {"source_bytes", e.source.size()}};
    if (a.source) j["source"] = e.source;
    if (dis) j["disassembly"] = {{"ok", dis->ok}, {"tool", dis->tool}, {"text", dis->text}};
    print_json(j);
    return dis && !dis->ok ? 1 : 0;
  }
  auto meta_str = [&](const char* k) {
    const auto it = e.meta.find(k);
    return it == e.meta.end() ? std::string("-") : it->is_string() ? it->get<std::string>() : it->dump();
  };
  std::printf("key        %s\ntarget     %s\npath       %s%s\nsize       %s, last used %s\n",
              e.key.c_str(), e.target.c_str(), listed.path.c_str(),
              listed.writable ? "" : " (read-only layer)", human_bytes(listed.size).c_str(),
              util::iso8601(listed.mtime).c_str());
  const auto ms = e.meta.find("compile_ms");
  std::printf("kernel     %s\nspec       %s\ntoolchain  %s, options: %s\ncreated    %s by fp8jit "
              "%s, compiled in %.1f ms\n",
              meta_str("kernel_name").c_str(), meta_str("spec").c_str(),
              meta_str("toolchain_version").c_str(), meta_str("options").c_str(),
              meta_str("created").c_str(), meta_str("library_version").c_str(),
              ms != e.meta.end() && ms->is_number() ? ms->get<double>() : 0.0);
  std::printf("resources ");
  if (const auto r = e.meta.find("resources"); r != e.meta.end() && r->is_object())
    for (const auto& [k, v] : r->items()) std::printf(" %s=%s", k.c_str(), v.dump().c_str());
  std::printf("\nbinary     %s, %s\nsource     %s\n", human_bytes(e.binary.size()).c_str(),
              problem.empty() ? "a well-formed ELF object for the target"
                              : ("NOT loadable: " + problem).c_str(),
              e.source.empty() ? "not stored" : human_bytes(e.source.size()).c_str());
  static const std::set<std::string> printed = {
      "target",  "kernel_name",     "spec",       "toolchain", "toolchain_version",
      "options", "library_version", "compile_ms", "resources", "created"};
  for (const auto& [k, v] : e.meta.items())  // members this printout does not know
    if (!printed.count(k)) std::printf("meta.%-5s %s\n", k.c_str(), v.dump().c_str());
  if (a.source)
    std::printf("\n--- source ---\n%s%s", e.source.empty() ? "(not stored)\n" : e.source.c_str(),
                !e.source.empty() && e.source.back() != '\n' ? "\n" : "");
  if (dis)
    std::printf("\n--- disassembly%s ---\n%s\n", dis->tool.empty() ? "" : (" (" + dis->tool + ")").c_str(),
                dis->text.c_str());
  return dis && !dis->ok ? 1 : 0;
}

}  // namespace

int cmd_cache(const Options& options, const CacheArgs& args) {
  if (args.remote) return cmd_cache_remote(options, args);
  if (args.action == "ls") return cache_ls(options, args);
  if (args.action == "show") return cache_show(options, args);
  if (args.action == "verify") return cache_verify(options, args);
  if (args.action == "prune") return cache_prune(options, args);
  if (args.action == "clear") return cache_clear(options, args);
  if (args.action == "stats") return cache_stats(options, args);
  if (args.action == "export") return cache_export(options, args);
  if (args.action == "export-table") return cache_export_table(options, args);
  if (args.action == "import") return cache_import(options, args);
  throw InvalidArgument("failed to run cache: unknown action '" + args.action + "'");
}

}  // namespace fp8jit::tools
