// Scheduling and memory planning: the buffer IR of every entry.
#pragma once

#include "ir/Graph.h"

namespace dlc {

// For every function (after fusion): orders the kernels, gives every value
// that must reach memory a buffer, and places the arena buffers.
//   - Schedule: a topological order of the kernels; among the kernels ready
//     to run, one that overwrites a variable still to be read by another
//     waits, so that updates can be written in place.
//   - Buffers: inputs and variables are read where they are; an update is
//     written straight into its variable's state when no later kernel reads
//     the old value; an output straight into the caller's buffer; anything
//     else gets an arena buffer, reusing (in place) an operand's buffer of
//     the same type that dies in the same kernel when every op of the
//     kernel allows it (OpInfo::mayOverwrite).
//   - Row groups (ir/BufferIR.h RowGroup): in a row-independent entry, a
//     run of calls whose intermediates would not fit in cache (a
//     convolution's patches, product and pooling) runs a few rows at a
//     time, its intermediates local to the chunk in flight.
//   - Liveness over the whole entry, then arena offsets by best fit over
//     several orders (passes/MemoryPlanner.h).
//   - Whatever was not produced in place is copied after the last kernel:
//     outputs first, then updates, so no output sees a half-updated state.
// --emit=memplan prints the result. Returns whether anything changed.
//
// When a run of calls becomes a row group (passes/MemoryPlan.cpp says why
// these defaults): tests lower both to make groups of one-row chunks in
// models far too small to need them.
struct MemoryPlanOptions {
  int64_t rowGroupMinLocalBytes = int64_t(1) << 20; // bytes only the run uses
  int64_t rowGroupChunkBytes = int64_t(512) << 10;  // rows of a chunk, all buffers
};
bool runMemoryPlan(Module &m, const MemoryPlanOptions &opts = {});

} // namespace dlc
