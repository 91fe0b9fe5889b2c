#include "compiler/arch_spec.hpp"

#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {
constexpr const ArchSpec* kArchSpecs[] = {&kSm89Spec,   &kSm90Spec,   &kSm90aSpec,
                                          &kGfx90aSpec, &kGfx942Spec, &kGfx950Spec};
}  // namespace

double ArchSpec::matrix_flops(Family f) const {
  for (const FamilyRate& r : families())
    if (r.family == f) return r.flops;
  return 0;
}

const ArchSpec& arch_spec(const Target& target) {
  for (const ArchSpec* a : kArchSpecs)
    if (a->arch == target.arch) return *a;
  throw InvalidArgument("failed to find the limits of arch '" + target.arch +
                        "': not a known arch");
}

}  // namespace fp8jit::compiler
