// One weight's GEMM operands on the GPU for tests that enqueue GEMMs themselves (graphs, the
// sanitizer selection, overhead): fresh random data, the packed weight, poisoned outputs, and a
// check of a result against the float64 GPU reference. Every output element is compared.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "fp8jit/gemm.hpp"
#include "tests/support/gpu_reference.hpp"
#include "tools/gemm_check.hpp"

namespace fp8jit::test {

class DeviceGemm {
 public:
  static constexpr std::uint16_t kPoison = 0xffff;  // NaN in bf16 and fp16

  // Operands for up to `max_m` tokens of an [n, k] weight, uploaded and packed.
  DeviceGemm(Context& ctx, std::int64_t max_m, std::int64_t n, std::int64_t k, OutDType out,
             bool bias, std::mt19937_64& rng);

  // Draws new random A, sa, W, sw and bias and writes them into the SAME device buffers (the
  // packed weight too, packed on the host), so that enqueued work (a graph) sees fresh inputs.
  void refill(std::mt19937_64& rng);

  // A device output buffer for m tokens, filled with the poison.
  DeviceBuffer make_out(std::int64_t m) const;
  void poison(const DeviceBuffer& out, std::int64_t m) const;
  // GemmArgs of the first m tokens writing to `out`.
  GemmArgs args(std::int64_t m, const DeviceBuffer& out) const;

  // Compares `out` (m tokens, written by the work already synchronized) with the float64
  // reference; prints "<tag> <name> M= N= K= rel_err= unwritten= ok|FAIL" and CHECKs
  // unwritten == 0 and 0 < rel_err <= 1e-2. Returns true when ok.
  bool check(GpuReference& ref, const DeviceBuffer& out, std::int64_t m, const std::string& tag,
             const std::string& name);

  std::int64_t n() const { return p_.n; }
  std::int64_t k() const { return p_.k; }
  OutDType out_dtype() const { return p_.out; }
  bool has_bias() const { return p_.bias; }
  const PackedWeight& weight() const { return packed_; }

 private:
  void upload();

  Context& ctx_;
  tools::GemmProblem p_;
  DeviceBuffer a_, w_, sa_, sw_, bias_, bias64_, ref_;
  PackedWeight packed_;
};

}  // namespace fp8jit::test
