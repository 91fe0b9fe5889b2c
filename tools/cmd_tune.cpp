#include "tools/cmd_tune.hpp"

#include <cstdio>
#include <fstream>

#include "tools/bench/tune.hpp"
#include "fp8jit/fp8jit.hpp"
#include "tools/models.hpp"

namespace fp8jit::tools {

int cmd_tune(const Options& options, const TuneArgs& args) {
  // Open the output first: a bad path fails before minutes of tuning.
  bench::TuneArgs t;  // bad input is reported before the table is opened or the GPU used
  t.shapes = args.shape_file.empty() ? model_shapes(args.model) : read_shape_file(args.shape_file);
  check_token_counts(args.ms, "--m");
  t.ms = args.ms;
  std::ofstream out(args.out);
  if (!out) throw InvalidArgument("failed to open tuned table '" + args.out + "' for writing");
  Context ctx(options);
  t.candidates = args.candidates;
  t.reps = args.reps;
  t.bias = args.bias;
  out << "# fp8jit tune on " << ctx.device_name() << " (" << ctx.target() << ", "
      << ctx.multiprocessors() << " SMs): fastest of " << args.candidates
      << " candidates per point, each checked against a float64 reference\n"
      << bench::tuned_table_header() << "\n";
  std::printf("%-20s %6s %-28s %9s %-28s %9s %7s\n", "shape", "M", "best", "us", "heuristic", "us",
              "gain");
  const auto points = bench::tune(ctx, t, [&](const bench::TunedPoint& p) {
    out << p.csv_row << "\n" << std::flush;
    char was[96] = "";
    if (!p.incumbent_config.empty())
      std::snprintf(was, sizeof was, ", table had %s %.2f us", p.incumbent_config.c_str(), p.incumbent_us);
    std::printf("%-20s %6lld %-28s %9.2f %-28s %9.2f %7.3f  (%d timed, %d rejected, %d spilled%s)\n",
                p.shape.c_str(), (long long)p.m, p.best_config.c_str(), p.best_us,
                p.heuristic_config.c_str(), p.heuristic_us, p.heuristic_us / p.best_us, p.timed,
                p.rejected, p.spilled, was);
    std::fflush(stdout);
  });
  std::printf("%zu points tuned into %s\n", points.size(), args.out.c_str());
  return 0;
}

}  // namespace fp8jit::tools
