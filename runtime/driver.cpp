#include "runtime/driver.hpp"

#include "fp8jit/error.hpp"

namespace fp8jit::runtime {

void Driver::encode_tma(void*, const TmaTensor&) {
  throw DriverError("failed to build a TMA descriptor: driver " + name() +
                    " has no tensor memory accelerator (NVIDIA sm_90 or later needed)");
}

}  // namespace fp8jit::runtime
