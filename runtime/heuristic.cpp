#include "runtime/heuristic.hpp"

namespace fp8jit::runtime {

const std::vector<std::int64_t>& m_buckets() {
  static const std::vector<std::int64_t> bounds = {8, 16, 32, 64, kUnboundedM};
  return bounds;
}

int m_bucket_index(std::int64_t m) {
  const auto& b = m_buckets();
  int i = 0;
  while (m > b[i]) ++i;
  return i;
}

compiler::GemmConfig heuristic_config(const compiler::Target& target, int /*multiprocessors*/,
                                      std::int64_t m_bound, std::int64_t /*n*/,
                                      std::int64_t /*k*/) {
  // NOTE: a first, untuned rule: the token tile follows M, four warps side by side along N, deep
  // k-steps while the token tile (and so the accumulator) is small. The speed issue replaces this
  // with a cost model calibrated on tuned tables.
  compiler::GemmConfig c;
  c.warps = 4;
  c.stages = 2;
  c.split_k = 1;
  const bool amd = target.vendor == compiler::Vendor::amd;
  const int frag_m = amd ? 16 : 8;
  const int k_step = amd ? 64 : 32;
  c.bm = static_cast<int>(m_bound <= frag_m ? frag_m : (m_bound < 64 ? m_bound : 64));
  c.bn = 16 * c.warps * (c.bm >= 64 ? 2 : 1);
  c.bk = k_step * (c.bm <= 16 ? 4 : 2);
  return c;
}

}  // namespace fp8jit::runtime
