#include "compiler/arch_spec.hpp"

#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {
constexpr const ArchSpec* kArchSpecs[] = {&kSm89Spec,   &kSm90Spec,   &kSm90aSpec,
                                          &kGfx90aSpec, &kGfx942Spec, &kGfx950Spec};
}  // namespace

double ArchSpec::matrix_flops(Family f) const {
  for (const FamilyRate& r : families())
    if (r.family == f) return r.figures.matrix_flops_per_clock * multiprocessors * clock_hz;
  return 0;
}

MachineModel ArchSpec::machine(int count) const {
  MachineModel m;
  m.multiprocessors = count > 0 ? count : multiprocessors;
  m.clock_hz = clock_hz;
  m.dram_bytes_per_s = dram_bytes_per_s;
  m.latency_s = latency_s;
  m.launch_s = launch_s;
  m.sm_bytes_per_s = sm_bytes_per_s;
  m.l2_bytes = l2_bytes;
  for (const FamilyRate& r : families()) m.family[static_cast<int>(r.family)] = r.figures;
  return m;
}

const ArchSpec& arch_spec(const Target& target) {
  for (const ArchSpec* a : kArchSpecs)
    if (a->arch == target.arch) return *a;
  throw InvalidArgument("failed to find the limits of arch '" + target.arch +
                        "': not a known arch");
}

}  // namespace fp8jit::compiler
