// A thin IRBuilder wrapper for writing kernels as counted loops over static
// extents. Loops are emitted bottom-tested with an i64 induction variable and
// constant trip count, the form LLVM's loop vectoriser takes without help.
#pragma once

#include "ir/Graph.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <functional>
#include <string>
#include <vector>

namespace dlc::codegen {

class KernelBuilder {
public:
  // Creates `void name(ptr out, ptr in0, ...)` for node `n` (one pointer per
  // operand) and positions the builder in its entry block.
  KernelBuilder(llvm::Module &mod, const Node &n, const std::string &name);

  llvm::IRBuilder<> b;
  llvm::Type *f32, *i32, *i64;

  const Node &node() const { return node_; }
  llvm::Value *out() const { return fn_->getArg(0); }
  llvm::Value *in(unsigned i) const { return fn_->getArg(i + 1); }

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
  // acc = init; for (i < n) acc = step(i, acc); returns acc. The step's
  // floating-point ops carry `reassoc`, so the vectoriser may split the chain.
  llvm::Value *reduce(int64_t n, llvm::Value *init,
                      const std::function<llvm::Value *(llvm::Value *, llvm::Value *)> &step);

  // The same with several accumulators updated in place by step(i, accs).
  std::vector<llvm::Value *>
  reduceN(int64_t n, std::vector<llvm::Value *> init,
          const std::function<void(llvm::Value *, std::vector<llvm::Value *> &)> &step);

  llvm::Function *finish(); // returns void, verifies (InternalError if broken)

private:
  const Node &node_;
  llvm::Function *fn_;
};

} // namespace dlc::codegen
