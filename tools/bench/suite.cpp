#include "tools/bench/suite.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "tools/bench/cublaslt.hpp"
#include "tools/bench/operands.hpp"
#include "tools/bench/timing.hpp"
#include "runtime/autotuner.hpp"
#include "runtime/calibration.hpp"
#include "runtime/context_state.hpp"
#include "select/heuristic.hpp"

namespace fp8jit::bench {

namespace {
const char* source_name(select::ConfigChoice::Source s) {
  switch (s) {
    case select::ConfigChoice::Source::exact_row: return "exact_row";
    case select::ConfigChoice::Source::bucket_row: return "bucket_row";
    case select::ConfigChoice::Source::autotuned: return "autotuned";
    case select::ConfigChoice::Source::heuristic: break;
  }
  return "heuristic";
}
}  // namespace

double SuiteRow::weight_pct_of_copy(double us) const {
  if (!(copy_tbps > 0)) return std::numeric_limits<double>::quiet_NaN();
  return 100.0 * weight_tbps(us) / copy_tbps;
}

CopyBandwidth measure_copy_bandwidth(Context& ctx, std::size_t bytes, int reps) {
  CopyBandwidth bw;
  bw.bytes = bytes;
  bw.tbps = runtime::copy_bandwidth(ctx, bytes, reps) * 1e-12;
  bw.us = 2.0 * double(bytes) / bw.tbps * 1e-6;
  return bw;
}

std::vector<SuiteRow> run_suite(Context& ctx, const SuiteArgs& args,
                                const std::function<void(const SuiteRow&)>& on_row) {
  DeviceBuffer workspace = ctx.alloc(std::size_t{32} << 20);
  CublasLt cublas(workspace.get(), workspace.size());
  std::mt19937_64 rng(std::random_device{}());
  std::vector<SuiteRow> rows;
  const std::int64_t max_m = *std::max_element(args.ms.begin(), args.ms.end());

  for (const auto& s : args.shapes) {
    const Operands ops(ctx, max_m, s.n, s.k, args.bias, rng);
    // Every kernel the weight's points will run, built at once: compiles stay out of the numbers
    // and off the critical path.
    const ContextState& st = runtime::state_of(ctx);
    std::vector<compiler::KernelSpec> specs;
    for (const std::int64_t m : args.ms) {
      const auto c = runtime::choose_config(ctx, ops.packed[0], m, OutDType::bf16, args.bias, nullptr);
      specs.push_back(compiler::gemm_spec(st.target, s.n, s.k, c.config, OutDType::bf16, args.bias));
      if (args.heuristic)
        specs.push_back(compiler::gemm_spec(
            st.target, s.n, s.k,
            select::heuristic_config(st.target, runtime::machine_of(ctx, nullptr), m, s.n, s.k),
            OutDType::bf16, args.bias));
    }
    jit::build_all(*st.builder, specs);
    for (const std::int64_t m : args.ms) {
      SuiteRow row{s.name, m, s.n, s.k, ops.copies};
      row.copy_tbps = args.copy_tbps;
      // fp8jit: Context::gemm per call (the tuned table or heuristic picks the kernel; every copy
      // has the same shape, so all resolve to the same loaded kernel).
      auto run_fp8jit = [&](int c) { ctx.gemm(ops.args(m, c)); };
      auto run_cublas = [&](int c) {
        const GemmArgs g = ops.args(m, c);
        cublas.gemm(g.a, g.sa, ops.raw[c].get(), static_cast<const float*>(ops.sw.get()), g.bias,
                    g.out, m, s.n, s.k, OutDType::bf16, nullptr);
      };
      const auto check_rows = tools::sample_rows(m, args.check_rows, rng);
      const auto ref = tools::reference_rows(ops.problem, check_rows);
      auto check = [&](const std::function<void(int)>& run) {
        ops.poison_out(ctx, m);
        run(0);
        return ops.error(ctx, m, check_rows, ref);
      };
      const select::ConfigChoice choice =
          runtime::choose_config(ctx, ops.packed[0], m, OutDType::bf16, args.bias, nullptr);
      row.config = choice.config.str();
      row.source = source_name(choice.source);
      row.fp8jit_err = check(run_fp8jit);
      row.cublas_err = check(run_cublas);
      row.fp8jit_us = median_us(ctx, ops.copies, args.reps, run_fp8jit, args.min_calls);
      row.cublas_us = median_us(ctx, ops.copies, args.reps, run_cublas, args.min_calls);
      if (args.heuristic) {
        const compiler::GemmConfig h =
            select::heuristic_config(st.target, runtime::machine_of(ctx, nullptr), m, s.n, s.k);
        row.heuristic_config = h.str();
        auto run_heuristic = [&](int c) { runtime::gemm_with_config(ctx, ops.args(m, c), h, nullptr); };
        row.heuristic_err = check(run_heuristic);
        row.heuristic_us = h == choice.config
                               ? row.fp8jit_us
                               : median_us(ctx, ops.copies, args.reps, run_heuristic, args.min_calls);
      }
      rows.push_back(row);
      if (on_row) on_row(row);
    }
  }
  return rows;
}

}  // namespace fp8jit::bench
