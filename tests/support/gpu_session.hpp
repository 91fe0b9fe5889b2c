// What a GPU correctness test needs: a Context on the GPU and the float64 reference kernels,
// which run on a driver of their own. Null (after printing why) when there is no GPU.
#pragma once

#include <memory>

#include "fp8jit/fp8jit.hpp"
#include "tests/support/gpu.hpp"
#include "tests/support/gpu_reference.hpp"

namespace fp8jit::test {

struct GpuSession {
  std::unique_ptr<runtime::Driver> aux;  // runs the reference kernels
  std::unique_ptr<GpuReference> ref;
  std::unique_ptr<Context> ctx;
};

inline std::unique_ptr<GpuSession> open_gpu_session() {
  auto aux = gpu_or_skip();
  if (!aux) return nullptr;
  auto g = std::make_unique<GpuSession>();
  g->ref = std::make_unique<GpuReference>(*aux);
  g->aux = std::move(aux);
  g->ctx = std::make_unique<Context>(Options::from_env());
  return g;
}

}  // namespace fp8jit::test
