#include "bench/suite.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "bench/cublaslt.hpp"
#include "compiler/target.hpp"
#include "tools/gemm_check.hpp"

namespace fp8jit::bench {

namespace {

constexpr std::uint16_t kPoison = 0xffff;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

std::vector<SuiteRow> run_suite(Context& ctx, const SuiteArgs& args,
                                const std::function<void(const SuiteRow&)>& on_row) {
  DeviceBuffer workspace = ctx.alloc(std::size_t{32} << 20);
  CublasLt cublas(workspace.get(), workspace.size());
  const auto fmt = compiler::Target::parse(ctx.target()).fp8_format();
  std::mt19937_64 rng(std::random_device{}());
  std::vector<SuiteRow> rows;
  const std::int64_t max_m = *std::max_element(args.ms.begin(), args.ms.end());

  for (const auto& s : args.shapes) {
    // One random problem at the largest M; smaller M use its first rows.
    tools::GemmProblem p = tools::make_problem(max_m, s.n, s.k, fmt, OutDType::bf16, args.bias, rng);
    const std::size_t wbytes = static_cast<std::size_t>(s.n * s.k);
    const int copies = static_cast<int>(
        std::clamp<std::size_t>((4 * ctx.l2_bytes() + wbytes - 1) / wbytes, 1, 16));
    DeviceBuffer a = ctx.alloc(p.a.size()), sa = ctx.alloc(p.sa.size() * 4), sw = ctx.alloc(s.n * 4),
                 bias = ctx.alloc(s.n * 2), out = ctx.alloc(max_m * s.n * 2);
    ctx.copy_to_device(a.get(), p.a.data(), p.a.size());
    ctx.copy_to_device(sa.get(), p.sa.data(), p.sa.size() * 4);
    ctx.copy_to_device(sw.get(), p.sw.data(), s.n * 4);
    if (args.bias) ctx.copy_to_device(bias.get(), p.b.data(), s.n * 2);
    std::vector<DeviceBuffer> raw;        // row-major copies (cuBLASLt)
    std::vector<PackedWeight> packed;     // packed copies (fp8jit)
    std::vector<Plan> plans;
    for (int c = 0; c < copies; ++c) {
      raw.push_back(ctx.alloc(wbytes));
      ctx.copy_to_device(raw.back().get(), p.w.data(), wbytes);
      packed.push_back(ctx.pack_weight(raw.back().get(), static_cast<const float*>(sw.get()), s.n, s.k));
    }
    const Plan plan = ctx.plan(packed[0], OutDType::bf16, args.bias);

    for (const std::int64_t m : args.ms) {
      SuiteRow row{s.name, m, s.n, s.k, copies};
      GemmArgs g;
      g.a = a.get();
      g.sa = static_cast<const float*>(sa.get());
      g.bias = args.bias ? bias.get() : nullptr;
      g.out = out.get();
      g.m = m;
      // fp8jit: the plan was made for copy 0; every copy has the same shape and layout, so one
      // plan's kernels serve all (Context::gemm resolves the same kernels through its cache).
      auto run_fp8jit = [&](int c) {
        g.w = &packed[c];
        ctx.gemm(g);
      };
      auto run_cublas = [&](int c) {
        cublas.gemm(a.get(), g.sa, raw[c].get(), static_cast<const float*>(sw.get()), g.bias,
                    out.get(), m, s.n, s.k, OutDType::bf16, nullptr);
      };
      tools::GemmProblem view = p;
      view.m = m;
      const auto check_rows = tools::sample_rows(m, args.check_rows, rng);
      auto check = [&](const std::function<void(int)>& run) {
        std::vector<std::uint16_t> host(m * s.n, kPoison);
        ctx.copy_to_device(out.get(), host.data(), host.size() * 2);
        run(0);
        ctx.synchronize();
        ctx.copy_to_host(host.data(), out.get(), host.size() * 2);
        return tools::relative_error(view, host, check_rows, kPoison);
      };
      auto time = [&](const std::function<void(int)>& run) {
        for (int w = 0; w < 2; ++w)
          for (int c = 0; c < copies; ++c) run(c);
        std::vector<double> per_call;
        for (int r = 0; r < args.reps; ++r)
          per_call.push_back(ctx.time_ms(nullptr, [&] {
            for (int c = 0; c < copies; ++c) run(c);
          }) * 1e3 / copies);
        return median(per_call);
      };
      (void)plan;
      row.fp8jit_err = check(run_fp8jit);
      row.cublas_err = check(run_cublas);
      row.fp8jit_us = time(run_fp8jit);
      row.cublas_us = time(run_cublas);
      rows.push_back(row);
      if (on_row) on_row(row);
    }
  }
  return rows;
}

}  // namespace fp8jit::bench
