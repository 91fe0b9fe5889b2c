// HiprtcToolchain: AMD kernels through hiprtc, dlopen'ed from libhiprtc.so.N or, as in ROCm 5.x
// where hiprtc lives inside the HIP runtime, libamdhip64.so.N. Produces an ELF code object for
// --offload-arch=<arch+features>; resources come from comgr's metadata reader.
//
// NOTE: hiprtc 5.2 aborts the process (or corrupts its heap) on an arch or target feature it does
// not know. So every target is checked against comgr's ISA list and the known features BEFORE any
// hiprtc call, and the toolchain refuses to exist without comgr.
#include <dlfcn.h>

#include <chrono>
#include <filesystem>

#include "compiler/comgr.hpp"
#include "compiler/dynlib.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {

// The hiprtc entry points fp8jit uses (prototypes from hiprtc.h; hiprtcResult is an int enum and
// hiprtcProgram an opaque pointer).
struct HiprtcApi {
  using Program = void*;
  int (*Version)(int*, int*) = nullptr;
  int (*CreateProgram)(Program*, const char*, const char*, int, const char* const*,
                       const char* const*) = nullptr;
  int (*CompileProgram)(Program, int, const char* const*) = nullptr;
  int (*GetProgramLogSize)(Program, std::size_t*) = nullptr;
  int (*GetProgramLog)(Program, char*) = nullptr;
  int (*GetCodeSize)(Program, std::size_t*) = nullptr;
  int (*GetCode)(Program, char*) = nullptr;
  int (*DestroyProgram)(Program*) = nullptr;
  const char* (*GetErrorString)(int) = nullptr;

  std::string bind(const DynLib& lib) {
    std::string missing;
    lib.bind(Version, "hiprtcVersion", &missing);
    lib.bind(CreateProgram, "hiprtcCreateProgram", &missing);
    lib.bind(CompileProgram, "hiprtcCompileProgram", &missing);
    lib.bind(GetProgramLogSize, "hiprtcGetProgramLogSize", &missing);
    lib.bind(GetProgramLog, "hiprtcGetProgramLog", &missing);
    lib.bind(GetCodeSize, "hiprtcGetCodeSize", &missing);
    lib.bind(GetCode, "hiprtcGetCode", &missing);
    lib.bind(DestroyProgram, "hiprtcDestroyProgram", &missing);
    lib.bind(GetErrorString, "hiprtcGetErrorString", &missing);
    return missing;
  }

  std::string describe(int rc) const {
    const char* s = GetErrorString(rc);
    return s ? s : "hiprtc error " + std::to_string(rc);
  }
};

// Owns a hiprtcProgram.
class ProgramHandle {
 public:
  ProgramHandle(const HiprtcApi& api, void* p) : api_(api), p_(p) {}
  ProgramHandle(const ProgramHandle&) = delete;
  ProgramHandle& operator=(const ProgramHandle&) = delete;
  ~ProgramHandle() {
    if (p_) api_.DestroyProgram(&p_);
  }
  void* get() const { return p_; }

 private:
  const HiprtcApi& api_;
  void* p_;
};

// "5.2.21153" from a resolved library path such as ".../libamdhip64.so.5.2.21153"; "" when the
// file name carries no version beyond the major.
std::string version_from_path(const std::string& path) {
  std::error_code ec;
  const std::string file = std::filesystem::canonical(path, ec).filename().string();
  const auto so = file.find(".so.");
  if (ec || so == std::string::npos) return {};
  const std::string v = file.substr(so + 4);
  return v.find('.') == std::string::npos ? std::string() : v;
}

class HiprtcToolchain final : public Toolchain {
 public:
  HiprtcToolchain() : comgr_(load_comgr()) {
    std::string why;
    lib_ = DynLib::open_first({"libhiprtc.so.7", "libhiprtc.so.6", "libhiprtc.so.5",
                               "libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5"},
                              &why);
    if (!lib_) throw Error("failed to load hiprtc: " + why);
    // NOTE: pinned for the life of the process: the HIP runtime (hiprtc's home in ROCm 5) keeps
    // threads and comgr state that do not survive an unload and reload.
    lib_.pin();
    const std::string missing = api_.bind(lib_);
    if (!missing.empty())
      throw Error("failed to load hiprtc from " + lib_.path() + ": missing symbols " + missing);
    // NOTE: hiprtcVersion of ROCm 5.x reports a fixed 9.0, so the version that goes into the cache
    // key is the library's own (its file name); hiprtcVersion only when the name has none.
    std::string v = version_from_path(lib_.path());
    if (v.empty()) {
      int major = 0, minor = 0;
      api_.Version(&major, &minor);
      v = std::to_string(major) + "." + std::to_string(minor);
    }
    version_ = "hiprtc " + v;
  }

  std::string name() const override { return "hiprtc"; }
  std::string version() const override { return version_; }
  std::string path() const override { return lib_.path(); }

  bool supports(const Target& t) const override { return why_unsupported(t).empty(); }

  std::vector<std::string> options(const Target& t) const override {
    return {"--offload-arch=" + t.str(), "-O3", "-std=c++17"};
  }

  Binary compile(const CompileRequest& req) const override {
    // Checked again here, not only by the caller: an unknown arch must never reach hiprtc.
    const std::string why = why_unsupported(req.target);
    if (!why.empty())
      throw InvalidArgument("failed to compile " + req.kernel_name + " for " + req.target.str() +
                            " with " + version_ + ": " + why);
    const auto t0 = std::chrono::steady_clock::now();
    void* raw = nullptr;
    const std::string file = req.kernel_name + ".hip";
    int rc = api_.CreateProgram(&raw, req.source.c_str(), file.c_str(), 0, nullptr, nullptr);
    if (rc != 0)
      throw Error("failed to create a hiprtc program for " + req.kernel_name + ": " +
                  api_.describe(rc));
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
                             " with " + version_ + ": " + api_.describe(rc),
                         log, joined, req.spec,
                         dump_source(req.dump_dir, req.kernel_name, req.source));
    }
    Binary bin;
    std::size_t size = 0;
    api_.GetCodeSize(prog.get(), &size);
    bin.bytes.resize(size);
    if (size) api_.GetCode(prog.get(), reinterpret_cast<char*>(bin.bytes.data()));
    if (bin.bytes.empty())
      throw Error("failed to compile " + req.kernel_name + ": " + version_ +
                  " reported success but returned no code object");
    bin.log = log;
    try {
      bin.resources = comgr_.kernel_resources(bin.bytes, req.kernel_name);
    } catch (const Error& e) {
      // The binary is still good; only its report is missing.
      bin.log += std::string("fp8jit: resources not read: ") + e.what() + "\n";
    }
    bin.compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return bin;
  }

 private:
  static Comgr load_comgr() {
    try {
      return Comgr::load();
    } catch (const Error& e) {
      throw Error(std::string("failed to load hiprtc: comgr is required to check archs before "
                              "calling hiprtc, which aborts on an arch it does not know: ") +
                  e.what());
    }
  }

  std::string why_unsupported(const Target& t) const {
    if (t.vendor != Vendor::amd) return t.arch + " is not an AMD arch";
    if (!comgr_.knows(t.arch))
      return t.arch + " is not in the ISA list of " + comgr_.version() + " (" + comgr_.path() +
             "), so this hiprtc cannot build it";
    if (!amd_features_valid(t.features))
      return "target features '" + t.features + "' are not sramecc+/- and xnack+/-, each once";
    return {};
  }

  Comgr comgr_;
  DynLib lib_;
  HiprtcApi api_;
  std::string version_;
};

}  // namespace

std::unique_ptr<Toolchain> make_hiprtc_toolchain() { return std::make_unique<HiprtcToolchain>(); }

}  // namespace fp8jit::compiler
