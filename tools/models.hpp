// Weight shapes of model presets (bench/shapes.csv holds the same, for the benchmark suite).
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

}  // namespace fp8jit::tools
