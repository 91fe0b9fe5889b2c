// GPU test helpers: find the GPU or say clearly that the test skipped, and why.
#pragma once

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>

#include "fp8jit/error.hpp"
#include "runtime/driver.hpp"
#include "tests/support/skip.hpp"

namespace fp8jit::test {

// The CUDA driver for device 0, or nullptr after printing "SKIPPED (<test>): no GPU: <why>".
inline std::unique_ptr<runtime::Driver> gpu_or_skip() {
  try {
    return runtime::make_cuda_driver(0);
  } catch (const DriverError& e) {
    skip(std::string("no GPU: ") + e.what());
    return nullptr;
  }
}

}  // namespace fp8jit::test
