// Optimizer updates expanded into graph ops.
#pragma once

#include "ir/Graph.h"

namespace dlc {

// For every train function with grads: declares the optimizer's persistent
// state as variables (trainable = false, named "<func>.<optimizer>.<slot>.<param>",
// e.g. "step.adam.m.dense_1.w", and "step.adam.t" for Adam's step count),
// appends the update math as graph ops, and records Function::updates for
// every param and state variable. Consumes Function::grads (cleared after).
// Supported: sgd(lr = 0.01), adam(lr = 0.001, beta1 = 0.9, beta2 = 0.999,
// eps = 1e-7).
// The frontend and the IR parser accept only the optimizers of
// dlc::optimizers() (ir/Graph.h), so meeting another here is an
// InternalError. Returns whether anything changed.
bool runOptimizerUpdate(Module &m);

} // namespace dlc
