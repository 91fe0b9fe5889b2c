// CudaDriver: the Driver interface over the CUDA driver API (libcuda.so.1, dlopen'ed), on the
// device's primary context, the one the CUDA runtime and torch use.
//
// NOTE: cuda.h is deliberately not included, so that the library builds where the toolkit is
// absent. The few types, enum values and prototypes used are declared below; each was checked
// against cuda.h of CUDA 13.0 and none has changed since CUDA 11.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "util/dynlib.hpp"
#include "util/text.hpp"
#include "fp8jit/error.hpp"
#include "runtime/driver.hpp"
#include "runtime/gpu_driver.hpp"

namespace fp8jit::runtime {

namespace {

using util::address;

// --- the part of cuda.h fp8jit needs ---------------------------------------------------------
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;  // 64-bit builds only, as cuda.h on x86-64 / aarch64
using CUcontext = struct CUctx_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUstream = struct CUstream_st*;
using CUevent = struct CUevent_st*;
using CUgraph = struct CUgraph_st*;
using CUgraphExec = struct CUgraphExec_st*;

// cuLaunchKernelEx's configuration, as laid out in cuda.h (the attribute value is a 64-byte union
// of which fp8jit sets one int).
constexpr int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
struct CUlaunchAttribute {
  int id;
  char pad[4];
  union {
    char bytes[64];
    int programmatic_stream_serialization_allowed;
  } value;
};
static_assert(sizeof(CUlaunchAttribute) == 72, "cuda.h's CUlaunchAttribute is 72 bytes");
struct CUlaunchConfig {
  unsigned grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_bytes;
  CUstream stream;
  CUlaunchAttribute* attrs;
  unsigned num_attrs;
};

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_DEINITIALIZED = 4;
// CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED .. CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD: a call that is
// not allowed while a stream capture is in progress (or a capture gone wrong).
constexpr CUresult CUDA_ERROR_STREAM_CAPTURE_FIRST = 900;
constexpr CUresult CUDA_ERROR_STREAM_CAPTURE_LAST = 908;
constexpr unsigned CU_STREAM_NON_BLOCKING = 0x1;
constexpr int CU_STREAM_CAPTURE_MODE_GLOBAL = 0;

// CUdevice_attribute
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36;
constexpr int CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37;
constexpr int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
// CUfunction_attribute
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

// cuTensorMapEncodeTiled's enums (CUtensorMapDataType, ...Interleave, ...Swizzle,
// ...L2promotion, ...FloatOOBfill).
constexpr int CU_TENSOR_MAP_DATA_TYPE_UINT8 = 0;
constexpr int CU_TENSOR_MAP_DATA_TYPE_UINT32 = 2;
constexpr int CU_TENSOR_MAP_INTERLEAVE_NONE = 0;
constexpr int CU_TENSOR_MAP_SWIZZLE_NONE = 0;
constexpr int CU_TENSOR_MAP_SWIZZLE_128B = 3;
constexpr int CU_TENSOR_MAP_L2_PROMOTION_L2_256B = 3;
constexpr int CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE = 0;  // out-of-bounds elements read as zero

// Dynamic shared memory a kernel may use without opting in.
constexpr unsigned kDefaultDynamicShared = 48 * 1024;

// The CUDA calls fp8jit makes, each listed once: the name and the parameters (every one returns
// CUresult). An entry written V2 is bound to the name's _v2 symbol, as cuda.h maps the name (the
// unversioned symbols are the CUDA 3.x ABI with 32-bit sizes). CudaApi's members and its bind() are
// made from these lists; binding follows their order, so that missing names are listed in it.
#define FP8JIT_CUDA_REQUIRED(X, V2)                                               \
  X(cuInit, unsigned)                                                             \
  X(cuDriverGetVersion, int*)                                                     \
  X(cuGetErrorName, CUresult, const char**)                                       \
  X(cuGetErrorString, CUresult, const char**)                                     \
  X(cuDeviceGetCount, int*)                                                       \
  X(cuDeviceGet, CUdevice*, int)                                                  \
  X(cuDeviceGetName, char*, int, CUdevice)                                        \
  X(cuDeviceGetAttribute, int*, int, CUdevice)                                    \
  V2(cuDeviceTotalMem, std::size_t*, CUdevice)                                    \
  X(cuDevicePrimaryCtxRetain, CUcontext*, CUdevice)                               \
  V2(cuDevicePrimaryCtxRelease, CUdevice)                                         \
  X(cuCtxSetCurrent, CUcontext)                                                   \
  X(cuCtxGetCurrent, CUcontext*)                                                  \
  X(cuCtxSynchronize)                                                             \
  X(cuModuleLoadData, CUmodule*, const void*)                                     \
  X(cuModuleUnload, CUmodule)                                                     \
  X(cuModuleGetFunction, CUfunction*, CUmodule, const char*)                      \
  X(cuFuncGetAttribute, int*, int, CUfunction)                                    \
  X(cuFuncSetAttribute, CUfunction, int, int)                                     \
  X(cuLaunchKernel, CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, \
    unsigned, unsigned, CUstream, void**, void**)                                 \
  V2(cuMemAlloc, CUdeviceptr*, std::size_t)                                       \
  V2(cuMemFree, CUdeviceptr)                                                      \
  V2(cuMemcpyHtoD, CUdeviceptr, const void*, std::size_t)                         \
  V2(cuMemcpyDtoH, void*, CUdeviceptr, std::size_t)                               \
  V2(cuMemsetD8, CUdeviceptr, unsigned char, std::size_t)                         \
  X(cuStreamSynchronize, CUstream)                                                \
  X(cuEventCreate, CUevent*, unsigned)                                            \
  X(cuEventRecord, CUevent, CUstream)                                             \
  X(cuEventSynchronize, CUevent)                                                  \
  V2(cuEventElapsedTime, float*, CUevent, CUevent)                                \
  V2(cuEventDestroy, CUevent)

// Optional: bound when present (nullptr otherwise, and not counted as missing), checked where
// used, so that a driver without them still opens. The TMA descriptors of the wgmma family and
// programmatic dependent launch (CUDA 12+); then Driver's optional part (benchmarks and tests).
#define FP8JIT_CUDA_OPTIONAL(X, V2)                                                         \
  X(cuTensorMapEncodeTiled, void* map, int data_type, unsigned rank, void* base,            \
    const unsigned long long* dims, const unsigned long long* strides, const unsigned* box, \
    const unsigned* element_strides, int interleave, int swizzle, int l2_promotion,         \
    int oob_fill)                                                                           \
  X(cuLaunchKernelEx, const CUlaunchConfig*, CUfunction, void**, void**)                    \
  V2(cuMemcpyDtoDAsync, CUdeviceptr, CUdeviceptr, std::size_t, CUstream)                    \
  X(cuStreamCreate, CUstream*, unsigned)                                                    \
  V2(cuStreamDestroy, CUstream)                                                             \
  V2(cuStreamBeginCapture, CUstream, int)                                                   \
  X(cuStreamEndCapture, CUstream, CUgraph*)                                                 \
  X(cuStreamIsCapturing, CUstream, int*)                                                    \
  X(cuGraphInstantiateWithFlags, CUgraphExec*, CUgraph, unsigned long long)                 \
  X(cuGraphLaunch, CUgraphExec, CUstream)                                                   \
  X(cuGraphDestroy, CUgraph)                                                                \
  X(cuGraphExecDestroy, CUgraphExec)

struct CudaApi {
#define FP8JIT_CUDA_MEMBER(name, ...) CUresult (*name)(__VA_ARGS__) = nullptr;
  FP8JIT_CUDA_REQUIRED(FP8JIT_CUDA_MEMBER, FP8JIT_CUDA_MEMBER)
  FP8JIT_CUDA_OPTIONAL(FP8JIT_CUDA_MEMBER, FP8JIT_CUDA_MEMBER)
#undef FP8JIT_CUDA_MEMBER

  // Binds every entry; returns the names of the required ones that are missing ("" when none).
  std::string bind(const util::DynLib& lib) {
    std::string missing;
    std::string* collect = &missing;
#define FP8JIT_CUDA_BIND(name, ...) lib.bind(name, #name, collect);
#define FP8JIT_CUDA_BIND_V2(name, ...) lib.bind(name, #name "_v2", collect);
    FP8JIT_CUDA_REQUIRED(FP8JIT_CUDA_BIND, FP8JIT_CUDA_BIND_V2)
    collect = nullptr;
    FP8JIT_CUDA_OPTIONAL(FP8JIT_CUDA_BIND, FP8JIT_CUDA_BIND_V2)
#undef FP8JIT_CUDA_BIND
#undef FP8JIT_CUDA_BIND_V2
    return missing;
  }

  // "CUDA_ERROR_OUT_OF_MEMORY: out of memory"; works before cuInit and after shutdown.
  std::string describe(CUresult r) const {
    const char* name = nullptr;
    const char* text = nullptr;
    if (cuGetErrorName(r, &name) != CUDA_SUCCESS || !name) return "CUresult " + std::to_string(r);
    if (cuGetErrorString(r, &text) != CUDA_SUCCESS || !text) return name;
    return std::string(name) + ": " + text;
  }

  // Throws DriverError "failed to <what>: <CUDA_ERROR_NAME>: <text>" unless r is CUDA_SUCCESS.
  // `what` is a callable so that the message is only built on failure (launch is a hot path).
  template <class What>
  void check(CUresult r, What&& what) const {
    if (r != CUDA_SUCCESS) throw DriverError("failed to " + what() + ": " + describe(r));
  }
};

CUdeviceptr dptr(const void* p) { return reinterpret_cast<CUdeviceptr>(p); }

// What every module and allocation needs to outlive: the library, its entry points and the
// retained primary context. Shared by the driver and each of its modules, so a module destroyed
// after its driver still unloads from a live context through a loaded library.
struct CudaSession {
  util::DynLib lib;
  CudaApi api;
  int ordinal = 0;
  CUdevice device = 0;
  CUcontext ctx = nullptr;

  CudaSession() = default;
  CudaSession(const CudaSession&) = delete;
  CudaSession& operator=(const CudaSession&) = delete;
  ~CudaSession() {
    // Fails only with CUDA_ERROR_DEINITIALIZED at process exit, when there is nothing to release.
    if (ctx) api.cuDevicePrimaryCtxRelease(device);
  }
};

// Makes the session's context current on the calling thread for the scope of one call.
// NOTE: when another context was bound (an engine driving another device on this thread), it is
// restored afterwards; when none was, ours stays bound, so that the next call on this thread costs
// one cuCtxGetCurrent and nothing else.
class ScopedContext {
 public:
  explicit ScopedContext(const CudaSession& s) : s_(s) {
    CUcontext current = nullptr;
    s.api.check(s.api.cuCtxGetCurrent(&current),
                [] { return std::string("query the current CUDA context"); });
    if (current == s.ctx) return;
    s.api.check(s.api.cuCtxSetCurrent(s.ctx), [&] {
      return "make the primary context of CUDA device " + std::to_string(s.ordinal) + " current";
    });
    previous_ = current;
  }
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;
  ~ScopedContext() {
    if (previous_) s_.api.cuCtxSetCurrent(previous_);
  }

 private:
  const CudaSession& s_;
  CUcontext previous_ = nullptr;
};

// CUDA in the terms of GpuDriver (runtime/gpu_driver.hpp).
struct Cuda {
  static constexpr const char* kName = "CUDA";
  static constexpr const char* kSharedMemory = "shared";
  using Session = CudaSession;
  using Scope = ScopedContext;
  using ModuleHandle = CUmodule;
  using Event = CUevent;

  static CUresult alloc(const Session& s, void** p, std::size_t bytes) {
    CUdeviceptr d = 0;
    const CUresult r = s.api.cuMemAlloc(&d, bytes);
    *p = reinterpret_cast<void*>(d);
    return r;
  }
  static CUresult free(const Session& s, void* p) { return s.api.cuMemFree(dptr(p)); }
  static CUresult copy_to_device(const Session& s, void* dst, const void* src, std::size_t bytes) {
    return s.api.cuMemcpyHtoD(dptr(dst), src, bytes);
  }
  static CUresult copy_to_host(const Session& s, void* dst, const void* src, std::size_t bytes) {
    return s.api.cuMemcpyDtoH(dst, dptr(src), bytes);
  }
  static CUresult memset(const Session& s, void* dst, unsigned char value, std::size_t bytes) {
    return s.api.cuMemsetD8(dptr(dst), value, bytes);
  }
  static CUresult synchronize_stream(const Session& s, void* stream) {
    return s.api.cuStreamSynchronize(static_cast<CUstream>(stream));
  }
  static CUresult synchronize_device(const Session& s) { return s.api.cuCtxSynchronize(); }
  static CUresult create_event(const Session& s, CUevent* e) { return s.api.cuEventCreate(e, 0); }
  static CUresult record_event(const Session& s, CUevent e, void* stream) {
    return s.api.cuEventRecord(e, static_cast<CUstream>(stream));
  }
  static CUresult wait_event(const Session& s, CUevent e) { return s.api.cuEventSynchronize(e); }
  static CUresult elapsed_ms(const Session& s, float* ms, CUevent from, CUevent to) {
    return s.api.cuEventElapsedTime(ms, from, to);
  }
  static CUresult destroy_event(const Session& s, CUevent e) { return s.api.cuEventDestroy(e); }

  // Never throws; tolerates driver shutdown (CUDA_ERROR_DEINITIALIZED from static destructors at
  // exit), in which case the driver has already freed the module.
  static void unload_module(const Session& s, CUmodule module) noexcept {
    const CudaApi& api = s.api;
    CUcontext previous = nullptr;
    if (api.cuCtxGetCurrent(&previous) == CUDA_SUCCESS) {
      const bool switched = previous != s.ctx && api.cuCtxSetCurrent(s.ctx) == CUDA_SUCCESS;
      // Any error here (CUDA_ERROR_DEINITIALIZED included) leaves nothing to undo.
      api.cuModuleUnload(module);
      if (switched && previous) api.cuCtxSetCurrent(previous);
    }
  }
};

class CudaDriver final : public GpuDriver<Cuda> {
 public:
  explicit CudaDriver(int ordinal) {
    Session& s = *s_;
    const CudaApi& api = s.api;
    std::string why;
    s.lib = util::DynLib::open_first({"libcuda.so.1", "libcuda.so"}, &why);
    if (!s.lib)
      throw DriverError("failed to load the CUDA driver (tried libcuda.so.1, libcuda.so): " + why);
    bind_entry_points("the CUDA driver");

    api.check(api.cuInit(0), [&] { return "initialize the CUDA driver " + s.lib.path(); });
    int version = 0;
    api.check(api.cuDriverGetVersion(&version), [] { return std::string("query the CUDA driver version"); });
    name_ = "cuda " + std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);

    int count = 0;
    api.check(api.cuDeviceGetCount(&count), [] { return std::string("count CUDA devices"); });
    if (count == 0)
      throw DriverError("failed to open CUDA device " + std::to_string(ordinal) +
                        ": no CUDA device is present (" + name_ + ")");
    check_ordinal(ordinal, count);
    s.ordinal = ordinal;
    api.check(api.cuDeviceGet(&s.device, ordinal), on_device("get the handle"));

    char name[256] = {};
    api.check(api.cuDeviceGetName(name, sizeof name - 1, s.device), on_device("query the name"));
    info_.name = name;
    const auto attribute = [&](int attr, const char* what) {
      int value = 0;
      api.check(api.cuDeviceGetAttribute(&value, attr, s.device), on_device(what));
      return value;
    };
    const int major = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "query the compute capability");
    const int minor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "query the compute capability");
    // NOTE: "a" (arch-specific features: wgmma, setmaxnreg) only for 9.0; the kernels of other
    // GPUs use nothing outside the portable feature set.
    info_.arch = "sm_" + std::to_string(major * 10 + minor) + (major == 9 && minor == 0 ? "a" : "");
    info_.multiprocessors = attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "query the SM count");
    info_.shared_per_block_optin = static_cast<std::size_t>(
        attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, "query the opt-in shared memory"));
    info_.l2_bytes = static_cast<std::size_t>(attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, "query the L2 size"));
    api.check(api.cuDeviceTotalMem(&info_.memory_bytes, s.device), on_device("query the memory size"));
    // Informational (tuned rows and the cost model's defaults): a driver that no longer reports
    // them leaves the bandwidth unknown rather than failing.
    int clock_khz = 0, bus_bits = 0;
    if (api.cuDeviceGetAttribute(&clock_khz, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, s.device) == CUDA_SUCCESS &&
        api.cuDeviceGetAttribute(&bus_bits, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, s.device) == CUDA_SUCCESS)
      info_.memory_bytes_per_s = peak_memory_bandwidth(clock_khz, bus_bits);

    api.check(api.cuDevicePrimaryCtxRetain(&s.ctx, s.device), on_device("retain the primary context"));
  }

  Module load(const std::vector<std::uint8_t>& binary) override {
    if (binary.empty()) throw DriverError("failed to load a CUDA module: the binary is empty");
    ScopedContext scope(*s_);
    // NOTE: cuModuleLoadData takes no length: a cubin or fatbin carries its own, but anything
    // else is read as NUL-terminated PTX text. A copy with a terminator keeps a corrupt or
    // truncated entry from being read past its end.
    std::vector<std::uint8_t> terminated;
    const void* image = binary.data();
    if (binary.back() != 0) {
      terminated.reserve(binary.size() + 1);
      terminated.assign(binary.begin(), binary.end());
      terminated.push_back(0);
      image = terminated.data();
    }
    CUmodule module = nullptr;
    const auto what = [&] {
      return "load a CUDA module of " + std::to_string(binary.size()) + " bytes on device " +
             std::to_string(s_->ordinal) + " (" + info_.arch + ")";
    };
    const CUresult r = s_->api.cuModuleLoadData(&module, image);
    if (r >= CUDA_ERROR_STREAM_CAPTURE_FIRST && r <= CUDA_ERROR_STREAM_CAPTURE_LAST)
      throw CaptureConflict("failed to " + what() + ": " + s_->api.describe(r) +
                            " (a kernel must be loaded before a stream capture begins: make a "
                            "Plan, or run each shape and M bucket once, before capturing)");
    s_->api.check(r, what);
    return own(module);
  }

  void* function(const Module& module, const std::string& name) override {
    if (!module.get()) throw DriverError("failed to find kernel '" + name + "': the module is empty");
    ScopedContext scope(*s_);
    CUfunction f = nullptr;
    s_->api.check(s_->api.cuModuleGetFunction(&f, handle(module), name.c_str()),
                  [&] { return "find kernel '" + name + "' in its CUDA module"; });
    return f;
  }

  void launch(void* function, const LaunchDims& d, void* stream, void** args) override {
    const CudaApi& api = s_->api;
    ScopedContext scope(*s_);
    auto f = static_cast<CUfunction>(function);
    if (d.shared_bytes > kDefaultDynamicShared) opt_in_shared(f, d.shared_bytes);
    const auto what = [&] { return launch_text(function, d, stream); };
    if (d.programmatic && api.cuLaunchKernelEx) {
      CUlaunchAttribute attr{};
      attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
      attr.value.programmatic_stream_serialization_allowed = 1;
      const CUlaunchConfig config{d.grid[0], d.grid[1], d.grid[2], d.block[0], d.block[1], d.block[2],
                                  d.shared_bytes, static_cast<CUstream>(stream), &attr, 1};
      api.check(api.cuLaunchKernelEx(&config, f, args, nullptr), what);
      return;
    }
    api.check(api.cuLaunchKernel(f, d.grid[0], d.grid[1], d.grid[2], d.block[0], d.block[1],
                                 d.block[2], d.shared_bytes, static_cast<CUstream>(stream), args,
                                 nullptr),
              what);
  }

  void encode_tma(void* map, const TmaTensor& t) override {
    const CudaApi& api = s_->api;
    require(api.cuTensorMapEncodeTiled, "build a TMA descriptor (CUDA 12 or later)");
    const unsigned element_strides[3] = {1, 1, 1};
    auto describe = [&] {
      std::string d = "build a TMA descriptor for a tensor of ";
      for (int i = t.rank - 1; i >= 0; --i)
        d += std::to_string(t.dims[i]) + (i ? " x " : "");
      d += " elements of " + std::to_string(t.element_bytes) + " bytes at " + address(t.base) +
           " (byte strides";
      for (int i = t.rank - 2; i >= 0; --i) d += " " + std::to_string(t.strides[i]);
      d += ", box";
      for (int i = t.rank - 1; i >= 0; --i) d += " " + std::to_string(t.box[i]);
      return d + ")";
    };
    if ((t.rank != 2 && t.rank != 3) || (t.element_bytes != 1 && t.element_bytes != 4))
      throw DriverError("failed to " + describe() + ": rank must be 2 or 3 and elements 1 or 4 bytes");
    const unsigned long long dims[3] = {t.dims[0], t.dims[1], t.dims[2]};
    const unsigned long long strides[2] = {t.strides[0], t.strides[1]};
    api.check(api.cuTensorMapEncodeTiled(
                  map, t.element_bytes == 4 ? CU_TENSOR_MAP_DATA_TYPE_UINT32 : CU_TENSOR_MAP_DATA_TYPE_UINT8,
                  static_cast<unsigned>(t.rank), const_cast<void*>(t.base), dims, strides, t.box,
                  element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                  t.swizzle_128b ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_NONE,
                  CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
              describe);
  }

  void copy_device_async(void* dst, const void* src, std::size_t bytes, void* stream) override {
    if (bytes == 0) return;
    const CudaApi& api = s_->api;
    require(api.cuMemcpyDtoDAsync, "copy device memory");
    ScopedContext scope(*s_);
    api.check(api.cuMemcpyDtoDAsync(dptr(dst), dptr(src), bytes, static_cast<CUstream>(stream)), [&] {
      return copy_text(bytes, "device", src, "device", dst) + " on stream " + address(stream);
    });
  }

  void* create_stream() override {
    const CudaApi& api = s_->api;
    require(api.cuStreamCreate, "create a CUDA stream");
    ScopedContext scope(*s_);
    CUstream stream = nullptr;
    api.check(api.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), [&] {
      return "create a CUDA stream on device " + std::to_string(s_->ordinal);
    });
    return stream;
  }

  void destroy_stream(void* stream) noexcept override {
    if (!stream || !s_->api.cuStreamDestroy) return;
    // NOTE: a failure cannot be reported from here (CUDA_ERROR_DEINITIALIZED at exit included).
    try {
      ScopedContext scope(*s_);
      s_->api.cuStreamDestroy(static_cast<CUstream>(stream));
    } catch (const DriverError&) {
    }
  }

  void begin_capture(void* stream) override {
    const CudaApi& api = s_->api;
    require(api.cuStreamBeginCapture, "begin a stream capture");
    ScopedContext scope(*s_);
    api.check(api.cuStreamBeginCapture(static_cast<CUstream>(stream), CU_STREAM_CAPTURE_MODE_GLOBAL),
              [&] { return "begin capturing CUDA stream " + address(stream); });
  }

  // A stream without the entry point cannot be capturing; an error (the legacy stream while a
  // blocking stream captures: CUDA_ERROR_STREAM_CAPTURE_IMPLICIT) counts as capturing.
  bool is_capturing(void* stream) override {
    const CudaApi& api = s_->api;
    if (!api.cuStreamIsCapturing) return false;
    ScopedContext scope(*s_);
    int status = 0;
    return api.cuStreamIsCapturing(static_cast<CUstream>(stream), &status) != CUDA_SUCCESS ||
           status != 0;
  }

  void* end_capture(void* stream) override {
    const CudaApi& api = s_->api;
    require(api.cuStreamEndCapture, "end a stream capture");
    ScopedContext scope(*s_);
    CUgraph graph = nullptr;
    const CUresult r = api.cuStreamEndCapture(static_cast<CUstream>(stream), &graph);
    if (r != CUDA_SUCCESS && graph && api.cuGraphDestroy) api.cuGraphDestroy(graph);
    api.check(r, [&] { return "end capturing CUDA stream " + address(stream); });
    return graph;
  }

  void* instantiate_graph(void* graph) override {
    const CudaApi& api = s_->api;
    require(api.cuGraphInstantiateWithFlags, "instantiate a CUDA graph");
    ScopedContext scope(*s_);
    CUgraphExec exec = nullptr;
    api.check(api.cuGraphInstantiateWithFlags(&exec, static_cast<CUgraph>(graph), 0),
              [&] { return "instantiate CUDA graph " + address(graph); });
    return exec;
  }

  void launch_graph(void* exec, void* stream) override {
    const CudaApi& api = s_->api;
    require(api.cuGraphLaunch, "launch a CUDA graph");
    ScopedContext scope(*s_);
    api.check(api.cuGraphLaunch(static_cast<CUgraphExec>(exec), static_cast<CUstream>(stream)),
              [&] { return "launch CUDA graph " + address(exec) + " on stream " + address(stream); });
  }

  void destroy_graph(void* graph) noexcept override {
    if (graph && s_->api.cuGraphDestroy) s_->api.cuGraphDestroy(static_cast<CUgraph>(graph));
  }

  void destroy_graph_exec(void* exec) noexcept override {
    if (exec && s_->api.cuGraphExecDestroy)
      s_->api.cuGraphExecDestroy(static_cast<CUgraphExec>(exec));
  }

 private:
  // Throws DriverError when the optional entry point `fn` is missing from this libcuda.
  template <class Fn>
  void require(Fn* fn, const char* verb) const {
    if (!fn)
      throw DriverError(std::string("failed to ") + verb + ": " + s_->lib.path() + " (" + name_ +
                        ") lacks the entry point");
  }

  // Lets f use `bytes` of dynamic shared memory (above the 48 KiB default).
  // NOTE: set on every such launch rather than remembered per CUfunction: a function handle can be
  // reused by another module after an unload, and the call costs about as much as a lookup.
  void opt_in_shared(CUfunction f, unsigned bytes) const {
    s_->api.check(
        s_->api.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(bytes)),
        [&] {
          return "allow " + std::to_string(bytes) + " B of dynamic shared memory for kernel " + address(f) +
                 " (device opt-in limit " + std::to_string(info_.shared_per_block_optin) + " B)";
        });
  }
};

}  // namespace

std::unique_ptr<Driver> make_cuda_driver(int device) { return std::make_unique<CudaDriver>(device); }

}  // namespace fp8jit::runtime
