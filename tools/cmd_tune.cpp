#include "tools/cmd_tune.hpp"

#include <cstdio>
#include <fstream>

#include "tools/bench/tune.hpp"
#include "fp8jit/fp8jit.hpp"
#include "select/heuristic.hpp"
#include "tools/models.hpp"

namespace fp8jit::tools {

namespace {

std::ofstream open_output(const std::string& path, const char* what) {
  std::ofstream out(path);
  if (!out) throw InvalidArgument(std::string("failed to open ") + what + " '" + path + "' for writing");
  return out;
}

}  // namespace

int cmd_tune(const Options& options, const TuneArgs& args) {
  bench::TuneArgs t;  // bad input is reported before the files are opened or the GPU used
  t.shapes = args.work.shapes();
  t.ms = args.work.ms;
  // Open the outputs first: a bad path fails before minutes of tuning.
  std::ofstream out = open_output(args.out, "tuned table");
  std::ofstream dump;
  if (!args.dump.empty()) dump = open_output(args.dump, "dump file");
  Context ctx(options);
  t.candidates = args.candidates;
  t.budget.reps = args.reps;
  t.budget.min_calls = args.min_calls;
  t.budget.jobs = args.jobs;
  t.bias = args.bias;
  out << "# fp8jit tune on " << ctx.device_name() << " (" << ctx.target() << ", "
      << ctx.multiprocessors() << " SMs): fastest of " << args.candidates
      << " candidates per point, each checked against a float64 reference\n"
      << bench::tuned_table_header() << "\n";
  if (dump)
    dump << "shape,M,N,K,candidate,config,us,err,model_us,failure\n";
  std::printf("%-20s %6s %-28s %9s %-28s %9s %7s\n", "shape", "M", "best", "us", "heuristic", "us",
              "gain");
  const auto target = compiler::Target::parse(ctx.target());
  const auto points = bench::tune(ctx, t, [&](const bench::TunedPoint& p) {
    out << p.csv_row << "\n" << std::flush;
    for (std::size_t i = 0; i < p.trials.size(); ++i) {
      const runtime::Trial& tr = p.trials[i];
      if (!dump) break;
      const auto e = select::estimate_gemm(target, ctx.multiprocessors(), p.m, p.n, p.k, tr.config);
      std::string why = tr.failure;
      for (char& c : why)
        if (c == ',' || c == '\n') c = ';';
      char line[512];
      std::snprintf(line, sizeof line, "%s,%lld,%lld,%lld,%zu,%s,%.3f,%.3e,%.3f,%s\n",
                    p.shape.c_str(), (long long)p.m, (long long)p.n, (long long)p.k, i,
                    tr.config.str().c_str(), tr.us, tr.err, e.estimated_us, why.c_str());
      dump << line;
    }
    if (dump) dump.flush();
    const runtime::Trial& best = p.trials[p.best];
    const runtime::Trial& heur = p.trials[p.heuristic];
    char was[96] = "";
    if (p.incumbent >= 0)
      std::snprintf(was, sizeof was, ", table had %s %.2f us",
                    p.trials[p.incumbent].config.str().c_str(), p.trials[p.incumbent].us);
    std::printf("%-20s %6lld %-28s %9.2f %-28s %9.2f %7.3f  (%zu candidates, %d not timed, "
                "%.2f s%s)\n",
                p.shape.c_str(), (long long)p.m, best.config.str().c_str(), best.us,
                heur.config.str().c_str(), heur.us, heur.us / best.us, p.trials.size(),
                p.failed(), p.seconds, was);
    std::fflush(stdout);
  });
  std::printf("%zu points tuned into %s\n", points.size(), args.out.c_str());
  return 0;
}

}  // namespace fp8jit::tools
