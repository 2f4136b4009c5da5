// The buffer IR: the lower level of ir/, where an entry is a fixed schedule
// of fused kernels over explicit buffers (as Glow's low-level IR). Fusion
// (passes/Fusion) fills Plan::kernels; memory planning (passes/MemoryPlan)
// orders them and fills the buffers, calls and arena offsets. Codegen reads
// only this level: what shares bytes, and so what may be `noalias`, is
// decided here, where it prints and is checked.
#pragma once

#include "ir/Type.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace dlc {

struct Node;
class Function;

// Graph nodes computed by one generated function.
struct Kernel {
  // The one node that is not a map (matmul, reduction, row-wise op), or null
  // for a kernel of maps only. Its loops run first; the other nodes are its
  // epilogue, one loop over the anchor's result shape.
  Node *anchor = nullptr;
  std::vector<Node *> nodes;   // computed here, in graph order, anchor first
  // Maps the anchor (a reduction or row-wise op) computes as it reads its
  // operand, element by element: never stored, used by nothing else.
  std::vector<Node *> prologue;
  std::vector<Node *> hoisted; // scalar maps recomputed once at kernel entry
  std::vector<std::string> refused; // merges refused, each with its reason
  // From memory planning: the values this kernel writes to memory (the rest
  // live in registers), in graph order.
  std::vector<Node *> stores;

  std::string kind() const; // "map", "matmul + epilogue", "softmax", ...
};

enum class BufferKind {
  Arena,  // intermediate: bytes in the entry's arena at `offset`
  State,  // a variable's bytes in the context's state block
  Input,  // the caller's input buffer
  Output, // the caller's output buffer
};
const char *bufferKindName(BufferKind k); // "arena", "state", ...

struct Buffer {
  std::string name; // the value it holds (a node name), or the variable/input/output
  BufferKind kind;
  TensorType type;
  std::string ref;     // State: the variable; Input: the input; Output: the output
  int64_t offset = 0;  // Arena: bytes from the arena's start
  int first = -1;      // Arena: the first and last kernel step it is live
  int last = -1;       //   (step = index into Plan::calls; copies are the step after)
};

enum class Access { In, Out, InOut };
const char *accessName(Access a); // "in", "out", "inout"

struct KernelArg {
  int buffer;
  Access access;
};

// One kernel launch: the kernel's arguments, distinct buffers that never
// share bytes (so each may be declared noalias).
struct KernelCall {
  int kernel;                  // index into Plan::kernels
  std::vector<KernelArg> args; // one per distinct buffer the kernel touches
};

// A copy after the last kernel (an update or output whose value is not
// produced where it must end up), in order.
struct BufferCopy {
  int from, to;
};

// Consecutive calls of a row-independent entry (ir/RowIndependence.h) that
// run a few batch rows at a time instead of each over the whole batch: for
// every chunk of `rows` rows, call first, ..., call last. A convolution's
// patches, its product and the pooling over it then pass each chunk through
// the cache instead of through memory. Threads take whole chunks, so every
// row sees the same calls at any thread count. A `local` buffer is used by
// no call outside the group and by no copy: it only ever holds the chunk in
// flight, at the first rows of the thread's part, so the same few hundred
// kilobytes are written and read again. Every arena buffer a group's calls
// touch is live across the whole group (its calls interleave).
struct RowGroup {
  int first = 0, last = 0;  // calls, first < last
  int64_t rows = 1;         // batch rows per chunk
  std::vector<int> local;   // buffers, ascending
};

struct Plan {
  std::vector<Kernel> kernels; // from fusion, then in schedule order
  bool fused = true;           // false under --no-fusion: one node per kernel

  // From memory planning:
  bool planned = false;
  std::vector<Buffer> buffers;
  std::vector<KernelCall> calls; // the schedule: call i runs kernels[calls[i].kernel]
  std::vector<BufferCopy> copies;
  std::vector<RowGroup> groups; // in call order, disjoint
  std::unordered_map<const Node *, int> bufferOf; // where each value lives
  int64_t arenaBytes = 0;   // the planned arena
  int64_t lowerBound = 0;   // the most arena bytes live at one step
  int64_t withoutReuse = 0; // the arena if no two buffers shared bytes

  // The compute nodes of the entry (not input, var, const or view): what
  // --no-fusion makes one kernel each.
  int computeNodes = 0;
};

// `--emit=fused`: each kernel's kind, nodes, DSL lines and refused merges,
// ending with "fused ENTRY: K kernels from N nodes".
std::string printFused(const Function &f);
// `--emit=memplan`: each buffer's name, kind, size, offset and live range and
// each call's operands, ending with "memplan ENTRY: arena A bytes, lower
// bound L bytes, without reuse N bytes".
std::string printMemPlan(const Function &f);

// Problems with f's plan: a compute node in no kernel or in two, a kernel
// that reads a value computed by a later kernel, two arena buffers live at
// one step on overlapping bytes, an argument buffer that does not exist, a
// row group out of order or whose buffers break its rules (RowGroup).
// Checked by plain loops, independently of how the plan was made.
std::vector<std::string> verifyPlan(const Function &f);

} // namespace dlc
