// Structural and type checks of a Module; run after every pass with
// --verify-each (and always in tests).
#pragma once

#include "ir/Graph.h"

#include <string>
#include <vector>

namespace dlc {

// Every broken invariant, one message each; empty when the module is valid.
// Checks: operands precede their users (topological order), operands belong
// to the same function, names are unique, each node's type equals its op's
// shape rule, attributes fit the op's schema, input/var nodes name
// declared inputs/variables with matching types, outputs/updates/grads refer
// to nodes of the function, an update's type equals its variable's, every
// type is within the size limits (ir/Type.h), a train entry names a known
// optimizer with valid hyper-parameters (names and ranges from the optimizer
// table) and distinct trainable f32 params.
std::vector<std::string> verifyModule(const Module &m);

// For an input or var node: "" when the input or variable it names is
// declared with `type`, else what is wrong. Shared with the IR parser.
std::string sourceProblem(const Module &m, OpKind op, const Attrs &attrs,
                          const TensorType &type);

// Throws InternalError listing the problems, naming the pass that ran last.
void verifyOrThrow(const Module &m, const std::string &afterPass);

} // namespace dlc
