#include "compiler/ptxas_info.hpp"

#include <cstdio>
#include <sstream>

namespace fp8jit::compiler {

// The report for one function reads (ptxas 12/13):
//   ptxas info    : Compiling entry function 'NAME' for 'sm_90a'
//   ptxas info    : Function properties for NAME
//   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
//   ptxas info    : Used 40 registers, used 1 barriers, 384 bytes smem, 400 bytes cmem[0]
Resources parse_ptxas_info(const std::string& log, const std::string& kernel_name) {
  Resources r;
  std::istringstream in(log);
  std::string line;
  bool mine = false;
  while (std::getline(in, line)) {
    if (line.find("Compiling entry function") != std::string::npos ||
        line.find("Function properties for") != std::string::npos) {
      mine = line.find(kernel_name) != std::string::npos;
      continue;
    }
    if (!mine) continue;
    int stack = 0, stores = 0, loads = 0;
    const auto frame = line.find(" bytes stack frame");
    if (frame != std::string::npos &&
        std::sscanf(line.c_str() + line.find_last_not_of("0123456789", frame - 1) + 1,
                    "%d bytes stack frame, %d bytes spill stores, %d bytes spill loads", &stack,
                    &stores, &loads) == 3) {
      r.scratch_bytes = stack;
      r.spills = stores + loads;
    }
    const auto used = line.find("Used ");
    if (used != std::string::npos) {
      std::sscanf(line.c_str() + used, "Used %d registers", &r.registers);
      const auto smem = line.find(" bytes smem");
      if (smem != std::string::npos) {
        auto start = line.rfind(' ', smem - 1);
        r.shared_bytes = std::stoll(line.substr(start + 1, smem - start - 1));
      } else {
        r.shared_bytes = 0;
      }
    }
  }
  return r;
}

}  // namespace fp8jit::compiler
