#include "jit/kernel_key.hpp"

namespace fp8jit::jit {

cache::KeyInputs kernel_key_inputs(const std::string& canonical_spec, const std::string& source,
                                   const compiler::Toolchain& toolchain,
                                   const compiler::Target& target, const std::string& options,
                                   std::string_view build_id) {
  return {canonical_spec, source,  toolchain.name(), toolchain.version(),
          target.str(),   options, cache::library_identity(FP8JIT_VERSION, build_id)};
}

}  // namespace fp8jit::jit
