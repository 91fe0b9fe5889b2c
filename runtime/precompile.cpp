#include "fp8jit/precompile.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "compiler/gemm_limits.hpp"
#include "compiler/kernel_spec.hpp"
#include "fp8jit/error.hpp"
#include "fp8jit/gemm.hpp"
#include "runtime/heuristic.hpp"
#include "runtime/kernel_builder.hpp"
#include "runtime/tuned_table.hpp"

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
  if (request.m_values.empty()) return MRange{1, runtime::kUnboundedM};
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
    const PrecompileRequest& request, const runtime::TunedTable& table,
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
  const runtime::TunedTable table = runtime::TunedTable::load(files);

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
          std::vector<runtime::ConfigChoice> choices;
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

std::uint16_t u16_at(const std::vector<std::uint8_t>& b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | b[at + 1] << 8);
}

std::uint64_t u64_at(const std::vector<std::uint8_t>& b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | b[at + i];
  return v;
}

// Builds one planned kernel; never throws for a build failure (it lands in `error`).
PrecompiledKernel build_one(runtime::KernelBuilder& builder, const PlannedKernel& p) {
  PrecompiledKernel r = p.info;
  try {
    const runtime::BuiltKernel built = builder.build(p.spec);
    r.key = built.key;
    r.cached = built.from_disk;
    r.compile_ms = built.from_disk ? 0 : built.compile_ms;
    r.registers = built.resources.registers;
    r.spills = built.resources.spills;
    r.binary_bytes = built.binary.size();
    const std::string problem = elf_problem(built.binary, r.target);
    if (problem.empty())
      r.binary_format = p.spec.target.emulated ? "shared object (ELF, host)"
                        : p.spec.target.vendor == compiler::Vendor::nvidia
                            ? "cubin (ELF, EM_CUDA)"
                            : "code object (ELF, EM_AMDGPU)";
    else
      r.error = "failed to build " + r.kernel_name + " for " + r.target + ": the " +
                (built.from_disk ? "cached" : "compiled") + " binary is not loadable: " + problem;
    // NOTE: the builder keeps a kernel it could not publish (full disk, unwritable directory)
    // and only warns, which is right for a GEMM call; for a warmup the entry is the point. (A
    // disabled or strict read-only cache is the caller's choice: nothing is expected there.)
    cache::CacheLayers* layers = builder.cache_layers();
    if (r.error.empty() && !built.from_disk && layers && layers->can_store()) {
      const std::string path = layers->writable()->entry_path(r.target, r.key);
      std::error_code ec;
      if (!std::filesystem::exists(path, ec))
        r.error = "failed to store " + r.kernel_name + " for " + r.target +
                  " in the cache: it compiled, but no entry is at " + path +
                  " (the warning above says why)";
    }
  } catch (const Error& e) {
    r.error = e.what();
  } catch (const std::exception& e) {
    r.error = "failed to build " + r.kernel_name + " for " + r.target + ": " + e.what();
  }
  return r;
}

}  // namespace

std::string elf_problem(const std::vector<std::uint8_t>& b, const std::string& target) {
  constexpr std::uint16_t kEmCuda = 190, kEmAmdgpu = 224;
#if defined(__x86_64__)
  constexpr std::uint16_t kEmHost = 62;  // EM_X86_64: an emulated kernel is a host object
#elif defined(__aarch64__)
  constexpr std::uint16_t kEmHost = 183;  // EM_AARCH64
#else
  constexpr std::uint16_t kEmHost = 0;
#endif
  const bool nvidia = target.rfind("sm_", 0) == 0, emu = target.rfind("emu-", 0) == 0;
  if (b.size() < 64) return "only " + std::to_string(b.size()) + " bytes, shorter than an ELF header";
  if (std::memcmp(b.data(), "\x7f" "ELF", 4) != 0) return "no ELF magic";
  if (b[4] != 2 || b[5] != 1) return "not a 64-bit little-endian ELF file";
  const std::uint16_t machine = u16_at(b, 18);
  const std::uint16_t want = emu ? kEmHost : nvidia ? kEmCuda : kEmAmdgpu;
  if (machine != want)
    return "e_machine " + std::to_string(machine) + ", expected " + std::to_string(want) +
           (emu ? " (this host)" : nvidia ? " (EM_CUDA)" : " (EM_AMDGPU)");
  const std::uint64_t shoff = u64_at(b, 40);
  const std::uint64_t shentsize = u16_at(b, 58), shnum = u16_at(b, 60);
  if (shoff == 0 || shnum == 0) return "no section header table";
  if (shoff > b.size() || shentsize * shnum > b.size() - shoff)
    return "section header table (" + std::to_string(shnum) + " x " + std::to_string(shentsize) +
           " bytes at " + std::to_string(shoff) + ") runs past the end of the " +
           std::to_string(b.size()) + "-byte file";
  return "";
}

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
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t jobs = std::min<std::size_t>(request.jobs == 0 ? hw : request.jobs,
                                                 std::max<std::size_t>(planned.size(), 1));
  report.jobs = static_cast<int>(jobs);

  // NOTE: one KernelBuilder shared by every thread: build() is thread-safe (the disk store is,
  // its counters are atomics or under its mutex, and Toolchains are const after construction;
  // NVRTC programs and clang subprocesses are per call).
  runtime::KernelBuilder builder(options, std::make_shared<const compiler::Toolchains>());
  std::mutex mu;  // guards done, running, the counters of report, and every on_event call
  std::size_t done = 0, running = 0;
  auto emit = [&](WarmupEvent::Kind kind, const PrecompiledKernel& k) {
    if (!on_event) return;
    try {
      on_event({kind, &k, done, planned.size(), running});
    } catch (...) {  // the contract says it must not throw; a display error must not stop builds
    }
  };
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < planned.size();) {
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
        ++report.cached;
      else
        ++report.compiled;
      report.kernels[i] = std::move(r);
      emit(WarmupEvent::Kind::finished, report.kernels[i]);
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 1; t < jobs; ++t) threads.emplace_back(worker);
    worker();
  }  // jthreads join here
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

std::vector<PrecompiledKernel> precompile(
    const Options& options, const PrecompileRequest& request,
    const std::function<void(const PrecompiledKernel&, std::size_t, std::size_t)>& progress) {
  WarmupCallback on_event;
  if (progress)
    on_event = [&](const WarmupEvent& e) {
      if (e.kind == WarmupEvent::Kind::finished) progress(*e.kernel, e.done, e.total);
    };
  return warmup(options, request, on_event).kernels;
}

}  // namespace fp8jit
