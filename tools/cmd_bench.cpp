#include "tools/cmd_bench.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <map>

#include "tools/bench/suite.hpp"
#include "fp8jit/fp8jit.hpp"
#include "tools/models.hpp"

namespace fp8jit::tools {

namespace {

// The decode target: at M in {1, 16}, every weight of 64 MiB or more read at >= 85% of the copy
// bandwidth measured in the same run.
constexpr double kBigWeightBytes = double(std::size_t{64} << 20);
constexpr double kTargetPct = 85.0;
bool target_m(std::int64_t m) { return m == 1 || m == 16; }

// Per M: the geometric mean of the ratio, and the weakest big weight.
struct PerM {
  double log_ratio = 0;
  double log_model = 0;  // fp8jit's time over the cost model's own config's
  int shapes = 0;
  double min_pct = std::numeric_limits<double>::infinity();
  std::string min_shape;
  int big = 0;
};

}  // namespace

int cmd_bench(const Options& options, const BenchArgs& args) {
  bench::SuiteArgs suite;  // bad input is reported before the GPU is opened
  suite.shapes = args.work.shapes();
  suite.ms = args.work.ms;
  Context ctx(options);
  suite.reps = args.reps;
  suite.min_calls = args.min_calls;
  suite.bias = args.bias;
  suite.heuristic = args.heuristic;
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::printf("# fp8jit bench, %s, %s (%s, %d SMs, L2 %zu MiB); anchor: cuBLASLt outer-vector scales\n",
              date, ctx.device_name().c_str(), ctx.target().c_str(), ctx.multiprocessors(),
              ctx.l2_bytes() >> 20);
  try {
    const bench::CopyBandwidth bw = bench::measure_copy_bandwidth(ctx);
    suite.copy_tbps = bw.tbps;
    std::printf("# copy bandwidth %.3f TB/s (device-to-device copy of %zu MiB in %.1f us, bytes read + "
                "written, median of 20)\n",
                bw.tbps, bw.bytes >> 20, bw.us);
  } catch (const DriverError& e) {
    std::printf("# copy bandwidth not measured: %s\n", e.what());
  }
  std::fflush(stdout);
  std::printf("%-20s %6s %6s %6s %7s %10s %10s %7s %8s %7s %7s %9s %9s\n", "shape", "M", "N", "K",
              "copies", "fp8jit_us", "cublas_us", "ratio", "TFLOP/s", "TB/s", "W%copy", "err",
              "cublas_err");
  std::ofstream csv;
  if (!args.csv.empty()) {
    csv.open(args.csv);
    csv << "shape,M,N,K,copies,fp8jit_us,cublas_us,ratio,tflops,tbps,fp8jit_err,cublas_err,"
           "copy_tbps,weight_tbps,weight_pct_copy,cublas_weight_pct_copy,config,source,"
           "heuristic_config,heuristic_us,heuristic_err\n";
  }
  int bad = 0;
  std::map<std::int64_t, PerM> per_m;
  const auto rows = bench::run_suite(ctx, suite, [&](const bench::SuiteRow& r) {
    const bool ok = r.fp8jit_err <= 1e-2 && (!args.heuristic || r.heuristic_err <= 1e-2);
    bad += !ok;
    const double pct = r.weight_pct_of_copy(r.fp8jit_us);
    char heuristic[96] = "";
    if (args.heuristic)
      std::snprintf(heuristic, sizeof heuristic, "  model %.2f us (x%.3f)", r.heuristic_us,
                    r.fp8jit_us / r.heuristic_us);
    std::printf("%-20s %6lld %6lld %6lld %7d %10.2f %10.2f %7.3f %8.1f %7.3f %6.1f%% %9.2e %9.2e  %s%s%s\n",
                r.shape.c_str(), (long long)r.m, (long long)r.n, (long long)r.k, r.copies,
                r.fp8jit_us, r.cublas_us, r.speedup(), r.tflops(), r.tbps(), pct, r.fp8jit_err,
                r.cublas_err, r.source.c_str(), heuristic, ok ? "" : "  INACCURATE");
    std::fflush(stdout);
    if (csv) {
      char line[768];
      std::snprintf(line, sizeof line,
                    "%s,%lld,%lld,%lld,%d,%.3f,%.3f,%.4f,%.2f,%.4f,%.3e,%.3e,%.4f,%.4f,%.2f,%.2f,"
                    "%s,%s,%s,%.3f,%.3e\n",
                    r.shape.c_str(), (long long)r.m, (long long)r.n, (long long)r.k, r.copies,
                    r.fp8jit_us, r.cublas_us, r.speedup(), r.tflops(), r.tbps(), r.fp8jit_err,
                    r.cublas_err, r.copy_tbps, r.weight_tbps(r.fp8jit_us), pct,
                    r.weight_pct_of_copy(r.cublas_us), r.config.c_str(), r.source.c_str(),
                    r.heuristic_config.c_str(), r.heuristic_us, r.heuristic_err);
      csv << line;
    }
    PerM& p = per_m[r.m];
    p.log_ratio += std::log(r.speedup());
    if (args.heuristic) p.log_model += std::log(r.fp8jit_us / r.heuristic_us);
    ++p.shapes;
    if (r.weight_bytes() >= kBigWeightBytes) {
      ++p.big;
      if (pct < p.min_pct) p.min_pct = pct, p.min_shape = r.shape;
    }
  });
  std::printf("\nper M: geometric mean of cuBLASLt time / fp8jit time; slowest weight of >= 64 MiB "
              "as %% of copy bandwidth (target at M=1,16: >= %.0f%%)\n", kTargetPct);
  for (const auto& [m, p] : per_m) {
    std::printf("  M=%-6lld geomean %.3f (%d shapes)", (long long)m, std::exp(p.log_ratio / p.shapes),
                p.shapes);
    if (args.heuristic)
      std::printf("; the cost model's own configs at %.3f of its time", std::exp(p.log_model / p.shapes));
    if (p.big == 0)
      std::printf("; no weight >= 64 MiB");
    else if (!(suite.copy_tbps > 0))
      std::printf("; %% of copy unknown (copy bandwidth not measured)");
    else
      std::printf("; min %.1f%% of copy over %d weights >= 64 MiB (%s)%s", p.min_pct, p.big,
                  p.min_shape.c_str(),
                  target_m(m) ? (p.min_pct >= kTargetPct ? "  target met" : "  TARGET MISSED") : "");
    std::printf("\n");
  }
  std::printf("%zu points, %d inaccurate (> 1e-2)\n", rows.size(), bad);
  return bad ? 1 : 0;
}

}  // namespace fp8jit::tools
