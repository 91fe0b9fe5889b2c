// `fp8jit model`: checks the cost model against the candidate dumps of `fp8jit tune --dump` and
// fits its figures to them (tools/cmd_model.cpp).
#pragma once

#include <string>
#include <vector>

namespace fp8jit::tools {

struct ModelArgs {
  std::vector<std::string> dumps;        // measurements the model is scored on (and fitted to)
  std::vector<std::string> check_dumps;  // held-out measurements, only scored
  std::string target = "sm_90a";
  int cu = 0;          // multiprocessors (0: the arch's usual count)
  double dram_tbps = 0;  // the device's DRAM rate (its copy bandwidth); 0: the arch's
  bool fit = false;
  int iterations = 3000;
  int worst = 0;       // list the points where the model chooses worst
};

int cmd_model(const ModelArgs& args);

}  // namespace fp8jit::tools
