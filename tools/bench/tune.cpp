#include "tools/bench/tune.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "tools/bench/operands.hpp"
#include "tools/bench/timing.hpp"
#include "compiler/kernel_spec.hpp"
#include "fp8jit/error.hpp"
#include "runtime/context_state.hpp"
#include "select/heuristic.hpp"

namespace fp8jit::bench {

const char* tuned_table_header() {
  return "arch,cu_num,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw";
}

std::vector<TunedPoint> tune(Context& ctx, const TuneArgs& args,
                             const std::function<void(const TunedPoint&)>& on_point) {
  const auto target = compiler::Target::parse(ctx.target());
  const int sms = ctx.multiprocessors();
  std::mt19937_64 rng(std::random_device{}());
  std::vector<TunedPoint> points;
  const std::int64_t max_m = *std::max_element(args.ms.begin(), args.ms.end());
  for (const auto& s : args.shapes) {
    const Operands ops(ctx, max_m, s.n, s.k, args.bias, rng);
    for (const std::int64_t m : args.ms) {
      TunedPoint pt{s.name, m, s.n, s.k};
      const auto ranked = select::rank_configs(target, sms, m, s.n, s.k);
      const auto heuristic = select::heuristic_config(target, sms, m, s.n, s.k);
      // The heuristic's choice, the table's row, the configs that won for this weight at nearby
      // M, then the cost model's best of each family in turn: its estimates tie across families
      // where both are memory-bound, and only a measurement tells them apart.
      std::vector<compiler::GemmConfig> configs = {heuristic};
      const auto current = runtime::state_of(ctx).tuned.select(target, sms, m, s.n, s.k, OutDType::bf16, args.bias);
      const bool incumbent = current.source == select::ConfigChoice::Source::exact_row;
      if (incumbent && !(current.config == heuristic)) configs.push_back(current.config);
      for (const auto& cfg :
           runtime::state_of(ctx).tuned.neighbour_configs(target, sms, m, s.n, s.k, OutDType::bf16, args.bias))
        if (static_cast<int>(configs.size()) < args.candidates &&
            std::find(configs.begin(), configs.end(), cfg) == configs.end())
          configs.push_back(cfg);
      std::vector<compiler::GemmConfig> family[compiler::kFamilyCount];
      for (const auto& e : ranked)
        if (std::find(configs.begin(), configs.end(), e.config) == configs.end())
          family[static_cast<int>(e.config.family)].push_back(e.config);
      for (std::size_t i = 0; static_cast<int>(configs.size()) < args.candidates; ++i) {
        if (std::all_of(std::begin(family), std::end(family), [&](const auto& f) { return i >= f.size(); }))
          break;
        for (const auto& f : family)
          if (i < f.size() && static_cast<int>(configs.size()) < args.candidates) configs.push_back(f[i]);
      }
      const auto rows = tools::sample_rows(m, 2, rng);
      const auto ref = tools::reference_rows(ops.problem, rows);
      for (const auto& cfg : configs) {
        // A config that spills is a tuning failure, however fast it measures.
        const auto spec = compiler::gemm_spec(target, s.n, s.k, cfg, OutDType::bf16, args.bias);
        if (runtime::state_of(ctx).kernels->get(spec).resources.spilled()) {
          ++pt.spilled;
          continue;
        }
        auto run = [&](int c) { runtime::gemm_with_config(ctx, ops.args(m, c), cfg, nullptr); };
        ops.poison_out(ctx, m);
        run(0);
        const double err = ops.error(ctx, m, rows, ref);
        if (!(err <= 1e-2)) {  // NaN and unwritten outputs fail too
          ++pt.rejected;
          continue;
        }
        const double us = median_us(ctx, ops.copies, args.reps, run);
        ++pt.timed;
        if (cfg == heuristic) pt.heuristic_us = us, pt.heuristic_config = cfg.str();
        if (incumbent && cfg == current.config) pt.incumbent_us = us, pt.incumbent_config = cfg.str();
        if (pt.best_config.empty() || us < pt.best_us)
          pt.best_us = us, pt.best_config = cfg.str(), pt.best_err = err;
      }
      if (pt.best_config.empty())
        throw Error("failed to tune " + s.name + " at M=" + std::to_string(m) +
                    ": no candidate passed the accuracy check (" + std::to_string(pt.spilled) +
                    " spilled)");
      const double flops = 2.0 * m * s.n * s.k;
      const double bytes = double(s.n) * s.k + double(m) * s.k + 2.0 * m * s.n;
      char row[256];
      std::snprintf(row, sizeof row, "%s,%d,%lld,%lld,%lld,%s,bf16,%d,%s,%.2f,%.2f,%.3f",
                    target.arch.c_str(), sms, (long long)m, (long long)s.n, (long long)s.k,
                    std::string(to_string(target.fp8_format())).c_str(), int(args.bias),
                    pt.best_config.c_str(), pt.best_us, flops / pt.best_us * 1e-6,
                    bytes / pt.best_us * 1e-6);
      pt.csv_row = row;
      points.push_back(pt);
      if (on_point) on_point(pt);
    }
  }
  return points;
}

}  // namespace fp8jit::bench
