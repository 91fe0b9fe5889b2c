// Calibration: the cost model's figures of the device in front of it, measured once and kept in
// the cache for every process. Four GEMMs of known configs on scratch weights (fp8jit's own
// kernels, timed with the bench protocol) give what differs between devices of one arch:
//   - the weight stream: M = 1 on a 64 MiB and a 256 MiB weight; the slope is the DRAM rate, the
//     intercept past the model's own fixed terms the launch time;
//   - the load latency: one warp per multiprocessor, one load in flight, 1024 steps;
//   - the matrix rate: a compute-bound wgmma tile at M = N = K = 4096 (sm_90a).
// The record (cache/entry.hpp, kind "calibration") is keyed by the target, the device (name,
// multiprocessors, bandwidth class) and the library build. Without a GPU (cross-compiling, the
// emulator) the model uses the arch's figures (compiler::ArchSpec).
#pragma once

#include <string>

#include "compiler/families/family.hpp"

namespace fp8jit {
class Context;
}

namespace fp8jit::runtime {

struct Calibration {
  compiler::MachineModel machine;  // the arch's figures with the measured ones in place
  bool measured = false;           // false: the arch's figures, nothing measured
  // "measured now in 1.2 s", "cache record 3f2a...", or why the arch's figures serve
  // ("the CPU emulator: timings mean nothing").
  std::string source;
  // The measurements behind it (microseconds per call), for `fp8jit info`.
  double stream_small_us = 0, stream_large_us = 0, latency_us = 0, matrix_us = 0;

  // "DRAM 4.26 TB/s, load latency 0.72 us, launch 1.8 us, wgmma 5607 flop/clock per SM".
  std::string summary() const;
};

// The calibration of the context's device: its cache record when there is a usable one, else
// measured now and published (when the cache can store). Throws nothing: a measurement that fails
// leaves the arch's figures, with the reason in `source`.
Calibration calibrate(Context& ctx);

// The arch's figures for the context's target, and `why` they serve.
Calibration arch_calibration(const Context& ctx, std::string why);

}  // namespace fp8jit::runtime
