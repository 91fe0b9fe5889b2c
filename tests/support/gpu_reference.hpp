// A float64 reference GEMM and an error reduction that run on the GPU (NVRTC + the CUDA driver),
// so that every element of large results is checked. Independent of the kernels under test: a
// plain tiled loop over a host-computed fp8 decode table. Checked against the host reference.
#pragma once

#include <cstdint>
#include <memory>

#include "fp8jit/types.hpp"
#include "runtime/driver.hpp"

namespace fp8jit::test {

class GpuReference {
 public:
  // Compiles the reference kernels for `driver`'s device.
  explicit GpuReference(runtime::Driver& driver);
  ~GpuReference();

  // ref[m, n] = sa[m] sw[n] sum_k A[m,k] W[n,k] + bias[n] in float64; bias (double) may be null.
  void gemm(const void* a, const void* w, Fp8Format format, const float* sa, const float* sw,
            const double* bias, double* ref, std::int64_t m, std::int64_t n, std::int64_t k);

  struct Error {
    double relative = 0;       // ||out - ref|| / ||ref||
    std::uint64_t unwritten = 0;  // elements still holding the poison (or NaN)
  };
  // Compares out ([count] bf16/fp16 bits) with ref.
  Error compare(const void* out, OutDType dtype, const double* ref, std::uint64_t count,
                std::uint16_t poison);

 private:
  runtime::Driver& driver_;
  runtime::Module module_;
  void* gemm_fn_ = nullptr;
  void* compare_fn_ = nullptr;
  void* luts_ = nullptr;   // [2][256] doubles: e4m3fn, e4m3fnuz
  void* sums_ = nullptr;   // double[2] + u64
};

}  // namespace fp8jit::test
