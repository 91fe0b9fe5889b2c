#include "runtime/tuning_bench.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "compiler/fp8_format.hpp"
#include "compiler/layouts.hpp"
#include "runtime/context_state.hpp"
#include "util/parallel.hpp"

namespace fp8jit::runtime {

namespace {

constexpr std::uint16_t kPoison = 0xffff;  // NaN in bf16 and fp16; never produced by a kernel
constexpr int kPatternRows = 64;           // distinct token rows; more are repeats of them

double out_value(OutDType out, std::uint16_t bits) {
  return out == OutDType::bf16 ? compiler::bf16_to_float(bits) : compiler::fp16_to_float(bits);
}

// The calls `enqueue` makes on a stream, captured once into a graph on a stream of their own, so
// that a timed region replays them without the host's cost of each launch. That cost (the TMA
// descriptors, the launch itself: about 6 us a call on an H200's host) is more than the GPU time
// of a small weight's GEMM (about 2 us), so launches timed one by one tie every config of such a
// weight at the host's rate. Where the driver has no graphs (HIP here, the emulator), valid() is
// false and the caller times the launches themselves.
class ReplayedCalls {
 public:
  ReplayedCalls(Driver& driver, const std::function<void(void*)>& enqueue) : d_(driver) {
    try {
      stream_ = d_.create_stream();
      d_.begin_capture(stream_);
      try {
        enqueue(stream_);
      } catch (...) {
        d_.destroy_graph(d_.end_capture(stream_));
        throw;
      }
      graph_ = d_.end_capture(stream_);
      exec_ = d_.instantiate_graph(graph_);
      d_.launch_graph(exec_, stream_);  // the first replay uploads the graph
      d_.synchronize(stream_);
    } catch (const DriverError&) {
      release();  // no streams or graphs here: the caller times the launches (and sees any error)
    }
  }
  ReplayedCalls(const ReplayedCalls&) = delete;
  ReplayedCalls& operator=(const ReplayedCalls&) = delete;
  ~ReplayedCalls() { release(); }

  bool valid() const { return exec_ != nullptr; }
  double time_ms() {
    return d_.time_ms(stream_, [&] { d_.launch_graph(exec_, stream_); });
  }

 private:
  void release() noexcept {
    d_.destroy_graph_exec(exec_);
    d_.destroy_graph(graph_);
    d_.destroy_stream(stream_);
    exec_ = graph_ = stream_ = nullptr;
  }

  Driver& d_;
  void* stream_ = nullptr;
  void* graph_ = nullptr;
  void* exec_ = nullptr;
};

}  // namespace

TuningBench::TuningBench(Context& ctx, const PackedWeight& weight, std::int64_t max_m,
                         OutDType out, bool bias, std::uint64_t seed)
    : ctx_(ctx), weight_(weight), max_m_(max_m), out_(out), bias_(bias), rng_(seed) {
  ContextState& s = state_of(ctx);
  const std::int64_t n = weight.n(), k = weight.k();
  const std::size_t wbytes = compiler::packed_bytes(n, k);  // K % 32 == 16: padding columns too

  // Tokens: a pattern of random rows, repeated down the M rows.
  pattern_rows_ = static_cast<int>(std::min<std::int64_t>(max_m, kPatternRows));
  a_pattern_ = compiler::random_fp8(weight.format(), static_cast<std::size_t>(pattern_rows_ * k), rng_());
  a_ = ctx.alloc(static_cast<std::size_t>(max_m * k));
  for (std::int64_t r = 0; r < max_m; r += pattern_rows_) {
    const std::int64_t rows = std::min<std::int64_t>(pattern_rows_, max_m - r);
    ctx.copy_to_device(static_cast<std::uint8_t*>(a_.get()) + r * k, a_pattern_.data(),
                       static_cast<std::size_t>(rows * k));
  }
  std::uniform_real_distribution<float> scale(0.5f, 1.5f), unit(-1.f, 1.f);
  sa_host_.resize(max_m);
  for (auto& x : sa_host_) x = scale(rng_);
  sa_ = ctx.alloc(sa_host_.size() * 4);
  ctx.copy_to_device(sa_.get(), sa_host_.data(), sa_host_.size() * 4);
  if (bias) {
    bias_host_.resize(n);
    for (auto& b : bias_host_)
      b = out == OutDType::bf16 ? compiler::float_to_bf16(unit(rng_))
                                : compiler::float_to_fp16(unit(rng_));
    bias_buf_ = ctx.alloc(bias_host_.size() * 2);
    ctx.copy_to_device(bias_buf_.get(), bias_host_.data(), bias_host_.size() * 2);
  }
  sw_host_.resize(n);
  ctx.copy_to_host(sw_host_.data(), weight.scales(), sw_host_.size() * 4);
  out_buf_ = ctx.alloc(static_cast<std::size_t>(max_m * n * 2));

  // The weight, and copies of its packed bytes: more than 4x L2 in all, so that back-to-back
  // calls stream the weight from memory as a model's layers do.
  const std::size_t copies =
      std::clamp<std::size_t>((4 * ctx.l2_bytes() + wbytes) / wbytes, 1, 16);
  weights_.push_back(ctx.wrap_packed_weight(weight.data(), weight.scales(), n, k, weight.layout()));
  std::vector<std::uint8_t> host;  // only where the driver has no device-to-device copy
  for (std::size_t c = 1; c < copies; ++c) {
    copy_storage_.push_back(ctx.alloc(wbytes));
    void* dst = copy_storage_.back().get();
    try {
      if (host.empty()) s.driver->copy_device_async(dst, weight.data(), wbytes, nullptr);
    } catch (const DriverError&) {
      host.resize(wbytes);
      ctx.copy_to_host(host.data(), weight.data(), wbytes);
    }
    if (!host.empty()) ctx.copy_to_device(dst, host.data(), wbytes);
    weights_.push_back(ctx.wrap_packed_weight(dst, weight.scales(), n, k, weight.layout()));
  }
  ctx.synchronize();
}

GemmArgs TuningBench::args(std::int64_t m, int copy) const {
  GemmArgs g;
  g.a = a_.get();
  g.sa = static_cast<const float*>(sa_.get());
  g.w = &weights_[copy];
  g.bias = bias_ ? bias_buf_.get() : nullptr;
  g.out = out_buf_.get();
  g.m = m;
  g.out_dtype = out_;
  return g;
}

const std::vector<double>& TuningBench::weight_row(std::int64_t n) {
  for (const auto& [row, values] : rows_)
    if (row == n) return values;
  const std::int64_t N = weight_.n(), K = weight_.k();
  // The packed bytes of row n lie between its smallest and largest offset (a 16-row strip in
  // both layouts): read that range back and pick the row out of it.
  std::size_t lo = SIZE_MAX, hi = 0;
  std::vector<std::size_t> offsets(K);
  for (std::int64_t c = 0; c < K; ++c) {
    offsets[c] = compiler::packed_offset(weight_.layout(), N, K, n, c);
    lo = std::min(lo, offsets[c]), hi = std::max(hi, offsets[c]);
  }
  std::vector<std::uint8_t> bytes(hi - lo + 1);
  ctx_.copy_to_host(bytes.data(), static_cast<const std::uint8_t*>(weight_.data()) + lo,
                    bytes.size());
  const auto lut = compiler::fp8_table(weight_.format());
  std::vector<double> values(K);
  for (std::int64_t c = 0; c < K; ++c) values[c] = lut[bytes[offsets[c] - lo]];
  rows_.emplace_back(n, std::move(values));
  return rows_.back().second;
}

double TuningBench::check(std::int64_t m, const TrialBudget& budget) {
  ctx_.synchronize();
  const std::int64_t N = weight_.n(), K = weight_.k();
  std::set<std::int64_t> rows = {0, m - 1};
  std::uniform_int_distribution<std::int64_t> pick_row(0, m - 1), pick_col(0, N - 1);
  while (static_cast<int>(rows.size()) < std::min<std::int64_t>(m, budget.check_rows))
    rows.insert(pick_row(rng_));
  std::set<std::int64_t> cols = {N - 1};
  while (static_cast<int>(cols.size()) < std::min<std::int64_t>(N, budget.check_columns))
    cols.insert(pick_col(rng_));
  const auto lut = compiler::fp8_table(weight_.format());
  std::vector<std::uint16_t> got(N);
  std::vector<double> a(K);
  double diff = 0, norm = 0;
  for (const std::int64_t r : rows) {
    ctx_.copy_to_host(got.data(), static_cast<const std::uint16_t*>(out_buf_.get()) + r * N,
                      got.size() * 2);
    // Every element of a checked row must have been written, and none may be NaN.
    for (const std::uint16_t v : got)
      if (v == kPoison || std::isnan(out_value(out_, v))) return INFINITY;
    const std::uint8_t* ar = &a_pattern_[(r % pattern_rows_) * K];
    for (std::int64_t c = 0; c < K; ++c) a[c] = lut[ar[c]];
    for (const std::int64_t n : cols) {
      const std::vector<double>& w = weight_row(n);
      double acc = 0;
      for (std::int64_t c = 0; c < K; ++c) acc += a[c] * w[c];
      double ref = double(sa_host_[r]) * double(sw_host_[n]) * acc;
      if (bias_) ref += out_value(out_, bias_host_[n]);
      diff += (out_value(out_, got[n]) - ref) * (out_value(out_, got[n]) - ref);
      norm += ref * ref;
    }
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

std::vector<Trial> TuningBench::run(std::int64_t m, const std::vector<compiler::GemmConfig>& configs,
                                    const TrialBudget& budget) {
  if (m < 1 || m > max_m_)
    throw InvalidArgument("failed to time configs: M = " + std::to_string(m) +
                          " is outside the bench's 1.." + std::to_string(max_m_));
  ContextState& s = state_of(ctx_);
  std::vector<Trial> trials(configs.size());
  for (std::size_t i = 0; i < configs.size(); ++i) trials[i].config = configs[i];

  // Build and load every kernel first, on several threads: compiles dominate a cold tune.
  std::vector<const LoadedKernel*> kernels(configs.size(), nullptr);
  util::parallel_for(configs.size(), budget.jobs, [&](std::size_t i) {
    try {
      const auto spec =
          compiler::gemm_spec(s.target, weight_.n(), weight_.k(), configs[i], out_, bias_);
      const LoadedKernel& k = s.kernels->get(spec);
      if (k.resources.spilled())
        trials[i].failure = "spills " + std::to_string(k.resources.spills);
      else
        kernels[i] = &k;
    } catch (const Error& e) {
      trials[i].failure = std::string("build: ") + e.what();
    }
  });

  const int copies = this->copies();
  double fastest = INFINITY;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    if (!kernels[i]) continue;
    Trial& t = trials[i];
    auto call = [&](int c, void* stream = nullptr) {
      gemm_with_config(ctx_, args(m, c), t.config, stream);
    };
    s.driver->memset(out_buf_.get(), 0xff, static_cast<std::size_t>(m * weight_.n() * 2));
    call(0);
    t.err = check(m, budget);
    if (!(t.err <= kTrialTolerance)) {  // NaN and unwritten outputs fail too
      t.failure = "error " + std::to_string(t.err) + " against the float64 reference";
      continue;
    }
    for (int w = 0; w < 2; ++w)
      for (int c = 0; c < copies; ++c) call(c);
    // The replay runs on a non-blocking stream of its own: without this wait its first timed
    // region overlaps the warm-up calls still running on the default stream (milliseconds for a
    // large GEMM), reads nearly twice the time, and a candidate judged on that region is dropped.
    ctx_.synchronize();
    const int rounds = std::max(1, (budget.min_calls + copies - 1) / copies);
    const auto region = [&](void* stream) {
      for (int i = 0; i < rounds; ++i)
        for (int c = 0; c < copies; ++c) call(c, stream);
    };
    ReplayedCalls replay(*s.driver, region);
    std::vector<double> per_call;
    for (int r = 0; r < std::max(1, budget.reps); ++r) {
      const double ms = replay.valid() ? replay.time_ms() : ctx_.time_ms(nullptr, [&] { region(nullptr); });
      per_call.push_back(ms * 1e3 / (rounds * copies));
      if (r == 0 && budget.abandon_ratio > 0 && per_call[0] > budget.abandon_ratio * fastest) break;
    }
    std::sort(per_call.begin(), per_call.end());
    t.us = per_call[per_call.size() / 2];
    fastest = std::min(fastest, t.us);
  }
  return trials;
}

}  // namespace fp8jit::runtime
