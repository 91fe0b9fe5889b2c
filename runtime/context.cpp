#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

#include "compiler/gemm_limits.hpp"
#include "compiler/layouts.hpp"
#include "fp8jit/error.hpp"
#include "runtime/autotuner.hpp"
#include "runtime/context_state.hpp"
#include "select/heuristic.hpp"
#include "select/tuned_table.hpp"
#include "util/text.hpp"

namespace fp8jit {

namespace {

using compiler::KernelSpec;
using runtime::LoadedKernel;

void require_pointer(const void* p, std::size_t align, const char* what, const char* verb) {
  if (!p) throw InvalidArgument(std::string("failed to ") + verb + ": " + what + " is null");
  if (reinterpret_cast<std::uintptr_t>(p) % align != 0)
    throw InvalidArgument(std::string("failed to ") + verb + ": " + what + " = " +
                          util::address(p) + " must be " + std::to_string(align) + "-byte aligned");
}

std::unique_ptr<runtime::Driver> open_driver(int device) {
  std::string why;
  try {
    return runtime::make_cuda_driver(device);
  } catch (const DriverError& e) {
    why = std::string("\n  cuda: ") + e.what();
  }
  try {
    return runtime::make_hip_driver(device);
  } catch (const DriverError& e) {
    why += std::string("\n  hip: ") + e.what();
  }
  throw DriverError("failed to open GPU " + std::to_string(device) + ": no usable driver" + why);
}

// Launches as the kernel's family describes it (compiler/families/): the grid, the dynamic shared
// memory and the TMA tensors to encode, passed after the plain arguments.
void launch_gemm(ContextState& s, const LoadedKernel& k, const GemmArgs& a, void* stream) {
  const compiler::GemmLaunch l =
      compiler::family_of(k.spec).launch(k.spec, a.m, s.driver->device().multiprocessors);
  runtime::LaunchDims dims;
  for (int i = 0; i < 3; ++i) dims.grid[i] = static_cast<unsigned>(l.grid[i]);
  dims.block[0] = static_cast<unsigned>(k.threads);
  dims.shared_bytes = static_cast<unsigned>(l.shared_bytes);
  dims.programmatic = s.options.pdl && compiler::waits_for_prior_kernel(k.spec);
  const void* ap = a.a;
  const float* sap = a.sa;
  const void* wp = a.w->data();
  const float* swp = a.w->scales();
  const void* bp = a.bias;
  void* op = a.out;
  int m = static_cast<int>(a.m);
  alignas(64) std::uint8_t maps[2][128];
  void* params[9] = {&ap, &sap, &wp, &swp, &bp, &op, &m};
  for (int i = 0; i < l.tma_count; ++i) {
    const compiler::TmaOperand& o = l.tma[i];
    runtime::TmaTensor t;
    t.base = o.source == compiler::TmaOperand::Source::a ? ap : wp;
    t.rank = o.rank;
    t.element_bytes = o.element_bytes;
    std::copy(std::begin(o.dims), std::end(o.dims), t.dims);
    std::copy(std::begin(o.strides), std::end(o.strides), t.strides);
    std::copy(std::begin(o.box), std::end(o.box), t.box);
    t.swizzle_128b = o.swizzle_128b;
    s.driver->encode_tma(maps[i], t);
    params[7 + i] = maps[i];
  }
  s.driver->launch(k.function, dims, stream, params);
}

// Checks everything about a GEMM call that does not depend on the kernel; returns false for M = 0.
bool validate(const ContextState& s, const GemmArgs& a) {
  const char* verb = "run fp8 GEMM";
  if (!a.w) throw InvalidArgument("failed to run fp8 GEMM: w (the PackedWeight) is null");
  compiler::check_gemm_m(a.m, verb, 0);  // M = 0: an empty call
  const PackedWeight& w = *a.w;
  if (!w.data())
    throw InvalidArgument("failed to run fp8 GEMM: the PackedWeight is empty (moved from, or "
                          "never packed)");
  const auto native = compiler::native_layout(s.target);
  if (w.layout() != native)
    throw InvalidArgument("failed to run fp8 GEMM: the weight is packed in layout " +
                          std::string(to_string(w.layout())) + " but " + s.target.arch +
                          " kernels read " + std::string(to_string(native)));
  if (w.format() != s.target.fp8_format())
    throw InvalidArgument("failed to run fp8 GEMM: the weight is " +
                          std::string(to_string(w.format())) + " but " + s.target.arch +
                          " consumes " + std::string(to_string(s.target.fp8_format())));
  if (a.m == 0) return false;
  require_pointer(a.a, 16, "a", verb);
  require_pointer(a.sa, 4, "sa", verb);
  require_pointer(a.out, 16, "out", verb);
  if (a.bias) require_pointer(a.bias, 2, "bias", verb);
  return true;
}

}  // namespace

// ---- DeviceBuffer ----------------------------------------------------------------------------

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : owner_(std::move(o.owner_)), ptr_(o.ptr_), size_(o.size_) {
  o.ptr_ = nullptr;
  o.size_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_ && owner_) owner_->driver->free(ptr_);
    owner_ = std::move(o.owner_);
    ptr_ = o.ptr_;
    size_ = o.size_;
    o.ptr_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ && owner_) owner_->driver->free(ptr_);
}

// ---- Plan ------------------------------------------------------------------------------------

struct Plan::Impl {
  std::shared_ptr<ContextState> state;
  const void* weight = nullptr;
  OutDType out_dtype = OutDType::bf16;
  bool has_bias = false;
  std::vector<const LoadedKernel*> by_bucket;  // one per select::m_buckets() entry
};

void Plan::gemm(const GemmArgs& args, void* stream) const {
  if (!impl_) throw InvalidArgument("failed to run fp8 GEMM: the Plan is empty");
  ContextState& s = *impl_->state;
  if (!validate(s, args)) return;
  if (args.w->data() != impl_->weight)
    throw InvalidArgument("failed to run fp8 GEMM: the Plan was made for another weight");
  if (args.out_dtype != impl_->out_dtype || (args.bias != nullptr) != impl_->has_bias)
    throw InvalidArgument("failed to run fp8 GEMM: the Plan was made for out=" +
                          std::string(to_string(impl_->out_dtype)) +
                          (impl_->has_bias ? " with bias" : " without bias"));
  launch_gemm(s, *impl_->by_bucket[select::m_bucket_index(args.m)], args, stream);
}

std::vector<std::string> Plan::describe() const {
  std::vector<std::string> out;
  if (!impl_) return out;
  const auto& bounds = select::m_buckets();
  for (std::size_t i = 0; i < bounds.size(); ++i)
    out.push_back((bounds[i] == select::kUnboundedM ? std::string("m>") + std::to_string(bounds[i - 1])
                                                     : "m<=" + std::to_string(bounds[i])) +
                  ": " + impl_->by_bucket[i]->kernel_name);
  return out;
}

// ---- Context ---------------------------------------------------------------------------------

Context runtime::make_context(Options options, std::unique_ptr<Driver> driver) {
  auto s = std::make_shared<ContextState>();
  s->options = std::move(options);
  s->tuned = select::TunedTable::load(s->options.tuned_tables);
  s->driver = std::move(driver);
  s->target = compiler::Target::parse(s->driver->device().arch);
  const runtime::DeviceInfo& info = s->driver->device();
  // NOTE: cut at a comma, which a tuned table's row cannot hold: GPU names have none; the
  // emulator's adds ", N host thread(s)" after its name, which does not change what runs.
  s->device = {info.multiprocessors, info.name.substr(0, info.name.find(',')),
               select::memory_bandwidth_class(info.memory_bytes_per_s)};
  s->toolchains = std::make_shared<const compiler::Toolchains>();
  s->builder = std::make_unique<jit::KernelBuilder>(s->options, s->toolchains);
  s->kernels = std::make_unique<KernelCache>(*s->driver, *s->builder);
  return ContextAccess::adopt(std::move(s));
}

Context::Context(Options options) {
  auto driver = options.target.empty()
                    ? open_driver(options.device)
                    : runtime::make_emu_driver(options.target, options.emu_threads);
  *this = runtime::make_context(std::move(options), std::move(driver));
}

Context::Context(std::shared_ptr<ContextState> state) : state_(std::move(state)) {}

Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

std::string Context::device_name() const { return state_->driver->device().name; }
std::string Context::target() const { return state_->target.str(); }
int Context::multiprocessors() const { return state_->driver->device().multiprocessors; }

WeightLayout Context::weight_layout() const { return compiler::native_layout(state_->target); }
Fp8Format Context::fp8_format() const { return state_->target.fp8_format(); }

std::size_t Context::packed_weight_bytes(std::int64_t n, std::int64_t k) const {
  compiler::check_layout_shape(weight_layout(), n, k);
  return compiler::packed_bytes(n, k);
}

void Context::pack_weight_into(const void* w, std::int64_t n, std::int64_t k, void* packed,
                               std::size_t packed_bytes, void* stream) {
  ContextState& s = *state_;
  const WeightLayout layout = weight_layout();
  compiler::check_layout_shape(layout, n, k);
  require_pointer(w, 16, "w", "pack weight");
  require_pointer(packed, 16, "packed", "pack weight");
  const std::size_t needed = compiler::packed_bytes(n, k);
  if (packed_bytes < needed)
    throw InvalidArgument("failed to pack weight: packed_bytes = " + std::to_string(packed_bytes) +
                          " is less than the " + std::to_string(needed) + " bytes a packed [" +
                          std::to_string(n) + ", " + std::to_string(k) + "] weight takes");
  const LoadedKernel& kernel = s.kernels->get(compiler::preshuffle_spec(s.target, layout));
  runtime::LaunchDims dims;
  // One thread per 16 packed bytes, the padding columns included (the kernel writes their zeros).
  const std::int64_t threads = n * compiler::packed_k(k) / 16;
  dims.grid[0] = static_cast<unsigned>((threads + 255) / 256);
  dims.block[0] = 256;
  const void* src = w;
  void* dst = packed;
  long nn = n, kk = k;
  void* params[] = {&src, &dst, &nn, &kk};
  s.driver->launch(kernel.function, dims, stream, params);
}

PackedWeight Context::pack_weight(const void* w, const float* sw, std::int64_t n, std::int64_t k,
                                  void* stream) {
  compiler::check_layout_shape(weight_layout(), n, k);
  require_pointer(w, 16, "w", "pack weight");
  require_pointer(sw, 4, "sw", "pack weight");
  DeviceBuffer storage = alloc(compiler::packed_bytes(n, k));
  pack_weight_into(w, n, k, storage.get(), storage.size(), stream);
  PackedWeight p = wrap_packed_weight(storage.get(), sw, n, k, weight_layout());
  p.storage_ = std::move(storage);
  return p;
}

PackedWeight Context::wrap_packed_weight(const void* packed, const float* sw, std::int64_t n,
                                         std::int64_t k, WeightLayout layout) {
  const auto native = compiler::native_layout(state_->target);
  if (layout != native)
    throw InvalidArgument("failed to wrap packed weight: layout " +
                          std::string(to_string(layout)) + " is not read by " +
                          state_->target.arch + " kernels (they read " +
                          std::string(to_string(native)) + ")");
  compiler::check_layout_shape(layout, n, k);
  require_pointer(packed, 16, "packed", "wrap packed weight");
  require_pointer(sw, 4, "sw", "wrap packed weight");
  PackedWeight p;
  p.data_ = packed;
  p.scales_ = sw;
  p.n_ = n;
  p.k_ = k;
  p.layout_ = layout;
  p.format_ = state_->target.fp8_format();
  return p;
}

void Context::gemm(const GemmArgs& args, void* stream) {
  ContextState& s = *state_;
  if (!validate(s, args)) return;
  const auto& w = *args.w;
  const bool bias = args.bias != nullptr;
  const auto choice = runtime::choose_config(*this, w, args.m, args.out_dtype, bias, stream);
  const auto spec = compiler::gemm_spec(s.target, w.n(), w.k(), choice.config, args.out_dtype, bias);
  launch_gemm(s, s.kernels->get(spec), args, stream);
}

void runtime::gemm_with_config(Context& ctx, const GemmArgs& args,
                               const compiler::GemmConfig& config, void* stream) {
  ContextState& s = runtime::state_of(ctx);
  if (!validate(s, args)) return;
  const auto& w = *args.w;
  const auto spec = compiler::gemm_spec(s.target, w.n(), w.k(), config, args.out_dtype,
                                        args.bias != nullptr);
  launch_gemm(s, s.kernels->get(spec), args, stream);
}

Plan Context::plan(const PackedWeight& w, OutDType out_dtype, bool has_bias) {
  ContextState& s = *state_;
  if (!w.data()) throw InvalidArgument("failed to plan fp8 GEMM: the PackedWeight is empty");
  auto impl = std::make_shared<Plan::Impl>();
  impl->state = state_;
  impl->weight = w.data();
  impl->out_dtype = out_dtype;
  impl->has_bias = has_bias;
  std::vector<std::int64_t> bucket_ms;
  for (const auto bound : select::m_buckets()) bucket_ms.push_back(select::m_bucket_m(bound));
  runtime::build_candidates(*this, w, bucket_ms, out_dtype, has_bias);  // in parallel, when tuning
  for (const auto bound : select::m_buckets()) {
    // NOTE: a plan sees bucket rows only: the bucket's M stands for every M in it.
    const auto choice =
        runtime::choose_config(*this, w, select::m_bucket_m(bound), out_dtype, has_bias, nullptr);
    impl->by_bucket.push_back(&s.kernels->get(
        compiler::gemm_spec(s.target, w.n(), w.k(), choice.config, out_dtype, has_bias)));
  }
  Plan p;
  p.impl_ = std::move(impl);
  return p;
}

DeviceBuffer Context::alloc(std::size_t bytes) {
  DeviceBuffer b;
  b.owner_ = state_;
  b.ptr_ = bytes ? state_->driver->alloc(bytes) : nullptr;
  b.size_ = bytes;
  return b;
}

void Context::copy_to_device(void* dst, const void* src, std::size_t bytes) {
  state_->driver->copy_to_device(dst, src, bytes);
}
void Context::copy_to_host(void* dst, const void* src, std::size_t bytes) {
  state_->driver->copy_to_host(dst, src, bytes);
}
void Context::synchronize(void* stream) { state_->driver->synchronize(stream); }
double Context::time_ms(void* stream, const std::function<void()>& enqueue) {
  return state_->driver->time_ms(stream, enqueue);
}
std::size_t Context::l2_bytes() const { return state_->driver->device().l2_bytes; }

CacheStats Context::stats() const {
  CacheStats st;
  st.compiles = state_->builder->compiles();
  st.disk_hits = state_->builder->disk_hits();
  st.memory_hits = state_->kernels->memory_hits();
  st.compile_ms_total = state_->builder->compile_ms_total();
  st.compile_ms_median = state_->builder->compile_ms_median();
  return st;
}

}  // namespace fp8jit
