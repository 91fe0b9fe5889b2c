// fp8jit — the umbrella header of the C++ API. The C ABI is fp8jit.h.
#pragma once

#include "fp8jit/error.hpp"
#include "fp8jit/gemm.hpp"
#include "fp8jit/options.hpp"
#include "fp8jit/precompile.hpp"
#include "fp8jit/types.hpp"
#include "fp8jit/version.hpp"
