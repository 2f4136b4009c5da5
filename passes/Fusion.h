// Operator fusion: groups each entry's nodes into kernels (Function::plan).
#pragma once

#include "ir/Graph.h"

namespace dlc {

// For every function, records in f.plan.kernels which nodes each generated
// function computes. The grouping rules, all in passes/Fusion.cpp:
//   - a map (elementwise or broadcast op) joins the kernel of one of its
//     operands when it has that kernel's result shape: chains and diamonds of
//     maps become one loop, and maps after a matmul, reduction or row-wise op
//     become that kernel's epilogue (bias add, relu, the relu mask, a whole
//     optimizer update);
//   - the maps that compute a reduction's or row-wise op's operand, and
//     nothing else, become its prologue: computed inside its loops as it
//     reads them, never stored (a sum of squares, a mean squared error);
//   - a scalar map of constants and scalar variables (Adam's bias
//     corrections) is recomputed once at the entry of every kernel using it
//     rather than launched on its own;
//   - a matmul, reduction, row-wise op or transpose starts a kernel of its
//     own: none is ever duplicated, and no kernel grows past kMaxKernelNodes
//     (a transpose takes an epilogue, run after its loops as a reduction's
//     is, but no prologue: its reads are strided, not element by element);
//   - a merge that would make the kernels depend on each other in a cycle
//     is refused.
// Every refusal is recorded with its reason (--emit=fused prints them).
// Inputs, variables, constants and views (reshape) are in no kernel:
// kernels read them where they are, constants as immediates. A constant that
// an entry returns or stores gets a fill kernel.
// Returns whether anything changed.
bool runFusion(Module &m);

// The same pass with fusion off (--no-fusion): one kernel per compute node,
// for comparison and teaching.
bool runNoFusion(Module &m);

constexpr size_t kMaxKernelNodes = 64;

} // namespace dlc
