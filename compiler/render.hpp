// render(spec): the complete, self-contained source of one kernel — a provenance comment, the
// vendor prelude and kernel family (templates/, includes inlined), and a short generated
// instantiation that passes the spec's values as constexpr template arguments.
#pragma once

#include <string>

#include "compiler/kernel_spec.hpp"

namespace fp8jit::compiler {

struct RenderedSource {
  std::string text;
  std::string kernel_name;
};

// Validates the spec (InvalidArgument) and renders it.
RenderedSource render(const KernelSpec& spec);

}  // namespace fp8jit::compiler
