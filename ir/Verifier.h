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
// table) and distinct trainable f32 params, and the entry contract below.
std::vector<std::string> verifyModule(const Module &m);

// One broken rule of what grad and update lines a function may hold. `kind`
// and `name` say which line is at fault ("grad" and "w", or "train" and ""
// for the train line itself), so the IR parser can point at it.
struct EntryProblem {
  std::string kind;
  std::string name;
  std::string message;
};

// The entry contract, shared by the verifier and the IR parser. Only a train
// entry holds grads or updates. A train entry is in one of three stages:
// not yet differentiated (no grads, no update of a param), differentiated
// (a grad for each param and no other, no update of a param: --stop-after=
// autodiff) or updated (an update for each param, no grads: --emit=opt).
// Updates of state that is not a param (the optimizer's moments, the dropout
// counter) may appear at any stage, each variable at most once. So the
// pipeline run on any of its own dumps neither differentiates twice nor
// updates a param twice.
std::vector<EntryProblem> entryContractProblems(const Function &f);

// For an input or var node: "" when the input or variable it names is
// declared with `type`, else what is wrong. Shared with the IR parser.
std::string sourceProblem(const Module &m, OpKind op, const Attrs &attrs,
                          const TensorType &type);

// Throws InternalError listing the problems, naming the pass that ran last.
void verifyOrThrow(const Module &m, const std::string &afterPass);

} // namespace dlc
