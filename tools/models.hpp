// Weight shapes of model presets (bench/shapes.csv holds the same, for the benchmark suite) and
// of shape files; the token counts of the commands' --m.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fp8jit::tools {

struct WeightShape {
  std::string name;  // "llama3-8b.qkv"
  std::int64_t n, k;
};

// The shapes of `model` ("llama3-8b", "llama3-70b", or "all"); throws InvalidArgument naming the
// known presets otherwise.
std::vector<WeightShape> model_shapes(const std::string& model);
// "N,K" lines ('#' comments, an optional "model,layer,N,K" CSV header as in bench/shapes.csv).
std::vector<WeightShape> read_shape_file(const std::string& path);

// Throws InvalidArgument naming `option` and the value unless `ms` is not empty and each value is
// an M within the GEMM limits.
void check_token_counts(const std::vector<std::int64_t>& ms, const std::string& option);

}  // namespace fp8jit::tools
