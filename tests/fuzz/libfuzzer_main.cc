// libFuzzer entry point for one fuzz target: cmake/fuzz.cmake compiles this file once per target
// with -DFP8JIT_FUZZ_TARGET=fp8jit_fuzz_<name>. (A .cc file, so that the tests/ glob of *.cpp
// leaves it out of fp8jit_tests.)
#include <cstddef>
#include <cstdint>

#ifndef FP8JIT_FUZZ_TARGET
#error "compile with -DFP8JIT_FUZZ_TARGET=fp8jit_fuzz_<name>"
#endif

int FP8JIT_FUZZ_TARGET(const std::uint8_t* data, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return FP8JIT_FUZZ_TARGET(data, size);
}
