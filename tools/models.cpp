#include "tools/models.hpp"

#include <charconv>
#include <vector>

#include "compiler/gemm_limits.hpp"
#include "fp8jit/error.hpp"
#include "util/file.hpp"
#include "util/text.hpp"

namespace fp8jit::tools {

namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    const std::size_t comma = line.find(',', start);
    out.push_back(trimmed(line.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

// One line of a shape file, for messages: "shape file F:L".
struct Line {
  const std::string& path;
  std::size_t number;
  std::string_view text;

  [[noreturn]] void fail(const std::string& why) const {
    throw InvalidArgument("failed to read shape file " + util::escaped(path, 4096) + ":" +
                          std::to_string(number) + ": " + why + " (line '" +
                          util::escaped(text) + "')");
  }
};

std::int64_t whole_int(const Line& line, std::string_view field, const char* name) {
  std::int64_t v = 0;
  const char* end = field.data() + field.size();
  const auto [p, ec] = std::from_chars(field.data(), end, v);
  if (field.empty() || ec != std::errc() || p != end)
    line.fail(std::string(name) + " must be a decimal integer, got '" + util::escaped(field) + "'");
  return v;
}

}  // namespace

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
    throw InvalidArgument("failed to find model preset '" + util::escaped(model) +
                          "': known presets are " + known + "all");
  return out;
}

std::vector<WeightShape> read_shape_file(const std::string& path) {
  const std::string text = util::read_regular_file(path, kMaxShapeFileBytes, "shape file");
  std::vector<WeightShape> out;
  std::size_t number = 0;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t nl = text.find('\n', start);
    std::string_view raw = std::string_view(text).substr(start, nl == std::string::npos ? nl : nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    const Line line{path, ++number, raw};
    if (raw.size() > kMaxShapeLineBytes)
      line.fail("the line is longer than " + std::to_string(kMaxShapeLineBytes) + " bytes");
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const auto u = static_cast<unsigned char>(raw[i]);
      if ((u < 0x20 && u != '\t') || u >= 0x7f)
        line.fail("byte " + util::escaped(raw.substr(i, 1)) + " at column " +
                  std::to_string(i + 1) + " is not printable text");
    }
    const std::string_view content = trimmed(raw);
    if (content.empty() || content.front() == '#') continue;
    const std::vector<std::string_view> cols = fields_of(content);
    if (cols == std::vector<std::string_view>{"model", "layer", "N", "K"} ||
        cols == std::vector<std::string_view>{"N", "K"})
      continue;  // the header of bench/shapes.csv, or of a bare list
    if (cols.size() != 2 && cols.size() != 4)
      line.fail("expected 'N,K' or 'model,layer,N,K'");
    if (cols.size() == 4 && (cols[0].empty() || cols[1].empty()))
      line.fail("the model and layer names must not be empty");
    const std::size_t at = cols.size() - 2;
    const std::int64_t n = whole_int(line, cols[at], "N"), k = whole_int(line, cols[at + 1], "K");
    try {
      compiler::check_weight_shape(n, k, "use the shape");
    } catch (const InvalidArgument& e) {
      line.fail(std::string(e.what()).substr(std::string("failed to use the shape: ").size()));
    }
    out.push_back({cols.size() == 4 ? std::string(cols[0]) + "." + std::string(cols[1])
                                    : "shape" + std::to_string(number),
                   n, k});
  }
  if (out.empty())
    throw InvalidArgument("failed to read shape file " + util::escaped(path, 4096) +
                          ": no weight shapes in " + util::escaped(path, 4096) +
                          " (expected 'N,K' or 'model,layer,N,K' lines; '#' starts a comment)");
  return out;
}

void check_token_counts(const std::vector<std::int64_t>& ms, const std::string& option) {
  if (ms.empty()) throw InvalidArgument("failed to parse " + option + ": no token count given");
  for (const std::int64_t m : ms)
    compiler::check_gemm_m(m, "parse " + option + " '" + std::to_string(m) + "'");
}

std::vector<WeightShape> Workload::shapes() const {
  auto shapes = shape_file.empty() ? model_shapes(model) : read_shape_file(shape_file);
  check_token_counts(ms, "--m");
  return shapes;
}

}  // namespace fp8jit::tools
