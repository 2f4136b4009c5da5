// The buffer IR's text form (docs/IR.md), read inside the IR parser.
#pragma once

#include "ir/Graph.h"
#include "ir/TextReader.h"

namespace dlc {

// Reads `NAME [unfused] { ... }` (the keyword `plan` already consumed) into
// the plan of m's function NAME and verifies it. False, with in.error() set
// to a located message, on any mistake.
bool parsePlan(TextReader &in, Module &m);

} // namespace dlc
