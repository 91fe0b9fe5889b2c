// HipDriver: the Driver interface over the HIP runtime (libamdhip64.so.7/.6/.5, dlopen'ed).
//
// NOTE: hip_runtime_api.h is deliberately not included, so that the library builds where ROCm is
// absent. The types, enum values and prototypes used are declared below; each was checked against
// hip_runtime_api.h of ROCm 5.2 and of ROCm 7 (the attribute values used did not move).
// hipDeviceProp_t changed layout between ROCm 5 and 6 (hipGetDevicePropertiesR0600), so it is
// read only for the arch name, and that defensively: see arch_from_properties().

#include <cctype>
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

// --- the part of hip_runtime_api.h fp8jit needs -------------------------------------------------
using hipError_t = int;
using hipModule_t = struct ihipModule_t*;
using hipFunction_t = struct ihipModuleSymbol_t*;
using hipStream_t = struct ihipStream_t*;
using hipEvent_t = struct ihipEvent_t*;

constexpr hipError_t hipSuccess = 0;

// hipDeviceAttribute_t
constexpr int hipDeviceAttributeL2CacheSize = 19;
constexpr int hipDeviceAttributeMemoryBusWidth = 59;
constexpr int hipDeviceAttributeMemoryClockRate = 60;
constexpr int hipDeviceAttributeMultiprocessorCount = 63;
constexpr int hipDeviceAttributeMaxSharedMemoryPerBlock = 74;
// hipMemcpyKind
constexpr int hipMemcpyHostToDevice = 1;
constexpr int hipMemcpyDeviceToHost = 2;
constexpr int hipMemcpyDeviceToDevice = 3;

// Bytes handed to hipGetDeviceProperties: far more than either layout of hipDeviceProp_t (792 B in
// ROCm 5, about 1.5 KiB in ROCm 6/7), so that a newer, larger struct cannot overrun it.
constexpr std::size_t kPropertiesBuffer = 64 * 1024;

// The HIP calls fp8jit makes, each listed once: the name, the result type and the parameters.
// HipApi's members and its bind() are made from these lists, and the two entries they leave out
// are written by hand. Binding follows the lists' order, so that missing names are listed in it.
// The runtime and its devices:
#define FP8JIT_HIP_DEVICE_API(X)                       \
  X(hipInit, hipError_t, unsigned)                     \
  X(hipRuntimeGetVersion, hipError_t, int*)            \
  X(hipGetErrorString, const char*, hipError_t)        \
  X(hipGetErrorName, const char*, hipError_t)          \
  X(hipGetDeviceCount, hipError_t, int*)               \
  X(hipGetDevice, hipError_t, int*)                    \
  X(hipSetDevice, hipError_t, int)                     \
  X(hipDeviceGetName, hipError_t, char*, int, int)     \
  X(hipDeviceGetAttribute, hipError_t, int*, int, int) \
  X(hipDeviceTotalMem, hipError_t, std::size_t*, int)
// Modules, launches, memory, synchronization and events:
#define FP8JIT_HIP_WORK_API(X)                                                                \
  X(hipModuleLoadData, hipError_t, hipModule_t*, const void*)                                 \
  X(hipModuleUnload, hipError_t, hipModule_t)                                                 \
  X(hipModuleGetFunction, hipError_t, hipFunction_t*, hipModule_t, const char*)               \
  X(hipModuleLaunchKernel, hipError_t, hipFunction_t, unsigned, unsigned, unsigned, unsigned, \
    unsigned, unsigned, unsigned, hipStream_t, void**, void**)                                \
  X(hipMalloc, hipError_t, void**, std::size_t)                                               \
  X(hipFree, hipError_t, void*)                                                               \
  X(hipMemcpy, hipError_t, void*, const void*, std::size_t, int)                              \
  X(hipMemset, hipError_t, void*, int, std::size_t)                                           \
  X(hipStreamSynchronize, hipError_t, hipStream_t)                                            \
  X(hipEventCreate, hipError_t, hipEvent_t*)                                                  \
  X(hipEventRecord, hipError_t, hipEvent_t, hipStream_t)                                      \
  X(hipEventSynchronize, hipError_t, hipEvent_t)                                              \
  X(hipEventElapsedTime, hipError_t, float*, hipEvent_t, hipEvent_t)                          \
  X(hipEventDestroy, hipError_t, hipEvent_t)                                                  \
  X(hipDeviceSynchronize, hipError_t)

struct HipApi {
#define FP8JIT_HIP_MEMBER(name, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  FP8JIT_HIP_DEVICE_API(FP8JIT_HIP_MEMBER)
  hipError_t (*hipGetDeviceProperties)(void*, int) = nullptr;  // either layout, see above
  FP8JIT_HIP_WORK_API(FP8JIT_HIP_MEMBER)
#undef FP8JIT_HIP_MEMBER
  // Optional (Driver's optional part): bound when present, checked on use.
  hipError_t (*hipMemcpyAsync)(void*, const void*, std::size_t, int, hipStream_t) = nullptr;

  // Binds every entry; returns the names of the required ones that are missing ("" when none).
  std::string bind(const util::DynLib& lib) {
    std::string missing;
#define FP8JIT_HIP_BIND(name, ...) lib.bind(name, #name, &missing);
    FP8JIT_HIP_DEVICE_API(FP8JIT_HIP_BIND)
    // ROCm 6+ exports the new layout as ...R0600; the plain name is the ROCm 5 layout there.
    if (!lib.bind(hipGetDeviceProperties, "hipGetDevicePropertiesR0600", nullptr))
      lib.bind(hipGetDeviceProperties, "hipGetDeviceProperties", &missing);
    FP8JIT_HIP_WORK_API(FP8JIT_HIP_BIND)
#undef FP8JIT_HIP_BIND
    lib.bind(hipMemcpyAsync, "hipMemcpyAsync", nullptr);
    return missing;
  }

  // "hipErrorNoDevice: no ROCm-capable device is detected".
  std::string describe(hipError_t r) const {
    const char* name = hipGetErrorName(r);
    const char* text = hipGetErrorString(r);
    std::string s = name ? name : "hipError_t " + std::to_string(r);
    if (text && (!name || std::strcmp(name, text) != 0)) s += std::string(": ") + text;
    return s;
  }

  template <class What>
  void check(hipError_t r, What&& what) const {
    if (r != hipSuccess) throw DriverError("failed to " + what() + ": " + describe(r));
  }
};

// The gcnArchName ("gfx942:sramecc+:xnack-") out of a hipDeviceProp_t of either layout: the first
// NUL-terminated "gfx<hex digits>[:feature+|-]..." string after the 256-byte name field.
// NOTE: found by scanning rather than by offset because the offset differs between ROCm 5
// (396) and ROCm 6+ (after ~1 KiB of fields); no other field of either layout holds such a text.
std::string arch_from_properties(const std::vector<char>& props) {
  for (std::size_t i = 256; i + 4 < props.size(); ++i) {
    if (std::memcmp(&props[i], "gfx", 3) != 0 || (i > 0 && props[i - 1] != '\0')) continue;
    std::size_t end = i + 3;
    while (end < props.size() && props[end] != '\0') ++end;
    if (end == props.size() || end - i > 64) continue;
    const std::string s(&props[i], end - i);
    bool ok = std::isxdigit(static_cast<unsigned char>(s[3])) != 0;
    for (char c : s)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '+' || c == '-');
    if (ok) return s;
  }
  return {};
}

// What modules and allocations need to outlive: the library and its entry points.
struct HipSession {
  util::DynLib lib;
  HipApi api;
  int ordinal = 0;
};

// Makes the session's device current on the calling thread for one call, restoring the previous
// one afterwards when it differed.
class ScopedDevice {
 public:
  explicit ScopedDevice(const HipSession& s) : s_(s) {
    int current = -1;
    s.api.check(s.api.hipGetDevice(&current),
                [] { return std::string("query the current HIP device"); });
    if (current == s.ordinal) return;
    s.api.check(s.api.hipSetDevice(s.ordinal),
                [&] { return "make HIP device " + std::to_string(s.ordinal) + " current"; });
    previous_ = current;
  }
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;
  ~ScopedDevice() {
    if (previous_ >= 0) s_.api.hipSetDevice(previous_);
  }

 private:
  const HipSession& s_;
  int previous_ = -1;
};

// HIP in the terms of GpuDriver (runtime/gpu_driver.hpp).
struct Hip {
  static constexpr const char* kName = "HIP";
  static constexpr const char* kSharedMemory = "LDS";
  using Session = HipSession;
  using Scope = ScopedDevice;
  using ModuleHandle = hipModule_t;
  using Event = hipEvent_t;

  static hipError_t alloc(const Session& s, void** p, std::size_t bytes) {
    return s.api.hipMalloc(p, bytes);
  }
  static hipError_t free(const Session& s, void* p) { return s.api.hipFree(p); }
  static hipError_t copy_to_device(const Session& s, void* dst, const void* src, std::size_t bytes) {
    return s.api.hipMemcpy(dst, src, bytes, hipMemcpyHostToDevice);
  }
  static hipError_t copy_to_host(const Session& s, void* dst, const void* src, std::size_t bytes) {
    return s.api.hipMemcpy(dst, src, bytes, hipMemcpyDeviceToHost);
  }
  static hipError_t memset(const Session& s, void* dst, unsigned char value, std::size_t bytes) {
    return s.api.hipMemset(dst, value, bytes);
  }
  static hipError_t synchronize_stream(const Session& s, void* stream) {
    return s.api.hipStreamSynchronize(static_cast<hipStream_t>(stream));
  }
  static hipError_t synchronize_device(const Session& s) { return s.api.hipDeviceSynchronize(); }
  static hipError_t create_event(const Session& s, hipEvent_t* e) { return s.api.hipEventCreate(e); }
  static hipError_t record_event(const Session& s, hipEvent_t e, void* stream) {
    return s.api.hipEventRecord(e, static_cast<hipStream_t>(stream));
  }
  static hipError_t wait_event(const Session& s, hipEvent_t e) {
    return s.api.hipEventSynchronize(e);
  }
  static hipError_t elapsed_ms(const Session& s, float* ms, hipEvent_t from, hipEvent_t to) {
    return s.api.hipEventElapsedTime(ms, from, to);
  }
  static hipError_t destroy_event(const Session& s, hipEvent_t e) {
    return s.api.hipEventDestroy(e);
  }

  // Never throws; an error at process exit (runtime already torn down) leaves nothing to undo.
  static void unload_module(const Session& s, hipModule_t module) noexcept {
    s.api.hipModuleUnload(module);
  }
};

class HipDriver final : public GpuDriver<Hip> {
 public:
  explicit HipDriver(int ordinal) {
    Session& s = *s_;
    const HipApi& api = s.api;
    std::string why;
    s.lib = util::DynLib::open_first(
        {"libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5"}, &why);
    if (!s.lib) throw DriverError("failed to load the HIP runtime: " + why);
    // NOTE: pinned for the life of the process: the HIP runtime starts threads and keeps device
    // state that do not survive an unload and reload.
    s.lib.pin();
    bind_entry_points("the HIP runtime");

    int version = 0;
    api.check(api.hipRuntimeGetVersion(&version),
              [] { return std::string("query the HIP runtime version"); });
    // HIP_VERSION = major * 10^7 + minor * 10^5 + patch.
    name_ =
        "hip " + std::to_string(version / 10000000) + "." + std::to_string(version / 100000 % 100);

    // NOTE: without a GPU, ROCm 5.2's hipInit returns hipErrorInvalidDevice and hipGetDeviceCount
    // hipErrorNoDevice; both are reported as "no HIP device" rather than as a driver fault.
    const hipError_t init = api.hipInit(0);
    int count = 0;
    const hipError_t counted = init == hipSuccess ? api.hipGetDeviceCount(&count) : init;
    if (counted != hipSuccess || count == 0)
      throw DriverError("failed to open HIP device " + std::to_string(ordinal) +
                        ": no HIP device: " +
                        (counted != hipSuccess ? api.describe(counted) : "the device count is 0") +
                        " (" + name_ + ", " + s.lib.path() + ")");
    check_ordinal(ordinal, count);
    s.ordinal = ordinal;
    ScopedDevice scope(s);

    char name[256] = {};
    api.check(api.hipDeviceGetName(name, sizeof name - 1, ordinal), on_device("query the name"));
    info_.name = name;
    const auto attribute = [&](int attr, const char* what) {
      int value = 0;
      api.check(api.hipDeviceGetAttribute(&value, attr, ordinal), on_device(what));
      return value;
    };
    info_.multiprocessors = attribute(hipDeviceAttributeMultiprocessorCount, "query the CU count");
    info_.shared_per_block_optin = static_cast<std::size_t>(
        attribute(hipDeviceAttributeMaxSharedMemoryPerBlock, "query the LDS size per block"));
    info_.l2_bytes =
        static_cast<std::size_t>(attribute(hipDeviceAttributeL2CacheSize, "query the L2 size"));
    api.check(api.hipDeviceTotalMem(&info_.memory_bytes, ordinal),
              on_device("query the memory size"));
    // Informational, as in the CUDA driver: unknown rather than an error.
    int clock_khz = 0, bus_bits = 0;
    if (api.hipDeviceGetAttribute(&clock_khz, hipDeviceAttributeMemoryClockRate, ordinal) == 0 &&
        api.hipDeviceGetAttribute(&bus_bits, hipDeviceAttributeMemoryBusWidth, ordinal) == 0)
      info_.memory_bytes_per_s = peak_memory_bandwidth(clock_khz, bus_bits);

    std::vector<char> props(kPropertiesBuffer, '\0');
    api.check(api.hipGetDeviceProperties(props.data(), ordinal), on_device("query the properties"));
    info_.arch = arch_from_properties(props);
    if (info_.arch.empty())
      throw DriverError("failed to read the arch of HIP device " + std::to_string(ordinal) + " (" +
                        info_.name + "): no gcnArchName in its properties (" + name_ + ")");
  }

  Module load(const std::vector<std::uint8_t>& binary) override {
    if (binary.empty()) throw DriverError("failed to load a HIP module: the binary is empty");
    ScopedDevice scope(*s_);
    hipModule_t module = nullptr;
    s_->api.check(s_->api.hipModuleLoadData(&module, binary.data()), [&] {
      return "load a HIP module of " + std::to_string(binary.size()) + " bytes on device " +
             std::to_string(s_->ordinal) + " (" + info_.arch + ")";
    });
    return own(module);
  }

  void* function(const Module& module, const std::string& name) override {
    if (!module.get())
      throw DriverError("failed to find kernel '" + name + "': the module is empty");
    hipFunction_t f = nullptr;
    s_->api.check(s_->api.hipModuleGetFunction(&f, handle(module), name.c_str()),
                  [&] { return "find kernel '" + name + "' in its HIP module"; });
    return f;
  }

  void launch(void* function, const LaunchDims& d, void* stream, void** args) override {
    ScopedDevice scope(*s_);
    s_->api.check(
        s_->api.hipModuleLaunchKernel(static_cast<hipFunction_t>(function), d.grid[0], d.grid[1],
                                      d.grid[2], d.block[0], d.block[1], d.block[2], d.shared_bytes,
                                      static_cast<hipStream_t>(stream), args, nullptr),
        [&] { return launch_text(function, d, stream); });
  }

  void copy_device_async(void* dst, const void* src, std::size_t bytes, void* stream) override {
    if (bytes == 0) return;
    const HipApi& api = s_->api;
    if (!api.hipMemcpyAsync) unsupported("copy device memory (no hipMemcpyAsync)");
    ScopedDevice scope(*s_);
    api.check(api.hipMemcpyAsync(dst, src, bytes, hipMemcpyDeviceToDevice,
                                 static_cast<hipStream_t>(stream)),
              [&] {
                return copy_text(bytes, "device", src, "device", dst) + " on stream " +
                       address(stream);
              });
  }
};

}  // namespace

std::unique_ptr<Driver> make_hip_driver(int device) { return std::make_unique<HipDriver>(device); }

}  // namespace fp8jit::runtime
