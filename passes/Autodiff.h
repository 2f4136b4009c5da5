// Reverse-mode autodiff as a graph-to-graph transformation.
#pragma once

#include "ir/Graph.h"

namespace dlc {

// For every train function: appends the adjoint graph of train->loss with
// respect to each variable in train->params, using each op's gradient rule
// (ir/OpRules.cpp), and records the results in Function::grads (one entry per
// param, in train->params order). Adjoints of a value used several times are
// summed. Nodes it creates carry the forward node's location and gradOf.
// Returns whether anything changed.
bool runAutodiff(Module &m);

// Whether runAutodiff would differentiate f: a train function with params and
// no grads or updates yet. Until then its stop_gradient nodes must stay.
bool awaitsAutodiff(const Function &f);

} // namespace dlc
