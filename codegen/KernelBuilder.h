// A thin IRBuilder wrapper for writing kernels as counted loops over static
// extents. Loops are emitted bottom-tested with an i64 induction variable and
// constant trip count, the form LLVM's loop vectoriser takes without help.
#pragma once

#include "codegen/Lowering.h"
#include "ir/Graph.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <functional>
#include <string>
#include <vector>

namespace dlc::codegen {

// What a kernel argument is to the kernel: read only, written only, both.
enum class ArgUse { In, Out, InOut };

class KernelBuilder {
public:
  // Creates `void name(ptr, ptr, ...)`, one pointer per entry of `args`, and
  // positions the builder in its entry block. The caller guarantees that no
  // two arguments share bytes (the memory plan does), so all are noalias.
  // With `batch` > 0 the kernel computes the rows of a row-independent entry
  // (ir/RowIndependence.h): it takes one more argument, the i64 row count
  // (1..batch) its loops over the batch dim run to.
  // With `shared`, it also takes i64 begin and end, the iterations of its
  // outermost loop it computes (see share below).
  KernelBuilder(llvm::Module &mod, const std::vector<ArgUse> &args, const std::string &name,
                int64_t batch = 0, bool shared = false);

  llvm::IRBuilder<> b;
  llvm::Type *f32, *i32, *i64;
  // Floats per vector in the matmul's tiles: the target's register width
  // (8 with AVX2, 16 with AVX-512).
  int64_t lanes = 8;
  llvm::Function *function() const { return fn_; }
  llvm::Value *arg(unsigned i) const { return fn_->getArg(i); }

  // The node an op emitter (Kernels.cpp) computes, where its operands are
  // and where its result goes; set before calling emitOp.
  const Node *op = nullptr;
  std::vector<llvm::Value *> operandPtrs;
  llvm::Value *resultPtr = nullptr;
  const Node &node() const { return *op; }
  // Element idx (a flat index) of f32 operand i, as the op's loops read it:
  // loaded from in(i), unless a fused kernel computes operands element by
  // element through `operandAt` (a prologue).
  llvm::Value *inAt(unsigned i, llvm::Value *idx);
  std::function<llvm::Value *(unsigned i, llvm::Value *idx)> operandAt;
  // Where a matmul's result element (row, col) leaves its registers: `v` is
  // one float (width 1) or `width` floats from col on, of which only the
  // lanes of `mask` exist when it is set. By default stored into out(); a
  // fused kernel sets `epilogue` to run its epilogue there instead.
  void storeResult(llvm::Value *row, llvm::Value *col, llvm::Value *v, unsigned width,
                   llvm::Value *mask);
  std::function<void(llvm::Value *row, llvm::Value *col, llvm::Value *v, unsigned width,
                     llvm::Value *mask)>
      epilogue;
  // A register tile's results, acc[r * cols + c] at (row0 + r, col0 + c *
  // colStep), each through storeResult. An epilogue of more than a few ops
  // (`epilogueInLoop`: a weight gradient's optimizer update) runs in a loop
  // over the tile's results from a stack copy, so its code is emitted once
  // per tile shape rather than once per register: a tenth of the code for
  // LLVM to compile, for a store and a load per result.
  void storeTile(llvm::Value *row0, int64_t rows, llvm::Value *col0, int64_t cols,
                 int64_t colStep, const std::vector<llvm::Value *> &acc, unsigned width,
                 llvm::Value *mask);
  bool epilogueInLoop = false;
  // n values of type t on the kernel's stack frame (a static alloca in the
  // entry block, 64-byte aligned), live for the whole call.
  llvm::Value *stackArray(llvm::Type *t, int64_t n, const char *name);
  // A matmul with an epilogue may keep C's partial sums between blocks of K
  // here: a float per result element that the kernel does not read, and
  // that the epilogue overwrites (a stored result of C's shape); null: none.
  llvm::Value *partialSums = nullptr;
  llvm::Value *out() const { return resultPtr; }
  llvm::Value *in(unsigned i) const { return operandPtrs.at(i); }

  llvm::Type *elemType(DType t) const { return t == DType::F32 ? f32 : i32; }
  llvm::Value *idx(int64_t v) { return b.getInt64(v); }
  llvm::Constant *f(double v) { return llvm::ConstantFP::get(f32, v); }

  llvm::Value *load(llvm::Type *t, llvm::Value *base, llvm::Value *i);
  llvm::Value *loadF(llvm::Value *base, llvm::Value *i) { return load(f32, base, i); }
  void store(llvm::Value *v, llvm::Value *base, llvm::Value *i);
  // Index arithmetic that cannot wrap (static shapes bound every index).
  llvm::Value *add(llvm::Value *a, llvm::Value *c) { return b.CreateAdd(a, c, "", true, true); }
  llvm::Value *mul(llvm::Value *a, int64_t c) {
    return c == 1 ? a : b.CreateMul(a, idx(c), "", true, true);
  }
  llvm::Value *unary(llvm::Intrinsic::ID id, llvm::Value *x);
  llvm::Value *binary(llvm::Intrinsic::ID id, llvm::Value *x, llvm::Value *y);

  // for (i = 0; i < n; ++i) body(i); nothing when n <= 0.
  void loop(int64_t n, const std::function<void(llvm::Value *)> &body);
  // The same, kept a loop: LLVM would unroll a short one whose body is
  // large, which multiplies the code to compile and gains nothing.
  void loopRolled(int64_t n, const std::function<void(llvm::Value *)> &body);
  // The same for a count known only at run time (guarded: n may be 0).
  void loop(llvm::Value *n, const std::function<void(llvm::Value *)> &body);
  // if (cond) then(); else otherwise(): both emitted, one run.
  void ifElse(llvm::Value *cond, const std::function<void()> &then,
              const std::function<void()> &otherwise);

  // Row counts. `rows()` is null when the kernel runs whole batches (every
  // extent static), else the run-time row count. A loop over `n` elements
  // that lead with the batch dim (n a multiple of the batch, the batch dim
  // outermost) runs over the first rows * (n / batch) of them:
  // loopRows(n, ...) is loop(n, ...) then, and rowsOf(n) that count.
  llvm::Value *rows() const { return rows_; }
  int64_t batch() const { return batch_; }
  llvm::Value *rowsOf(int64_t n);
  void loopRows(int64_t n, const std::function<void(llvm::Value *)> &body);
  // acc = init; for (i < n) acc = step(i, acc); returns acc. The step's
  // floating-point ops carry `reassoc`, so the vectoriser may split the chain.
  llvm::Value *reduce(int64_t n, llvm::Value *init,
                      const std::function<llvm::Value *(llvm::Value *, llvm::Value *)> &step);

  // The same with several accumulators updated in place by step(i, accs).
  std::vector<llvm::Value *>
  reduceN(int64_t n, std::vector<llvm::Value *> init,
          const std::function<void(llvm::Value *, std::vector<llvm::Value *> &)> &step);
  // The same for a count known at run time, at least 1.
  std::vector<llvm::Value *>
  reduceN(llvm::Value *n, std::vector<llvm::Value *> init,
          const std::function<void(llvm::Value *, std::vector<llvm::Value *> &)> &step);

  // Threads. A shared kernel computes iterations [begin, end) of its
  // outermost loop, which runs over `n` iterations at a full batch (over
  // the first rows * n / batch of them with a row count): loopShare(n,
  // grain, ...) is that loop, and the one emitter that writes it declares
  // the kernel's share. `grain` is the number of iterations its code treats
  // as one unit (a register tile's rows), so that a part boundary never
  // falls inside one and every iteration runs the same instructions at any
  // thread count. Anything else the kernel computes must not depend on the
  // other iterations. Not shared, loopShare is loopRows.
  bool shared() const { return begin_ != nullptr; }
  llvm::Value *shareBegin() const { return begin_; }
  llvm::Value *shareEnd() const { return end_; }
  // `nsPerIteration` estimates an iteration's time: the grain grows to a
  // multiple of itself that makes a part worth a thread. Once declared, a
  // share may be declared again only with a grain that divides the first
  // (a matmul's two kinds of row blocks declare their lcm first); the
  // first declaration stands.
  void loopShare(int64_t n, int64_t grain, double nsPerIteration,
                 const std::function<void(llvm::Value *)> &body);
  void declareShare(int64_t n, int64_t grain, double nsPerIteration);
  // for (i = begin; i < end; ++i) body(i), for counts known at run time.
  void loopRange(llvm::Value *begin, llvm::Value *end,
                 const std::function<void(llvm::Value *)> &body);
  const KernelShare &share() const { return share_; } // grain: what parallel_for gets

  llvm::Function *finish(); // returns void, verifies (InternalError if broken)

private:
  llvm::Function *fn_;
  llvm::Value *rows_ = nullptr;
  bool rolledNext_ = false; // the next loop() is loopRolled's
  // How far LLVM may unroll the loop of this latch: not at all if it is
  // `rolled` or runs a known count above kMaxUnrolledTrips, else only
  // whole (never at run time).
  void markUnrolling(llvm::BranchInst *latch, llvm::Value *trips, bool rolled = false);
  int64_t batch_ = 0;
  llvm::Value *begin_ = nullptr, *end_ = nullptr;
  KernelShare share_;
  int64_t tile_ = 1; // the unit of iterations the code itself has
};

using Strides = std::vector<int64_t>;
Strides contiguousStrides(const Dims &d);
// Strides that read `operand` at the coordinates of `out` under numpy
// broadcasting: stretched dims get stride 0.
Strides broadcastStrides(const Dims &operand, const Dims &out);

// A loop nest over `dims` where access k walks memory with strides[k].
// Coalescing drops unit dims and merges neighbours every access walks
// contiguously, so a no-broadcast loop is one flat loop and a trailing
// broadcast ([5,1] + [1,7]) keeps a stride-0/stride-1 inner loop, both of
// which the vectoriser handles.
struct LoopNest {
  Dims dims;
  std::vector<Strides> strides; // per access, parallel to dims

  LoopNest(const Dims &d, std::vector<Strides> s);
  // body(element offset of each access), once per point of the nest.
  void emit(KernelBuilder &k, const std::function<void(std::vector<llvm::Value *> &)> &body);
  // The same over the first k.rows() rows when the nest's dims lead with the
  // batch dim (coalescing keeps it in the first level, whatever it merges),
  // and over the kernel's share of the first level when it is shared.
  void emitRows(KernelBuilder &k,
                const std::function<void(std::vector<llvm::Value *> &)> &body);

private:
  void level(KernelBuilder &k, size_t d, std::vector<llvm::Value *> base,
             const std::function<void(std::vector<llvm::Value *> &)> &body, bool outer);
};

// Kernels.cpp: the loops of one op that is not a map (matmul, reductions,
// row-wise ops, broadcast, transpose, fills), reading k.in(i) and writing k.out().
void emitOp(KernelBuilder &k);
// Whether a reduction's work can be shared between threads: the iterations
// of its outermost dims, which it keeps, each own a slice of the results
// (max pooling's batch and rows; not a sum over the batch); and
// reduce_max_grad by the same dims.
bool reductionShareable(const Node &n);

} // namespace dlc::codegen
