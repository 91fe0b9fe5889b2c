// Parses the resource report ptxas writes with -v (through NVRTC's program log).
#pragma once

#include <string>

#include "compiler/toolchain.hpp"

namespace fp8jit::compiler {

// Reads the "Function properties for <kernel>" and "Used N registers, ... bytes smem" lines that
// belong to `kernel_name`; fields not reported stay -1.
Resources parse_ptxas_info(const std::string& log, const std::string& kernel_name);

}  // namespace fp8jit::compiler
