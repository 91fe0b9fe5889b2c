// NvrtcToolchain: NVIDIA kernels through NVRTC (libnvrtc.so.13/.12, dlopen'ed), straight to cubin.
#include <chrono>
#include <mutex>

#include "compiler/dynlib.hpp"
#include "compiler/ptxas_info.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {

// The NVRTC entry points fp8jit uses (prototypes from nvrtc.h; nvrtcResult is an int enum and
// nvrtcProgram an opaque pointer).
struct NvrtcApi {
  using Program = void*;
  int (*Version)(int*, int*) = nullptr;
  int (*CreateProgram)(Program*, const char*, const char*, int, const char* const*,
                       const char* const*) = nullptr;
  int (*CompileProgram)(Program, int, const char* const*) = nullptr;
  int (*GetProgramLogSize)(Program, std::size_t*) = nullptr;
  int (*GetProgramLog)(Program, char*) = nullptr;
  int (*GetCUBINSize)(Program, std::size_t*) = nullptr;
  int (*GetCUBIN)(Program, char*) = nullptr;
  int (*DestroyProgram)(Program*) = nullptr;
  const char* (*GetErrorString)(int) = nullptr;
};

// Owns an nvrtcProgram.
class ProgramHandle {
 public:
  ProgramHandle(const NvrtcApi& api, void* p) : api_(api), p_(p) {}
  ProgramHandle(const ProgramHandle&) = delete;
  ProgramHandle& operator=(const ProgramHandle&) = delete;
  ~ProgramHandle() {
    if (p_) api_.DestroyProgram(&p_);
  }
  void* get() const { return p_; }

 private:
  const NvrtcApi& api_;
  void* p_;
};

class NvrtcToolchain final : public Toolchain {
 public:
  NvrtcToolchain() {
    std::string why;
    lib_ = DynLib::open_first({"libnvrtc.so.13", "libnvrtc.so.12", "/usr/local/cuda/lib64/libnvrtc.so.13",
                               "/usr/local/cuda/lib64/libnvrtc.so.12", "libnvrtc.so"},
                              &why);
    if (!lib_) throw Error("failed to load NVRTC: " + why);
    std::string missing;
    lib_.bind(api_.Version, "nvrtcVersion", &missing);
    lib_.bind(api_.CreateProgram, "nvrtcCreateProgram", &missing);
    lib_.bind(api_.CompileProgram, "nvrtcCompileProgram", &missing);
    lib_.bind(api_.GetProgramLogSize, "nvrtcGetProgramLogSize", &missing);
    lib_.bind(api_.GetProgramLog, "nvrtcGetProgramLog", &missing);
    lib_.bind(api_.GetCUBINSize, "nvrtcGetCUBINSize", &missing);
    lib_.bind(api_.GetCUBIN, "nvrtcGetCUBIN", &missing);
    lib_.bind(api_.DestroyProgram, "nvrtcDestroyProgram", &missing);
    lib_.bind(api_.GetErrorString, "nvrtcGetErrorString", &missing);
    if (!missing.empty()) throw Error("failed to load NVRTC from " + lib_.path() + ": missing " + missing);
    int major = 0, minor = 0;
    api_.Version(&major, &minor);
    version_ = "nvrtc " + std::to_string(major) + "." + std::to_string(minor);
  }

  std::string name() const override { return "nvrtc"; }
  std::string version() const override { return version_; }
  std::string path() const override { return lib_.path(); }
  bool supports(const Target& t) const override { return t.vendor == Vendor::nvidia; }

  std::vector<std::string> options(const Target& t) const override {
    // NOTE: NVRTC rejects -O3 (device code is optimised by default); -v for ptxas prints the
    // register / spill / shared-memory report that fills Resources.
    return {"--gpu-architecture=" + t.arch, "-std=c++17", "--ptxas-options=-v", "-lineinfo"};
  }

  Binary compile(const CompileRequest& req) const override {
    if (!supports(req.target))
      throw InvalidArgument("failed to compile " + req.kernel_name + ": NVRTC does not build " +
                            req.target.str());
    const auto t0 = std::chrono::steady_clock::now();
    void* raw = nullptr;
    const std::string file = req.kernel_name + ".cu";
    int rc = api_.CreateProgram(&raw, req.source.c_str(), file.c_str(), 0, nullptr, nullptr);
    if (rc != 0)
      throw Error("failed to create NVRTC program for " + req.kernel_name + ": " +
                  api_.GetErrorString(rc));
    ProgramHandle prog(api_, raw);
    const auto opts = options(req.target);
    std::vector<const char*> argv;
    for (const auto& o : opts) argv.push_back(o.c_str());
    rc = api_.CompileProgram(prog.get(), static_cast<int>(argv.size()), argv.data());
    std::size_t log_size = 0;
    api_.GetProgramLogSize(prog.get(), &log_size);
    std::string log(log_size, '\0');
    if (log_size) api_.GetProgramLog(prog.get(), log.data());
    while (!log.empty() && log.back() == '\0') log.pop_back();
    if (rc != 0) {
      std::string joined;
      for (const auto& o : opts) joined += o + " ";
      throw CompileError("failed to compile " + req.kernel_name + " for " + req.target.str() +
                             " with " + version_ + ": " + api_.GetErrorString(rc),
                         log, joined, req.spec, dump_source(req.dump_dir, req.kernel_name, req.source));
    }
    Binary bin;
    std::size_t size = 0;
    api_.GetCUBINSize(prog.get(), &size);
    bin.bytes.resize(size);
    api_.GetCUBIN(prog.get(), reinterpret_cast<char*>(bin.bytes.data()));
    bin.log = log;
    bin.resources = parse_ptxas_info(log, req.kernel_name);
    bin.compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return bin;
  }

 private:
  DynLib lib_;
  NvrtcApi api_;
  std::string version_;
};

}  // namespace

std::unique_ptr<Toolchain> make_nvrtc_toolchain() { return std::make_unique<NvrtcToolchain>(); }

}  // namespace fp8jit::compiler
