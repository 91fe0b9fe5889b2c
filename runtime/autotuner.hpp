// The config of a GEMM, as a Context chooses it: the tuned tables' row of this device; else this
// device's row that the autotuner measured earlier (by any process: a record in the cache);
// else, with Options::autotune and no stream capture in progress, measured now — the cost
// model's best Options::autotune_candidates configs built in parallel, checked against a float64
// reference and timed on scratch buffers (runtime/tuning_bench.hpp), the fastest kept as a record
// in the cache; else the tables' row of another device of the same arch and multiprocessor count,
// else the cost model on this device's calibrated figures. Points are tuned at their bucket's M.
//
// Cost (an H200, docs/env.md): about 0.3-0.6 s per point with 8 candidates, compiles included,
// once per device, library build and cache; a process stops tuning once it has spent
// Options::autotune_budget_s.
#pragma once

#include <cstdint>
#include <vector>

#include "fp8jit/gemm.hpp"
#include "select/tuned_table.hpp"

namespace fp8jit::runtime {

// The figures the cost model uses for the context's device: its calibration, measured (or read
// from the cache) on the first call outside a stream capture on `stream`; the arch's until then.
const compiler::MachineModel& machine_of(Context& ctx, void* stream);

// Builds, on every hardware thread at once, the candidates of each bucket M of `ms` that the
// autotuner would measure for `w` (no row of this device in the tables or the cache), so that
// choose_config finds them in the cache: compiles dominate a cold tune, and one point's
// candidates alone keep few threads busy. Does nothing unless Options::autotune.
void build_candidates(Context& ctx, const PackedWeight& w, const std::vector<std::int64_t>& ms,
                      OutDType out, bool bias);

// The config for `w` at m tokens (see above); the work on the device goes to the legacy stream,
// after the device has finished what it was given. `stream` is where the GEMM will run.
select::ConfigChoice choose_config(Context& ctx, const PackedWeight& w, std::int64_t m,
                                   OutDType out, bool bias, void* stream);

}  // namespace fp8jit::runtime
