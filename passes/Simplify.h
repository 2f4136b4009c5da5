// Graph clean-up: CSE, constant folding, exact algebraic identities and
// dead-node elimination, to a fixed point.
#pragma once

#include "ir/Graph.h"

namespace dlc {

// Simplifies every function of `m` until nothing more applies:
//  - CSE: nodes with the same op, operands, attributes and type are one (the
//    first is kept), so are input or var nodes of the same name and
//    constants of the same value (bit for bit) and type;
//  - constant folding: a map op (ir/Formulas.h) of constants, rounded to f32
//    for an f32 result; reshape, broadcast, transpose and reduce_max of a
//    constant; reduce_sum (value * count) and reduce_mean of a constant;
//  - identities exact in IEEE arithmetic: x*1, 1*x, x/1, x + -0.0,
//    -0.0 + x, x - 0.0 and neg(neg(x)) are x (broadcast to the result's
//    type when the constant was the larger operand); not x*0, not x + 0.0;
//    reshape(reshape(x)) and broadcast(broadcast(x)) are one step; a
//    reshape or broadcast to x's own type is x; transposes compose, and one
//    by the identity permutation is x;
//  - stop_gradient(x) is x, once autodiff has run (passes/Autodiff.h,
//    awaitsAutodiff): before, it is what tells autodiff to stop;
//  - dead-node elimination: nodes no output, update, grad or loss needs.
// Nodes are changed in place or replaced by earlier ones, so every node
// keeps its name, location and gradOf note and the order stays topological
// (a note on a replaced node moves to its replacement). Returns whether
// anything changed.
bool runSimplify(Module &m);

} // namespace dlc
