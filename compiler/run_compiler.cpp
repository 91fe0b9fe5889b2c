#include "compiler/run_compiler.hpp"

#include <fstream>
#include <iterator>

#include "fp8jit/error.hpp"
#include "util/process.hpp"

namespace fp8jit::compiler {

Binary run_compiler(const CompileRequest& request, const std::string& compiler,
                    const std::vector<std::string>& options, const std::filesystem::path& source,
                    const std::filesystem::path& output, const std::string& described_as) {
  {
    std::ofstream f(source, std::ios::binary);
    f << request.source;
    if (!f.flush())
      throw Error("failed to write " + source.string() + " for " + request.kernel_name);
  }
  std::vector<std::string> argv{compiler};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {source.string(), "-o", output.string()});
  const util::ProcessResult r = util::run_process(argv);
  if (r.status != 0) {
    std::string joined;
    for (const auto& o : options) joined += o + " ";
    throw CompileError("failed to compile " + request.kernel_name + " for " +
                           request.target.str() + " with " + described_as + ": exit status " +
                           std::to_string(r.status),
                       r.output, joined, request.spec,
                       dump_source(request.dump_dir, request.kernel_name, request.source));
  }
  Binary bin;
  bin.log = r.output;
  std::ifstream f(output, std::ios::binary);
  bin.bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return bin;
}

}  // namespace fp8jit::compiler
