// The cache key of a kernel: everything KernelBuilder hashes (cache::derive_key) to decide whether
// a cached binary may be reused.
#pragma once

#include <string>
#include <string_view>

#include "cache/key.hpp"
#include "compiler/target.hpp"
#include "compiler/toolchain.hpp"

namespace fp8jit::jit {

// The key inputs of the kernel whose canonical spec is `canonical_spec`, rendered as `source`,
// built for `target` by `toolchain` (its name() and version()) with `options` (joined as passed
// to the compiler), by the library build `build_id` (fp8jit::build_id() in the library; a
// parameter so that tests can vary it). Another build id gives another key.
cache::KeyInputs kernel_key_inputs(const std::string& canonical_spec, const std::string& source,
                                   const compiler::Toolchain& toolchain,
                                   const compiler::Target& target, const std::string& options,
                                   std::string_view build_id);

}  // namespace fp8jit::jit
