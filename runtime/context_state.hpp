// ContextState: what a Context and the objects it hands out (DeviceBuffer, Plan) share.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <tuple>

#include "compiler/target.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/gemm.hpp"
#include "runtime/driver.hpp"
#include "jit/kernel_builder.hpp"
#include "runtime/kernel_cache.hpp"
#include "select/tuned_table.hpp"

namespace fp8jit {

struct ContextState {
  Options options;
  std::unique_ptr<runtime::Driver> driver;
  compiler::Target target;
  std::shared_ptr<const compiler::Toolchains> toolchains;
  std::unique_ptr<jit::KernelBuilder> builder;
  std::unique_ptr<runtime::KernelCache> kernels;
  select::TunedTable tuned;  // options.tuned_tables, read once when the Context opens
  select::DeviceKey device;  // the driver's device as tuned rows name theirs

  // The cost model's machine (runtime/calibration.hpp): the arch's figures until the device is
  // calibrated, on the first config choice outside a stream capture. Guarded by machine_mu.
  std::mutex machine_mu;
  std::atomic<bool> machine_ready{false};
  compiler::MachineModel machine;
  std::string machine_source;   // where the figures come from (Calibration::source)
  std::string machine_summary;  // Calibration::summary()
  // What runtime::choose_config found for the points the tables do not settle for this device,
  // by (N, K, bucket M, out dtype, bias); and the autotuner's spending. Guarded by chosen_mu.
  std::shared_mutex chosen_mu;
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, int, bool>, select::ConfigChoice>
      chosen;
  double autotune_spent_s = 0;
  bool autotune_budget_warned = false;
};

namespace runtime {
// A Context over `driver` (any Driver: the CUDA or HIP one, or a test's).
Context make_context(Options options, std::unique_ptr<Driver> driver);

// The state behind a Context, for the library's own code (tools, tests): not part of the API.
struct ContextAccess {
  static ContextState& state(const Context& context) { return *context.state_; }
  static Context adopt(std::shared_ptr<ContextState> state) { return Context(std::move(state)); }
};
inline ContextState& state_of(const Context& context) { return ContextAccess::state(context); }
// Context::gemm with `config` instead of the tuned table's choice (the tuner measures candidates
// with it). Same validation; the spec is validated too (InvalidArgument for a bad config).
void gemm_with_config(Context& ctx, const GemmArgs& args, const compiler::GemmConfig& config,
                      void* stream);
}  // namespace runtime

}  // namespace fp8jit
