#include "fp8jit/precompile.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>

#include "cache/binary_check.hpp"
#include "compiler/gemm_limits.hpp"
#include "compiler/kernel_spec.hpp"
#include "fp8jit/error.hpp"
#include "fp8jit/gemm.hpp"
#include "select/heuristic.hpp"
#include "jit/kernel_builder.hpp"
#include "select/tuned_table.hpp"
#include "util/parallel.hpp"

namespace fp8jit {

namespace {

struct PlannedKernel {
  compiler::KernelSpec spec;
  PrecompiledKernel info;  // identity fields filled, build fields empty
};

// The explicit token counts of the request (m >= 1, distinct, ascending).
std::vector<std::int64_t> explicit_ms(const PrecompileRequest& request) {
  std::vector<std::int64_t> ms;
  for (const std::int64_t m : request.m_values) {
    compiler::check_gemm_m(m, "plan warmup");
    ms.push_back(m);
  }
  std::sort(ms.begin(), ms.end());
  ms.erase(std::unique(ms.begin(), ms.end()), ms.end());
  return ms;
}

// The M range whose every run-time choice is built: request.m_range, else every M when no
// explicit M is given, else none.
std::optional<MRange> range_of(const PrecompileRequest& request) {
  if (request.m_range) {
    const MRange r = *request.m_range;
    if (r.lo < 1 || r.hi < r.lo || r.hi > compiler::kMaxGemmM)
      throw InvalidArgument("failed to plan warmup: M range " + std::to_string(r.lo) + ":" +
                            std::to_string(r.hi) + " is not lo:hi with 1 <= lo <= hi <= " +
                            std::to_string(compiler::kMaxGemmM));
    return r;
  }
  if (request.m_values.empty()) return MRange{1, select::kUnboundedM};
  return std::nullopt;
}

// (targets, cu_num) of the request: the explicit targets, else the local device's.
std::pair<std::vector<compiler::Target>, int> targets_of(const Options& options,
                                                         const PrecompileRequest& request) {
  std::vector<compiler::Target> targets;
  for (const auto& t : request.targets) {
    const auto target = compiler::Target::parse(t);  // names the value and the known archs
    if (std::none_of(targets.begin(), targets.end(),
                     [&](const compiler::Target& x) { return x.str() == target.str(); }))
      targets.push_back(target);
  }
  if (!targets.empty()) return {targets, request.cu_num};
  try {
    const Context ctx(options);
    return {{compiler::Target::parse(ctx.target())}, ctx.multiprocessors()};
  } catch (const DriverError& e) {
    throw DriverError(std::string("failed to find the target to warm up: no target given and no "
                                  "GPU here (") +
                      e.what() + "); name one or more targets");
  }
}

// The weights of `target`: the request's, else those of the table's rows for the target's arch.
std::vector<std::pair<std::int64_t, std::int64_t>> shapes_for(
    const PrecompileRequest& request, const select::TunedTable& table,
    const compiler::Target& target) {
  if (!request.shapes.empty()) return request.shapes;
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& row : table.entries())
    if (row.target.arch == target.arch &&
        std::find(out.begin(), out.end(), std::pair{row.n, row.k}) == out.end())
      out.emplace_back(row.n, row.k);
  return out;
}

std::vector<PlannedKernel> plan(const Options& options, const PrecompileRequest& request) {
  if (request.jobs < 0)
    throw InvalidArgument("failed to plan warmup: jobs must be >= 0, got " +
                          std::to_string(request.jobs));
  for (const auto& [n, k] : request.shapes) compiler::check_weight_shape(n, k, "plan warmup");
  const std::vector<std::int64_t> ms = explicit_ms(request);
  const std::optional<MRange> range = range_of(request);
  const auto [targets, cu_num] = targets_of(options, request);
  const std::vector<std::string>& files = request.tables.empty() ? options.tuned_tables
                                                                 : request.tables;
  const select::TunedTable table = select::TunedTable::load(files);

  std::vector<PlannedKernel> out;
  std::map<std::string, std::size_t> index;  // canonical spec -> position in out
  auto add = [&](const compiler::KernelSpec& spec, std::int64_t m, const std::string& rule) {
    spec.validate();  // names the value and the rule it breaks
    const std::string canonical = spec.canonical();
    auto [it, fresh] = index.emplace(canonical, out.size());
    if (fresh) {
      PlannedKernel p{spec, {}};
      p.info.target = spec.target.str();
      p.info.kernel_name = spec.kernel_name();
      p.info.spec = canonical;
      p.info.rule = rule;
      out.push_back(std::move(p));
    }
    auto& m_values = out[it->second].info.m_values;
    if (m > 0 && std::find(m_values.begin(), m_values.end(), m) == m_values.end()) {
      m_values.insert(std::upper_bound(m_values.begin(), m_values.end(), m), m);
    }
  };
  std::size_t weights = 0;
  for (const auto& target : targets) {
    const auto shapes = shapes_for(request, table, target);
    weights += shapes.size();
    if (request.preshuffle && !shapes.empty())
      add(compiler::preshuffle_spec(target, compiler::native_layout(target)), 0, "weight packing");
    for (const auto& [n, k] : shapes)
      for (const OutDType dtype : request.out_dtypes)
        for (const bool bias : request.bias) {
          std::vector<select::ConfigChoice> choices;
          for (const std::int64_t m : ms)
            choices.push_back(table.select(target, cu_num, m, n, k, dtype, bias));
          if (range) {
            // NOTE: what the runtime can choose for any M of the range: each bucket's M (what a
            // Plan uses) and each tuned row's own M (what Context::gemm finds exactly).
            auto more = table.choices_for_range(target, cu_num, range->lo, range->hi, n, k, dtype,
                                                bias);
            choices.insert(choices.end(), more.begin(), more.end());
          }
          for (const auto& c : choices)
            add(compiler::gemm_spec(target, n, k, c.config, dtype, bias), c.m, c.rule);
        }
  }
  if (weights == 0) {
    std::string names;
    for (const auto& t : targets) names += (names.empty() ? "" : ", ") + t.str();
    throw InvalidArgument(
        "failed to plan warmup: no weight shapes: none given, and " +
        (files.empty() ? std::string("no tuned table loaded")
                       : "no row of the tuned tables is for " + names));
  }
  return out;
}

// Builds one planned kernel; never throws for a build failure (it lands in `error`).
PrecompiledKernel build_one(jit::KernelBuilder& builder, const PlannedKernel& p) {
  PrecompiledKernel r = p.info;
  try {
    const jit::BuiltKernel built = builder.build(p.spec);
    r.key = built.key;
    r.cached = built.from_disk;
    r.from_remote = built.from_remote;
    // NOTE: what this node had on disk may be missing remotely (warmed before the remote layer
    // was configured, or evicted there): offered when an EXISTS finds no value.
    if (built.from_disk && !built.from_remote)
      if (cache::CacheLayers* layers = builder.cache_layers(); layers && layers->remote())
        if (auto hit = layers->load(r.target, built.key, false))
          layers->remote()->store_if_missing(hit->entry);
    r.compile_ms = built.from_disk ? 0 : built.compile_ms;
    r.registers = built.resources.registers;
    r.spills = built.resources.spills;
    r.binary_bytes = built.binary.size();
    const std::string problem = cache::binary_problem(built.binary, r.target);
    if (problem.empty())
      r.binary_format = cache::binary_format(r.target);
    else
      r.error = "failed to build " + r.kernel_name + " for " + r.target + ": the " +
                (built.from_disk ? "cached" : "compiled") + " binary is not loadable: " + problem;
    // NOTE: the builder keeps a kernel it could not publish (full disk, unwritable directory)
    // and only warns, which is right for a GEMM call; for a warmup the entry is the point. What
    // counts is the store's own outcome: a clear or prune may remove the entry right after.
    if (r.error.empty() && !built.store_error.empty())
      r.error = "failed to store " + r.kernel_name + " for " + r.target + " in the cache: " +
                built.store_error;
  } catch (const Error& e) {
    r.error = e.what();
  } catch (const std::exception& e) {
    r.error = "failed to build " + r.kernel_name + " for " + r.target + ": " + e.what();
  }
  return r;
}

}  // namespace

std::vector<PrecompiledKernel> plan_precompile(const Options& options,
                                               const PrecompileRequest& request) {
  std::vector<PrecompiledKernel> out;
  for (auto& p : plan(options, request)) out.push_back(std::move(p.info));
  return out;
}

WarmupReport warmup(const Options& options, const PrecompileRequest& request,
                    const WarmupCallback& on_event) {
  const std::vector<PlannedKernel> planned = plan(options, request);
  WarmupReport report;
  report.kernels.resize(planned.size());
  report.jobs = static_cast<int>(util::thread_count(planned.size(), static_cast<unsigned>(request.jobs)));

  // NOTE: one KernelBuilder shared by every thread: build() is thread-safe (the disk store is,
  // its counters are atomics or under its mutex, and Toolchains are const after construction;
  // NVRTC programs and clang subprocesses are per call).
  jit::KernelBuilder builder(options, std::make_shared<const compiler::Toolchains>());
  std::mutex mu;  // guards done, running, the counters of report, and every on_event call
  std::size_t done = 0, running = 0;
  auto emit = [&](WarmupEvent::Kind kind, const PrecompiledKernel& k) {
    if (!on_event) return;
    try {
      on_event({kind, &k, done, planned.size(), running});
    } catch (...) {  // the contract says it must not throw; a display error must not stop builds
    }
  };
  // NOTE: with a remote layer, each node builds its plan in an order of its own (the report keeps
  // the plan's): nodes that warm the same plan in the same order would all wait on one node's
  // lease for each kernel in turn, so a fleet would warm no faster than one node. Shuffled,
  // they compile different kernels at once and find the rest in the remote layer.
  std::vector<std::size_t> order(planned.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!options.cache_remote.empty() && options.disk_cache)
    std::shuffle(order.begin(), order.end(), std::mt19937_64{std::random_device{}()});
  const auto t0 = std::chrono::steady_clock::now();
  util::parallel_for(planned.size(), static_cast<unsigned>(request.jobs), [&](std::size_t j) {
    const std::size_t i = order[j];
    {
      std::lock_guard lock(mu);
      ++running;
      emit(WarmupEvent::Kind::started, planned[i].info);
    }
    PrecompiledKernel r = build_one(builder, planned[i]);
    std::lock_guard lock(mu);
    --running;
    ++done;
    if (!r.error.empty())
      ++report.failed;
    else if (r.cached)
      ++report.cached, report.from_remote += r.from_remote;
    else
      ++report.compiled;
    report.kernels[i] = std::move(r);
    emit(WarmupEvent::Kind::finished, report.kernels[i]);
  });
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (cache::CacheLayers* layers = builder.cache_layers(); layers && layers->remote())
    report.remote_counts = cache::stats_fields(layers->remote()->stats());
  return report;
}

}  // namespace fp8jit
