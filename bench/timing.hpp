// Event timing of one call per weight copy, repeated: the per-call median in microseconds.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include "fp8jit/gemm.hpp"

namespace fp8jit::bench {

// Two warm-up rounds, then `reps` event-timed rounds of run(0), run(1), ..., run(copies - 1).
inline double median_us(Context& ctx, int copies, int reps, const std::function<void(int)>& run) {
  for (int w = 0; w < 2; ++w)
    for (int c = 0; c < copies; ++c) run(c);
  std::vector<double> per_call;
  for (int r = 0; r < reps; ++r)
    per_call.push_back(ctx.time_ms(nullptr, [&] {
      for (int c = 0; c < copies; ++c) run(c);
    }) * 1e3 / copies);
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

}  // namespace fp8jit::bench
