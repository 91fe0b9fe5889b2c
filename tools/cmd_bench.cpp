#include "tools/cmd_bench.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>

#include "bench/suite.hpp"
#include "fp8jit/fp8jit.hpp"
#include "tools/models.hpp"

namespace fp8jit::tools {

int cmd_bench(const Options& options, const BenchArgs& args) {
  Context ctx(options);
  bench::SuiteArgs suite;
  suite.shapes = args.shape_file.empty() ? model_shapes(args.model) : read_shape_file(args.shape_file);
  suite.ms = args.ms;
  suite.reps = args.reps;
  suite.bias = args.bias;
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::printf("# fp8jit bench, %s, %s (%s, %d SMs, L2 %zu MiB); anchor: cuBLASLt outer-vector scales\n",
              date, ctx.device_name().c_str(), ctx.target().c_str(), ctx.multiprocessors(),
              ctx.l2_bytes() >> 20);
  std::printf("%-20s %6s %6s %6s %7s %10s %10s %7s %8s %7s %9s %9s\n", "shape", "M", "N", "K", "copies",
              "fp8jit_us", "cublas_us", "ratio", "TFLOP/s", "TB/s", "err", "cublas_err");
  std::ofstream csv;
  if (!args.csv.empty()) {
    csv.open(args.csv);
    csv << "shape,M,N,K,copies,fp8jit_us,cublas_us,ratio,tflops,tbps,fp8jit_err,cublas_err\n";
  }
  int bad = 0;
  std::map<std::int64_t, std::pair<double, int>> log_ratio;  // per M: sum of log(ratio), count
  const auto rows = bench::run_suite(ctx, suite, [&](const bench::SuiteRow& r) {
    const bool ok = r.fp8jit_err <= 1e-2;
    bad += !ok;
    std::printf("%-20s %6lld %6lld %6lld %7d %10.2f %10.2f %7.3f %8.1f %7.3f %9.2e %9.2e%s\n",
                r.shape.c_str(), (long long)r.m, (long long)r.n, (long long)r.k, r.copies,
                r.fp8jit_us, r.cublas_us, r.speedup(), r.tflops(), r.tbps(), r.fp8jit_err,
                r.cublas_err, ok ? "" : "  INACCURATE");
    std::fflush(stdout);
    if (csv) {
      char line[256];
      std::snprintf(line, sizeof line, "%s,%lld,%lld,%lld,%d,%.3f,%.3f,%.4f,%.2f,%.4f,%.3e,%.3e\n",
                    r.shape.c_str(), (long long)r.m, (long long)r.n, (long long)r.k, r.copies,
                    r.fp8jit_us, r.cublas_us, r.speedup(), r.tflops(), r.tbps(), r.fp8jit_err,
                    r.cublas_err);
      csv << line;
    }
    auto& [sum, n] = log_ratio[r.m];
    sum += std::log(r.speedup());
    ++n;
  });
  std::printf("\ngeometric mean of cuBLASLt time / fp8jit time, per M:\n");
  for (const auto& [m, sn] : log_ratio)
    std::printf("  M=%-6lld %.3f  (%d shapes)\n", (long long)m, std::exp(sn.first / sn.second), sn.second);
  std::printf("%zu points, %d inaccurate (> 1e-2)\n", rows.size(), bad);
  return bad ? 1 : 0;
}

}  // namespace fp8jit::tools
