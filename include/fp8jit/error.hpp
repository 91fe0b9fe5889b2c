// fp8jit — error types. Every message reads "failed to <verb> <object>: <cause>" and names the
// values involved; nothing in the library aborts the host process.
#pragma once

#include <stdexcept>
#include <string>

namespace fp8jit {

// Base of every exception the library throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An argument broke a documented rule (shape constraint, null or misaligned pointer, dtype/arch
// mismatch, unknown arch, a PackedWeight used with another layout). Thrown before any launch.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A GPU driver call failed, or no usable driver is present.
class DriverError : public Error {
 public:
  using Error::Error;
};

// The on-disk cache could not be read or written (never thrown for a corrupt entry, which is
// quarantined and treated as a miss).
class CacheError : public Error {
 public:
  using Error::Error;
};

// A kernel failed to compile. Carries everything needed to reproduce it: the full compiler log,
// the options passed, the canonical spec and where the rendered source was dumped.
class CompileError : public Error {
 public:
  CompileError(const std::string& message, std::string log, std::string options, std::string spec,
               std::string source_path)
      : Error(message + "\n--- compiler log ---\n" + log + "--- options: " + options +
              "\n--- spec: " + spec + "\n--- source: " + source_path),
        log_(std::move(log)),
        options_(std::move(options)),
        spec_(std::move(spec)),
        source_path_(std::move(source_path)) {}

  const std::string& log() const noexcept { return log_; }
  const std::string& options() const noexcept { return options_; }
  const std::string& spec() const noexcept { return spec_; }
  const std::string& source_path() const noexcept { return source_path_; }

 private:
  std::string log_, options_, spec_, source_path_;
};

}  // namespace fp8jit
