// Comgr: the AMD code-object manager (libamd_comgr), loaded with dlopen. fp8jit uses it for two
// things: the list of ISAs this ROCm knows (checked before any hiprtc call, since hiprtc 5.2
// aborts the process on an arch it does not know) and the resource metadata of a code object.
// Reading metadata works for gfx942/gfx950 objects made by clang 19/22 (code objects v5/v6) even
// with comgr 2.4 from ROCm 5.2.3, which cannot compile for those archs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/dynlib.hpp"
#include "compiler/toolchain.hpp"

namespace fp8jit::compiler {

struct ComgrApi;

// A loaded comgr. Move-only; thread-safe for concurrent const calls.
class Comgr {
 public:
  // Loads libamd_comgr.so.2, else libamd_comgr.so. Throws Error naming each file tried and why it
  // failed, or the missing symbols.
  static Comgr load();

  Comgr(Comgr&&) noexcept;
  Comgr& operator=(Comgr&&) noexcept;
  ~Comgr();

  // "comgr 2.4".
  std::string version() const;
  // Library path it was loaded from.
  const std::string& path() const { return lib_.path(); }
  // Every ISA this comgr knows, e.g. "amdgcn-amd-amdhsa--gfx90a" (features, when listed, follow
  // the arch as ":sramecc+").
  std::vector<std::string> isa_names() const;
  // Whether `arch` ("gfx90a"; features after a ':' are ignored) is one of isa_names().
  bool knows(std::string_view arch) const;
  // Resources of kernel `kernel_name` (its .name in the amdhsa.kernels metadata) of an ELF code
  // object: registers = .vgpr_count (on gfx90a and later the unified count, AGPRs included),
  // sgprs = .sgpr_count, spills = .vgpr_spill_count + .sgpr_spill_count, shared_bytes =
  // .group_segment_fixed_size, scratch_bytes = .private_segment_fixed_size. Throws Error when
  // the object has no metadata or no such kernel (naming the kernels it has).
  Resources kernel_resources(const std::vector<std::uint8_t>& code_object,
                             const std::string& kernel_name) const;

 private:
  Comgr();
  util::DynLib lib_;
  std::unique_ptr<ComgrApi> api_;
};

// Whether AMD target features (":sramecc+:xnack-", as Target::features holds them) name only
// sramecc and xnack, each once with + or -: what gfx90a/gfx942/gfx950 compilers accept.
// NOTE: checked before hiprtc sees a target: hiprtc 5.2 corrupts its heap on an unknown feature.
bool amd_features_valid(std::string_view features);

// Whether the comgr of this machine knows `arch`; false when comgr cannot be loaded. Loads comgr
// for the call: hold a Comgr to ask repeatedly.
bool comgr_knows(std::string_view arch);

}  // namespace fp8jit::compiler
