// The tuner: for each (weight, M) it times the candidates select::tuning_candidates names on the
// GPU (runtime::TuningBench: kernels built in parallel, each output checked against a float64
// reference, spilling kernels skipped) and returns the fastest as a tuned-table row
// (docs/tuned-table.md), with every candidate's outcome.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fp8jit/gemm.hpp"
#include "runtime/tuning_bench.hpp"
#include "tools/models.hpp"

namespace fp8jit::bench {

struct TuneArgs {
  std::vector<tools::WeightShape> shapes;
  std::vector<std::int64_t> ms = {1, 2, 4, 8, 16, 32, 64};
  int candidates = 16;  // configs timed per point
  // A candidate 30% slower than the fastest after one region is not timed further.
  runtime::TrialBudget budget{.reps = 10, .min_calls = 8, .abandon_ratio = 1.3};
  bool bias = true;
};

struct TunedPoint {
  std::string shape;
  std::int64_t m = 0, n = 0, k = 0;
  std::vector<runtime::Trial> trials;  // every candidate, in the order they were chosen
  int best = -1;                       // index of the fastest that passed; -1 when none did
  int heuristic = 0;                   // index of the cost model's pick (the first candidate)
  int incumbent = -1;                  // index of the loaded tables' exact row for the point
  double seconds = 0;                  // wall time of the point, builds included
  std::string csv_row;                 // the tuned-table row of the winner
  int failed() const;
};

// Throws Error when no candidate of a point passes (the points before it are reported).
std::vector<TunedPoint> tune(Context& ctx, const TuneArgs& args,
                             const std::function<void(const TunedPoint&)>& on_point);

// The header line of the tables tune() rows belong to.
const char* tuned_table_header();

}  // namespace fp8jit::bench
