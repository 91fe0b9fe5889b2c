// The tuner: for each (weight, M) it times the cost model's best-ranked configs on the GPU (plus
// the heuristic's own pick) whose kernels do not spill, keeps the fastest whose result passes the
// float64 check, and returns tuned-table rows (docs/tuned-table.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fp8jit/gemm.hpp"
#include "tools/models.hpp"

namespace fp8jit::bench {

struct TuneArgs {
  std::vector<tools::WeightShape> shapes;
  std::vector<std::int64_t> ms = {1, 2, 4, 8, 16, 32, 64};
  int candidates = 16;   // configs timed per point, best-ranked by the cost model first
  int reps = 10;
  bool bias = true;
};

struct TunedPoint {
  std::string shape;
  std::int64_t m = 0, n = 0, k = 0;
  std::string best_config, heuristic_config;
  double best_us = 0, heuristic_us = 0, best_err = 0;
  // The exact row the loaded tuned tables already have for the point (timed as a candidate, so
  // a re-tune never writes a slower row); empty where there is none.
  std::string incumbent_config;
  double incumbent_us = 0;
  int timed = 0, rejected = 0;  // candidates timed; candidates that failed the check
  int spilled = 0;              // candidates not timed because their kernel spills
  std::string csv_row;          // the tuned-table row of the winner
};

std::vector<TunedPoint> tune(Context& ctx, const TuneArgs& args,
                             const std::function<void(const TunedPoint&)>& on_point);

// The header line of the tables tune() rows belong to.
const char* tuned_table_header();

}  // namespace fp8jit::bench
