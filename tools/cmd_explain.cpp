// `fp8jit explain`: parsing is in main.cpp; selection and the cost model are in the library
// (select/tuned_table, select/heuristic); this file only resolves the device and prints.
#include "tools/cmd_explain.hpp"

#include <cstdio>
#include <string_view>

#include "compiler/gemm_limits.hpp"
#include "compiler/kernel_spec.hpp"
#include "compiler/arch_spec.hpp"
#include "fp8jit/fp8jit.hpp"
#include "runtime/autotuner.hpp"
#include "runtime/context_state.hpp"
#include "select/heuristic.hpp"
#include "select/tuned_table.hpp"

namespace fp8jit::tools {

namespace {

struct Device {
  compiler::Target target;
  int cu = 0;
  std::string where;  // "local GPU 0: NVIDIA H100 ..." or "given"
  select::DeviceKey key;           // what tuned rows are matched against
  compiler::MachineModel machine;  // what the cost model models
  std::string machine_source;
};

Device resolve_device(const Options& options, const ExplainArgs& args) {
  Device d;
  if (!args.target.empty()) {
    d.target = compiler::Target::parse(args.target);
    d.cu = args.cu.value_or(0);
    d.where = "--target";
    d.key.cu_num = d.cu;
    d.machine = compiler::arch_spec(d.target).machine(d.cu);
    d.machine_source = "the arch's figures (no device)";
    return d;
  }
  Options local = options;
  local.tuned_tables.clear();  // the tables of this command are read below, once
  try {
    Context ctx(local);
    d.target = compiler::Target::parse(ctx.target());
    d.cu = args.cu ? *args.cu : ctx.multiprocessors();
    d.where = "local GPU " + std::to_string(options.device) + ": " + ctx.device_name();
    const ContextState& s = runtime::state_of(ctx);
    d.key = s.device;
    d.key.cu_num = d.cu;
    d.machine = runtime::machine_of(ctx, nullptr);
    d.machine.multiprocessors = d.cu;
    d.machine_source = s.machine_summary + " (" + s.machine_source + ")";
  } catch (const DriverError& e) {
    throw DriverError(std::string("failed to explain: no --target given and no GPU here (") +
                      e.what() + ")");
  }
  return d;
}

void print_estimate(const char* label, const select::GemmEstimate& e) {
  std::printf("%s%-28s %s", label, e.config.str().c_str(), e.summary().c_str());
  if (e.bucket_regret > 0)
    std::printf("; at the bucket's lower M up to %.0f%% slower than the best there",
                100 * (e.bucket_regret - 1));
  std::printf("\n");
}

}  // namespace

int cmd_explain(const Options& options, const ExplainArgs& args) {
  compiler::check_gemm_shape(args.m, args.n, args.k, "explain");
  if (args.cu) select::check_cu_num(*args.cu, "--cu");
  OutDType out = OutDType::bf16;
  if (args.out == "fp16")
    out = OutDType::fp16;
  else if (args.out != "bf16")
    throw InvalidArgument("failed to explain: --out '" + args.out + "' must be bf16 or fp16");
  const Device dev = resolve_device(options, args);
  // The shape is checked with the rules of the kernels themselves (N % 16, K % 16, arch).
  compiler::GemmConfig probe;  // bm16_bn64_bk64_w4_s2_k1: valid in each vendor's default family
  probe.family = compiler::default_family(dev.target);
  compiler::gemm_spec(dev.target, args.n, args.k, probe, out, args.bias).validate();

  const std::vector<std::string>& files = args.tables.empty() ? options.tuned_tables : args.tables;
  const select::TunedTable table = select::TunedTable::load(files);
  const select::ConfigChoice choice =
      table.select(dev.target, dev.key, args.m, args.n, args.k, out, args.bias, &dev.machine);
  const auto spec =
      compiler::gemm_spec(dev.target, args.n, args.k, choice.config, out, args.bias);

  std::printf("gemm      M=%lld N=%lld K=%lld out=%s bias=%d\n", static_cast<long long>(args.m),
              static_cast<long long>(args.n), static_cast<long long>(args.k), args.out.c_str(),
              args.bias ? 1 : 0);
  std::printf("device    %s (%s), %s\n", dev.target.str().c_str(), dev.where.c_str(),
              dev.cu > 0 ? ("cu_num " + std::to_string(dev.cu)).c_str()
                         : "cu_num any (rows of every cu_num match, the largest first)");
  if (files.empty()) {
    std::printf("tables    none (--tables or FP8JIT_TUNED_TABLES)\n");
  } else {
    std::printf("tables    %zu rows after merging", table.rows());
    for (const auto& f : files) std::printf(", %s", f.c_str());
    std::printf("\n");
  }
  std::printf("bucket    M=%lld is in bucket M=%lld (M rounded up to the next bucket bound: powers of "
              "two and the points halfway between, at most %lld)\n",
              static_cast<long long>(args.m), static_cast<long long>(choice.bucket_m),
              static_cast<long long>(select::kLargestBucketM));
  std::printf("config    %s\n", choice.config.str().c_str());
  std::printf("rule      %s\n", choice.rule.c_str());
  std::printf("kernel    %s\n", spec.kernel_name().c_str());
  const compiler::GemmFamily& family = compiler::family_of(spec);
  std::printf("launch    %s\n",
              family.describe(family.launch(spec, args.m, dev.cu), dev.cu).c_str());

  const select::GemmEstimate here =
      select::estimate_gemm(dev.target, dev.machine, args.m, args.n, args.k, choice.config);
  std::printf("machine   %s\n", dev.machine_source.c_str());
  std::printf("model     at M=%lld on %d multiprocessors%s: %s\n", static_cast<long long>(args.m),
              here.multiprocessors, dev.cu > 0 ? "" : " (the arch's usual count)",
              here.summary().c_str());
  const auto ranked = select::rank_configs(dev.target, dev.machine, args.m, args.n, args.k);
  if (choice.source == select::ConfigChoice::Source::heuristic) {
    const auto& best = ranked.front();
    if (best.bucket_regret > 0)
      std::printf("\nwhy       the cost model ranked %zu candidate configs at bucket M=%lld; of those "
                  "within %.0f%% of the fastest there, this one is the least slower than the best "
                  "at the bucket's lower M (at most %.0f%%):\n",
                  ranked.size(), static_cast<long long>(best.m), 100 * select::kBucketSlack,
                  100 * (best.bucket_regret - 1));
    else
      std::printf("\nwhy       the cost model ranked %zu candidate configs at bucket M=%lld and this "
                  "one has the lowest estimated time:\n",
                  ranked.size(), static_cast<long long>(best.m));
    std::printf("          %lld blocks in %lld wave(s) of %lld slots (%d per multiprocessor, "
                "~%d registers per thread): waves %.0f%% full\n",
                static_cast<long long>(best.blocks), static_cast<long long>(best.waves),
                static_cast<long long>(best.multiprocessors) * best.blocks_per_sm,
                best.blocks_per_sm, best.registers, 100 * best.wave_efficiency);
    std::printf("          tile efficiency %.0f%% (M and N padded to whole %dx%d tiles)\n",
                100 * best.tile_efficiency, best.config.bm, best.config.bn);
    std::printf("          memory parallelism %.0f%% (weight bytes in flight vs. bandwidth x "
                "latency); %s\n",
                100 * best.memory_parallelism,
                best.bound == std::string_view("memory")
                    ? "memory-bound: the weight stream sets the time"
                : best.bound == std::string_view("load")
                    ? "load-bound: L1 load throughput sets the time (operands re-read per tile)"
                    : "compute-bound: matrix instructions set the time");
    std::printf("\nrunners-up\n");
    for (std::size_t i = 1; i < ranked.size() && static_cast<int>(i) <= args.candidates; ++i)
      print_estimate("          ", ranked[i]);
  } else {
    std::printf("\nheuristic without this row would choose:\n");
    print_estimate("          ", ranked.front());
  }
  return 0;
}

}  // namespace fp8jit::tools
