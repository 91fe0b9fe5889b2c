#include "compiler/templates.hpp"

#include <set>
#include <sstream>

#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

std::string_view template_text(std::string_view name) {
  for (int i = 0; i < kEmbeddedFileCount; ++i)
    if (name == kEmbeddedFiles[i].name) return kEmbeddedFiles[i].text;
  throw Error("failed to find template '" + std::string(name) + "': not embedded in this build");
}

namespace {

// Appends `name` to `out`, replacing `#include "<template>"` lines by the template's text the
// first time each template is met.
void expand_into(std::string_view name, std::set<std::string>& seen, std::string& out) {
  if (!seen.insert(std::string(name)).second) return;
  std::istringstream in{std::string(template_text(name))};
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line.compare(first, 8, "#include") == 0) {
      const auto open = line.find('"');
      const auto close = open == std::string::npos ? open : line.find('"', open + 1);
      if (close != std::string::npos) {
        expand_into(line.substr(open + 1, close - open - 1), seen, out);
        continue;
      }
    }
    out += line;
    out += '\n';
  }
}

}  // namespace

std::string expand_template(std::string_view name,
                            std::initializer_list<std::string_view> already) {
  std::set<std::string> seen;
  for (const auto a : already) seen.insert(std::string(a));
  std::string out;
  expand_into(name, seen, out);
  return out;
}

}  // namespace fp8jit::compiler
