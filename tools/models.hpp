// Weight shapes of model presets (bench/shapes.csv holds the same, for the benchmark suite) and
// of shape files; the token counts of the commands' --m.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fp8jit::tools {

struct WeightShape {
  std::string name;  // "llama3-8b.qkv"
  std::int64_t n, k;
};

// A shape file is text: at most 1 MiB, lines of at most 256 bytes (a shape list is a few lines;
// the bounds stop a wrong path such as a log or a core file early).
constexpr std::size_t kMaxShapeFileBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxShapeLineBytes = 256;

// The shapes of `model` ("llama3-8b", "llama3-70b", or "all"); throws InvalidArgument naming the
// known presets otherwise.
std::vector<WeightShape> model_shapes(const std::string& model);
// "N,K" lines, or "model,layer,N,K" lines as in bench/shapes.csv (whose header line, like an
// "N,K" one, is skipped); blanks around fields are ignored, '#' starts a comment line. Every N, K
// must be a whole decimal integer within the GEMM limits (compiler/gemm_limits.hpp). Throws
// InvalidArgument naming the file (and line, with its bytes escaped) when it is not a regular
// file, breaks the bounds above, has a malformed line or a non-printable byte, or holds no shape.
std::vector<WeightShape> read_shape_file(const std::string& path);
// Throws InvalidArgument naming `option` and the value unless `ms` is not empty and each value is
// an M within the GEMM limits.
void check_token_counts(const std::vector<std::int64_t>& ms, const std::string& option);

// What run, bench and tune work on: the weights of a preset (or of a shape file, which wins) at
// each token count of --m.
struct Workload {
  std::string model;
  std::string shape_file;  // empty: the preset's shapes
  std::vector<std::int64_t> ms;

  // The weights; throws InvalidArgument (see model_shapes, read_shape_file, check_token_counts).
  std::vector<WeightShape> shapes() const;
};

}  // namespace fp8jit::tools
