// The device-code templates of templates/, embedded into the library at build time.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace fp8jit::compiler {

struct EmbeddedFile {
  const char* name;    // file name under templates/
  const char* sha256;  // of its text
  const char* text;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const int kEmbeddedFileCount;
extern const char* const kTemplatesHash;  // over every file's name and hash

// The text of templates/<name>; throws Error when there is no such template.
std::string_view template_text(std::string_view name);

// `name`'s text with each `#include "<template>"` line replaced by that template's text (once
// per file, recursively), giving a self-contained source that needs no include path. Includes of
// the templates in `already` add nothing (the caller has put an equivalent in the text before).
std::string expand_template(std::string_view name,
                            std::initializer_list<std::string_view> already = {});

}  // namespace fp8jit::compiler
