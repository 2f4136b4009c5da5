// One LLVM function per kernel of the buffer IR (ir/BufferIR.h). A kernel
// runs in three parts:
//   1. hoisted scalars: computed once at entry (and stored when planned so);
//   2. its anchor, if any: the op's own loops (Kernels.cpp), into its buffer;
//   3. its other nodes: one loop nest over their shape, each element the
//      composition of their formulas (ir/Formulas.h), reading what the kernel
//      does not compute from memory (constants as immediates) and storing
//      only the values the plan says leave the kernel. Every element's loads
//      come before its stores, which is what makes in-place buffers safe.
#include "codegen/DebugInfo.h"
#include "codegen/KernelBuilder.h"
#include "codegen/Lowering.h"
#include "codegen/Scalar.h"
#include "ir/Formulas.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <unordered_map>

using namespace llvm;

namespace dlc::codegen {

namespace {

// A constant no kernel stores: read as an immediate (or, by an anchor, as
// read-only data).
bool isImmediate(const Plan &p, const Node *n) {
  return n->op == OpKind::Constant && !p.bufferOf.count(n);
}

// Node n's value from its operands' values (`get`): its formula, or for a
// broadcast its operand's, which `get` reads at the broadcast strides.
Scalar compute(const Node *n, const std::function<Scalar(const Node *)> &get) {
  if (n->op == OpKind::Broadcast)
    return get(n->operands[0]);
  std::vector<Scalar> x;
  for (const Node *o : n->operands)
    x.push_back(get(o));
  return mapFormula<Scalar>(n->op, x.data());
}

// Work below which a kernel runs whole on the calling thread: handing a
// part to a spinning worker costs about a microsecond, waking a sleeping
// one tens of them.
constexpr int64_t kMinSharedElements = 1 << 15; // elementwise, ~30 us of loads and stores
constexpr int64_t kMinSharedFlops = 1 << 21;    // a matmul's 2*M*N*K, ~40 us

} // namespace

bool shareableKernel(const Kernel &k) {
  std::set<const Node *> stored(k.stores.begin(), k.stores.end());
  for (const Node *h : k.hoisted)
    if (stored.count(h))
      return false;
  if (!k.anchor) {
    if (k.nodes.empty())
      return false;
    return k.nodes.front()->type.numel() >= kMinSharedElements;
  }
  const Node &a = *k.anchor;
  // A reduction with no epilogue (which would run on every result after
  // its loops), and patches, a gather in one nest.
  if (k.nodes.size() == 1 && reductionShareable(a))
    return a.operands[0]->type.numel() >= kMinSharedElements;
  if (k.nodes.size() == 1 && a.op == OpKind::Patches)
    return a.type.numel() >= kMinSharedElements;
  if (a.op != OpKind::MatMul)
    return false;
  const bool ta = a.attrs.getInt("transpose_a", 0);
  const int64_t M = a.type.dims[0], N = a.type.dims[1],
                K = a.operands[0]->type.dims[ta ? 0 : 1];
  return M >= 2 && 2 * M * N * K >= kMinSharedFlops;
}

namespace {

class FusedKernelEmitter {
public:
  FusedKernelEmitter(llvm::Module &mod, const Function &f, size_t call, const std::string &name,
                     DebugInfo *debug, int64_t rowsOfBatch, int lanes)
      : mod_(mod), p_(f.plan), call_(p_.calls.at(call)), kern_(p_.kernels.at(call_.kernel)),
        k_(mod, argUses(), name, rowsOfBatch, shareableKernel(kern_)), debug_(debug) {
    k_.lanes = lanes;
    if (debug_) {
      std::vector<const Node *> all(kern_.hoisted.begin(), kern_.hoisted.end());
      all.insert(all.end(), kern_.prologue.begin(), kern_.prologue.end());
      all.insert(all.end(), kern_.nodes.begin(), kern_.nodes.end());
      debug_->beginKernel(k_.function(), all);
      computing(kern_.anchor ? kern_.anchor : all.empty() ? nullptr : all.front());
    }
    for (size_t a = 0; a < call_.args.size(); ++a)
      argOf_[call_.args[a].buffer] = k_.arg((unsigned)a);
    mine_.insert(kern_.nodes.begin(), kern_.nodes.end());
    mine_.insert(kern_.prologue.begin(), kern_.prologue.end());
    stored_.insert(kern_.stores.begin(), kern_.stores.end());
  }

  EmittedKernel run() {
    for (const Node *h : kern_.hoisted)
      hoist(h);
    for (const Node *n : kern_.nodes)
      if (n != kern_.anchor)
        members_.push_back(n);
    if (kern_.anchor)
      emitAnchor();
    if (!inRegisters_)
      emitElementwise();
    EmittedKernel out;
    out.fn = k_.finish();
    out.share = k_.share();
    return out;
  }

private:
  llvm::Module &mod_;
  const Plan &p_;
  const KernelCall &call_;
  const Kernel &kern_;
  KernelBuilder k_;
  DebugInfo *debug_; // null: no line tables
  std::unordered_map<int, Value *> argOf_;
  std::set<const Node *> mine_, stored_;
  std::unordered_map<const Node *, Scalar> uniform_;
  std::vector<const Node *> members_; // the nodes after the anchor
  bool inRegisters_ = false;          // the epilogue runs on the anchor's tiles

  std::vector<ArgUse> argUses() const {
    std::vector<ArgUse> uses;
    for (const KernelArg &a : call_.args)
      uses.push_back(a.access == Access::In    ? ArgUse::In
                     : a.access == Access::Out ? ArgUse::Out
                                               : ArgUse::InOut);
    return uses;
  }

  // The kernel argument holding n's value (views share their root's).
  // The plan's buffer holding n (a view's root's), or -1.
  int bufferOf(const Node *n) const {
    auto b = p_.bufferOf.find(n);
    if (b == p_.bufferOf.end())
      b = p_.bufferOf.find(viewRoot(n));
    return b == p_.bufferOf.end() ? -1 : b->second;
  }

  Value *ptr(const Node *n) const {
    const int buffer = bufferOf(n);
    DLC_ASSERT(buffer >= 0, fmt::format("codegen: %{} has no buffer", n->name));
    auto a = argOf_.find(buffer);
    DLC_ASSERT(a != argOf_.end(),
               fmt::format("codegen: the plan does not pass %{}'s buffer to its kernel", n->name));
    return a->second;
  }

  Type *elemType(const Node *n) const { return k_.elemType(n->type.dtype); }

  // The instructions emitted next compute n: they carry its DSL line.
  void computing(const Node *n) {
    if (debug_)
      k_.b.SetCurrentDebugLocation(debug_->at(n));
  }

  Scalar immediate(const Node *c) {
    double v = c->attrs.getFloat("value");
    Value *imm = c->type.dtype == DType::F32 ? (Value *)k_.f(v) : k_.b.getInt32((int32_t)v);
    return {&k_.b, imm};
  }

  // A scalar value at kernel entry: a constant, a hoisted value, or element
  // 0 of a buffer.
  Scalar scalarOf(const Node *n) {
    if (isImmediate(p_, n))
      return immediate(n);
    auto it = uniform_.find(n);
    if (it != uniform_.end())
      return it->second;
    return {&k_.b, k_.load(elemType(n), ptr(n), k_.idx(0))};
  }

  void hoist(const Node *h) {
    computing(h);
    Scalar v = compute(h, [this](const Node *o) { return scalarOf(o); });
    uniform_.emplace(h, v);
    if (stored_.count(h))
      k_.store(v.v, ptr(h), k_.idx(0));
  }

  // A constant operand of the anchor, as read-only data in the module: the
  // op's loops read memory, and no kernel has to fill it at run time.
  Value *constantData(const Node *c) {
    double v = c->attrs.getFloat("value");
    size_t count = (size_t)c->type.numel();
    Constant *init;
    if (c->type.dtype == DType::F32) {
      std::vector<float> data(count, (float)v);
      init = ConstantDataArray::get(mod_.getContext(), data);
    } else {
      std::vector<uint32_t> data(count, (uint32_t)(int32_t)v);
      init = ConstantDataArray::get(mod_.getContext(), data);
    }
    auto *g = new GlobalVariable(mod_, init->getType(), true, GlobalValue::PrivateLinkage,
                                 init, "const." + c->name);
    g->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
    g->setAlignment(Align(64));
    return g;
  }

  void emitAnchor() {
    const Node *a = kern_.anchor;
    computing(a);
    k_.op = a;
    k_.operandPtrs.clear();
    std::set<const Node *> prologue(kern_.prologue.begin(), kern_.prologue.end());
    for (const Node *o : a->operands) {
      const Node *r = viewRoot(o);
      if (prologue.count(o))
        k_.operandPtrs.push_back(nullptr); // computed by prologueAt, never stored
      else if (isImmediate(p_, r))
        k_.operandPtrs.push_back(constantData(r));
      else // a hoisted scalar the anchor reads as a tensor was stored, too
        k_.operandPtrs.push_back(ptr(o));
    }
    k_.resultPtr = stored_.count(a) ? ptr(a) : nullptr;
    if (!kern_.prologue.empty())
      k_.operandAt = [this](unsigned i, Value *idx) { return prologueAt(i, idx); };
    // A matmul hands each register tile to the epilogue before storing it.
    inRegisters_ = a->info().fusion == FusionKind::Contraction && !members_.empty();
    // A bias and an activation stay unrolled over the tile's registers. So
    // does an optimizer update with 16 vector registers (AVX2): there the
    // tile's 12 accumulators and the update's loop-invariant values do not
    // all fit, and with the update in a loop LLVM spills accumulators
    // inside the k loop (1.5x the instructions; 32 registers have room).
    constexpr size_t kUnrolledEpilogueOps = 4, kAlwaysLoopedEpilogueOps = 24;
    k_.epilogueInLoop = members_.size() > kUnrolledEpilogueOps &&
                        (k_.lanes >= 16 || members_.size() > kAlwaysLoopedEpilogueOps);
    if (inRegisters_) {
      k_.epilogue = [this](Value *row, Value *col, Value *v, unsigned width, Value *mask) {
        tileEpilogue(row, col, v, width, mask);
      };
      k_.partialSums = partialSumsBuffer();
    }
    emitOp(k_);
  }

  // Where a matmul may keep C's partial sums between blocks of K: a stored
  // f32 result of C's shape in a buffer this kernel only writes (never one
  // it updates in place, like an optimizer's, whose old values the epilogue
  // reads), which the epilogue overwrites at the last block. Null: none.
  Value *partialSumsBuffer() const {
    const Node *a = kern_.anchor;
    for (const Node *n : kern_.nodes) {
      if (!stored_.count(n) || n->type.dtype != DType::F32 || n->type.dims != a->type.dims)
        continue;
      const int buffer = bufferOf(n);
      for (const KernelArg &arg : call_.args)
        if (buffer >= 0 && arg.buffer == buffer && arg.access == Access::Out)
          return ptr(n);
    }
    return nullptr;
  }

  // Element idx of the anchor's operand i: computed by the prologue when it
  // is a prologue node, else loaded. Prologue nodes have the operand's shape
  // and read memory at the same flat index (or a single element: fusion
  // refuses any other broadcast).
  Value *prologueAt(unsigned i, Value *idx) {
    std::set<const Node *> prologue(kern_.prologue.begin(), kern_.prologue.end());
    std::unordered_map<const Node *, Scalar> value;
    std::function<Scalar(const Node *)> get = [&](const Node *o) -> Scalar {
      if (auto it = value.find(o); it != value.end())
        return it->second;
      if (auto u = uniform_.find(o); u != uniform_.end())
        return u->second;
      if (isImmediate(p_, o))
        return immediate(o);
      if (prologue.count(o))
        computing(o);
      Scalar s = prologue.count(o)
                     ? compute(o, get)
                     : Scalar{&k_.b, k_.loadF(ptr(o), o->type.numel() == 1 ? k_.idx(0) : idx)};
      return value.emplace(o, s).first->second;
    };
    Value *v = get(kern_.anchor->operands[i]).v;
    computing(kern_.anchor);
    return v;
  }

  // The epilogue at result elements (row, col .. col + width) of a matmul,
  // `acc` their values: each member's formula on vectors of `width` lanes,
  // external operands loaded with their broadcast strides (a vector where
  // they vary along the row, one splatted float where they do not).
  void tileEpilogue(Value *row, Value *col, Value *acc, unsigned width, Value *mask) {
    const Dims &domain = kern_.anchor->type.dims;
    Type *vecTy = width > 1 ? (Type *)FixedVectorType::get(k_.f32, width) : k_.f32;
    auto splat = [&](Value *s) { return width > 1 ? k_.b.CreateVectorSplat(width, s) : s; };
    auto at = [&](const Strides &s) {
      Value *off = k_.mul(row, s[0]);
      return s[1] == 0 ? off : k_.add(off, k_.mul(col, s[1]));
    };
    std::unordered_map<const Node *, Scalar> value{{kern_.anchor, {&k_.b, acc}}};
    std::function<Scalar(const Node *)> get = [&](const Node *o) -> Scalar {
      auto it = value.find(o);
      if (it != value.end())
        return it->second;
      Value *v;
      if (auto u = uniform_.find(o); u != uniform_.end())
        v = splat(u->second.v);
      else if (isImmediate(p_, o))
        v = ConstantFP::get(vecTy, o->attrs.getFloat("value"));
      else {
        DLC_ASSERT(o->type.dtype == DType::F32,
                   fmt::format("codegen: a matmul epilogue reads i32 %{}", o->name));
        Strides s = broadcastStrides(o->type.dims, domain);
        Value *p = k_.b.CreateInBoundsGEP(k_.f32, ptr(o), at(s));
        if (width == 1 || s[1] == 0)
          v = splat(k_.b.CreateLoad(k_.f32, p));
        else if (mask)
          v = k_.b.CreateMaskedLoad(vecTy, p, Align(4), mask, Constant::getNullValue(vecTy));
        else
          v = k_.b.CreateAlignedLoad(vecTy, p, Align(4));
      }
      return value.emplace(o, Scalar{&k_.b, v}).first->second;
    };
    for (const Node *n : members_) {
      computing(n);
      value[n] = compute(n, get);
    }
    Value *offset = k_.add(k_.mul(row, domain[1]), col);
    for (const Node *n : kern_.nodes) {
      if (!stored_.count(n))
        continue;
      computing(n);
      Value *p = k_.b.CreateInBoundsGEP(k_.f32, ptr(n), offset);
      Value *v = value.at(n).v;
      if (width == 1)
        k_.b.CreateStore(v, p);
      else if (mask)
        k_.b.CreateMaskedStore(v, p, Align(4), mask);
      else
        k_.b.CreateAlignedStore(v, p, Align(4));
    }
    computing(kern_.anchor);
  }

  // The nodes after the anchor, as one loop nest over their shape.
  void emitElementwise() {
    const std::vector<const Node *> &members = members_;
    if (members.empty())
      return;
    const Dims &domain = members.front()->type.dims;
    for (const Node *n : members)
      DLC_ASSERT(n->type.dims == domain,
                 fmt::format("codegen: %{} of a fused kernel is {}, not the kernel's shape",
                             n->name, n->type.str()));
    // Accesses: the stores, then one load per value read from memory.
    std::vector<Strides> strides;
    std::vector<const Node *> stores, loads;
    for (const Node *n : members)
      if (stored_.count(n)) {
        stores.push_back(n);
        strides.push_back(contiguousStrides(domain));
      }
    auto readsMemory = [&](const Node *o) {
      if (mine_.count(o) && o != kern_.anchor)
        return false;
      if (uniform_.count(o))
        return false;
      return !isImmediate(p_, o);
    };
    for (const Node *n : members)
      for (const Node *o : n->operands)
        if (readsMemory(o) && std::find(loads.begin(), loads.end(), o) == loads.end()) {
          loads.push_back(o);
          strides.push_back(broadcastStrides(o->type.dims, domain));
        }
    LoopNest nest(domain, strides);
    nest.emitRows(k_, [&](std::vector<Value *> &at) {
      std::unordered_map<const Node *, Scalar> value;
      auto get = [&](const Node *o) -> Scalar {
        auto it = value.find(o);
        if (it != value.end())
          return it->second;
        auto u = uniform_.find(o);
        if (u != uniform_.end())
          return u->second;
        if (isImmediate(p_, o))
          return immediate(o);
        size_t l = std::find(loads.begin(), loads.end(), o) - loads.begin();
        DLC_ASSERT(l < loads.size(),
                   fmt::format("codegen: %{} is read but never loaded", o->name));
        Scalar s{&k_.b, k_.load(elemType(o), ptr(o), at[stores.size() + l])};
        value.emplace(o, s);
        return s;
      };
      for (const Node *n : members) { // a fill kernel's one node is a constant
        computing(n);
        value[n] = n->op == OpKind::Constant ? immediate(n) : compute(n, get);
      }
      for (size_t s = 0; s < stores.size(); ++s) {
        computing(stores[s]);
        k_.store(value.at(stores[s]).v, ptr(stores[s]), at[s]);
      }
    });
  }
};

std::string attrText(const AttrValue &v) {
  if (auto *i = std::get_if<int64_t>(&v))
    return fmt::to_string(*i);
  if (auto *d = std::get_if<double>(&v))
    return fmt::format("{:.17g}", *d); // 17 digits: no two doubles print alike
  if (auto *l = std::get_if<std::vector<int64_t>>(&v)) {
    std::string s = "[";
    for (int64_t x : *l)
      fmt::format_to(std::back_inserter(s), "{},", x);
    return s + "]";
  }
  return fmt::format("\"{}\"", std::get<std::string>(v));
}

} // namespace

std::string kernelSignature(const Function &f, size_t call) {
  const Plan &p = f.plan;
  const KernelCall &c = p.calls.at(call);
  const Kernel &k = p.kernels.at(c.kernel);
  std::unordered_map<int, size_t> argOf;
  std::string sig;
  auto out = std::back_inserter(sig);
  for (size_t a = 0; a < c.args.size(); ++a) {
    argOf[c.args[a].buffer] = a;
    fmt::format_to(out, "{},", accessName(c.args[a].access));
  }
  std::unordered_map<const Node *, size_t> local;
  std::vector<const Node *> all(k.hoisted.begin(), k.hoisted.end());
  all.insert(all.end(), k.prologue.begin(), k.prologue.end());
  all.insert(all.end(), k.nodes.begin(), k.nodes.end());
  std::set<const Node *> prologue(k.prologue.begin(), k.prologue.end());
  std::set<const Node *> stored(k.stores.begin(), k.stores.end());
  auto bufferArg = [&](const Node *n) -> std::string {
    auto b = p.bufferOf.find(n);
    if (b == p.bufferOf.end())
      b = p.bufferOf.find(viewRoot(n));
    if (b == p.bufferOf.end())
      return "none";
    auto a = argOf.find(b->second);
    return a == argOf.end() ? "none" : fmt::format("a{}", a->second);
  };
  for (const Node *n : all) {
    bool hoisted = local.size() < k.hoisted.size();
    char role = hoisted ? 'H' : prologue.count(n) ? 'P' : n == k.anchor ? 'A' : 'M';
    fmt::format_to(out, "\n{} {} {}", role, opName(n->op), n->type.str());
    for (auto &[key, v] : n->attrs.items())
      fmt::format_to(out, " {}={}", key, attrText(v));
    for (const Node *o : n->operands) {
      auto l = local.find(o);
      if (l != local.end())
        fmt::format_to(out, " L{}", l->second);
      else if (isImmediate(p, o))
        fmt::format_to(out, " C{}{}", o->type.str(), attrText(o->attrs.items().at("value")));
      else
        fmt::format_to(out, " {}:{}", bufferArg(o), o->type.str());
    }
    if (stored.count(n))
      fmt::format_to(out, " -> {}", bufferArg(n));
    local.emplace(n, local.size());
  }
  return sig;
}

EmittedKernel emitKernel(llvm::Module &mod, const Function &f, size_t call,
                         const std::string &name, DebugInfo *debug, int64_t rowsOfBatch,
                         int lanes) {
  return FusedKernelEmitter(mod, f, call, name, debug, rowsOfBatch, lanes).run();
}

} // namespace dlc::codegen
