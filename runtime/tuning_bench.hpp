// TuningBench: measures tile configs of one weight on the device, the way `fp8jit bench` does,
// for the tuner and the autotuner. It holds scratch operands — the weight plus enough copies of
// its packed bytes to rotate through more than 4x the L2 cache, random tokens (never zeros), token
// scales, a bias — builds the candidates' kernels on several threads at once, checks each
// candidate's output (poisoned first) against a float64 reference on sampled elements, and times
// the ones that pass: the per-call median of event-timed regions of back-to-back calls, each
// region one replay of a CUDA graph of those calls where the driver has graphs (so that a small
// weight's 2 us kernels are not timed at the host's ~6 us launch rate), else the launches.
#pragma once

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "compiler/kernel_spec.hpp"
#include "fp8jit/gemm.hpp"

namespace fp8jit::runtime {

struct TrialBudget {
  int reps = 5;           // timed regions; the median is kept
  int min_calls = 4;      // calls per timed region (whole rounds over the weight copies)
  unsigned jobs = 0;      // kernels built at once (0: one per hardware thread)
  int check_rows = 3;     // token rows checked (the first and the last among them)
  int check_columns = 16; // output columns checked per row (the last among them)
  // A candidate whose first timed region is this much slower than the fastest so far is not
  // timed further: that region's time stands (0: every candidate gets every region).
  double abandon_ratio = 0;
};

// One candidate's outcome.
struct Trial {
  compiler::GemmConfig config;
  double us = std::numeric_limits<double>::quiet_NaN();   // per-call median; NaN when not timed
  double err = std::numeric_limits<double>::quiet_NaN();  // ||out - ref|| / ||ref|| on the samples
  std::string failure;  // why it was not timed: "spills 48", "compile: ...", "error 0.3"
  bool ok() const { return failure.empty(); }
};

// The relative error a candidate's output may have against the float64 reference.
constexpr double kTrialTolerance = 1e-2;

class TuningBench {
 public:
  // Operands for `weight` (which must outlive the bench) and up to `max_m` tokens. The weight's
  // copies, the tokens and the output are device memory taken for the bench's lifetime:
  // max(4 x L2 - N K, 0) + max_m (K + 2 N) bytes, about.
  TuningBench(Context& ctx, const PackedWeight& weight, std::int64_t max_m, OutDType out,
              bool bias, std::uint64_t seed);
  TuningBench(const TuningBench&) = delete;
  TuningBench& operator=(const TuningBench&) = delete;

  // Every config for m tokens (1 <= m <= max_m), in the given order: kernels built (or read from
  // the cache) on budget.jobs threads, a config whose kernel spills or fails to build is a
  // failure, the others are checked and then timed.
  std::vector<Trial> run(std::int64_t m, const std::vector<compiler::GemmConfig>& configs,
                         const TrialBudget& budget);

  int copies() const { return static_cast<int>(weights_.size()); }

 private:
  GemmArgs args(std::int64_t m, int copy) const;
  // The error of the output now in out_ for m tokens (+inf when a sampled element is unwritten).
  double check(std::int64_t m, const TrialBudget& budget);
  // W[n, :] decoded, read back from the packed weight (cached per row).
  const std::vector<double>& weight_row(std::int64_t n);

  Context& ctx_;
  const PackedWeight& weight_;
  std::int64_t max_m_;
  OutDType out_;
  bool bias_;
  std::mt19937_64 rng_;
  int pattern_rows_ = 0;            // token row r holds pattern row r % pattern_rows_
  std::vector<std::uint8_t> a_pattern_;  // [pattern_rows_, K] fp8
  std::vector<float> sa_host_, sw_host_;
  std::vector<std::uint16_t> bias_host_;
  DeviceBuffer a_, sa_, bias_buf_, out_buf_;
  std::vector<DeviceBuffer> copy_storage_;  // packed bytes of copies 1..
  std::vector<PackedWeight> weights_;       // copy 0 is the weight itself
  std::vector<std::pair<std::int64_t, std::vector<double>>> rows_;  // weight_row's cache
};

}  // namespace fp8jit::runtime
