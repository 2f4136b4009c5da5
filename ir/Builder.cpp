#include "ir/Builder.h"
#include "ir/OpRules.h"
#include "ir/Support.h"

#include <fmt/format.h>

namespace dlc {

Node *Builder::tryCreate(OpKind op, std::vector<Node *> operands, Attrs attrs,
                         const std::string &name, const TensorType *type,
                         std::string &error) {
  std::vector<TensorType> in;
  for (Node *o : operands) {
    DLC_ASSERT(o, fmt::format("null operand to {}", opName(op)));
    in.push_back(o->type);
  }
  auto t = inferType(op, in, attrs, type, error);
  if (!t)
    return nullptr;
  auto n = std::make_unique<Node>();
  n->op = op;
  n->operands = std::move(operands);
  n->type = *t;
  n->attrs = std::move(attrs);
  n->name = name;
  n->loc = loc_;
  n->gradOf = gradOf_;
  return fn_.append(std::move(n));
}

Node *Builder::create(OpKind op, std::vector<Node *> operands, Attrs attrs,
                      const std::string &name, const TensorType *type) {
  std::string error;
  Node *n = tryCreate(op, std::move(operands), std::move(attrs), name, type, error);
  if (!n)
    internalError(fmt::format("ill-typed node in function {}: {}", fn_.name, error));
  return n;
}

Node *Builder::input(const std::string &inputName, const TensorType &t) {
  Attrs a;
  a.set("name", inputName);
  return create(OpKind::Input, {}, a, inputName, &t);
}

Node *Builder::var(const std::string &varName, const TensorType &t) {
  Attrs a;
  a.set("name", varName);
  return create(OpKind::Var, {}, a, varName, &t);
}

Node *Builder::constant(double value, const TensorType &t) {
  Attrs a;
  a.set("value", value);
  return create(OpKind::Constant, {}, a, "c", &t);
}

Node *Builder::matmul(Node *a, Node *b, bool transA, bool transB) {
  Attrs at;
  if (transA)
    at.set("transpose_a", int64_t(1));
  if (transB)
    at.set("transpose_b", int64_t(1));
  return create(OpKind::MatMul, {a, b}, at);
}

Node *Builder::reshape(Node *x, const Dims &dims) {
  TensorType t(x->type.dtype, dims);
  return create(OpKind::Reshape, {x}, {}, "", &t);
}

Node *Builder::broadcast(Node *x, const Dims &dims) {
  TensorType t(x->type.dtype, dims);
  return create(OpKind::Broadcast, {x}, {}, "", &t);
}

Node *Builder::reduceSum(Node *x, const std::vector<int64_t> &axes) {
  Attrs a;
  a.set("axes", axes);
  return create(OpKind::ReduceSum, {x}, a);
}

Node *Builder::reduceMean(Node *x, const std::vector<int64_t> &axes) {
  Attrs a;
  a.set("axes", axes);
  return create(OpKind::ReduceMean, {x}, a);
}

Node *Builder::sumToShape(Node *x, const Dims &target) {
  const Dims &d = x->type.dims;
  if (d == target)
    return x;
  size_t lead = d.size() - target.size();
  DLC_ASSERT(d.size() >= target.size(), "sumToShape: target has higher rank");
  std::vector<int64_t> axes;
  for (size_t i = 0; i < d.size(); ++i)
    if (i < lead || (target[i - lead] == 1 && d[i] != 1))
      axes.push_back((int64_t)i);
  Node *r = axes.empty() ? x : reduceSum(x, axes);
  return r->type.dims == target ? r : reshape(r, target);
}

} // namespace dlc
