// The anchor of the benchmark: cuBLASLt's FP8 GEMM with outer-vector (row-wise) fp32 scales on A
// and B — what torch._scaled_mm runs for row-wise scales on CUDA 13 — loaded with dlopen.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "fp8jit/types.hpp"

namespace fp8jit::bench {

class CublasLt {
 public:
  // `workspace` (device memory of `workspace_bytes`) is lent to every matmul. Throws DriverError
  // when libcublasLt.so.13/.12 is missing or refuses to start.
  CublasLt(void* workspace, std::size_t workspace_bytes);
  ~CublasLt();
  CublasLt(const CublasLt&) = delete;
  CublasLt& operator=(const CublasLt&) = delete;

  // out[m, n] = out_dtype(sa[m] sw[n] sum_k a[m, k] w[n, k] + bias[n]); w row-major [n, k]
  // (cuBLASLt's own layout, not packed), bias of out_dtype or null. Enqueued on `stream`.
  void gemm(const void* a, const float* sa, const void* w, const float* sw, const void* bias,
            void* out, std::int64_t m, std::int64_t n, std::int64_t k, OutDType out_dtype,
            void* stream);
  std::string version() const;

 private:
  struct Api;
  struct Plan;
  std::unique_ptr<Api> api_;
  void* handle_ = nullptr;
  void* workspace_;
  std::size_t workspace_bytes_;
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, int, bool>, std::unique_ptr<Plan>> plans_;
};

}  // namespace fp8jit::bench
