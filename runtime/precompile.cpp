#include "fp8jit/precompile.hpp"

#include <set>

#include "compiler/kernel_spec.hpp"
#include "fp8jit/error.hpp"
#include "runtime/heuristic.hpp"
#include "runtime/kernel_builder.hpp"

namespace fp8jit {

std::vector<PrecompiledKernel> precompile(
    const Options& options, const PrecompileRequest& request,
    const std::function<void(const PrecompiledKernel&, std::size_t, std::size_t)>& progress) {
  // Every spec first (validated, deduplicated), then the builds.
  std::vector<compiler::KernelSpec> specs;
  std::set<std::string> seen;
  auto add = [&](const compiler::KernelSpec& s) {
    s.validate();
    if (seen.insert(s.canonical()).second) specs.push_back(s);
  };
  for (const auto& t : request.targets) {
    const auto target = compiler::Target::parse(t);
    if (request.preshuffle) add(compiler::preshuffle_spec(target, compiler::native_layout(target)));
    for (const auto& [n, k] : request.shapes)
      for (const auto bound : runtime::m_buckets())
        for (const auto out : request.out_dtypes)
          for (const bool bias : request.bias)
            add(compiler::gemm_spec(target, n, k,
                                    runtime::heuristic_config(target, 0, bound, n, k), out, bias));
  }

  runtime::KernelBuilder builder(options, std::make_shared<const compiler::Toolchains>());
  std::vector<PrecompiledKernel> out;
  for (const auto& spec : specs) {
    PrecompiledKernel r;
    r.target = spec.target.str();
    r.kernel_name = spec.kernel_name();
    r.spec = spec.canonical();
    try {
      const auto built = builder.build(spec);
      r.key = built.key;
      r.cached = built.from_disk;
      r.compile_ms = built.from_disk ? 0 : built.compile_ms;
      r.registers = built.resources.registers;
      r.spills = built.resources.spills;
    } catch (const Error& e) {
      r.error = e.what();
    }
    out.push_back(r);
    if (progress) progress(out.back(), out.size(), specs.size());
  }
  return out;
}

}  // namespace fp8jit
