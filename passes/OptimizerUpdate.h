// Optimizer updates expanded into graph ops.
#pragma once

#include "ir/Graph.h"

namespace dlc {

class Builder;

// For every train function with grads: declares the optimizer's persistent
// state as variables (trainable = false, zeros(), named
// "<func>.<optimizer>.<slot>.<param>": step.sgd.v.w (momentum only),
// step.rmsprop.s.w, step.adam.m.w and step.adam.v.w, and "step.adam.t", the
// step count; adamw's the same as adam's), appends the update math as graph
// ops, and records Function::updates for every param, then every state
// variable. Consumes Function::grads (cleared after). The optimizers, their
// hyper-parameters and defaults are the table of dlc::optimizers()
// (ir/Graph.h), which the frontend and the IR parser check train statements
// against, so meeting another optimizer here is an InternalError. Returns
// whether anything changed.
bool runOptimizerUpdate(Module &m);

// Adam's bias correction 1 - beta^t for t, an f32 node of step counts
// (whole numbers), appended with `b`: -expm1(t log(beta)) with log(beta)
// folded in double, within about one f32 ulp (a relative error below
// 1.2e-7, tests/unit/optimizers.cpp) where 1 - pow(beta, t) in f32 is off by
// up to 2e-5 for beta = 0.999. The constant 1 when beta is 0. Exposed for
// that test.
Node *biasCorrection(Builder &b, Node *t, double beta, const std::string &name);

} // namespace dlc
