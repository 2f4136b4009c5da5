// The IR's text form (docs/IR.md): readable enough to teach from, and parsed
// back by ir/IRParser.h.
#pragma once

#include "ir/Graph.h"

#include <string>

namespace dlc {

// The module: declarations, each function, then the plan (buffer IR) of each
// function that has one.
std::string printModule(const Module &m);
std::string printFunction(const Function &f);
// " {axes = [0], ...}" as a node line shows attributes; "" when none.
std::string attrsText(const Attrs &attrs);
// `plan NAME { kernel ... buffer ... call ... copy ... arena ... }`: the
// buffer IR of f in the text form the parser reads back.
std::string printPlan(const Function &f);

} // namespace dlc
