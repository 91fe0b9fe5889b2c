// `fp8jit model`: the cost model against measurements. It reads the candidate dumps of `fp8jit
// tune --dump` (every config timed at each point), says how well the model's estimates and its
// choices agree with them, and with --fit fits the model's figures to them (Nelder-Mead on the
// log of predicted over measured time) and prints them in ArchSpec's form.
#include "tools/cmd_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "compiler/arch_spec.hpp"
#include "fp8jit/error.hpp"
#include "select/heuristic.hpp"
#include "util/file.hpp"

namespace fp8jit::tools {

namespace {

struct Timed {
  compiler::GemmConfig config;
  double us = 0;
};
struct Point {
  std::string shape;
  std::int64_t m = 0, n = 0, k = 0;
  std::vector<Timed> trials;
};

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> f;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    f.push_back(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return f;
    start = comma + 1;
  }
}

// The points of `files` (dumps of fp8jit tune), with the candidates that were timed.
std::vector<Point> read_dumps(const std::vector<std::string>& files, const compiler::Target& target) {
  std::map<std::tuple<std::string, std::int64_t>, Point> points;
  for (const auto& file : files) {
    const std::string text = util::read_regular_file(file, std::size_t{256} << 20, "tune dump");
    std::size_t start = 0, line_no = 0;
    std::map<std::string, std::size_t> col;
    while (start < text.size()) {
      std::size_t nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      const std::string line = text.substr(start, nl - start);
      start = nl + 1;
      ++line_no;
      if (line.empty()) continue;
      const auto f = split_csv(line);
      if (col.empty()) {
        for (std::size_t i = 0; i < f.size(); ++i) col[f[i]] = i;
        for (const char* need : {"shape", "M", "N", "K", "config", "us", "failure"})
          if (!col.count(need))
            throw InvalidArgument("failed to read tune dump " + file + ": no column '" + need +
                                  "' (a file written by fp8jit tune --dump)");
        continue;
      }
      if (f.size() != col.size() || !f[col["failure"]].empty()) continue;  // not timed
      const auto where = [&] { return file + ":" + std::to_string(line_no); };
      try {
        Timed t;
        t.config = compiler::GemmConfig::parse(f[col["config"]], target);
        t.us = std::stod(f[col["us"]]);
        if (!(t.us > 0)) continue;
        Point& p = points[{f[col["shape"]], std::stoll(f[col["M"]])}];
        p.shape = f[col["shape"]];
        p.m = std::stoll(f[col["M"]]);
        p.n = std::stoll(f[col["N"]]);
        p.k = std::stoll(f[col["K"]]);
        p.trials.push_back(t);
      } catch (const std::exception& e) {
        throw InvalidArgument("failed to read tune dump " + where() + ": " + e.what());
      }
    }
  }
  std::vector<Point> out;
  for (auto& [key, p] : points)
    if (!p.trials.empty()) out.push_back(std::move(p));
  return out;
}

// How the model does on the points: its pick among the timed candidates against the fastest.
struct Score {
  double regret_geomean = 0;  // fastest / the model's pick, geometric mean (1: always right)
  double regret_worst = 0;
  int below_080 = 0;          // points where the pick runs below 0.8x of the fastest
  double log_rms = 0;         // rms of log(estimate / measured) over every timed candidate
  double loss = 0;            // what the fit minimises
};

Score score(const std::vector<Point>& points, const compiler::Target& target,
            const compiler::MachineModel& machine) {
  Score s;
  double sum_log_regret = 0, sum_sq = 0, loss = 0;
  std::size_t trials = 0;
  s.regret_worst = 1;
  for (const Point& p : points) {
    double best = INFINITY, pick_us = 0, pick_est = INFINITY, point_loss = 0;
    for (const Timed& t : p.trials) {
      const double est = select::estimate_gemm(target, machine, p.m, p.n, p.k, t.config).estimated_us;
      const double e = std::log(est / t.us);
      sum_sq += e * e;
      point_loss += 2 * (std::sqrt(1 + (e / 0.2) * (e / 0.2)) - 1);  // soft L1, scale 0.2
      ++trials;
      best = std::min(best, t.us);
      if (est < pick_est) pick_est = est, pick_us = t.us;
    }
    loss += point_loss / p.trials.size();  // every point weighs the same
    const double regret = best / pick_us;
    sum_log_regret += std::log(regret);
    s.regret_worst = std::min(s.regret_worst, regret);
    s.below_080 += regret < 0.8;
  }
  s.regret_geomean = std::exp(sum_log_regret / points.size());
  s.log_rms = std::sqrt(sum_sq / std::max<std::size_t>(trials, 1));
  s.loss = loss / points.size();
  return s;
}

// The figures a fit moves, each by a name and its place in the machine.
struct Knob {
  const char* name;
  double* value;
};
std::vector<Knob> knobs(compiler::MachineModel& m) {
  auto& wg = m.family[static_cast<int>(compiler::Family::wgmma_sm90)];
  auto& rt = m.family[static_cast<int>(compiler::Family::mma_sm89)];
  return {{"launch_s", &m.launch_s},
          {"latency_s", &m.latency_s},
          {"sm_bytes_per_s", &m.sm_bytes_per_s},
          {"dram_bytes_per_s", &m.dram_bytes_per_s},
          {"wgmma.matrix_flops_per_clock", &wg.matrix_flops_per_clock},
          {"wgmma.cycles_per_mma", &wg.cycles_per_mma},
          {"wgmma.cycles_per_step", &wg.cycles_per_step},
          {"wgmma.epilogue_s", &wg.epilogue_s},
          {"wgmma.store_bytes_per_s", &wg.store_bytes_per_s},
          {"wgmma.split_s", &wg.split_s},
          {"wgmma.split_bytes_per_s", &wg.split_bytes_per_s},
          {"mma_sync.matrix_flops_per_clock", &rt.matrix_flops_per_clock},
          {"mma_sync.cycles_per_mma", &rt.cycles_per_mma},
          {"mma_sync.l1_bytes_per_clock", &rt.l1_bytes_per_clock},
          {"mma_sync.epilogue_s", &rt.epilogue_s},
          {"mma_sync.split_s", &rt.split_s}};
}

// Nelder-Mead over the logs of the knobs: no gradients (the model has max() everywhere). Restarted
// from the best point with a fresh simplex, which gets it out of the flats a max() makes.
void nelder_mead(const std::vector<Point>& points, const compiler::Target& target,
                 compiler::MachineModel& machine, int iterations) {
  std::vector<Knob> ks = knobs(machine);
  const std::size_t d = ks.size();
  auto f = [&](const std::vector<double>& x) {
    for (std::size_t i = 0; i < d; ++i) *ks[i].value = std::exp(x[i]);
    return score(points, target, machine).loss;
  };
  std::vector<std::vector<double>> simplex(d + 1, std::vector<double>(d));
  for (std::size_t i = 0; i < d; ++i) simplex[0][i] = std::log(std::max(*ks[i].value, 1e-30));
  for (std::size_t j = 1; j <= d; ++j) {
    simplex[j] = simplex[0];
    simplex[j][j - 1] += 0.5;
  }
  std::vector<double> fx(d + 1);
  for (std::size_t j = 0; j <= d; ++j) fx[j] = f(simplex[j]);
  for (int it = 0; it < iterations; ++it) {
    std::vector<std::size_t> order(d + 1);
    for (std::size_t j = 0; j <= d; ++j) order[j] = j;
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return fx[a] < fx[b]; });
    const std::size_t best = order[0], worst = order[d], second = order[d - 1];
    std::vector<double> centroid(d, 0.0);
    for (std::size_t j = 0; j <= d; ++j)
      if (j != worst)
        for (std::size_t i = 0; i < d; ++i) centroid[i] += simplex[j][i] / d;
    auto along = [&](double t) {
      std::vector<double> x(d);
      for (std::size_t i = 0; i < d; ++i) x[i] = centroid[i] + t * (simplex[worst][i] - centroid[i]);
      return x;
    };
    const auto xr = along(-1);
    const double fr = f(xr);
    if (fr < fx[best]) {
      const auto xe = along(-2);
      const double fe = f(xe);
      if (fe < fr) simplex[worst] = xe, fx[worst] = fe;
      else simplex[worst] = xr, fx[worst] = fr;
    } else if (fr < fx[second]) {
      simplex[worst] = xr, fx[worst] = fr;
    } else {
      const auto xc = along(0.5);
      const double fc = f(xc);
      if (fc < fx[worst]) {
        simplex[worst] = xc, fx[worst] = fc;
      } else {
        for (std::size_t j = 0; j <= d; ++j)
          if (j != best) {
            for (std::size_t i = 0; i < d; ++i)
              simplex[j][i] = simplex[best][i] + 0.5 * (simplex[j][i] - simplex[best][i]);
            fx[j] = f(simplex[j]);
          }
      }
    }
  }
  const std::size_t best = std::min_element(fx.begin(), fx.end()) - fx.begin();
  f(simplex[best]);  // leaves the machine at the best point
}

void fit(const std::vector<Point>& points, const compiler::Target& target,
         compiler::MachineModel& machine, int iterations) {
  constexpr int kRestarts = 6;
  for (int r = 0; r < kRestarts; ++r) nelder_mead(points, target, machine, iterations / kRestarts);
}

void print_score(const char* label, const Score& s, std::size_t points) {
  std::printf("%-8s %zu points: the model's pick runs at %.3f of the fastest timed candidate "
              "(geometric mean), %.3f at worst, below 0.8 on %d; estimates off by %.0f%% "
              "(rms of the log)\n",
              label, points, s.regret_geomean, s.regret_worst, s.below_080,
              100 * (std::exp(s.log_rms) - 1));
}

}  // namespace

int cmd_model(const ModelArgs& args) {
  const compiler::Target target = compiler::Target::parse(args.target);
  compiler::MachineModel machine = compiler::arch_spec(target).machine(args.cu);
  if (args.dram_tbps > 0) machine.dram_bytes_per_s = args.dram_tbps * 1e12;
  const std::vector<Point> train = read_dumps(args.dumps, target);
  if (train.empty()) throw InvalidArgument("failed to check the model: no timed candidate in the dumps");
  const std::vector<Point> check = read_dumps(args.check_dumps, target);
  print_score("fit on", score(train, target, machine), train.size());
  if (!check.empty()) print_score("check", score(check, target, machine), check.size());
  if (args.fit) {
    fit(train, target, machine, args.iterations);
    std::printf("\nfitted:\n");
    print_score("fit on", score(train, target, machine), train.size());
    if (!check.empty()) print_score("check", score(check, target, machine), check.size());
    std::printf("\n");
    for (const Knob& k : knobs(machine)) std::printf("  %-34s %.4g\n", k.name, *k.value);
  }
  if (args.worst > 0) {
    const std::vector<Point>& shown = check.empty() ? train : check;
    std::printf("\nworst choices (%s):\n", check.empty() ? "fit set" : "check set");
    std::vector<std::pair<double, std::string>> rows;
    for (const Point& p : shown) {
      double best = INFINITY, pick_us = 0, pick_est = INFINITY;
      std::string pick;
      for (const Timed& t : p.trials) {
        const double est =
            select::estimate_gemm(target, machine, p.m, p.n, p.k, t.config).estimated_us;
        best = std::min(best, t.us);
        if (est < pick_est) pick_est = est, pick_us = t.us, pick = t.config.str();
      }
      char line[256];
      std::snprintf(line, sizeof line, "  %-22s M=%-6lld picks %-30s %9.2f us (est %8.2f), fastest %9.2f",
                    p.shape.c_str(), static_cast<long long>(p.m), pick.c_str(), pick_us, pick_est, best);
      rows.emplace_back(best / pick_us, line);
    }
    std::sort(rows.begin(), rows.end());
    for (int i = 0; i < args.worst && i < static_cast<int>(rows.size()); ++i)
      std::printf("%s  %.2f\n", rows[i].second.c_str(), rows[i].first);
  }
  return 0;
}

}  // namespace fp8jit::tools
