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
  // True for the CPU emulation of `arch` ("emu-gfx942"): the same kernel source, built by the
  // host C++ compiler against the emulation prelude and run by the emulation driver
  // (docs/emulator.md). Every property of the arch (vendor, fp8 format, families) is unchanged.
  bool emulated = false;

  // "gfx942:sramecc+:xnack-", "sm_90a", "emu-gfx942", "emu-sm89": the form used in cache paths,
  // keys and specs.
  std::string str() const;
  // The fp8 encoding the arch's matrix instructions consume.
  Fp8Format fp8_format() const;
  // True when the arch has fp8 matrix instructions the GEMM families use (sm_89+, gfx942, gfx950).
  bool has_fp8_mma() const;
  // NVIDIA compute capability times ten (90 for sm_90a); 0 for AMD.
  int sm() const;

  // Parses "sm_90a", "sm_89", "gfx942", "gfx942:sramecc+:xnack-", "gfx950", "gfx90a" and the
  // emulation targets "emu-gfx942", "emu-gfx950", "emu-sm89". AMD features are known_features(),
  // each at most once, with + or -, kept in LLVM's canonical order (by name: "gfx942:xnack-:
  // sramecc+" reads as "gfx942:sramecc+:xnack-"). Throws InvalidArgument naming the string and
  // what is allowed (the known archs, emulation targets or features) for anything else.
  static Target parse(std::string_view text);
  static const std::vector<std::string>& known_archs();
  // "sramecc", "xnack": the AMD target features of every AMD arch above.
  static const std::vector<std::string>& known_features();
  // "emu-gfx942", "emu-gfx950", "emu-sm89": the archs the CPU emulation runs (no wgmma/TMA).
  static const std::vector<std::string>& emulation_targets();
};

}  // namespace fp8jit::compiler
