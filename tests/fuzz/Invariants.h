// What the fuzz targets and the random-model test check about a module,
// beyond "it did not crash": the pipeline with the verifier after every
// pass, the text form printing and parsing back to itself, and the buffer IR
// replayed step by step. Each check returns "" or what is wrong, so a fuzz
// target aborts with the message and a doctest case shows it.
#pragma once

#include "ir/Graph.h"
#include "ir/Interpreter.h"
#include "passes/Pipeline.h"

#include <string>

namespace dlc::fuzz {

// Runs the default pipeline with the verifier after every pass (and before
// the first). An InternalError, which the driver would report as a bug in
// dlc, comes back as the problem.
std::string runVerifiedPipeline(Module &m, const PipelineOptions &opts = {});

// printModule(m) parses back, and the parsed module prints to the same text.
std::string roundTripProblem(const Module &m);

// The graph passes are a fixed point on their own output, as `dlc` on its
// own --emit=opt dump promises: the module after autodiff, the optimizer and
// simplify, printed, parsed and taken through them again, prints the same.
// `m` is not changed.
std::string idempotenceProblem(const Module &m);

// Replays every planned function's schedule over its buffers, tracking which
// value each buffer holds, independently of how the planner decided it:
//   - a call reads each value from the buffer bufferOf names, and that
//     buffer still holds it (no later write into it or into arena bytes it
//     shares has clobbered it), and lists the buffer as in or inout;
//   - a call writes each store into a buffer it lists as out or inout, never
//     into an input; its arguments are distinct buffers, and no two of its
//     arena buffers share bytes (codegen declares them noalias);
//   - after the copies, every output buffer holds its output's value and
//     every variable's state its update (or its old value when none);
//   - every arena buffer lies inside the arena, and the figures are ordered:
//     lower bound <= arena <= bytes without reuse, the lower bound being the
//     most aligned bytes live at one step.
std::string planProblem(const Module &m);

// The pipeline, then the plans and the round trip: "" when `m` went
// through every pass verified, round-trips and has sound plans. `m` is left
// planned.
std::string pipelineProblem(Module &m, const PipelineOptions &opts = {});

// The pipeline's options with every run of row-computing calls that keeps
// a buffer to itself made a row group of one-row chunks, however small the
// model: the generated models are far below the sizes that make groups.
inline PipelineOptions unfusedInRowGroups() {
  PipelineOptions o;
  o.fusion = false;
  o.memplan.rowGroupMinLocalBytes = 0;
  o.memplan.rowGroupChunkBytes = 1;
  return o;
}

// The variables of `m` from initVarsForTest, every trainable one then moved
// by up to 0.1 so that no bias is exactly 0: a relu of exactly 0 is a kink
// where finite differences and autodiff rightly disagree.
TensorMap testVars(const Module &m, uint64_t seed);

// The meaning of the graph survives the passes: every function of `after`
// (the pipeline's result) interpreted against the same function of `before`
// (the frontend's), on the same inputs and variables, gives the same outputs
// to 1e-6, and its updates equal those of the optimizer expanded on the
// module after autodiff and simplify (simplify then did not run after it);
// there, the gradients autodiff made agree with central differences of
// `before`'s loss for a few elements of its params (an element where the
// loss is not smooth at that scale is skipped).
std::string semanticsProblem(const Module &before, const Module &after,
                             const TensorMap &inputs, const TensorMap &vars);

} // namespace dlc::fuzz
