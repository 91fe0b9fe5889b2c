#include "runtime/driver.hpp"

#include "fp8jit/error.hpp"

namespace fp8jit::runtime {

void Driver::encode_tma_2d(void*, const void*, std::uint64_t, std::uint64_t, std::uint64_t,
                           std::uint32_t, std::uint32_t) {
  throw DriverError("failed to build a TMA descriptor: driver " + name() +
                    " has no tensor memory accelerator (NVIDIA sm_90 or later needed)");
}

}  // namespace fp8jit::runtime
