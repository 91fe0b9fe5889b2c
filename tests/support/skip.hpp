// How a test that cannot run here says so: one line "SKIPPED (<test>): <why>" on stdout (CTest's
// log keeps it) and a Catch warning, never a silent pass.
#pragma once

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "compiler/target.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::test {

inline void skip(const std::string& why) {
  const std::string msg =
      "SKIPPED (" + Catch::getResultCapture().getCurrentTestName() + "): " + why;
  std::printf("%s\n", msg.c_str());
  WARN(msg);
}

// This machine's toolchains when one builds `target`, else nullptr after
// skip("no toolchain for <target>: <why>").
inline std::shared_ptr<const compiler::Toolchains> toolchains_for_or_skip(const std::string& target) {
  auto toolchains = std::make_shared<const compiler::Toolchains>();
  try {
    toolchains->for_target(compiler::Target::parse(target));
  } catch (const Error& e) {
    skip("no toolchain for " + target + ": " + e.what());
    return nullptr;
  }
  return toolchains;
}

}  // namespace fp8jit::test
