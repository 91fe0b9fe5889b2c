// Calibration: the cost model's figures of the device in front of it, measured once and kept in
// the cache for every process. What differs between devices of one arch is measured:
//   - the DRAM rate: a device-to-device copy of 1 GiB (bytes read + written, as `fp8jit bench`
//     counts them; on the H200 the model's fitted rate equals its copy bandwidth);
//   - the matrix rate (sm_90a): a compute-bound wgmma tile at M = N = K = 4096, the rate at which
//     the model reproduces its time.
// The latency, launch and per-multiprocessor figures stay the arch's, fitted to tuning
// measurements: a device measurement of them (a lone warp's chain of loads, the intercept of two
// weight streams) gave values that reproduced those GEMMs but ranked the tuned candidates worse.
// The record (cache/entry.hpp, kind "calibration") is keyed by the target, the device (name,
// multiprocessors, bandwidth class), the driver and the library build. Without a GPU
// (cross-compiling, the emulator) the model uses the arch's figures (compiler::ArchSpec).
#pragma once

#include <cstddef>
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
  // The measurements behind it, for `fp8jit info`.
  double copy_bytes_per_s = 0;  // bytes read + written per second
  double matrix_us = 0;         // the compute-bound GEMM, per call (0: not measured)

  // "DRAM 4.26 TB/s, load latency 0.72 us, launch 1.8 us, wgmma 5607 flop/clock per SM".
  std::string summary() const;
};

// The calibration of the context's device: its cache record when there is a usable one, else
// measured now and published (when the cache can store). Throws nothing: a measurement that fails
// leaves the arch's figures, with the reason in `source`.
Calibration calibrate(Context& ctx);

// Device-to-device copy bandwidth: bytes read + written per second, the median of `reps` copies
// of `bytes` after two warm-up copies (the legacy stream). DriverError where the driver cannot copy.
double copy_bandwidth(Context& ctx, std::size_t bytes, int reps);

// The arch's figures for the context's target, and `why` they serve.
Calibration arch_calibration(const Context& ctx, std::string why);

}  // namespace fp8jit::runtime
