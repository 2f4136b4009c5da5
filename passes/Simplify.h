// Graph clean-up: dead-node elimination (CSE and folding come later).
#pragma once

#include "ir/Graph.h"

namespace dlc {

// Removes nodes that no output, update, grad or loss depends on.
bool runSimplify(Module &m);

} // namespace dlc
