// Graph simplification, to a fixed point on every function. A rewrite either
// changes a node in place (it keeps its name, location, gradOf note and
// place in the order) or replaces it by a node earlier in the order, so the
// order stays topological and no node or name is ever made.
#include "passes/Simplify.h"
#include "ir/Formulas.h"
#include "passes/Autodiff.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <tuple>
#include <unordered_map>

namespace dlc {

namespace {

bool isConst(const Node *n) { return n->op == OpKind::Constant; }
double constValue(const Node *n) { return n->attrs.getFloat("value"); }

// Compared with its sign: x + 0.0 and x + -0.0 are different identities.
bool isConstEqualTo(const Node *n, double v) {
  return isConst(n) && constValue(n) == v &&
         std::signbit(constValue(n)) == std::signbit(v);
}

// The compiled model stores f32, so a computed f32 value is kept as it would.
double storedValue(const TensorType &t, double v) {
  return t.dtype == DType::F32 ? (double)(float)v : v;
}

// Turns n into a constant in place: callers of n need not change.
Node *becomeConst(Node *n, Attrs valueAttr) {
  n->op = OpKind::Constant;
  n->operands.clear();
  n->attrs = std::move(valueAttr);
  return n;
}

Node *becomeConst(Node *n, double v) {
  Attrs a;
  a.set("value", storedValue(n->type, v));
  return becomeConst(n, a);
}

// A node whose operands are all constants is a constant of its own type.
Node *foldConstants(Node *n) {
  const std::vector<Node *> &ops = n->operands;
  if (ops.empty() || !std::all_of(ops.begin(), ops.end(), isConst))
    return nullptr;
  if (n->info().isMap()) { // the formula the interpreter and kernels use
    std::vector<double> x;
    for (Node *op : ops)
      x.push_back(constValue(op));
    return becomeConst(n, mapFormula<double>(n->op, x.data()));
  }
  const Node *c = ops[0];
  if (n->op == OpKind::Reshape || n->op == OpKind::Broadcast ||
      n->op == OpKind::Transpose || n->op == OpKind::ReduceMax)
    return becomeConst(n, c->attrs); // every element is still the constant's value
  if (n->op == OpKind::ReduceSum) {
    // Each result element adds up `count` copies; + 0.0 because the sum
    // starts at +0, so a sum of -0s is +0.
    int64_t count = c->type.numel() / n->type.numel();
    return becomeConst(n, constValue(c) * (double)count + 0.0);
  }
  if (n->op == OpKind::ReduceMean) // the mean of equal values (+0 for -0, as above)
    return becomeConst(n, constValue(c) + 0.0);
  return nullptr; // row-wise ops and matmul: rare on constants, no formula to reuse
}

// The operand that n equals element for element, by an identity that is
// exact in IEEE arithmetic, or nullptr. x * 0 is not among them (inf * 0 is
// NaN), nor x + 0.0 (-0.0 + 0.0 is +0.0); x + -0.0 and x - 0.0 are.
Node *identityOperand(const Node *n) {
  if (n->op == OpKind::Neg)
    return n->operands[0]->op == OpKind::Neg ? n->operands[0]->operands[0] : nullptr;
  if (n->operands.size() != 2 || !n->info().isMap())
    return nullptr;
  Node *a = n->operands[0], *b = n->operands[1];
  if (n->op == OpKind::Mul)
    return isConstEqualTo(b, 1.0) ? a : isConstEqualTo(a, 1.0) ? b : nullptr;
  if (n->op == OpKind::Div)
    return isConstEqualTo(b, 1.0) ? a : nullptr;
  if (n->op == OpKind::Add)
    return isConstEqualTo(b, -0.0) ? a : isConstEqualTo(a, -0.0) ? b : nullptr;
  if (n->op == OpKind::Sub)
    return isConstEqualTo(b, 0.0) ? a : nullptr;
  return nullptr;
}

Node *applyIdentity(Node *n) {
  Node *x = identityOperand(n);
  if (!x || x->type == n->type)
    return x;
  // The constant was the larger operand: keep the result's shape by an
  // explicit broadcast of x (x broadcasts to it, being an operand).
  n->op = OpKind::Broadcast;
  n->operands = {x};
  n->attrs = Attrs();
  return n;
}

// transpose(transpose(x, p), q) is x transposed by p[q[i]]; a transpose by
// the identity is x.
Node *simplifyTranspose(Node *n) {
  Node *x = n->operands[0];
  std::vector<int64_t> perm = n->attrs.getInts("perm");
  if (x->op == OpKind::Transpose) {
    const std::vector<int64_t> &inner = x->attrs.getInts("perm");
    for (int64_t &p : perm)
      p = inner[(size_t)p];
    n->operands = {x->operands[0]};
    n->attrs.set("perm", perm);
    return n;
  }
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != (int64_t)i)
      return nullptr;
  return x;
}

Node *simplifyDataMovement(Node *n) {
  if (n->op == OpKind::Transpose)
    return simplifyTranspose(n);
  if (n->op != OpKind::Reshape && n->op != OpKind::Broadcast)
    return nullptr;
  Node *x = n->operands[0];
  if (x->type == n->type) // moves nothing
    return x;
  if (x->op == n->op) { // reshapes compose, and so does numpy broadcasting
    n->operands = {x->operands[0]};
    return n;
  }
  return nullptr;
}

// One rewrite of n: n itself when changed in place, else the earlier node
// that holds n's value, or nullptr when no rewrite applies. stop_gradient is
// the identity, but autodiff must see it: it goes only once autodiff is done.
Node *rewriteOnce(Node *n, bool autodiffDone) {
  if (n->op == OpKind::StopGradient && autodiffDone)
    return n->operands[0];
  for (Node *(*rule)(Node *) : {foldConstants, applyIdentity, simplifyDataMovement})
    if (Node *r = rule(n))
      return r;
  return nullptr;
}

// What makes two nodes one value: the same op, operands, type and
// attributes. A constant's value is compared by the bits it is stored as, so
// 1 and 1.0 merge, and so do an f32 lr of 0.001 and a folded 1 - 0.999 (one
// float, though not one double), but 0.0 and -0.0 do not; an input or var is
// one by its name.
struct ValueKey {
  OpKind op;
  std::vector<const Node *> operands;
  DType dtype;
  Dims dims;
  std::map<std::string, AttrValue> attrs;
  uint64_t valueBits = 0;

  explicit ValueKey(const Node *n)
      : op(n->op), operands(n->operands.begin(), n->operands.end()),
        dtype(n->type.dtype), dims(n->type.dims) {
    if (isConst(n)) {
      double v = storedValue(n->type, constValue(n));
      std::memcpy(&valueBits, &v, sizeof v);
    } else {
      attrs = n->attrs.items();
    }
  }
  bool operator<(const ValueKey &o) const {
    return std::tie(op, operands, dtype, dims, attrs, valueBits) <
           std::tie(o.op, o.operands, o.dtype, o.dims, o.attrs, o.valueBits);
  }
};

// One pass over f in order: each node's operands are final when it is
// reached, so a chain of rewrites completes in one sweep. Returns whether
// anything changed.
bool sweep(Function &f) {
  bool changed = false;
  std::unordered_map<const Node *, Node *> replaced; // node -> its earlier equal
  std::map<ValueKey, Node *> firstOf;               // CSE: keep the first
  auto current = [&](Node *n) {
    auto it = replaced.find(n);
    return it == replaced.end() ? n : it->second;
  };
  bool autodiffDone = !awaitsAutodiff(f);
  for (auto &slot : f.nodes) {
    Node *n = slot.get();
    for (Node *&op : n->operands)
      op = current(op);
    Node *value = n;
    while (Node *r = rewriteOnce(n, autodiffDone)) {
      changed = true;
      if (r != n) {
        value = r;
        break;
      }
    }
    if (value == n)
      value = firstOf.try_emplace(ValueKey(n), n).first->second;
    if (value != n) {
      replaced[n] = value;
      changed = true;
    }
  }
  for (auto *list : {&f.outputs, &f.updates, &f.grads})
    for (auto &entry : *list)
      entry.second = current(entry.second);
  if (f.train && f.train->loss)
    f.train->loss = current(f.train->loss);
  // A note on a replaced node moves to the node with the same value.
  for (auto &n : f.nodes)
    if (auto it = replaced.find(n->gradOf); it != replaced.end())
      n->gradOf = it->second;
  return changed;
}

bool simplifyFunction(Function &f) {
  bool changed = false;
  // Dead-node removal after each sweep, so a replaced node is not rewritten
  // again; stop when a whole round changes nothing.
  for (;;) {
    bool rewrote = sweep(f);
    bool removed = f.removeDeadNodes() != 0;
    if (!rewrote && !removed)
      return changed;
    changed = true;
  }
}

} // namespace

bool runSimplify(Module &m) {
  bool changed = false;
  for (auto &f : m.functions)
    changed = simplifyFunction(*f) || changed;
  return changed;
}

} // namespace dlc
