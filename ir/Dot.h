// Graphviz DOT export of a module (`dlc --emit=dot`).
#pragma once

#include "ir/Graph.h"

#include <string>

namespace dlc {

std::string toDot(const Module &m);

} // namespace dlc
