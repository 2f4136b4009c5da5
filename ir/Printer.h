// The IR's text form (docs/IR.md): readable enough to teach from, and parsed
// back by ir/IRParser.h.
#pragma once

#include "ir/Graph.h"

#include <string>

namespace dlc {

std::string printModule(const Module &m);
std::string printFunction(const Function &f);

} // namespace dlc
