// A compilation target: the GPU architecture (with AMD target features) a binary is built for.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fp8jit/types.hpp"

namespace fp8jit::compiler {

enum class Vendor { nvidia, amd };

struct Target {
  std::string arch;      // "sm_90a", "sm_89", "gfx942", "gfx950", "gfx90a"
  std::string features;  // AMD target features as written after the arch (":sramecc+:xnack-")
  Vendor vendor = Vendor::nvidia;

  // "gfx942:sramecc+:xnack-", "sm_90a": the form used in cache paths, keys and specs.
  std::string str() const { return arch + features; }
  // The fp8 encoding the arch's matrix instructions consume.
  Fp8Format fp8_format() const;
  // True when the arch has fp8 matrix instructions the GEMM families use (sm_89+, gfx942, gfx950).
  bool has_fp8_mma() const;
  // NVIDIA compute capability times ten (90 for sm_90a); 0 for AMD.
  int sm() const;

  // Parses "sm_90a", "sm_89", "gfx942", "gfx942:sramecc+:xnack-", "gfx950", "gfx90a". Throws
  // InvalidArgument naming the string and the known archs for anything else.
  static Target parse(std::string_view text);
  static const std::vector<std::string>& known_archs();
};

}  // namespace fp8jit::compiler
