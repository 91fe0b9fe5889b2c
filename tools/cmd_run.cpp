// `fp8jit run`: the main job. With a GPU: JIT-compile and run the GEMMs of a model's weight
// shapes, check each against a float64 reference, print the times. Without one: cross-compile
// those kernels into the cache for the given targets and list what was built.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "compiler/target.hpp"
#include "fp8jit/fp8jit.hpp"
#include "tools/commands.hpp"
#include "tools/gemm_check.hpp"

namespace fp8jit::tools {

namespace {

constexpr std::uint16_t kPoison = 0xffff;  // NaN in bf16 and fp16; never produced by a kernel

int run_on_gpu(Context& ctx, const RunArgs& args, const std::vector<WeightShape>& shapes) {
  std::printf("device: %s (%s, %d multiprocessors)\n", ctx.device_name().c_str(),
              ctx.target().c_str(), ctx.multiprocessors());
  std::mt19937_64 rng(std::random_device{}());
  const auto fmt = compiler::Target::parse(ctx.target()).fp8_format();
  int failures = 0;
  std::printf("%-20s %6s %6s %6s %10s %9s %8s %10s\n", "shape", "M", "N", "K", "us", "TFLOP/s",
              "TB/s", "rel_err");
  for (const auto& s : shapes) {
    const std::int64_t max_m = *std::max_element(args.work.ms.begin(), args.work.ms.end());
    GemmProblem p = make_problem(max_m, s.n, s.k, fmt, OutDType::bf16, args.bias, rng);
    auto a = ctx.alloc(p.a.size()), w = ctx.alloc(p.w.size());
    auto sa = ctx.alloc(p.sa.size() * 4), sw = ctx.alloc(p.sw.size() * 4);
    auto bias = ctx.alloc(p.b.size() * 2), out = ctx.alloc(max_m * s.n * 2);
    ctx.copy_to_device(a.get(), p.a.data(), p.a.size());
    ctx.copy_to_device(w.get(), p.w.data(), p.w.size());
    ctx.copy_to_device(sa.get(), p.sa.data(), p.sa.size() * 4);
    ctx.copy_to_device(sw.get(), p.sw.data(), p.sw.size() * 4);
    if (args.bias) ctx.copy_to_device(bias.get(), p.b.data(), p.b.size() * 2);
    PackedWeight packed = ctx.pack_weight(w.get(), static_cast<const float*>(sw.get()), s.n, s.k);
    const Plan plan = ctx.plan(packed, OutDType::bf16, args.bias);
    for (const std::int64_t m : args.work.ms) {
      std::vector<std::uint16_t> host(m * s.n, kPoison);
      ctx.copy_to_device(out.get(), host.data(), host.size() * 2);
      GemmArgs g;
      g.a = a.get();
      g.sa = static_cast<const float*>(sa.get());
      g.w = &packed;
      g.bias = args.bias ? bias.get() : nullptr;
      g.out = out.get();
      g.m = m;
      plan.gemm(g);
      ctx.synchronize();
      ctx.copy_to_host(host.data(), out.get(), host.size() * 2);
      GemmProblem view = p;  // reference over the first m tokens
      view.m = m;
      const auto rows = sample_rows(m, args.check_rows, rng);
      const double err = relative_error(view, host, rows, kPoison);
      // Host-timed back-to-back launches after the checked one (warm): mean per call.
      const int iters = args.iters;
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < iters; ++i) plan.gemm(g);
      ctx.synchronize();
      const double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
          iters;
      const double flops = 2.0 * m * s.n * s.k, bytes = double(s.n) * s.k + m * s.k + 2.0 * m * s.n;
      const bool ok = err <= 1e-2;
      failures += !ok;
      std::printf("%-20s %6lld %6lld %6lld %10.1f %9.1f %8.3f %10.2e%s\n", s.name.c_str(),
                  (long long)m, (long long)s.n, (long long)s.k, us, flops / us * 1e-6,
                  bytes / us * 1e-6, err, ok ? "" : "  FAIL");
    }
  }
  const CacheStats st = ctx.stats();
  std::printf("kernels: %llu compiled (%.0f ms total, median %.0f ms), %llu from the disk cache, "
              "%llu memory hits\n",
              (unsigned long long)st.compiles, st.compile_ms_total, st.compile_ms_median,
              (unsigned long long)st.disk_hits, (unsigned long long)st.memory_hits);
  std::printf("%s: %d check(s) failed\n", failures ? "FAILED" : "OK", failures);
  return failures ? 1 : 0;
}

int cross_compile(const Options& options, const RunArgs& args,
                  const std::vector<WeightShape>& shapes) {
  PrecompileRequest req;
  req.targets = args.targets;
  for (const auto& s : shapes) req.shapes.push_back({s.n, s.k});
  req.bias = {args.bias};
  std::printf("cross-compiling into %s for %zu shape(s) x %zu target(s)\n", options.cache_dir.c_str(),
              shapes.size(), req.targets.size());
  std::printf("%-10s %-8s %9s %5s %6s  %s\n", "target", "status", "ms", "regs", "spills", "kernel");
  int failed = 0, cached = 0;
  std::vector<double> ms;
  const auto result = warmup(options, req, [&](const WarmupEvent& e) {
    if (e.kind != WarmupEvent::Kind::finished) return;
    const PrecompiledKernel& k = *e.kernel;
    const char* status = !k.error.empty() ? "FAILED" : k.cached ? "cached" : "compiled";
    std::printf("%-10s %-8s %9.1f %5d %6d  %s\n", k.target.c_str(), status, k.compile_ms,
                k.registers, k.spills, k.kernel_name.c_str());
    if (!k.error.empty()) std::printf("  %s\n", k.error.c_str());
    failed += !k.error.empty();
    cached += k.cached;
    if (k.error.empty() && !k.cached) ms.push_back(k.compile_ms);
    std::fflush(stdout);
  });
  std::sort(ms.begin(), ms.end());
  std::printf("%zu kernels: %zu compiled (median %.0f ms), %d already cached, %d failed\n",
              result.kernels.size(), ms.size(), ms.empty() ? 0.0 : ms[ms.size() / 2], cached, failed);
  return failed ? 1 : 0;
}

}  // namespace

int cmd_run(const Options& options, const RunArgs& args) {
  const auto shapes = args.work.shapes();
  // --target emu-...: run on the CPU emulation of each (docs/emulator.md), as on a GPU.
  std::vector<std::string> emulated;
  for (const auto& t : args.targets)
    if (compiler::Target::parse(t).emulated) emulated.push_back(t);
  if (!emulated.empty()) {
    if (emulated.size() != args.targets.size())
      throw InvalidArgument("failed to run: --target mixes emulation targets with GPU targets; "
                            "run them separately");
    int rc = 0;
    for (const auto& t : emulated) {
      Options o = options;
      o.target = t;
      Context ctx(o);
      rc |= run_on_gpu(ctx, args, shapes);
    }
    return rc;
  }
  if (!args.cross) {
    try {
      Context ctx(options);
      return run_on_gpu(ctx, args, shapes);
    } catch (const DriverError& e) {
      std::printf("no GPU (%s)\n-> cross-compiling instead\n", e.what());
    }
  }
  return cross_compile(options, args, shapes);
}

}  // namespace fp8jit::tools
