// Event timing of back-to-back calls that rotate over the weight copies: the per-call median in
// microseconds.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include "fp8jit/gemm.hpp"

namespace fp8jit::bench {

// Calls in one event-timed region unless told otherwise: a region of one call would also time the
// event's own gap before the first launch, which a stream of calls does not have.
constexpr int kMinCallsPerTiming = 8;

// Two warm-up rounds of run(0), run(1), ..., run(copies - 1), then `reps` event-timed regions,
// each of as many such rounds as make at least `min_calls` calls.
inline double median_us(Context& ctx, int copies, int reps, const std::function<void(int)>& run,
                        int min_calls = kMinCallsPerTiming) {
  for (int w = 0; w < 2; ++w)
    for (int c = 0; c < copies; ++c) run(c);
  const int rounds = std::max(1, (min_calls + copies - 1) / copies);
  std::vector<double> per_call;
  for (int r = 0; r < reps; ++r)
    per_call.push_back(ctx.time_ms(nullptr, [&] {
      for (int i = 0; i < rounds; ++i)
        for (int c = 0; c < copies; ++c) run(c);
    }) * 1e3 / (rounds * copies));
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

}  // namespace fp8jit::bench
