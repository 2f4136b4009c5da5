// Optimizer updates expanded into graph ops.
#pragma once

#include "ir/Graph.h"

namespace dlc {

// For every train function with grads: declares the optimizer's persistent
// state as variables (trainable = false, named "<func>.<optimizer>.<slot>.<param>",
// e.g. "step.adam.m.dense_1.w", and "step.adam.t" for Adam's step count),
// appends the update math as graph ops, and records Function::updates for
// every param and state variable. Consumes Function::grads (cleared after).
// Supported: sgd(lr), adam(lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-7).
// Unknown optimizers are rejected by the frontend, so meeting one here is an
// InternalError. Returns whether anything changed.
bool runOptimizerUpdate(Module &m);

} // namespace dlc
