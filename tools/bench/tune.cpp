#include "tools/bench/tune.hpp"

#include <chrono>
#include <cstdio>
#include <random>

#include "compiler/kernel_spec.hpp"
#include "fp8jit/error.hpp"
#include "runtime/context_state.hpp"
#include "select/autotune.hpp"
#include "tools/gemm_check.hpp"

namespace fp8jit::bench {

const char* tuned_table_header() { return select::tuned_row_header(); }

int TunedPoint::failed() const {
  int n = 0;
  for (const auto& t : trials) n += !t.ok();
  return n;
}

std::vector<TunedPoint> tune(Context& ctx, const TuneArgs& args,
                             const std::function<void(const TunedPoint&)>& on_point) {
  ContextState& state = runtime::state_of(ctx);
  const compiler::Target& target = state.target;
  std::mt19937_64 rng(std::random_device{}());
  std::vector<TunedPoint> points;
  std::int64_t max_m = 1;
  for (const auto m : args.ms) max_m = std::max(max_m, m);
  for (const auto& s : args.shapes) {
    // A random weight (never zeros), packed on the device; the bench makes its copies.
    const tools::GemmProblem p =
        tools::make_problem(1, s.n, s.k, target.fp8_format(), OutDType::bf16, false, rng);
    DeviceBuffer raw = ctx.alloc(p.w.size()), sw = ctx.alloc(p.sw.size() * 4);
    ctx.copy_to_device(raw.get(), p.w.data(), p.w.size());
    ctx.copy_to_device(sw.get(), p.sw.data(), p.sw.size() * 4);
    const PackedWeight weight =
        ctx.pack_weight(raw.get(), static_cast<const float*>(sw.get()), s.n, s.k);
    runtime::TuningBench bench(ctx, weight, max_m, OutDType::bf16, args.bias, rng());
    for (const std::int64_t m : args.ms) {
      const auto t0 = std::chrono::steady_clock::now();
      TunedPoint pt{s.name, m, s.n, s.k};
      const auto configs = select::tuning_candidates(state.tuned, target, state.device, m, s.n,
                                                     s.k, OutDType::bf16, args.bias,
                                                     args.candidates);
      const auto current =
          state.tuned.select(target, state.device, m, s.n, s.k, OutDType::bf16, args.bias);
      pt.trials = bench.run(m, configs, args.budget);
      for (int i = 0; i < static_cast<int>(pt.trials.size()); ++i) {
        const runtime::Trial& t = pt.trials[i];
        if (current.source == select::ConfigChoice::Source::exact_row && t.config == current.config)
          pt.incumbent = i;
        if (t.ok() && (pt.best < 0 || t.us < pt.trials[pt.best].us)) pt.best = i;
      }
      pt.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (pt.best < 0)
        throw Error("failed to tune " + s.name + " at M=" + std::to_string(m) + ": none of " +
                    std::to_string(pt.trials.size()) + " candidates passed (first: " +
                    pt.trials.front().failure + ")");
      const runtime::Trial& best = pt.trials[pt.best];
      const select::TunedPoint point{target, state.device, s.n, s.k, m, OutDType::bf16, args.bias};
      const std::string row = select::tuned_row_line(point, best.config, best.us);
      pt.csv_row = row;
      points.push_back(pt);
      if (on_point) on_point(points.back());
    }
  }
  return points;
}

}  // namespace fp8jit::bench
