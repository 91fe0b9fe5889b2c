// What NVRTC and hiprtc share: hiprtc mirrors NVRTC's C API name for name, so one symbol table
// type and one create -> compile -> log -> code sequence serve both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/dynlib.hpp"
#include "compiler/toolchain.hpp"

namespace fp8jit::compiler {

// The entry points fp8jit uses (xxxResult is an int enum, xxxProgram an opaque pointer).
struct RtcApi {
  using Program = void*;
  int (*Version)(int*, int*) = nullptr;
  int (*CreateProgram)(Program*, const char*, const char*, int, const char* const*,
                       const char* const*) = nullptr;
  int (*CompileProgram)(Program, int, const char* const*) = nullptr;
  int (*GetProgramLogSize)(Program, std::size_t*) = nullptr;
  int (*GetProgramLog)(Program, char*) = nullptr;
  int (*GetCodeSize)(Program, std::size_t*) = nullptr;  // nvrtcGetCUBINSize / hiprtcGetCodeSize
  int (*GetCode)(Program, char*) = nullptr;             // nvrtcGetCUBIN / hiprtcGetCode
  int (*DestroyProgram)(Program*) = nullptr;
  const char* (*GetErrorString)(int) = nullptr;

  // Binds "<prefix>Version", "<prefix>CreateProgram", ..., with `code` naming the binary getter
  // ("CUBIN" for nvrtcGetCUBIN(Size), "Code" for hiprtcGetCode(Size)). Returns the missing names.
  std::string bind(const util::DynLib& lib, const std::string& prefix, const std::string& code);
  // The library's text for a result code, or "<prefix> error N".
  std::string describe(int rc) const;

  std::string prefix;
};

// The version that names an in-process compiler in cache keys and messages: "<name> <version>",
// followed by " (build-id <16 hex digits>)" when the library carries a GNU build id, so that two
// builds of one release (a distribution's rebuild, another CUDA redistribution) never share keys.
std::string rtc_version(const util::DynLib& lib, const std::string& name, const std::string& version);

// The state of a toolchain over NVRTC or hiprtc: the library, its entry points and the version
// that names it in keys; what the two toolchains add is how they find the library, their options
// and what they read from a binary.
class RtcToolchain : public Toolchain {
 public:
  std::string version() const override { return version_; }
  std::string path() const override { return lib_.path(); }

 protected:
  util::DynLib lib_;
  RtcApi api_;
  std::string version_;
};

struct RtcOutput {
  std::vector<std::uint8_t> code;
  std::string log;
};

// Compiles `req.source` as "<kernel_name><file_ext>" with `options`. Throws CompileError (full
// log, options, spec, dumped source) when the compiler fails, Error when it returns no code.
// `version` ("nvrtc 13.0") goes into the messages.
RtcOutput rtc_compile(const RtcApi& api, const CompileRequest& req,
                      const std::vector<std::string>& options, const std::string& file_ext,
                      const std::string& version);

}  // namespace fp8jit::compiler
