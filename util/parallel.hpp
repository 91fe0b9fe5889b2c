// Running independent items on several threads at once (the builds of many kernels: compiles
// dominate a cold start, and each is single-threaded).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace fp8jit::util {

// The threads parallel_for uses for `count` items: `jobs`, or one per hardware thread when 0,
// at most `count`, at least 1.
inline std::size_t thread_count(std::size_t count, unsigned jobs) {
  const std::size_t want = jobs ? jobs : std::max(1u, std::thread::hardware_concurrency());
  return std::max<std::size_t>(1, std::min(want, count));
}

// Calls fn(i) once for every i in [0, count), on thread_count(count, jobs) threads (the caller's
// among them), each taking the next item as it finishes one; returns when all are done. fn must
// not throw (an exception would end the process), and must be safe to call concurrently.
template <class Fn>
void parallel_for(std::size_t count, unsigned jobs, Fn&& fn) {
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < count;) fn(i);
  };
  std::vector<std::jthread> threads;
  for (std::size_t t = 1; t < thread_count(count, jobs); ++t) threads.emplace_back(worker);
  worker();
}  // the jthreads join here

}  // namespace fp8jit::util
