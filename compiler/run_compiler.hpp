// The shared step of the offline toolchains (clang for AMD targets, the host C++ compiler of the
// emulation targets): a source file in, a binary and the compiler's log out, through a subprocess.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "compiler/toolchain.hpp"

namespace fp8jit::compiler {

// The shared step of the offline toolchains (clang, emu): writes request.source to `source`, runs
// `compiler` `options` `source` -o `output` and returns the compiler's log with the bytes of
// `output` (empty when the compiler wrote none: the caller names what it expected). Both files lie
// in the caller's util::TempDir, so that it can still read `output` (clang's llvm-readelf fallback).
// Throws CompileError (log, options, spec, dumped source) naming the compiler as `described_as`
// when it exits non-zero; Error when the source cannot be written or the compiler cannot start.
Binary run_compiler(const CompileRequest& request, const std::string& compiler,
                    const std::vector<std::string>& options, const std::filesystem::path& source,
                    const std::filesystem::path& output, const std::string& described_as);

}  // namespace fp8jit::compiler
