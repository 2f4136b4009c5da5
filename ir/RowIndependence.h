// Which entries may run on fewer rows than the batch. An entry is row
// independent when row i of every output depends only on row i of the
// inputs (and on variables and constants): then running it on the first n
// rows of each input gives the first n rows of each output, and the compiled
// code can bound its loops over the batch by n instead of computing padded
// rows nobody reads. A reduction over the batch, a matmul contracting over
// it, a softmax along it, a reshape or transpose that moves it, or a train
// entry (its update sums over the whole batch) make rows depend on each
// other.
//
// The analysis is over the graph, with one more check over the buffer IR
// when the entry has a plan: a kernel that computes a row's values computes
// only n rows, so it must not also store a value that does not follow the
// rows (one computed from variables alone, which later code may read
// whole), and no value of that kind may live in the caller's input or
// output buffers, which hold only n rows.
#pragma once

#include "ir/Graph.h"

#include <string>
#include <unordered_set>
#include <vector>

namespace dlc {

struct Kernel;

struct RowAnalysis {
  bool independent = false;
  // Why not, when not: names the node (or kernel) that mixes rows.
  std::string reason;
  // The values whose leading dim is the batch and whose row i depends on
  // row i of the inputs alone: what a kernel computes n rows of. Every
  // other value depends on no input at all.
  std::unordered_set<const Node *> rowed;
};

// The leading dim shared by every model input and every output of the
// non-train entries (those that accept partial batches); 0 if they disagree or
// one is a scalar. Train entries run full batches, so a scalar loss is fine.
int64_t modelBatch(const Module &m);

// `batch` is the leading dim the model's inputs and outputs share
// (modelBatch); an entry of a model without one (0), or with a
// batch of 1, has nothing to gain and is reported dependent.
RowAnalysis analyzeRows(const Function &f, int64_t batch);

// Whether kernel k computes rowed values (then, in a row-independent entry,
// it runs on the row count; else it runs whole, as it reads no row).
bool computesRows(const Kernel &k, const RowAnalysis &rows);

// Per buffer of f's plan, whether it holds rowed values (then row i of the
// batch owns bytes [i, i + 1) * bytes / batch of it). Every value of a
// buffer is rowed or none is, in a row-independent entry.
std::vector<bool> rowedBuffers(const Function &f, const RowAnalysis &rows);

// Problems with the row groups of f's plan (ir/BufferIR.h RowGroup) that
// need the rows: a group in an entry that is not row independent, a call in
// a group that computes no rows, a local buffer that holds no rows.
std::vector<std::string> verifyRowGroups(const Function &f, int64_t batch);

} // namespace dlc
