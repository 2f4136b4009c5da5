// Parses the IR text form (docs/IR.md) back into a Module.
#pragma once

#include "ir/Graph.h"

#include <memory>
#include <string>

namespace dlc {

// On a syntax or type error returns nullptr and sets `error` to
// "file:line:col: error: message" followed by the source line and a caret.
std::unique_ptr<Module> parseModuleText(const std::string &text,
                                        const std::string &filename,
                                        std::string &error);

} // namespace dlc
