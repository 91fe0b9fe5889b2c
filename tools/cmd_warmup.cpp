// `fp8jit warmup`: compile every kernel a deployment will need into the cache before it starts.
// Parsing of the arguments into a PrecompileRequest and printing; the expansion, the tuned-table
// selection and the parallel builds are fp8jit::warmup (jit/precompile.cpp).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cache/redis.hpp"
#include "compiler/fp8_format.hpp"
#include "compiler/gemm_limits.hpp"
#include "runtime/autotuner.hpp"
#include "runtime/context_state.hpp"
#include "select/heuristic.hpp"
#include "fp8jit/fp8jit.hpp"
#include "select/tuned_table.hpp"
#include "tools/commands.hpp"
#include "tools/progress.hpp"
#include "util/text.hpp"

namespace fp8jit::tools {

namespace {

// A whole decimal integer (no sign but '-', no blanks), else InvalidArgument naming `what` and
// the text.
std::int64_t parse_int(const std::string& text, const std::string& what) {
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end)
    throw InvalidArgument("failed to parse " + what + ": '" + util::escaped(text) +
                          "' is not a decimal integer in the range of a 64-bit int");
  return v;
}

PrecompileRequest request_of(const WarmupArgs& a) {
  PrecompileRequest r;
  r.targets = a.targets;
  r.cu_num = a.cu_num;
  r.tables = a.tables;
  r.jobs = a.jobs;
  r.preshuffle = !a.no_preshuffle;
  if (a.jobs < 0)
    throw InvalidArgument("failed to parse -j: '" + std::to_string(a.jobs) + "' must be >= 0");
  select::check_cu_num(a.cu_num, "--cu-num");
  for (const auto& m : a.ms) {
    const std::int64_t v = parse_int(m, "--m");
    compiler::check_gemm_m(v, "parse --m '" + util::escaped(m) + "'");
    r.m_values.push_back(v);
  }
  if (!a.m_range.empty()) {
    const std::string what = "--m-range '" + util::escaped(a.m_range) + "'";
    const auto colon = a.m_range.find(':');
    if (colon == std::string::npos)
      throw InvalidArgument("failed to parse " + what + ": it is not lo:hi");
    MRange range{parse_int(a.m_range.substr(0, colon), what),
                 parse_int(a.m_range.substr(colon + 1), what)};
    compiler::check_gemm_m(range.lo, "parse " + what);
    compiler::check_gemm_m(range.hi, "parse " + what);
    if (range.hi < range.lo)
      throw InvalidArgument("failed to parse " + what + ": it must be lo:hi with lo <= hi");
    r.m_range = range;
  }
  if (a.bias == "both")
    r.bias = {false, true};
  else if (a.bias == "on")
    r.bias = {true};
  else if (a.bias == "off")
    r.bias = {false};
  else
    throw InvalidArgument("failed to parse --bias: '" + a.bias + "' is not both, on or off");
  r.out_dtypes.clear();
  for (const auto& d : a.out_dtypes) {
    if (d == "bf16")
      r.out_dtypes.push_back(OutDType::bf16);
    else if (d == "fp16")
      r.out_dtypes.push_back(OutDType::fp16);
    else
      throw InvalidArgument("failed to parse --out: '" + d + "' is not bf16 or fp16");
  }

  std::vector<WeightShape> shapes;
  for (const auto& m : a.models) {
    const auto s = model_shapes(m);
    shapes.insert(shapes.end(), s.begin(), s.end());
  }
  for (const auto& f : a.shape_files) {
    const auto s = read_shape_file(f);
    shapes.insert(shapes.end(), s.begin(), s.end());
  }
  for (const auto& s : shapes) {
    const std::pair<std::int64_t, std::int64_t> nk{s.n, s.k};
    bool seen = false;
    for (const auto& x : r.shapes) seen = seen || x == nk;
    if (!seen) r.shapes.push_back(nk);
  }
  return r;
}

const char* status_of(const PrecompiledKernel& k) {
  return !k.error.empty() ? "failed" : k.cached ? "cached" : "compiled";
}

nlohmann::json kernel_json(const PrecompiledKernel& k, bool built) {
  nlohmann::json j = {{"target", k.target},       {"kernel_name", k.kernel_name},
                      {"spec", k.spec},           {"m_values", k.m_values},
                      {"rule", k.rule}};
  if (built) {
    j["key"] = k.key;
    j["status"] = status_of(k);
    j["from_remote"] = k.from_remote;
    j["compile_ms"] = k.compile_ms;
    j["registers"] = k.registers;
    j["spills"] = k.spills;
    j["binary_bytes"] = k.binary_bytes;
    j["binary_format"] = k.binary_format;
    j["error"] = k.error;
  }
  return j;
}

int print_plan(const Options& options, const PrecompileRequest& request, bool json) {
  const auto plan = plan_precompile(options, request);
  if (json) {
    nlohmann::json j = {{"cache_dir", options.cache_dir}, {"kernels", nlohmann::json::array()}};
    for (const auto& k : plan) j["kernels"].push_back(kernel_json(k, false));
    j["summary"] = {{"kernels", plan.size()}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%-8s %-16s %s\n", "target", "M", "kernel (config chosen by)");
  for (const auto& k : plan) {
    std::string ms;
    for (const auto m : k.m_values) ms += (ms.empty() ? "" : ",") + std::to_string(m);
    std::printf("%-8s %-16s %s\n%-8s %-16s   %s\n", k.target.c_str(), ms.empty() ? "-" : ms.c_str(),
                k.kernel_name.c_str(), "", "", k.rule.c_str());
  }
  std::printf("%zu kernels would be built into %s\n", plan.size(), options.cache_dir.c_str());
  return 0;
}

// The M of every bucket the request asks for: its M values' buckets, the buckets that meet its
// range, or every bucket.
std::vector<std::int64_t> bucket_ms(const PrecompileRequest& r) {
  std::vector<std::int64_t> ms;
  auto add = [&](std::int64_t m) {
    const std::int64_t b = select::m_bucket_m(m);
    if (std::find(ms.begin(), ms.end(), b) == ms.end()) ms.push_back(b);
  };
  for (const auto m : r.m_values) add(m);
  std::int64_t lo = 1;
  for (const std::int64_t bound : select::m_buckets()) {
    if (r.m_range ? (lo <= r.m_range->hi && bound >= r.m_range->lo) : r.m_values.empty()) add(bound);
    lo = bound + 1;
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

// warmup --autotune: on this machine's GPU, every requested point gets this device's row — from
// the tables or the cache, or measured now (runtime/autotuner.hpp) — and its kernel is built.
int autotune_warmup(const Options& options, const PrecompileRequest& request, bool json) {
  if (!request.targets.empty())
    throw InvalidArgument("failed to autotune: --autotune measures on this machine's GPU and takes "
                          "no --target (a cross-compile has no device to time)");
  if (request.shapes.empty())
    throw InvalidArgument("failed to autotune: name the weights (--model or --shapes)");
  Options o = options;
  o.autotune = true;
  o.tuned_tables = request.tables.empty() ? options.tuned_tables : request.tables;
  Context ctx(o);
  ContextState& s = runtime::state_of(ctx);
  const std::vector<std::int64_t> ms = bucket_ms(request);
  runtime::machine_of(ctx, nullptr);  // calibrated (or read from the cache) before any timing
  if (!json)
    std::printf("autotune: %zu weight(s) x %zu M bucket(s) on %s (%s)\ncost model: %s (%s)\n",
                request.shapes.size(), ms.size(), ctx.device_name().c_str(), ctx.target().c_str(),
                s.machine_summary.c_str(), s.machine_source.c_str());
  nlohmann::json points = nlohmann::json::array();
  int tuned = 0, found = 0;
  double tuned_s = 0;
  const auto t_all = std::chrono::steady_clock::now();
  std::uint64_t seed = 1;
  for (const auto& [n, k] : request.shapes) {
    // A random weight (never zeros), packed on the device: the autotuner's candidates run on it.
    const auto w = compiler::random_fp8(s.target.fp8_format(), static_cast<std::size_t>(n * k), seed++);
    const std::vector<float> scales(n, 1.0f);
    DeviceBuffer raw = ctx.alloc(w.size()), sw = ctx.alloc(scales.size() * 4);
    ctx.copy_to_device(raw.get(), w.data(), w.size());
    ctx.copy_to_device(sw.get(), scales.data(), scales.size() * 4);
    const PackedWeight pw = ctx.pack_weight(raw.get(), static_cast<const float*>(sw.get()), n, k);
    for (const OutDType out : request.out_dtypes)
      for (const bool bias : request.bias) {
        runtime::build_candidates(ctx, pw, ms, out, bias);
        for (const std::int64_t m : ms) {
          const auto t0 = std::chrono::steady_clock::now();
          const select::ConfigChoice c = runtime::choose_config(ctx, pw, m, out, bias, nullptr);
          s.builder->build(compiler::gemm_spec(s.target, n, k, c.config, out, bias));
          const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          const bool now = c.rule.rfind("autotuned now", 0) == 0;
          tuned += now, found += !now;
          if (now) tuned_s += secs;
          if (json)
            points.push_back({{"n", n}, {"k", k}, {"m", m}, {"out", std::string(to_string(out))},
                              {"bias", bias}, {"config", c.config.str()}, {"rule", c.rule},
                              {"seconds", secs}, {"tuned_now", now}});
          else
            std::printf("  N=%-6lld K=%-6lld M=%-5lld %s%s  %-30s %6.2f s  %s\n", (long long)n,
                        (long long)k, (long long)m, std::string(to_string(out)).c_str(),
                        bias ? " bias" : "     ", c.config.str().c_str(), secs, c.rule.c_str());
          std::fflush(stdout);
        }
      }
  }
  const double all_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();
  if (json) {
    nlohmann::json j = {{"cache_dir", o.cache_dir}, {"machine", s.machine_summary},
                        {"machine_source", s.machine_source}, {"points", points},
                        {"summary", {{"tuned", tuned}, {"found", found}, {"seconds", all_s},
                                     {"tuning_seconds", tuned_s}}}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("summary: %d points tuned now (%.2f s each), %d found in the tables or the cache, "
                "%.1f s in all\n",
                tuned, tuned ? tuned_s / tuned : 0.0, found, all_s);
  }
  return 0;
}

}  // namespace

int cmd_warmup(const Options& options, const WarmupArgs& args) {
  const PrecompileRequest request = request_of(args);
  if (args.autotune && !args.dry_run) return autotune_warmup(options, request, args.json);
  if (args.dry_run) return print_plan(options, request, args.json);
  if (!options.disk_cache || options.cache_read_only)
    throw InvalidArgument(std::string("failed to warm up the cache: it is ") +
                          (!options.disk_cache ? "disabled (FP8JIT_DISABLE_DISK_CACHE)"
                                               : "read-only (FP8JIT_CACHE_READ_ONLY)") +
                          ", so nothing built would be kept");

  std::string mode = args.progress;
  if (mode == "auto") mode = args.json ? "none" : WarmupProgress::is_terminal(stdout) ? "bar" : "lines";
  if (mode != "bar" && mode != "lines" && mode != "none")
    throw InvalidArgument("failed to parse --progress: '" + args.progress +
                          "' is not auto, bar, lines or none");
  // With --json, stdout holds the JSON document only; a progress display goes to stderr.
  std::FILE* progress_out = args.json ? stderr : stdout;
  WarmupProgress progress(progress_out, mode == "bar");
  WarmupCallback on_event;
  if (mode != "none") on_event = [&](const WarmupEvent& e) { progress.on_event(e); };

  if (!args.json) {
    std::string targets;
    for (const auto& t : request.targets) targets += (targets.empty() ? "" : ",") + t;
    const std::string weights = request.shapes.empty()
                                    ? std::string("the tuned tables' weights")
                                    : std::to_string(request.shapes.size()) + " weight shape(s)";
    std::printf("warmup: %s for %s into %s\n", weights.c_str(),
                targets.empty() ? "the local GPU" : targets.c_str(), options.cache_dir.c_str());
    std::fflush(stdout);
  }
  const WarmupReport report = warmup(options, request, on_event);
  progress.finish();

  if (args.json) {
    nlohmann::json j = {{"cache_dir", options.cache_dir}, {"kernels", nlohmann::json::array()}};
    for (const auto& k : report.kernels) j["kernels"].push_back(kernel_json(k, true));
    j["summary"] = {{"kernels", report.kernels.size()}, {"compiled", report.compiled},
                    {"cached", report.cached},          {"failed", report.failed},
                    {"seconds", report.seconds},        {"jobs", report.jobs},
                    {"from_remote", report.from_remote}};
    if (!report.remote_counts.empty()) {
      nlohmann::json remote = nlohmann::json::object();
      for (const auto& [name, n] : report.remote_counts) remote[name] = n;
      j["remote"] = remote;
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    if (report.failed) {
      std::printf("failed kernels:\n");
      for (const auto& k : report.kernels)
        if (!k.error.empty()) std::printf("  %s %s\n", k.target.c_str(), k.kernel_name.c_str());
    }
    std::printf("summary: %zu kernels: %zu compiled, %zu already cached, %zu failed in %.1f s "
                "(-j%d)\n",
                report.kernels.size(), report.compiled, report.cached, report.failed,
                report.seconds, report.jobs);
    if (!report.remote_counts.empty()) {
      std::string counts;
      for (const auto& [name, n] : report.remote_counts)
        if (n) counts += (counts.empty() ? "" : ", ") + name + " " + std::to_string(n);
      std::printf("remote cache %s: %zu kernels from it%s%s\n",
                  cache::redact_url(options.cache_remote).c_str(), report.from_remote,
                  counts.empty() ? "" : "; ", counts.c_str());
    }
  }
  return report.ok() ? 0 : 1;
}

}  // namespace fp8jit::tools
