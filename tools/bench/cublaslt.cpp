#include "tools/bench/cublaslt.hpp"

#include <cstring>

#include "util/dynlib.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::bench {

namespace {

// Values from cublasLt.h / library_types.h / cublas_api.h (CUDA 13).
constexpr int kSuccess = 0;
constexpr int CUBLAS_COMPUTE_32F = 68;
constexpr int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14, CUDA_R_8F_E4M3 = 28;
constexpr int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
constexpr int DESC_TRANSA = 3, DESC_TRANSB = 4, DESC_EPILOGUE = 7, DESC_BIAS_POINTER = 8,
              DESC_A_SCALE_POINTER = 17, DESC_B_SCALE_POINTER = 18, DESC_BIAS_DATA_TYPE = 26,
              DESC_A_SCALE_MODE = 31, DESC_B_SCALE_MODE = 32;
constexpr int SCALE_OUTER_VEC_32F = 3;
constexpr int EPILOGUE_DEFAULT = 1, EPILOGUE_BIAS = 4;
constexpr int PREF_MAX_WORKSPACE_BYTES = 1;

struct Algo {
  std::uint64_t data[8];
};
struct HeuristicResult {
  Algo algo;
  std::size_t workspace_size;
  int state;
  float waves;
  int reserved[4];
};

}  // namespace

// The cuBLASLt entry points the benchmark uses, each listed once: the member, its symbol, the
// result type and the parameters. Api's members and their binding (in the constructor) are made
// from this list, in its order.
#define FP8JIT_CUBLASLT_API(X)                                                                   \
  X(Create, cublasLtCreate, int, void**)                                                         \
  X(Destroy, cublasLtDestroy, int, void*)                                                        \
  X(GetVersion, cublasLtGetVersion, std::size_t)                                                 \
  X(DescCreate, cublasLtMatmulDescCreate, int, void**, int, int)                                 \
  X(DescDestroy, cublasLtMatmulDescDestroy, int, void*)                                          \
  X(DescSetAttribute, cublasLtMatmulDescSetAttribute, int, void*, int, const void*, std::size_t) \
  X(LayoutCreate, cublasLtMatrixLayoutCreate, int, void**, int, std::uint64_t, std::uint64_t,    \
    std::int64_t)                                                                                \
  X(LayoutDestroy, cublasLtMatrixLayoutDestroy, int, void*)                                      \
  X(PrefCreate, cublasLtMatmulPreferenceCreate, int, void**)                                     \
  X(PrefDestroy, cublasLtMatmulPreferenceDestroy, int, void*)                                    \
  X(PrefSetAttribute, cublasLtMatmulPreferenceSetAttribute, int, void*, int, const void*,        \
    std::size_t)                                                                                 \
  X(Heuristic, cublasLtMatmulAlgoGetHeuristic, int, void*, void*, void*, void*, void*, void*,    \
    void*, int, HeuristicResult*, int*)                                                          \
  X(Matmul, cublasLtMatmul, int, void*, void*, const void*, const void*, void*, const void*,     \
    void*, const void*, const void*, void*, void*, void*, const Algo*, void*, std::size_t, void*)

struct CublasLt::Api {
  util::DynLib lib;
#define FP8JIT_CUBLASLT_MEMBER(name, symbol, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  FP8JIT_CUBLASLT_API(FP8JIT_CUBLASLT_MEMBER)
#undef FP8JIT_CUBLASLT_MEMBER

  void check(int rc, const std::string& what) const {
    if (rc != kSuccess)
      throw DriverError("failed to " + what + ": cuBLASLt status " + std::to_string(rc));
  }
};

// The descriptors and algorithm of one (m, n, k, dtype, bias), made once.
struct CublasLt::Plan {
  const Api& api;
  void* desc = nullptr;
  void* layout[3] = {nullptr, nullptr, nullptr};  // W (op A), A (op B), out (C and D)
  Algo algo{};
  explicit Plan(const Api& a) : api(a) {}
  ~Plan() {
    for (void* l : layout)
      if (l) api.LayoutDestroy(l);
    if (desc) api.DescDestroy(desc);
  }
};

CublasLt::CublasLt(void* workspace, std::size_t workspace_bytes)
    : api_(std::make_unique<Api>()), workspace_(workspace), workspace_bytes_(workspace_bytes) {
  std::string why;
  api_->lib = util::DynLib::open_first(
      {"libcublasLt.so.13", "libcublasLt.so.12", "/usr/local/cuda/lib64/libcublasLt.so.13"}, &why);
  if (!api_->lib) throw DriverError("failed to load cuBLASLt: " + why);
  std::string missing;
  const auto& lib = api_->lib;
#define FP8JIT_CUBLASLT_BIND(name, symbol, ...) lib.bind(api_->name, #symbol, &missing);
  FP8JIT_CUBLASLT_API(FP8JIT_CUBLASLT_BIND)
#undef FP8JIT_CUBLASLT_BIND
  if (!missing.empty()) throw DriverError("failed to load cuBLASLt from " + lib.path() + ": missing " + missing);
  api_->check(api_->Create(&handle_), "create a cuBLASLt handle");
}

CublasLt::~CublasLt() {
  plans_.clear();
  if (handle_) api_->Destroy(handle_);
}

std::string CublasLt::version() const {
  return "cuBLASLt " + std::to_string(api_->GetVersion()) + " (" + api_->lib.path() + ")";
}

void CublasLt::gemm(const void* a, const float* sa, const void* w, const float* sw,
                    const void* bias, void* out, std::int64_t m, std::int64_t n, std::int64_t k,
                    OutDType out_dtype, void* stream) {
  // Column-major view: out^T [n, m] = op(W) · op(A) with W stored [n, k] row-major = [k, n]
  // column-major (op T) and A [m, k] row-major = [k, m] column-major (op N): the "TN" form FP8
  // needs. Outer-vector scales: sw per row of op(W), sa per column of op(A).
  const int dt = out_dtype == OutDType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  const auto key = std::make_tuple(m, n, k, dt, bias != nullptr);
  auto& plan = plans_[key];
  const Api& api = *api_;
  // Sets the scale (and bias) pointers of this call into the descriptor `desc`.
  const auto set_pointers = [&](void* desc) {
    api.check(api.DescSetAttribute(desc, DESC_A_SCALE_POINTER, &sw, sizeof sw), "set A_SCALE_POINTER");
    api.check(api.DescSetAttribute(desc, DESC_B_SCALE_POINTER, &sa, sizeof sa), "set B_SCALE_POINTER");
    if (bias) api.check(api.DescSetAttribute(desc, DESC_BIAS_POINTER, &bias, sizeof bias), "set BIAS_POINTER");
  };
  if (!plan) {
    auto p = std::make_unique<Plan>(api);
    api.check(api.DescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "create a matmul descriptor");
    const int ta = CUBLAS_OP_T, tb = CUBLAS_OP_N, mode = SCALE_OUTER_VEC_32F;
    const int epi = bias ? EPILOGUE_BIAS : EPILOGUE_DEFAULT;
    api.check(api.DescSetAttribute(p->desc, DESC_TRANSA, &ta, sizeof ta), "set TRANSA");
    api.check(api.DescSetAttribute(p->desc, DESC_TRANSB, &tb, sizeof tb), "set TRANSB");
    api.check(api.DescSetAttribute(p->desc, DESC_A_SCALE_MODE, &mode, sizeof mode), "set A_SCALE_MODE");
    api.check(api.DescSetAttribute(p->desc, DESC_B_SCALE_MODE, &mode, sizeof mode), "set B_SCALE_MODE");
    api.check(api.DescSetAttribute(p->desc, DESC_EPILOGUE, &epi, sizeof epi), "set EPILOGUE");
    if (bias) api.check(api.DescSetAttribute(p->desc, DESC_BIAS_DATA_TYPE, &dt, sizeof dt), "set BIAS_DATA_TYPE");
    // The scale (and bias) pointers are set before the query too: some scale modes are checked
    // against them. They are set again on every call below.
    set_pointers(p->desc);
    api.check(api.LayoutCreate(&p->layout[0], CUDA_R_8F_E4M3, k, n, k), "create the W layout");
    api.check(api.LayoutCreate(&p->layout[1], CUDA_R_8F_E4M3, k, m, k), "create the A layout");
    api.check(api.LayoutCreate(&p->layout[2], dt, n, m, n), "create the out layout");
    void* pref = nullptr;
    api.check(api.PrefCreate(&pref), "create a matmul preference");
    const std::uint64_t ws = workspace_bytes_;
    api.PrefSetAttribute(pref, PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    HeuristicResult result{};
    int found = 0;
    const int rc = api.Heuristic(handle_, p->desc, p->layout[0], p->layout[1], p->layout[2],
                                 p->layout[2], pref, 1, &result, &found);
    if (rc != kSuccess || found == 0) {
      // Say which part of the request cuBLASLt refuses: the same query without the bias
      // epilogue, and without the outer-vector scale modes.
      std::string probes;
      auto probe = [&](const char* what, int attr, int value) {
        void* d = nullptr;
        api.DescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F);
        api.DescSetAttribute(d, DESC_TRANSA, &ta, sizeof ta);
        api.DescSetAttribute(d, DESC_TRANSB, &tb, sizeof tb);
        if (attr != DESC_A_SCALE_MODE) {
          api.DescSetAttribute(d, DESC_A_SCALE_MODE, &mode, sizeof mode);
          api.DescSetAttribute(d, DESC_B_SCALE_MODE, &mode, sizeof mode);
        }
        api.DescSetAttribute(d, attr, &value, sizeof value);
        HeuristicResult r{};
        int n_found = 0;
        const int s = api.Heuristic(handle_, d, p->layout[0], p->layout[1], p->layout[2],
                                    p->layout[2], pref, 1, &r, &n_found);
        api.DescDestroy(d);
        probes += std::string("; ") + what + ": status " + std::to_string(s) + ", " +
                  std::to_string(n_found) + " found";
      };
      probe("without bias", DESC_EPILOGUE, EPILOGUE_DEFAULT);
      probe("per-tensor scales, without bias", DESC_A_SCALE_MODE, 0);
      api.PrefDestroy(pref);
      throw DriverError("failed to find a cuBLASLt algorithm for M=" + std::to_string(m) + " N=" +
                        std::to_string(n) + " K=" + std::to_string(k) + " (bias " +
                        (bias ? "on" : "off") + "): status " + std::to_string(rc) + ", " +
                        std::to_string(found) + " found" + probes);
    }
    api.PrefDestroy(pref);
    p->algo = result.algo;
    plan = std::move(p);
  }
  set_pointers(plan->desc);
  const float one = 1.f, zero = 0.f;
  api.check(api.Matmul(handle_, plan->desc, &one, w, plan->layout[0], a, plan->layout[1], &zero,
                       out, plan->layout[2], out, plan->layout[2], &plan->algo, workspace_,
                       workspace_bytes_, stream),
            "run cuBLASLt matmul M=" + std::to_string(m) + " N=" + std::to_string(n) + " K=" + std::to_string(k));
}

}  // namespace fp8jit::bench
