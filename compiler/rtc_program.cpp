#include "compiler/rtc_program.hpp"

#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {

// Owns a program; destroyed on every path out of rtc_compile.
class ProgramHandle {
 public:
  ProgramHandle(const RtcApi& api, void* p) : api_(api), p_(p) {}
  ProgramHandle(const ProgramHandle&) = delete;
  ProgramHandle& operator=(const ProgramHandle&) = delete;
  ~ProgramHandle() {
    if (p_) api_.DestroyProgram(&p_);
  }
  void* get() const { return p_; }

 private:
  const RtcApi& api_;
  void* p_;
};

}  // namespace

std::string rtc_version(const util::DynLib& lib, const std::string& name, const std::string& version) {
  const std::string id = lib.gnu_build_id();
  return name + " " + version + (id.empty() ? "" : " (build-id " + id.substr(0, 16) + ")");
}

std::string RtcApi::bind(const util::DynLib& lib, const std::string& pfx, const std::string& code) {
  prefix = pfx;
  std::string missing;
  auto name = [&](const std::string& s) { return pfx + s; };
  lib.bind(Version, name("Version").c_str(), &missing);
  lib.bind(CreateProgram, name("CreateProgram").c_str(), &missing);
  lib.bind(CompileProgram, name("CompileProgram").c_str(), &missing);
  lib.bind(GetProgramLogSize, name("GetProgramLogSize").c_str(), &missing);
  lib.bind(GetProgramLog, name("GetProgramLog").c_str(), &missing);
  lib.bind(GetCodeSize, name("Get" + code + "Size").c_str(), &missing);
  lib.bind(GetCode, name("Get" + code).c_str(), &missing);
  lib.bind(DestroyProgram, name("DestroyProgram").c_str(), &missing);
  lib.bind(GetErrorString, name("GetErrorString").c_str(), &missing);
  return missing;
}

std::string RtcApi::describe(int rc) const {
  const char* s = GetErrorString ? GetErrorString(rc) : nullptr;
  return s ? s : prefix + " error " + std::to_string(rc);
}

RtcOutput rtc_compile(const RtcApi& api, const CompileRequest& req,
                      const std::vector<std::string>& options, const std::string& file_ext,
                      const std::string& version) {
  void* raw = nullptr;
  const std::string file = req.kernel_name + file_ext;
  int rc = api.CreateProgram(&raw, req.source.c_str(), file.c_str(), 0, nullptr, nullptr);
  if (rc != 0)
    throw Error("failed to create a " + api.prefix + " program for " + req.kernel_name + ": " +
                api.describe(rc));
  ProgramHandle prog(api, raw);
  std::vector<const char*> argv;
  for (const auto& o : options) argv.push_back(o.c_str());
  rc = api.CompileProgram(prog.get(), static_cast<int>(argv.size()), argv.data());
  RtcOutput out;
  std::size_t log_size = 0;
  api.GetProgramLogSize(prog.get(), &log_size);
  out.log.assign(log_size, '\0');
  if (log_size) api.GetProgramLog(prog.get(), out.log.data());
  while (!out.log.empty() && out.log.back() == '\0') out.log.pop_back();
  if (rc != 0) {
    std::string joined;
    for (const auto& o : options) joined += o + " ";
    throw CompileError("failed to compile " + req.kernel_name + " for " + req.target.str() +
                           " with " + version + ": " + api.describe(rc),
                       out.log, joined, req.spec,
                       dump_source(req.dump_dir, req.kernel_name, req.source));
  }
  std::size_t size = 0;
  api.GetCodeSize(prog.get(), &size);
  out.code.resize(size);
  if (size) api.GetCode(prog.get(), reinterpret_cast<char*>(out.code.data()));
  if (out.code.empty())
    throw Error("failed to compile " + req.kernel_name + ": " + version +
                " reported success but returned no code");
  return out;
}

}  // namespace fp8jit::compiler
