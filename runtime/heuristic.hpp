// Config selection without a tuned table: M buckets and a config per bucket for each vendor's
// family. Separate from code generation (STYLE habit 9); the tuned table (a later issue) sits in
// front of it.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/kernel_spec.hpp"

namespace fp8jit::runtime {

// Upper bounds of the M buckets, ascending; the last bucket is unbounded (its bound is
// kUnboundedM). Every M >= 1 falls in exactly one bucket.
constexpr std::int64_t kUnboundedM = INT32_MAX;
const std::vector<std::int64_t>& m_buckets();
// Index into m_buckets() of the bucket that holds m (m >= 1).
int m_bucket_index(std::int64_t m);

// A valid config (KernelSpec::validate accepts it) for any shape the family supports.
compiler::GemmConfig heuristic_config(const compiler::Target& target, int multiprocessors,
                                      std::int64_t m_bound, std::int64_t n, std::int64_t k);

}  // namespace fp8jit::runtime
