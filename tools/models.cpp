#include "tools/models.hpp"

#include <fstream>
#include <sstream>

#include "compiler/gemm_limits.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::tools {

std::vector<WeightShape> model_shapes(const std::string& model) {
  static const std::vector<std::pair<std::string, std::vector<WeightShape>>> presets = {
      {"llama3-8b",
       {{"llama3-8b.qkv", 6144, 4096}, {"llama3-8b.o", 4096, 4096},
        {"llama3-8b.gate_up", 28672, 4096}, {"llama3-8b.down", 4096, 14336}}},
      {"llama3-70b",
       {{"llama3-70b.qkv", 10240, 8192}, {"llama3-70b.o", 8192, 8192},
        {"llama3-70b.gate_up", 57344, 8192}, {"llama3-70b.down", 8192, 28672}}},
  };
  std::vector<WeightShape> out;
  std::string known;
  for (const auto& [name, shapes] : presets) {
    known += name + ", ";
    if (model == name || model == "all") out.insert(out.end(), shapes.begin(), shapes.end());
  }
  if (out.empty())
    throw InvalidArgument("failed to find model preset '" + model + "': known presets are " +
                          known + "all");
  return out;
}

std::vector<WeightShape> read_shape_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InvalidArgument("failed to read shape file " + path + ": cannot open it");
  std::vector<WeightShape> out;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (line.empty() || line[0] == '#' || line.rfind("model,", 0) == 0) continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cols.push_back(c);
    if (cols.size() != 2 && cols.size() != 4)
      throw InvalidArgument("failed to read shape file " + path + ":" + std::to_string(lineno) +
                            ": expected 'N,K' or 'model,layer,N,K', got '" + line + "'");
    const std::size_t at = cols.size() - 2;
    try {
      out.push_back({cols.size() == 4 ? cols[0] + "." + cols[1] : "shape" + std::to_string(lineno),
                     std::stoll(cols[at]), std::stoll(cols[at + 1])});
    } catch (const std::exception&) {
      throw InvalidArgument("failed to read shape file " + path + ":" + std::to_string(lineno) +
                            ": N and K must be integers, got '" + line + "'");
    }
  }
  return out;
}

void check_token_counts(const std::vector<std::int64_t>& ms, const std::string& option) {
  if (ms.empty()) throw InvalidArgument("failed to parse " + option + ": no token count given");
  for (const std::int64_t m : ms)
    compiler::check_gemm_m(m, "parse " + option + " '" + std::to_string(m) + "'");
}

}  // namespace fp8jit::tools
