// The loops of each op (emitOp's switch), specialised to static shapes, and
// the KernelBuilder they are written with. A fused kernel
// (codegen/FusedKernel.cpp) calls emitOp for its anchor, then runs its
// epilogue as one more loop.
#include "codegen/KernelBuilder.h"
#include "codegen/Lowering.h"
#include "codegen/Scalar.h"
#include "ir/Formulas.h"
#include "ir/OpRules.h"
#include "ir/Support.h"

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include <limits>
#include <numeric>
#include <utility>

using namespace llvm;

namespace dlc::codegen {

// --- KernelBuilder -----------------------------------------------------------

KernelBuilder::KernelBuilder(llvm::Module &mod, const std::vector<ArgUse> &args,
                             const std::string &name, int64_t batch, bool shared)
    : b(mod.getContext()), f32(b.getFloatTy()), i32(b.getInt32Ty()), i64(b.getInt64Ty()),
      batch_(batch) {
  std::vector<Type *> params(args.size(), b.getPtrTy());
  if (batch > 0)
    params.push_back(i64);
  if (shared)
    params.insert(params.end(), {i64, i64});
  auto *ty = FunctionType::get(b.getVoidTy(), params, false);
  fn_ = llvm::Function::Create(ty, GlobalValue::InternalLinkage, name, mod);
  // noalias is what lets the vectoriser skip runtime overlap checks; it holds
  // because the memory plan never passes one kernel two buffers that share
  // bytes. noinline keeps one function per kernel in --emit=asm (fusion, not
  // the inliner, decides what runs together).
  fn_->addFnAttr(Attribute::NoUnwind);
  fn_->addFnAttr(Attribute::NoInline);
  for (unsigned i = 0; i < args.size(); ++i) {
    fn_->addParamAttr(i, Attribute::NoAlias);
    fn_->addParamAttr(i, Attribute::NoCapture);
    fn_->addParamAttr(i, Attribute::NoUndef);
    if (args[i] == ArgUse::In)
      fn_->addParamAttr(i, Attribute::ReadOnly);
    fn_->getArg(i)->setName(args[i] == ArgUse::In ? "in" : args[i] == ArgUse::Out ? "out" : "inout");
  }
  unsigned next = (unsigned)args.size();
  if (batch > 0) {
    rows_ = fn_->getArg(next++);
    rows_->setName("rows");
  }
  if (shared) {
    begin_ = fn_->getArg(next++);
    end_ = fn_->getArg(next++);
    begin_->setName("begin");
    end_->setName("end");
  }
  b.SetInsertPoint(BasicBlock::Create(mod.getContext(), "entry", fn_));
  // contract turns a*b+c into FMA; reassoc is added only in reduce().
  FastMathFlags fmf;
  fmf.setAllowContract(true);
  b.setFastMathFlags(fmf);
}

Value *KernelBuilder::load(Type *t, Value *base, Value *i) {
  return b.CreateLoad(t, b.CreateInBoundsGEP(t, base, i));
}

void KernelBuilder::store(Value *v, Value *base, Value *i) {
  b.CreateStore(v, b.CreateInBoundsGEP(v->getType(), base, i));
}

Value *KernelBuilder::unary(Intrinsic::ID id, Value *x) {
  return b.CreateUnaryIntrinsic(id, x);
}

Value *KernelBuilder::binary(Intrinsic::ID id, Value *x, Value *y) {
  return b.CreateBinaryIntrinsic(id, x, y);
}

// Loops are unrolled by construction where it pays (register tiles, the
// vectors of a row); LLVM's partial and run-time unrolling of the rest
// made a third of the LSTM's optimised IR, and its compile time, for
// about 1% fewer instructions run (callgrind). Loops of up to this many
// trips may still be unrolled whole (a softmax's 10 classes); longer ones
// not at all.
constexpr int64_t kMaxUnrolledTrips = 16;

void KernelBuilder::loop(int64_t n, const std::function<void(Value *)> &body) {
  const bool rolled = std::exchange(rolledNext_, false);
  if (n <= 0)
    return;
  BasicBlock *pre = b.GetInsertBlock();
  BasicBlock *head = BasicBlock::Create(b.getContext(), "loop", fn_);
  b.CreateBr(head);
  b.SetInsertPoint(head);
  PHINode *i = b.CreatePHI(i64, 2, "i");
  i->addIncoming(idx(0), pre);
  body(i);
  Value *next = add(i, idx(1));
  i->addIncoming(next, b.GetInsertBlock());
  BasicBlock *exit = BasicBlock::Create(b.getContext(), "loop.end", fn_);
  BranchInst *latch = b.CreateCondBr(b.CreateICmpULT(next, idx(n)), head, exit);
  markUnrolling(latch, idx(n), rolled);
  b.SetInsertPoint(exit);
}

void KernelBuilder::markUnrolling(BranchInst *latch, Value *trips, bool rolled) {
  // A run-time count could only be unrolled at run time, which the first
  // hint forbids; `llvm.loop.unroll.disable` there would also stop the
  // vectoriser interleaving the loop.
  auto *known = dyn_cast<ConstantInt>(trips);
  const bool whole = !rolled && (!known || known->getSExtValue() <= kMaxUnrolledTrips);
  // The loop's metadata node refers to itself, which makes it distinct.
  LLVMContext &c = b.getContext();
  MDNode *what = MDNode::get(
      c, MDString::get(c, whole ? "llvm.loop.unroll.runtime.disable" : "llvm.loop.unroll.disable"));
  MDNode *id = MDNode::getDistinct(c, {nullptr, what});
  id->replaceOperandWith(0, id);
  latch->setMetadata(LLVMContext::MD_loop, id);
}

void KernelBuilder::loopRolled(int64_t n, const std::function<void(Value *)> &body) {
  rolledNext_ = true;
  loop(n, body);
}

void KernelBuilder::loop(Value *n, const std::function<void(Value *)> &body) {
  if (auto *c = dyn_cast<ConstantInt>(n))
    return loop(c->getSExtValue(), body);
  BasicBlock *pre = b.GetInsertBlock();
  BasicBlock *head = BasicBlock::Create(b.getContext(), "loop", fn_);
  BasicBlock *exit = BasicBlock::Create(b.getContext(), "loop.end");
  b.CreateCondBr(b.CreateICmpSGT(n, idx(0)), head, exit);
  b.SetInsertPoint(head);
  PHINode *i = b.CreatePHI(i64, 2, "i");
  i->addIncoming(idx(0), pre);
  body(i);
  Value *next = add(i, idx(1));
  i->addIncoming(next, b.GetInsertBlock());
  markUnrolling(b.CreateCondBr(b.CreateICmpULT(next, n), head, exit), n);
  exit->insertInto(fn_);
  b.SetInsertPoint(exit);
}

void KernelBuilder::ifElse(Value *cond, const std::function<void()> &then,
                           const std::function<void()> &otherwise) {
  BasicBlock *yes = BasicBlock::Create(b.getContext(), "then", fn_),
             *no = BasicBlock::Create(b.getContext(), "else", fn_),
             *done = BasicBlock::Create(b.getContext(), "endif", fn_);
  b.CreateCondBr(cond, yes, no);
  b.SetInsertPoint(yes);
  then();
  b.CreateBr(done);
  b.SetInsertPoint(no);
  otherwise();
  b.CreateBr(done);
  b.SetInsertPoint(done);
}

Value *KernelBuilder::rowsOf(int64_t n) {
  if (!rows_)
    return idx(n);
  DLC_ASSERT(n % batch_ == 0,
             fmt::format("codegen: a loop over {} elements does not lead with the batch {}", n,
                         batch_));
  return n == batch_ ? rows_ : mul(rows_, n / batch_);
}

void KernelBuilder::loopRows(int64_t n, const std::function<void(Value *)> &body) {
  if (!rows_)
    return loop(n, body);
  loop(rowsOf(n), body);
}

void KernelBuilder::loopRange(Value *begin, Value *end,
                              const std::function<void(Value *)> &body) {
  loop(b.CreateSub(end, begin), [&](Value *j) { body(add(begin, j)); });
}

// A part shorter than this costs more to hand to a thread than it saves.
constexpr double kMinPartNanoseconds = 10000;

void KernelBuilder::declareShare(int64_t n, int64_t grain, double nsPerIteration) {
  DLC_ASSERT(shared() && (share_.iterations == 0 ||
                          (share_.iterations == n && tile_ % grain == 0)),
             fmt::format("codegen: kernel {} declares a share it does not have, or two",
                         fn_->getName().str()));
  if (share_.iterations) // loops of a smaller unit within the declared one
    return;
  // Any multiple of the tile keeps every iteration's instructions, so the
  // grain may grow until a part is worth a thread: a 1-row predict then
  // runs whole on the caller.
  int64_t worth = (int64_t)std::ceil(kMinPartNanoseconds / std::max(nsPerIteration, 1e-3));
  share_ = {n, (std::max<int64_t>(worth, 1) + grain - 1) / grain * grain};
  tile_ = grain;
}

void KernelBuilder::loopShare(int64_t n, int64_t grain, double nsPerIteration,
                              const std::function<void(Value *)> &body) {
  if (!shared())
    return loopRows(n, body);
  declareShare(n, grain, nsPerIteration);
  loopRange(begin_, end_, body);
}

Value *KernelBuilder::reduce(int64_t n, Value *init,
                             const std::function<Value *(Value *, Value *)> &step) {
  return reduceN(n, {init}, [&](Value *i, std::vector<Value *> &acc) {
    acc[0] = step(i, acc[0]);
  })[0];
}

std::vector<Value *>
KernelBuilder::reduceN(int64_t n, std::vector<Value *> init,
                       const std::function<void(Value *, std::vector<Value *> &)> &step) {
  if (n <= 0)
    return init;
  return reduceN(idx(n), std::move(init), step);
}

std::vector<Value *>
KernelBuilder::reduceN(Value *n, std::vector<Value *> init,
                       const std::function<void(Value *, std::vector<Value *> &)> &step) {
  IRBuilderBase::FastMathFlagGuard guard(b);
  FastMathFlags fmf = b.getFastMathFlags();
  fmf.setAllowReassoc(true);
  b.setFastMathFlags(fmf);
  BasicBlock *pre = b.GetInsertBlock();
  BasicBlock *head = BasicBlock::Create(b.getContext(), "red", fn_);
  b.CreateBr(head);
  b.SetInsertPoint(head);
  PHINode *i = b.CreatePHI(i64, 2, "k");
  i->addIncoming(idx(0), pre);
  std::vector<PHINode *> phis;
  std::vector<Value *> acc;
  for (Value *v : init) {
    phis.push_back(b.CreatePHI(v->getType(), 2, "acc"));
    phis.back()->addIncoming(v, pre);
    acc.push_back(phis.back());
  }
  step(i, acc);
  Value *next = add(i, idx(1));
  i->addIncoming(next, b.GetInsertBlock());
  for (size_t a = 0; a < phis.size(); ++a)
    phis[a]->addIncoming(acc[a], b.GetInsertBlock());
  BasicBlock *exit = BasicBlock::Create(b.getContext(), "red.end", fn_);
  markUnrolling(b.CreateCondBr(b.CreateICmpULT(next, n), head, exit), n);
  b.SetInsertPoint(exit);
  return acc;
}

Value *KernelBuilder::inAt(unsigned i, Value *idx) {
  return operandAt ? operandAt(i, idx) : loadF(in(i), idx);
}

void KernelBuilder::storeResult(Value *row, Value *col, Value *v, unsigned width, Value *mask) {
  if (epilogue)
    return epilogue(row, col, v, width, mask);
  Value *at = add(mul(row, op->type.dims[1]), col);
  Value *ptr = b.CreateInBoundsGEP(f32, out(), at);
  if (width == 1)
    b.CreateStore(v, ptr);
  else if (mask)
    b.CreateMaskedStore(v, ptr, Align(4), mask);
  else
    b.CreateAlignedStore(v, ptr, Align(4));
}

void KernelBuilder::storeTile(Value *row0, int64_t rows, Value *col0, int64_t cols,
                              int64_t colStep, const std::vector<Value *> &acc, unsigned width,
                              Value *mask) {
  auto at = [&](Value *r, Value *c) {
    return std::pair{add(row0, r), add(col0, mul(c, colStep))};
  };
  if (!epilogue || !epilogueInLoop || acc.size() == 1) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        auto [row, col] = at(idx(r), idx(c));
        storeResult(row, col, acc[size_t(r * cols + c)], width, mask);
      }
    return;
  }
  Type *t = acc.front()->getType();
  Value *copy = stackArray(t, int64_t(acc.size()), "tile");
  for (size_t i = 0; i < acc.size(); ++i)
    b.CreateStore(acc[i], b.CreateInBoundsGEP(t, copy, idx(int64_t(i))));
  loopRolled(rows, [&](Value *r) {
    loopRolled(cols, [&](Value *c) {
      Value *v = b.CreateLoad(t, b.CreateInBoundsGEP(t, copy, add(mul(r, cols), c)));
      auto [row, col] = at(r, c);
      storeResult(row, col, v, width, mask);
    });
  });
}

Value *KernelBuilder::stackArray(Type *t, int64_t n, const char *name) {
  IRBuilderBase::InsertPointGuard guard(b);
  BasicBlock &entry = fn_->getEntryBlock();
  b.SetInsertPoint(&entry, entry.begin());
  AllocaInst *a = b.CreateAlloca(t, idx(n), name);
  a->setAlignment(Align(64));
  return a;
}

llvm::Function *KernelBuilder::finish() {
  DLC_ASSERT(!shared() || share_.iterations > 0,
             fmt::format("codegen: shared kernel {} never declared its share",
                         fn_->getName().str()));
  b.CreateRetVoid();
  // With AVX-512 the loop vectoriser still prefers 256-bit vectors (LLVM's
  // default for Intel cores that downclock on 512-bit code); the matmul's
  // tiles are 512-bit already, and loops of 16 floats halve the other
  // kernels' instructions: a CNN's predict at 2 threads, 1.72 -> 1.58 ms
  // (medians of 4 alternations), its max pooling vectorised 16 wide.
  if (lanes >= 16)
    fn_->addFnAttr("prefer-vector-width", "512");
  std::string msg;
  raw_string_ostream os(msg);
  if (verifyFunction(*fn_, &os))
    internalError(fmt::format("codegen: broken kernel {}: {}", fn_->getName().str(), os.str()));
  return fn_;
}

// --- Strided loop nests (elementwise, broadcasting, fills) ---------------------

Strides contiguousStrides(const Dims &d) {
  Strides s(d.size());
  int64_t acc = 1;
  for (size_t i = d.size(); i-- > 0;) {
    s[i] = acc;
    acc *= d[i];
  }
  return s;
}

Strides broadcastStrides(const Dims &operand, const Dims &out) {
  Strides own = contiguousStrides(operand);
  Strides s(out.size(), 0);
  size_t shift = out.size() - operand.size();
  for (size_t i = 0; i < operand.size(); ++i)
    s[i + shift] = operand[i] == 1 ? 0 : own[i];
  return s;
}

LoopNest::LoopNest(const Dims &d, std::vector<Strides> s) {
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == 1)
      continue;
    bool merge = !dims.empty();
    for (size_t k = 0; k < s.size() && merge; ++k)
      merge = strides[k].back() == s[k][i] * d[i];
    if (merge) {
      dims.back() *= d[i];
      for (size_t k = 0; k < s.size(); ++k)
        strides[k].back() = s[k][i];
      continue;
    }
    if (strides.empty())
      strides.resize(s.size());
    dims.push_back(d[i]);
    for (size_t k = 0; k < s.size(); ++k)
      strides[k].push_back(s[k][i]);
  }
  if (strides.empty())
    strides.resize(s.size());
}

void LoopNest::emit(KernelBuilder &k, const std::function<void(std::vector<Value *> &)> &body) {
  std::vector<Value *> base(strides.size(), k.idx(0));
  level(k, 0, base, body, false);
}

void LoopNest::emitRows(KernelBuilder &k,
                        const std::function<void(std::vector<Value *> &)> &body) {
  DLC_ASSERT((!k.rows() && !k.shared()) || !dims.empty(),
             "codegen: a loop nest over rows or a share has no dims");
  std::vector<Value *> base(strides.size(), k.idx(0));
  level(k, 0, base, body, true);
}

// A flat loop's share boundaries fall on multiples of this many elements: a
// multiple of every vector width times interleave the vectoriser picks, so
// that each element is computed by the same vector or scalar code whatever
// the number of threads.
constexpr int64_t kFlatGrain = 64;
// Rough costs, to size parts: an element of an elementwise kernel (loads,
// a few ops, a store, vectorised), and a matmul's flop at its tiles' rate.
constexpr double kNanosecondsPerElement = 0.5;
constexpr double kMatMulFlopsPerNanosecond = 60;

void LoopNest::level(KernelBuilder &k, size_t d, std::vector<Value *> base,
                     const std::function<void(std::vector<Value *> &)> &body, bool outer) {
  if (d == dims.size())
    return body(base);
  auto step = [&](Value *i) {
    std::vector<Value *> at(base.size());
    for (size_t a = 0; a < base.size(); ++a)
      at[a] = strides[a][d] == 0 ? base[a] : k.add(base[a], k.mul(i, strides[a][d]));
    level(k, d + 1, at, body, false);
  };
  if (outer && d == 0) {
    int64_t inner = 1; // elements per iteration of the first level
    for (size_t e = 1; e < dims.size(); ++e)
      inner *= dims[e];
    k.loopShare(dims[0], dims.size() == 1 ? kFlatGrain : 1, kNanosecondsPerElement * inner,
                step);
  }
  else
    k.loop(dims[d], step);
}

namespace {

// out[p] = fn(operand_0[p'], operand_1[p''], ...) with numpy broadcasting.
void emitMap(KernelBuilder &k, const std::function<Value *(std::vector<Value *> &)> &fn) {
  const Node &n = k.node();
  std::vector<Strides> strides{contiguousStrides(n.type.dims)};
  for (const Node *op : n.operands)
    strides.push_back(broadcastStrides(op->type.dims, n.type.dims));
  LoopNest nest(n.type.dims, strides);
  nest.emitRows(k, [&](std::vector<Value *> &at) {
    std::vector<Value *> vals;
    for (size_t i = 0; i < n.operands.size(); ++i)
      vals.push_back(k.load(k.elemType(n.operands[i]->type.dtype), k.in(i), at[i + 1]));
    k.store(fn(vals), k.out(), at[0]);
  });
}

void emitConstant(KernelBuilder &k) {
  const Node &n = k.node();
  double v = n.attrs.getFloat("value");
  Value *c = n.type.dtype == DType::F32 ? (Value *)k.f(v) : k.b.getInt32((int32_t)v);
  emitMap(k, [&](std::vector<Value *> &) { return c; });
}

// transpose: one nest over the result, reading x at the permuted strides
// (LoopNest merges the axes the permutation keeps together).
void emitTranspose(KernelBuilder &k) {
  const Node &n = k.node(), &x = *n.operands[0];
  Strides xs = contiguousStrides(x.type.dims), read;
  for (int64_t p : n.attrs.getInts("perm"))
    read.push_back(xs[(size_t)p]);
  LoopNest nest(n.type.dims, {contiguousStrides(n.type.dims), read});
  nest.emitRows(k, [&](std::vector<Value *> &at) {
    k.store(k.load(k.elemType(x.type.dtype), k.in(0), at[1]), k.out(), at[0]);
  });
}

// slice, pad, concat, patches, patches_grad: each operand moved through its
// window (ir/OpRules.h), one loop nest walking the window and the contiguous
// side together. A scatter first zeroes the result, except concat's, whose
// operands cover it.
void emitWindows(KernelBuilder &k) {
  const Node &n = k.node();
  Type *elem = k.elemType(n.type.dtype);
  bool fill = n.op == OpKind::Pad || n.op == OpKind::PatchesGrad;
  if (fill)
    k.loopRows(n.type.numel(), [&](Value *i) {
      k.store(Constant::getNullValue(elem), k.out(), i);
    });
  for (size_t op = 0; op < n.operands.size(); ++op) {
    Window w = windowOf(n, op);
    LoopNest nest(w.dims, {contiguousStrides(w.dims), w.strides});
    nest.emitRows(k, [&](std::vector<Value *> &at) {
      Value *windowed = k.add(at[1], k.idx(w.offset));
      if (w.gather)
        return k.store(k.load(elem, k.in(op), windowed), k.out(), at[0]);
      Value *v = k.load(elem, k.in(op), at[0]);
      if (n.op == OpKind::PatchesGrad) // windows overlap: add
        v = k.b.CreateFAdd(k.loadF(k.out(), windowed), v);
      k.store(v, k.out(), windowed);
    });
  }
}

// gather(table, ids) and gather_grad(dy, ids): row ids[i], both ways; an id
// outside the table reads NaN (gather) or is skipped (gather_grad), never
// touching memory outside it.
void emitGather(KernelBuilder &k) {
  const Node &n = k.node();
  bool grad = n.op == OpKind::GatherGrad;
  const Dims &table = grad ? n.type.dims : n.operands[0]->type.dims;
  int64_t rows = table[0], dim = table[1], count = n.operands[1]->type.numel();
  if (grad)
    k.loop(n.type.numel(), [&](Value *i) { k.store(k.f(0), k.out(), i); });
  DLC_ASSERT(!grad || !k.rows(), "codegen: gather_grad over rows");
  k.loopRows(count, [&](Value *i) {
    Value *id = k.b.CreateSExt(k.load(k.i32, k.in(1), i), k.i64);
    Value *valid = k.b.CreateICmpULT(id, k.idx(rows)); // negatives wrap high
    Value *row = k.mul(k.b.CreateSelect(valid, id, k.idx(0)), dim), *at = k.mul(i, dim);
    k.loop(dim, [&](Value *j) {
      if (!grad) {
        Value *v = k.loadF(k.in(0), k.add(row, j));
        k.store(k.b.CreateSelect(valid, v, ConstantFP::getNaN(k.f32)), k.out(), k.add(at, j));
        return;
      }
      Value *dst = k.add(row, j);
      Value *sum = k.b.CreateFAdd(k.loadF(k.out(), dst), k.loadF(k.in(0), k.add(at, j)));
      k.store(k.b.CreateSelect(valid, sum, k.loadF(k.out(), dst)), k.out(), dst);
    });
  });
}

// dropout(x, step): ir/OpRules.cpp's dropoutHash, step by step in i64.
void emitDropout(KernelBuilder &k) {
  const Node &n = k.node();
  double rate = n.attrs.getFloat("rate");
  auto &b = k.b;
  const uint64_t golden = 0x9E3779B97F4A7C15ull;
  auto splitmix = [&](Value *z) {
    z = b.CreateXor(z, b.CreateLShr(z, 30));
    z = b.CreateMul(z, b.getInt64(0xBF58476D1CE4E5B9ull));
    z = b.CreateXor(z, b.CreateLShr(z, 27));
    z = b.CreateMul(z, b.getInt64(0x94D049BB133111EBull));
    return b.CreateXor(z, b.CreateLShr(z, 31));
  };
  Value *step = b.CreateIntrinsic(Intrinsic::fptoui_sat, {k.i64, k.f32},
                                  {k.loadF(k.in(1), k.idx(0))});
  uint64_t seedMix = (uint64_t)n.attrs.getInt("seed") * golden;
  Value *key = splitmix(b.CreateAdd(b.getInt64(seedMix), step));
  Value *threshold = b.getInt64(dropoutThreshold(rate));
  Value *scale = k.f(1.0 / (1.0 - rate));
  k.loopRows(n.type.numel(), [&](Value *i) {
    Value *h = splitmix(b.CreateAdd(key, b.CreateMul(b.CreateAdd(i, k.idx(1)), b.getInt64(golden))));
    Value *keep = b.CreateICmpUGE(b.CreateLShr(h, 40), threshold);
    Value *x = k.loadF(k.in(0), i);
    k.store(b.CreateSelect(keep, b.CreateFMul(x, scale), k.f(0)), k.out(), i);
  });
}

// --- Reductions ----------------------------------------------------------------

// reduce_max's order, the interpreter's `beats`: v takes over from best when
// larger, or when it is NaN and best is not. Strict, so ties keep the first.
Value *beats(KernelBuilder &k, Value *v, Value *best) {
  Value *nanOverNumber = k.b.CreateAnd(k.b.CreateFCmpUNO(v, v), k.b.CreateFCmpORD(best, best));
  return k.b.CreateOr(k.b.CreateFCmpOGT(v, best), nanOverNumber);
}

// Sums accumulate in double when the result has at most this many
// elements (a stack array of them): a bias gradient sums a whole batch of
// rows, and a float running sum of 128 rows is off by ~n ulps where a double
// one, rounded once, is within one.
constexpr int64_t kMaxDoubleAccumulators = 2048;

// A reduction's input dims coalesced into alternating kept/reduced groups
// (dims of 1 dropped; no dims at all: one kept group of 1).
struct ReduceGroups {
  Dims sizes;
  std::vector<bool> isReduced;
  int64_t count = 1; // elements folded into each result
};

ReduceGroups reduceGroups(const Node &n) {
  const Dims &in = n.operands[0]->type.dims;
  std::vector<bool> reduced(in.size(), false);
  ReduceGroups g;
  for (int64_t a : n.attrs.getInts("axes")) {
    reduced[a] = true;
    g.count *= in[a];
  }
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == 1)
      continue;
    if (!g.sizes.empty() && g.isReduced.back() == reduced[i])
      g.sizes.back() *= in[i];
    else {
      g.sizes.push_back(in[i]);
      g.isReduced.push_back(reduced[i]);
    }
  }
  if (g.sizes.empty()) { // every dim is 1: a copy
    g.sizes.push_back(1);
    g.isReduced.push_back(false);
  }
  return g;
}

bool wideAccumulators(const Node &n) {
  return n.op != OpKind::ReduceMax && n.type.numel() <= kMaxDoubleAccumulators;
}

// reduce_sum / reduce_mean / reduce_max over attrs.axes. Dims coalesce into
// alternating kept/reduced groups. A kept innermost group accumulates rows
// into the accumulators (a contiguous vector loop); a reduced innermost
// group is a reassociable fold into a register, then folded into its
// accumulator. Both visit a result element's inputs in row-major order,
// which is the order reduce_max's ties are decided in. Sums accumulate in
// double (see kMaxDoubleAccumulators), else in the f32 output itself.
void emitReduce(KernelBuilder &k) {
  const Node &n = k.node();
  bool mean = n.op == OpKind::ReduceMean, max = n.op == OpKind::ReduceMax;
  int64_t outNumel = n.type.numel();
  bool wide = wideAccumulators(n);
  Type *accType = wide ? k.b.getDoubleTy() : k.f32;
  Value *accs = k.out();
  if (wide) {
    IRBuilderBase::InsertPointGuard guard(k.b);
    BasicBlock &entry = k.function()->getEntryBlock();
    k.b.SetInsertPoint(&entry, entry.begin());
    accs = k.b.CreateAlloca(accType, k.idx(outNumel));
  }
  Value *init = max ? k.f(-std::numeric_limits<float>::infinity())
                    : ConstantFP::get(accType, 0.0);
  // acc (accType) with one more input element v (f32).
  auto fold = [&](Value *acc, Value *v) {
    if (max)
      return k.b.CreateSelect(beats(k, v, acc), v, acc);
    return k.b.CreateFAdd(acc, wide ? k.b.CreateFPExt(v, accType) : v);
  };
  // Two partial results (both accType).
  auto combine = [&](Value *acc, Value *part) {
    return max ? k.b.CreateSelect(beats(k, part, acc), part, acc) : k.b.CreateFAdd(acc, part);
  };
  const ReduceGroups groups = reduceGroups(n);
  const Dims &sizes = groups.sizes;
  const std::vector<bool> &isReduced = groups.isReduced;
  const int64_t count = groups.count;
  Strides inStrides = contiguousStrides(sizes), outStrides(sizes.size(), 0);
  int64_t acc = 1;
  for (size_t i = sizes.size(); i-- > 0;)
    if (!isReduced[i]) {
      outStrides[i] = acc;
      acc *= sizes[i];
    }
  bool innerReduced = isReduced.back();
  // One input element (or, innerReduced, one innermost reduced group) into
  // the accumulator of its result.
  auto accumulate = [&](Value *inAt, Value *outAt) {
    Value *acc = k.load(accType, accs, outAt);
    if (innerReduced)
      acc = combine(acc, k.reduce(sizes.back(), init, [&](Value *j, Value *s) {
        return fold(s, k.inAt(0, k.add(inAt, j)));
      }));
    else
      acc = fold(acc, k.inAt(0, inAt));
    k.store(acc, accs, outAt);
  };
  if (k.shared()) {
    // Shared (reductionShareable): each iteration of the first group, which
    // is kept, owns its slice of the results: starts, folds and finishes
    // it, the same folds in the same order as one thread.
    DLC_ASSERT(!isReduced[0] && sizes.size() > 1 && !wide,
               "codegen: a shared reduction must keep its first dims");
    Dims restDims(sizes.begin() + 1, sizes.end() - (innerReduced ? 1 : 0));
    Strides restIn(inStrides.begin() + 1, inStrides.begin() + 1 + restDims.size());
    Strides restOut(outStrides.begin() + 1, outStrides.begin() + 1 + restDims.size());
    const int64_t slice = outStrides[0];
    k.loopShare(sizes[0], 1, kNanosecondsPerElement * double(inStrides[0]), [&](Value *i0) {
      Value *inBase = k.mul(i0, inStrides[0]), *outBase = k.mul(i0, slice);
      k.loop(slice, [&](Value *j) { k.store(init, accs, k.add(outBase, j)); });
      if (restDims.empty())
        accumulate(inBase, outBase);
      else
        LoopNest(restDims, {restIn, restOut}).emit(k, [&](std::vector<Value *> &at) {
          accumulate(k.add(inBase, at[0]), k.add(outBase, at[1]));
        });
      if (mean && count != 1)
        k.loop(slice, [&](Value *j) {
          Value *at = k.add(outBase, j);
          k.store(k.b.CreateFDiv(k.load(accType, accs, at), ConstantFP::get(accType, double(count))),
                  k.out(), at);
        });
    });
    return;
  }
  k.loopRows(outNumel, [&](Value *i) { k.store(init, accs, i); });
  Dims outerDims(sizes.begin(), sizes.end() - (innerReduced ? 1 : 0));
  Strides outerIn(inStrides.begin(), inStrides.begin() + outerDims.size());
  Strides outerOut(outStrides.begin(), outStrides.begin() + outerDims.size());
  LoopNest nest(outerDims, {outerIn, outerOut});
  nest.emitRows(k, [&](std::vector<Value *> &at) { accumulate(at[0], at[1]); });
  if (wide || (mean && count != 1))
    k.loopRows(outNumel, [&](Value *i) {
      Value *v = k.load(accType, accs, i);
      if (mean && count != 1)
        v = k.b.CreateFDiv(v, ConstantFP::get(accType, (double)count));
      k.store(wide ? k.b.CreateFPTrunc(v, k.f32) : v, k.out(), i);
    });
}

// reduce_max_grad(dy, x): zeros, then each element of dy at the first
// position of its row's maximum in x (`beats`, in row-major order, as
// reduce_max and the interpreter decide). A row is the reduced axes, walked
// by a nest of its own; its best value and position live in stack slots
// that LLVM promotes to registers.
// How many of `dims` lead before the first reduced one longer than 1: the
// dims whose iterations own contiguous slices of the reduction's input.
size_t leadingKeptDims(const Dims &dims, const std::vector<int64_t> &axes) {
  size_t lead = 0;
  while (lead < dims.size() && (dims[lead] == 1 || std::find(axes.begin(), axes.end(),
                                                             int64_t(lead)) == axes.end()))
    ++lead;
  return lead;
}

void emitReduceMaxGrad(KernelBuilder &k) {
  const Node &n = k.node();
  const Dims &xd = n.type.dims;
  Dims kept = xd, folded(xd.size(), 1);
  for (int64_t a : n.attrs.getInts("axes")) {
    kept[(size_t)a] = 1;
    folded[(size_t)a] = xd[(size_t)a];
  }
  Strides xs = contiguousStrides(xd), keptStrides = contiguousStrides(kept);
  Value *best, *arg;
  {
    IRBuilderBase::InsertPointGuard guard(k.b);
    BasicBlock &entry = k.function()->getEntryBlock();
    k.b.SetInsertPoint(&entry, entry.begin());
    best = k.b.CreateAlloca(k.f32);
    arg = k.b.CreateAlloca(k.i64);
  }
  // Row (x's offset, dy's offset): its maximum's position gets dy.
  auto row = [&](Value *xAt, Value *dyAt) {
    k.b.CreateStore(k.f(-std::numeric_limits<float>::infinity()), best);
    k.b.CreateStore(xAt, arg);
    LoopNest(folded, {xs}).emit(k, [&](std::vector<Value *> &in) {
      Value *at = k.add(xAt, in[0]);
      Value *v = k.inAt(1, at), *b = k.b.CreateLoad(k.f32, best);
      Value *take = beats(k, v, b);
      k.b.CreateStore(k.b.CreateSelect(take, v, b), best);
      k.b.CreateStore(k.b.CreateSelect(take, at, k.b.CreateLoad(k.i64, arg)), arg);
    });
    k.store(k.inAt(0, dyAt), k.out(), k.b.CreateLoad(k.i64, arg));
  };
  if (k.shared()) {
    // Shared (reductionShareable): x's leading dims, before the first
    // reduced one, are kept; each of their iterations owns a contiguous
    // slice of x, which it zeroes, and the rows in it.
    const size_t lead = leadingKeptDims(xd, n.attrs.getInts("axes"));
    int64_t outer = 1;
    for (size_t d = 0; d < lead; ++d)
      outer *= xd[d];
    DLC_ASSERT(outer > 1, "codegen: a shared reduce_max_grad must keep its leading dims");
    const int64_t slice = n.type.numel() / outer, keptSlice = keptStrides[lead - 1];
    Dims restKept(kept.begin() + lead, kept.end());
    Strides restX(xs.begin() + lead, xs.end()), restDy(keptStrides.begin() + lead, keptStrides.end());
    k.loopShare(outer, 1, kNanosecondsPerElement * double(slice), [&](Value *i) {
      Value *xBase = k.mul(i, slice), *dyBase = k.mul(i, keptSlice);
      k.loop(slice, [&](Value *j) { k.store(k.f(0), k.out(), k.add(xBase, j)); });
      LoopNest(restKept, {restX, restDy}).emit(k, [&](std::vector<Value *> &at) {
        row(k.add(xBase, at[0]), k.add(dyBase, at[1]));
      });
    });
    return;
  }
  k.loopRows(n.type.numel(), [&](Value *i) { k.store(k.f(0), k.out(), i); });
  LoopNest(kept, {xs, keptStrides}).emitRows(k, [&](std::vector<Value *> &at) {
    row(at[0], at[1]);
  });
}

// --- Row-wise ops (softmax, cross-entropy) ---------------------------------------

// Calls body(base) once per row of r, base the flat index of the row's first
// element (rowAt finds the others). On the last axis a row is contiguous; on
// another its elements are `inner` apart, a strided walk: the price of not
// transposing the operand, which would cost two copies.
void forEachRow(KernelBuilder &k, const Rows &r, const std::function<void(Value *)> &body) {
  k.loopRows(r.outer, [&](Value *o) {
    Value *block = k.mul(o, r.size * r.inner);
    if (r.inner == 1)
      return body(block);
    k.loop(r.inner, [&](Value *i) { body(k.add(block, i)); });
  });
}

Value *rowAt(KernelBuilder &k, const Rows &r, Value *base, Value *j) {
  return k.add(base, k.mul(j, r.inner));
}

Rows rowsOf(const Node &n) { return Rows(n.type.dims, rowAxis(n)); }

// The largest element of operand x's row at base.
Value *rowMax(KernelBuilder &k, unsigned x, const Rows &r, Value *base) {
  return k.reduce(r.size, k.f(-std::numeric_limits<float>::infinity()),
                  [&](Value *j, Value *m) {
                    return k.binary(Intrinsic::maxnum, m, k.inAt(x, rowAt(k, r, base, j)));
                  });
}

// The sum of exp(x - max) over operand x's row at base, each term also
// stored into `out`'s row unless it is null: the stable softmax numerator,
// shared by the softmax and cross-entropy kernels.
Value *rowExp(KernelBuilder &k, unsigned x, const Rows &r, Value *base, Value *max,
              Value *out) {
  return k.reduce(r.size, k.f(0), [&](Value *j, Value *s) {
    Value *at = rowAt(k, r, base, j);
    Value *e = emitExp(k.b, k.b.CreateFSub(k.inAt(x, at), max));
    if (out)
      k.store(e, out, at);
    return k.b.CreateFAdd(s, e);
  });
}

void emitSoftmax(KernelBuilder &k) {
  Rows r = rowsOf(k.node());
  forEachRow(k, r, [&](Value *base) {
    Value *sum = rowExp(k, 0, r, base, rowMax(k, 0, r, base), k.out());
    k.loop(r.size, [&](Value *j) {
      Value *at = rowAt(k, r, base, j);
      k.store(k.b.CreateFDiv(k.loadF(k.out(), at), sum), k.out(), at);
    });
  });
}

// log_softmax(x) = x - (max + log(sum(exp(x - max)))) per row.
void emitLogSoftmax(KernelBuilder &k) {
  Rows r = rowsOf(k.node());
  forEachRow(k, r, [&](Value *base) {
    Value *max = rowMax(k, 0, r, base);
    Value *sum = rowExp(k, 0, r, base, max, nullptr);
    Value *lse = k.b.CreateFAdd(max, k.unary(Intrinsic::log, sum));
    k.loop(r.size, [&](Value *j) {
      Value *at = rowAt(k, r, base, j);
      k.store(k.b.CreateFSub(k.inAt(0, at), lse), k.out(), at);
    });
  });
}

// softmax_grad(dy, y) = y * (dy - sum(dy * y)) per row.
void emitSoftmaxGrad(KernelBuilder &k) {
  Rows r = rowsOf(k.node());
  const unsigned dy = 0, y = 1;
  forEachRow(k, r, [&](Value *base) {
    Value *dot = k.reduce(r.size, k.f(0), [&](Value *j, Value *s) {
      Value *at = rowAt(k, r, base, j);
      return k.b.CreateFAdd(s, k.b.CreateFMul(k.inAt(dy, at), k.inAt(y, at)));
    });
    k.loop(r.size, [&](Value *j) {
      Value *at = rowAt(k, r, base, j);
      Value *v = k.b.CreateFMul(k.inAt(y, at), k.b.CreateFSub(k.inAt(dy, at), dot));
      k.store(v, k.out(), at);
    });
  });
}

// A row's label as an in-range i64 index plus whether it was in range: an
// out-of-range label must never become an out-of-bounds read.
std::pair<Value *, Value *> rowLabel(KernelBuilder &k, Value *labels, Value *i,
                                     int64_t cols) {
  Value *label = k.b.CreateSExt(k.load(k.i32, labels, i), k.i64);
  Value *valid = k.b.CreateICmpULT(label, k.idx(cols)); // negatives wrap high
  return {k.b.CreateSelect(valid, label, k.idx(0)), valid};
}

Value *nan(KernelBuilder &k) { return ConstantFP::getNaN(k.f32); }

// sparse_xent(logits, labels)[i] = logsumexp(row i) - logits[i, label_i]; a
// label outside [0, classes) gives a NaN loss for its row.
void emitSparseXent(KernelBuilder &k) {
  Rows r(k.node().operands[0]->type.dims, 1); // logits [n, classes]
  const unsigned x = 0;
  k.loopRows(r.outer, [&](Value *i) {
    Value *base = k.mul(i, r.size);
    Value *max = rowMax(k, x, r, base);
    Value *sum = rowExp(k, x, r, base, max, nullptr);
    Value *lse = k.b.CreateFAdd(max, k.unary(Intrinsic::log, sum));
    auto [label, valid] = rowLabel(k, k.in(1), i, r.size);
    Value *loss = k.b.CreateFSub(lse, k.inAt(x, k.add(base, label)));
    k.store(k.b.CreateSelect(valid, loss, nan(k)), k.out(), i);
  });
}

// sparse_xent_grad(dloss, logits, labels)[i, j] =
//   dloss[i] * (softmax(row i)[j] - (j == label_i)); NaN rows for bad labels,
// matching the NaN loss.
void emitSparseXentGrad(KernelBuilder &k) {
  Rows r(k.node().type.dims, 1);
  const unsigned dloss = 0, x = 1;
  k.loopRows(r.outer, [&](Value *i) {
    Value *base = k.mul(i, r.size);
    Value *sum = rowExp(k, x, r, base, rowMax(k, x, r, base), k.out());
    Value *g = k.inAt(dloss, i);
    auto [label, valid] = rowLabel(k, k.in(2), i, r.size);
    k.loop(r.size, [&](Value *j) {
      Value *at = k.add(base, j);
      // softmax then the scale, not e * (g / sum): one rounding fewer in
      // the probability, and g is usually 1 / batch, a power of two.
      Value *v = k.b.CreateFMul(k.b.CreateFDiv(k.loadF(k.out(), at), sum), g);
      v = k.b.CreateSelect(k.b.CreateICmpEQ(j, label), k.b.CreateFSub(v, g), v);
      k.store(k.b.CreateSelect(valid, v, nan(k)), k.out(), at);
    });
  });
}

// --- Matrix multiply -------------------------------------------------------------

// C[m,n] = op(A) @ op(B). Without transpose_b, C is computed in register
// tiles of kTileRows rows x 2 vectors of k.lanes columns (8 floats with
// AVX2, 16 with AVX-512; the width is the target's): each step over k
// loads two vectors of B's row k, broadcasts one A element per tile row and
// issues kTileRows x 2 FMAs into accumulators that stay in registers for the
// whole k loop (the vectoriser cannot find this reuse on its own). The last
// columns, fewer than a vector, are one more tile whose loads and stores are
// masked. With transpose_b, B's rows are the contiguous k axis, so C[i,j] is
// a dot product (emitMatMulRowsDot; with transpose_a too, one at a time).
// Every result leaves through k.storeResult, where a fused kernel applies
// its epilogue while the tile is in registers.
constexpr int64_t kTileRows = 6; // 12 accumulators + 2 B vectors + 1 broadcast fit 16 registers
constexpr int64_t kBlockK = 256; // rows of A and B per block when K is long
constexpr int64_t kPrefetchSteps = 24; // k steps ahead that Aᵀ's lines are asked for
// Packing B's panels (emitMatMul): only when a call has this many rows or
// more (each thread's call packs the panels it reads: 128 rows, or 64 a
// thread, did not gain, 512 did), only for 4 panels of columns or more
// (a 64-column B, a convolution's 64 filters, would run a 48-column panel
// and a 16-column one of 8 accumulators, and its kernels in a predict would
// carry both kinds of tiles: mnist_cnn.dl's IR grew 18%), only when B's K
// block is larger than what stays in L1 by itself, and only in a buffer of
// at most kMaxPanelBytes of stack. A panel of the whole of K, up to
// kMaxWholePanelBytes, is read from L2, but it spares the K blocks: each
// block's tiles reload their partial sums and wait on them, and the
// 1024 x 1024 x 1024 product ran 10-15% faster in one block than in four
// (medians of alternated runs, 1 thread).
constexpr int64_t kPackMinRows = 256;
constexpr int64_t kL1PanelBytes = 32 << 10, kMaxPanelBytes = 64 << 10;
constexpr int64_t kMaxWholePanelBytes = 192 << 10;

// C = A @ Bᵀ with both rows contiguous along K (a backward pass's dy @ Wᵀ):
// C[i, j] is a dot product of two rows. A tile of kDotRows x kDotCols
// results keeps one vector accumulator each over K, so every loaded vector
// of A or B feeds kDotCols or kDotRows FMAs (one dot product at a time loads
// two vectors per FMA); each accumulator is reduced across lanes once, at
// the end. A K that is not a multiple of the vector ends with masked loads.
constexpr int64_t kDotRows = 4, kDotCols = 4;

// A vector mask of the first `width` lanes, for the last partial vector of a
// row; null when width is 0 (no partial vector).
Value *firstLanes(KernelBuilder &k, int64_t width) {
  if (!width)
    return nullptr;
  std::vector<Constant *> lanes;
  for (int64_t l = 0; l < k.lanes; ++l)
    lanes.push_back(k.b.getInt1(l < width));
  return ConstantVector::get(lanes);
}

// Asks for the cache line at `at` to be read into L1; it faults nothing,
// wherever it points.
void prefetch(KernelBuilder &k, Value *at) {
  k.b.CreateIntrinsic(Intrinsic::prefetch, {at->getType()},
                      {at, k.b.getInt32(0), k.b.getInt32(3), k.b.getInt32(1)});
}

// block(row0, rows) over the M rows of a result in blocks of `size` rows,
// then the rows left over. With a run-time row count (the first rows of a
// row-independent entry) the leftover count is known only then: it runs as
// blocks of 4, 2 and 1 rows, the bits of the count, so a single row is a
// one-row tile, a matrix-vector product that reads B once, not a tile of
// `size` rows of which the rest is padding. (A block for each count, 1 to
// size - 1, read B once for any of them, but it was a third of a predict
// kernel's code and of the LSTM's compile time.)
//
// A shared kernel runs the blocks of its share instead: its boundaries are
// multiples of `size` (the grain it declares), so its blocks are the ones
// a single thread would run, and only the share ending at M can end with
// the leftover block, of M % size rows when M is known.
void forRowBlocks(KernelBuilder &k, int64_t M, int64_t size, double nsPerRow,
                  const std::function<void(Value *, int64_t)> &block) {
  if (!k.rows() && !k.shared()) {
    k.loop(M / size, [&](Value *b) { block(k.mul(b, size), size); });
    if (M % size)
      block(k.idx(M / size * size), M % size);
    return;
  }
  Value *first = k.idx(0), *rows = nullptr, *count = nullptr;
  if (k.shared()) {
    k.declareShare(M, size, nsPerRow);
    first = k.shareBegin();
    rows = k.shareEnd();
    count = k.b.CreateSub(rows, first);
  } else {
    rows = count = k.rowsOf(M);
  }
  Value *full = k.b.CreateUDiv(count, k.idx(size));
  k.loop(full, [&](Value *b) { block(k.add(first, k.mul(b, size)), size); });
  Value *done = k.add(first, k.mul(full, size));
  Value *left = k.b.CreateSub(rows, done);
  if (!k.rows()) {
    if (M % size)
      k.ifElse(
          k.b.CreateICmpNE(left, k.idx(0)), [&] { block(done, M % size); }, [] {});
    return;
  }
  int64_t piece = 1;
  while (piece * 2 < size)
    piece *= 2;
  for (; piece >= 1; piece /= 2) {
    // The larger pieces took the bits of `left` above this one.
    Value *row0 = k.add(done, k.b.CreateAnd(left, k.idx(~(2 * piece - 1))));
    k.ifElse(
        k.b.CreateICmpNE(k.b.CreateAnd(left, k.idx(piece)), k.idx(0)),
        [&] { block(row0, piece); }, [] {});
  }
}

// B's bytes that the row blocks of a matmul reuse from L2: without a limit,
// a B of K x N floats larger than L2 (a dense layer over a CNN's 5408
// features: 2.8 MB) is read again from L3 or memory for every block of 6
// rows of A. Half of a 2 MB L2; smaller L2s still gain over no limit.
constexpr int64_t kColumnGroupBytes = 1 << 20;

// How many of the N result columns (each reading K floats of B) one group
// takes: all of them when B fits, else the most that fit, a multiple of
// `unit` (the column tile).
int64_t columnGroup(int64_t N, int64_t K, int64_t unit) {
  if (N * K * 4 <= kColumnGroupBytes)
    return N;
  return std::max(unit, kColumnGroupBytes / (K * 4) / unit * unit);
}

// group(c0, width) for the groups of `size` columns of N, then the rest.
// Every element is still computed by the same tile over the whole of K, so
// grouping changes the order of the tiles, never a result.
void forColumnGroups(KernelBuilder &k, int64_t N, int64_t size,
                     const std::function<void(Value *, int64_t)> &group) {
  if (size >= N)
    return group(k.idx(0), N);
  k.loop(N / size, [&](Value *g) { group(k.mul(g, size), size); });
  if (N % size)
    group(k.idx(N / size * size), N % size);
}

void emitMatMulRowsDot(KernelBuilder &k, int64_t M, int64_t N, int64_t K) {
  const int64_t lanes = k.lanes;
  auto *vec = FixedVectorType::get(k.f32, lanes);
  Value *A = k.in(0), *B = k.in(1);
  Value *zero = Constant::getNullValue(vec);
  int64_t tail = K % lanes;
  Value *tailMask = firstLanes(k, tail);
  auto load = [&](Value *base, Value *row, Value *p, Value *mask) -> Value * {
    Value *ptr = k.b.CreateInBoundsGEP(k.f32, base, k.add(k.mul(row, K), p));
    return mask ? (Value *)k.b.CreateMaskedLoad(vec, ptr, Align(4), mask, zero)
                : k.b.CreateAlignedLoad(vec, ptr, Align(4));
  };
  auto tile = [&](Value *i0, int64_t rows, Value *j0, int64_t cols) {
    auto step = [&](Value *p, Value *mask, std::vector<Value *> &acc) {
      std::vector<Value *> a, b;
      for (int64_t r = 0; r < rows; ++r)
        a.push_back(load(A, k.add(i0, k.idx(r)), p, mask));
      for (int64_t c = 0; c < cols; ++c)
        b.push_back(load(B, k.add(j0, k.idx(c)), p, mask));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          acc[r * cols + c] = k.b.CreateIntrinsic(Intrinsic::fmuladd, {vec},
                                                  {a[r], b[c], acc[r * cols + c]});
    };
    std::vector<Value *> acc = k.reduceN(K / lanes, std::vector<Value *>(rows * cols, zero),
                                         [&](Value *pb, std::vector<Value *> &acc) {
                                           step(k.mul(pb, lanes), nullptr, acc);
                                         });
    if (tail)
      step(k.idx(K / lanes * lanes), tailMask, acc);
    IRBuilderBase::FastMathFlagGuard guard(k.b);
    FastMathFlags fmf = k.b.getFastMathFlags();
    fmf.setAllowReassoc(true); // the lanes in a tree, as reduce() sums
    k.b.setFastMathFlags(fmf);
    std::vector<Value *> dots;
    for (Value *a : acc)
      dots.push_back(k.b.CreateFAddReduce(k.f(0), a));
    k.storeTile(i0, rows, j0, cols, 1, dots, 1, nullptr);
  };
  // Columns [c0, c0 + width) of one row block; B's rows for them stay in
  // L2 while every row block of the share uses them (columnGroups).
  auto rowBlock = [&](Value *i0, int64_t rows, Value *c0, int64_t width) {
    k.loop(width / kDotCols,
           [&](Value *jb) { tile(i0, rows, k.add(c0, k.mul(jb, kDotCols)), kDotCols); });
    if (width % kDotCols)
      tile(i0, rows, k.add(c0, k.idx(width / kDotCols * kDotCols)), width % kDotCols);
  };
  const double nsPerRow = 2.0 * N * K / kMatMulFlopsPerNanosecond;
  forColumnGroups(k, N, columnGroup(N, K, kDotCols), [&](Value *c0, int64_t width) {
    forRowBlocks(k, M, kDotRows, nsPerRow,
                 [&](Value *i0, int64_t rows) { rowBlock(i0, rows, c0, width); });
  });
}

void emitMatMul(KernelBuilder &k) {
  const Node &n = k.node();
  bool ta = n.attrs.getInt("transpose_a", 0), tb = n.attrs.getInt("transpose_b", 0);
  const Dims &ad = n.operands[0]->type.dims;
  int64_t M = n.type.dims[0], N = n.type.dims[1], K = ad[ta ? 0 : 1];
  DLC_ASSERT(!ta || !k.rows(), "codegen: a matmul contracting over the batch runs on rows");
  Value *A = k.in(0), *B = k.in(1);
  auto aAt = [&](Value *i, Value *p) {
    return ta ? k.add(k.mul(p, M), i) : k.add(k.mul(i, K), p);
  };
  auto bAt = [&](Value *p, Value *j) {
    return tb ? k.add(k.mul(j, K), p) : k.add(k.mul(p, N), j);
  };
  const int64_t lanes = k.lanes;
  auto *vec = FixedVectorType::get(k.f32, lanes);
  auto vecPtr = [&](Value *base, Value *at) {
    return k.b.CreateInBoundsGEP(k.f32, base, at);
  };
  // With transpose_b, B's rows run along K: a tile's k step would read one
  // float of each of its columns' rows. A kernel of whole batches (a
  // backward pass's dy @ Wᵀ) copies B transposed, a panel of columns at a
  // time, and runs the tiles below over it (mnist_cnn.dl's d.conv2d_2
  // patches, K = 64: 2x faster than dot products, whose reductions across
  // lanes cost as much as a K of 64 takes). With a run-time row count, or
  // a K of more than 8 vectors, the dot products: their reductions are a
  // small part of a long K, and the panels' tiles, each with the kernel's
  // epilogue, make more code (a K of 256 in gan.dl: 4x the kernel's IR).
  const int64_t packedRows = lanes >= 16 ? 8 : kTileRows, panelVecs = lanes >= 16 ? 3 : 2;
  const int64_t panelWidth = panelVecs * lanes;
  // A long K runs in blocks (below) where a buffer can hold partial sums;
  // packed panels of the whole of K, when they fit, run without them.
  const bool longK = (k.epilogue ? k.partialSums : k.out()) && K >= 2 * kBlockK;
  const bool packsWholeK = longK && M >= kPackMinRows && N >= 4 * panelWidth && !tb &&
                           K * panelWidth * 4 <= kMaxWholePanelBytes;
  const int64_t panelSteps = longK && !packsWholeK ? kBlockK : K;
  const bool transposedPanels =
      tb && !ta && !k.rows() && K <= 8 * lanes && panelSteps * panelWidth * 4 <= kMaxPanelBytes;
  if (tb && !ta && !transposedPanels)
    return emitMatMulRowsDot(k, M, N, K);
  if (tb && ta) {
    k.loopShare(M, 1, 2.0 * N * K / (kMatMulFlopsPerNanosecond / 8), [&](Value *i) {
      k.loop(N, [&](Value *j) {
        Value *dot = k.reduce(K, k.f(0), [&](Value *p, Value *s) {
          return k.b.CreateFAdd(s, k.b.CreateFMul(k.loadF(A, aAt(i, p)), k.loadF(B, bAt(p, j))));
        });
        k.storeResult(i, j, dot, 1, nullptr);
      });
    });
    return;
  }
  // A long K loop (a weight gradient summed over every row of a batch, a
  // dense layer over a CNN's 5408 features) would stream all of A and B
  // through the cache once per tile: K is cut into blocks that stay in L2
  // while every tile uses them, and C's partial sums wait in memory between
  // blocks: in the output, or with an epilogue in `k.partialSums`, which the
  // epilogue overwrites at the last block. Each sum still runs over k in
  // order, through a store and a load of the same float: the same bits.
  // One loop runs every block, the last one shorter when K is not a
  // multiple of the block, and a tile chooses at run time whether it is
  // the last block's: the tiles' code is emitted once.
  Value *partial = k.epilogue ? k.partialSums : k.out();
  bool blocked = false; // while the tiles of a blocked run are emitted
  Value *kStart = k.idx(0), *kLen = k.idx(K);
  // Partial sums larger than L2 (a 1024 x 1024 C is 4 MB) are prefetched;
  // smaller ones stay in L2 between blocks, and the prefetch's address
  // arithmetic in the k loop cost the MLP's predict 8%.
  const bool bigPartials = M * N * 4 > kColumnGroupBytes;
  // C[row0 .. +rows, col0 .. +vecs*lanes) accumulated in registers over
  // kLen steps from kStart (added to the partial sums when `blocked`, and
  // stored back to them but at the last block); with `mask`, one vector of
  // which only the masked lanes exist. B's element (kStart + p, col0 +
  // v * lanes) is read at bBase + p * bStride + v * lanes: in B itself, or
  // in a packed panel.
  auto tile = [&](Value *row0, int64_t rows, Value *col0, int64_t vecs, Value *mask,
                  Value *bBase, int64_t bStride) {
    std::vector<Value *> zero((size_t)(rows * vecs), Constant::getNullValue(vec));
    auto partialAt = [&](int64_t r, int64_t v) {
      return vecPtr(partial, k.add(k.mul(k.add(row0, k.idx(r)), N),
                                   k.add(col0, k.idx(v * lanes))));
    };
    if (blocked)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t v = 0; v < vecs; ++v) {
          Value *ptr = partialAt(r, v);
          zero[(size_t)(r * vecs + v)] =
              mask ? (Value *)k.b.CreateMaskedLoad(vec, ptr, Align(4), mask,
                                                   Constant::getNullValue(vec))
                   : k.b.CreateAlignedLoad(vec, ptr, Align(4));
        }
    std::vector<Value *> acc = k.reduceN(kLen, zero, [&](Value *p, std::vector<Value *> &acc) {
      std::vector<Value *> bv;
      for (int64_t v = 0; v < vecs; ++v) {
        Value *ptr = vecPtr(bBase, k.add(k.mul(p, bStride), k.idx(v * lanes)));
        bv.push_back(mask ? (Value *)k.b.CreateMaskedLoad(vec, ptr, Align(4), mask,
                                                 Constant::getNullValue(vec))
                          : k.b.CreateAlignedLoad(vec, ptr, Align(4)));
      }
      if (blocked && bigPartials) {
        // The next row block's partial sums (the tile that runs after this
        // one over the same panel) come from memory: the tile's first loads
        // waited on them for a tenth of the kernel's time. They are asked
        // for during this tile's k loop, a line every 8 steps (all at once,
        // the prefetches themselves waited for fill buffers). Past the last
        // row they are a hint to nowhere.
        Value *line = k.b.CreateBinaryIntrinsic(Intrinsic::umin, k.b.CreateLShr(p, 3),
                                                k.idx(rows * vecs - 1));
        Value *r = k.b.CreateURem(line, k.idx(rows)), *v = k.b.CreateUDiv(line, k.idx(rows));
        prefetch(k, k.b.CreateGEP(k.f32, partial,
                                  k.add(k.mul(k.add(k.add(row0, k.idx(rows)), r), N),
                                        k.add(col0, k.mul(v, lanes)))));
      }
      p = k.add(kStart, p);
      if (ta) {
        // Aᵀ's k steps are M floats apart: a new cache line each, fetched
        // from memory by a block's first tile (a CNN's weight gradient over
        // 25088 patches: a third of the kernel's time waited on it). The
        // line kPrefetchSteps ahead is asked for now; past A's end it is a
        // hint to nowhere, which faults nothing.
        prefetch(k, k.b.CreateGEP(k.f32, A, aAt(row0, k.add(p, k.idx(kPrefetchSteps)))));
      }
      for (int64_t r = 0; r < rows; ++r) {
        Value *a = k.b.CreateVectorSplat(lanes, k.loadF(A, aAt(k.add(row0, k.idx(r)), p)));
        for (int64_t v = 0; v < vecs; ++v)
          acc[r * vecs + v] = k.b.CreateIntrinsic(Intrinsic::fmuladd, {vec},
                                                  {a, bv[v], acc[r * vecs + v]});
      }
    });
    if (!blocked)
      return k.storeTile(row0, rows, col0, vecs, lanes, acc, unsigned(lanes), mask);
    auto storePartial = [&] {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t v = 0; v < vecs; ++v) {
          Value *sum = acc[r * vecs + v];
          if (mask)
            k.b.CreateMaskedStore(sum, partialAt(r, v), Align(4), mask);
          else
            k.b.CreateAlignedStore(sum, partialAt(r, v), Align(4));
        }
    };
    if (!k.epilogue) // the partial sums are the output
      return storePartial();
    k.ifElse(
        k.b.CreateICmpEQ(k.add(kStart, kLen), k.idx(K)),
        [&] { k.storeTile(row0, rows, col0, vecs, lanes, acc, unsigned(lanes), mask); },
        storePartial);
  };
  int64_t tailWidth = N % lanes;
  Value *tailMask = firstLanes(k, tailWidth);
  auto inB = [&](Value *col0) { return vecPtr(B, k.add(k.mul(kStart, N), col0)); };
  // A panel of fewer rows than a full tile spans more columns, so that it
  // still keeps about 12 independent accumulators: each FMA's result is the
  // next step's input, and with only a row's two the k loop would wait on
  // FMA latency (a one-row panel, a matrix-vector product, runs 8 vectors).
  // Each element still sums over k in order, so results do not change.
  // With AVX-512's 32 registers and a B row of 4 vectors or more, tiles
  // in place are 4 rows x 4 vectors: 16 accumulators, 8 loads per 16 FMAs
  // (not 8 per 12), and a k step reads 256 contiguous bytes of B, not 128
  // (the MLP's step at batch 32, 2 threads: 173 -> 158 us, medians).
  const bool wideRows = lanes >= 16 && N >= 4 * lanes;
  const int64_t directRows = wideRows ? 4 : kTileRows, directVecs = wideRows ? 4 : 2;
  auto vectorsFor = [&](int64_t rows) -> int64_t {
    return rows >= 4 ? directVecs : rows == 3 ? 4 : rows == 2 ? 6 : 8;
  };
  // Columns [c0, c0 + width) of a block of rows; the masked tail tile only
  // in the group that ends at N.
  auto panel = [&](Value *row0, int64_t rows, Value *c0, int64_t width, bool last) {
    const int64_t vecs = vectorsFor(rows);
    const int64_t full = last ? width - tailWidth : width; // whole vectors
    int64_t wide = full / (vecs * lanes);
    k.loop(wide, [&](Value *jb) {
      Value *col0 = k.add(c0, k.mul(jb, vecs * lanes));
      tile(row0, rows, col0, vecs, nullptr, inB(col0), N);
    });
    int64_t j = wide * vecs * lanes;
    if (int64_t left = (full - j) / lanes) {
      Value *col0 = k.add(c0, k.idx(j));
      tile(row0, rows, col0, left, nullptr, inB(col0), N);
      j += left * lanes;
    }
    if (last && tailWidth) {
      Value *col0 = k.add(c0, k.idx(j));
      tile(row0, rows, col0, 1, tailMask, inB(col0), N);
    }
  };
  const double nsPerRow = 2.0 * N * K / kMatMulFlopsPerNanosecond;
  auto direct = [&] {
    // Without K blocks, B's columns are taken in groups that stay in L2.
    const int64_t group = blocked ? N : columnGroup(N, K, directVecs * lanes);
    forColumnGroups(k, N, group, [&](Value *c0, int64_t width) {
      // Only the last group can end at N: a full group ends before it,
      // unless it is the only one.
      const bool last = width != group || group == N;
      forRowBlocks(k, M, directRows, nsPerRow,
                   [&](Value *row0, int64_t rows) { panel(row0, rows, c0, width, last); });
    });
  };
  // Packed: B's rows are N floats apart, so the k steps of a tile read
  // scattered cache lines (with N = 1024 every one maps to the same L1
  // set), and every row block reads them again from L2. When B's K block
  // does not fit L1 and there are rows enough to pay for the copy, B is
  // copied a panel of a tile's columns at a time into a contiguous buffer
  // on the stack, which stays in L1 while every row block of the share runs
  // its tile over it. The tiles' arithmetic is the same, so are the results.
  // With AVX-512's 32 registers the tile is 8 rows x 3 vectors (24
  // accumulators; 11 loads per 24 FMAs, not 8 per 12).
  const bool packs = transposedPanels || packsWholeK ||
                     (M >= kPackMinRows && N >= 4 * panelWidth &&
                      panelSteps * N * 4 > kL1PanelBytes &&
                      panelSteps * panelWidth * 4 <= kMaxPanelBytes);
  Value *packed = packs ? k.stackArray(k.f32, panelSteps * panelWidth, "panel") : nullptr;
  auto packedPanel = [&](Value *c0, int64_t width) {
    const int64_t vecs = width / lanes, tail = width % lanes;
    Value *mask = firstLanes(k, tail);
    if (tb) { // column c of the panel is row c0 + c of B, from kStart on
      k.loop(width, [&](Value *c) {
        Value *from = vecPtr(B, k.add(k.mul(k.add(c0, c), K), kStart));
        k.loop(kLen, [&](Value *p) {
          k.store(k.loadF(from, p), packed, k.add(k.mul(p, panelWidth), c));
        });
      });
    } else {
      k.loop(kLen, [&](Value *p) {
        Value *from = vecPtr(B, k.add(k.mul(k.add(kStart, p), N), c0));
        Value *to = vecPtr(packed, k.mul(p, panelWidth));
        for (int64_t v = 0; v < vecs + (tail ? 1 : 0); ++v) {
          Value *src = vecPtr(from, k.idx(v * lanes));
          Value *x = v < vecs ? (Value *)k.b.CreateAlignedLoad(vec, src, Align(4))
                              : k.b.CreateMaskedLoad(vec, src, Align(4), mask,
                                                     Constant::getNullValue(vec));
          k.b.CreateAlignedStore(x, vecPtr(to, k.idx(v * lanes)), Align(64));
        }
      });
    }
    forRowBlocks(k, M, packedRows, nsPerRow, [&](Value *row0, int64_t rows) {
      if (vecs)
        tile(row0, rows, c0, vecs, nullptr, packed, panelWidth);
      if (tail)
        tile(row0, rows, k.add(c0, k.idx(vecs * lanes)), 1, mask,
             vecPtr(packed, k.idx(vecs * lanes)), panelWidth);
    });
  };
  auto packedAll = [&] {
    k.loop(N / panelWidth, [&](Value *jp) { packedPanel(k.mul(jp, panelWidth), panelWidth); });
    if (N % panelWidth)
      packedPanel(k.idx(N / panelWidth * panelWidth), N % panelWidth);
  };
  // Parts are whole packed row blocks, and whole row blocks of both kinds
  // when the row count picks between them.
  // A part of a whole-K product packs all of B, which pays from
  // kPackMinRows rows: its parts are cut at least that long, not the 4 a
  // thread the runtime would cut (128 rows of a 1024-row product at 2
  // threads, which then never packed: 283 -> 302 GFLOP/s). Other packed
  // kernels keep short parts: a 784-row weight gradient cut at 256 rows
  // would leave one thread 512 of them.
  if (packs && k.shared()) {
    const int64_t unit = k.rows() ? std::lcm(directRows, packedRows) : packedRows;
    k.declareShare(M, packsWholeK ? (kPackMinRows + unit - 1) / unit * unit : unit, nsPerRow);
  }
  auto inBlocks = [&](const std::function<void()> &run) {
    blocked = true;
    if (k.shared()) // this share's rows
      k.loopRange(k.mul(k.shareBegin(), N), k.mul(k.shareEnd(), N),
                  [&](Value *i) { k.store(k.f(0), partial, i); });
    else
      k.loopRows(M * N, [&](Value *i) { k.store(k.f(0), partial, i); });
    const int64_t blocks = (K + kBlockK - 1) / kBlockK;
    k.loop(blocks, [&](Value *kb) {
      kStart = k.mul(kb, kBlockK);
      kLen = K % kBlockK == 0
                 ? k.idx(kBlockK)
                 : k.b.CreateSelect(k.b.CreateICmpEQ(kb, k.idx(blocks - 1)),
                                    k.idx(K % kBlockK), k.idx(kBlockK));
      run();
    });
    blocked = false;
    kStart = k.idx(0);
    kLen = k.idx(K);
  };
  auto directRun = [&] { longK ? inBlocks(direct) : direct(); };
  auto packedRun = [&] { longK && !packsWholeK ? inBlocks(packedAll) : packedAll(); };
  if (!packs)
    return directRun();
  if (!k.rows())
    return packedRun();
  // A kernel with a run-time row count packs only when it has the rows.
  Value *count = k.shared() ? k.b.CreateSub(k.shareEnd(), k.shareBegin()) : k.rows();
  k.ifElse(k.b.CreateICmpSGE(count, k.idx(kPackMinRows)), packedRun, directRun);
}

} // namespace

bool reductionShareable(const Node &n) {
  // reduce_max_grad by the dims before its first reduced one: each of their
  // iterations zeroes and writes its own slice of x's shape.
  if (n.op == OpKind::ReduceMaxGrad) {
    const size_t lead = leadingKeptDims(n.type.dims, n.attrs.getInts("axes"));
    int64_t outer = 1;
    for (size_t d = 0; d < lead; ++d)
      outer *= n.type.dims[d];
    return outer > 1;
  }
  if (n.op != OpKind::ReduceSum && n.op != OpKind::ReduceMean && n.op != OpKind::ReduceMax)
    return false;
  const ReduceGroups g = reduceGroups(n);
  return !wideAccumulators(n) && !g.isReduced[0] && g.sizes.size() > 1 && g.sizes[0] > 1;
}

// --- The dispatch: every op in ir/Ops.def has a case ---------------------------

void emitOp(KernelBuilder &k) {
  const Node &n = k.node();
  switch (n.op) {
  case OpKind::Input:
  case OpKind::Var:
  case OpKind::Reshape:
    internalError(
        fmt::format("codegen: {} has no kernel; kernels read it in place", n.info().name));
  case OpKind::Constant: emitConstant(k); break;
#define DLC_OP(Enum, Name, Operands, Kind, Schema, Flags) DLC_MAP_CASE_##Kind(Enum)
#include "ir/Ops.def"
    // every elementwise and broadcast op: its formula (ir/Formulas.h)
    emitMap(k, [&](std::vector<Value *> &v) {
      std::vector<Scalar> x;
      for (Value *e : v)
        x.push_back({&k.b, e});
      return mapFormula<Scalar>(n.op, x.data()).v;
    });
    break;
  case OpKind::Broadcast:
    emitMap(k, [](std::vector<Value *> &v) { return v[0]; });
    break;
  case OpKind::Transpose: emitTranspose(k); break;
  case OpKind::Slice:
  case OpKind::Pad:
  case OpKind::Concat:
  case OpKind::Patches:
  case OpKind::PatchesGrad: emitWindows(k); break;
  case OpKind::Dropout: emitDropout(k); break;
  case OpKind::Gather:
  case OpKind::GatherGrad: emitGather(k); break;
  case OpKind::ReduceSum:
  case OpKind::ReduceMean:
  case OpKind::ReduceMax: emitReduce(k); break;
  case OpKind::ReduceMaxGrad: emitReduceMaxGrad(k); break;
  case OpKind::Softmax: emitSoftmax(k); break;
  case OpKind::SoftmaxGrad: emitSoftmaxGrad(k); break;
  case OpKind::LogSoftmax: emitLogSoftmax(k); break;
  case OpKind::SparseXent: emitSparseXent(k); break;
  case OpKind::SparseXentGrad: emitSparseXentGrad(k); break;
  case OpKind::MatMul: emitMatMul(k); break;
  }
}

} // namespace dlc::codegen
