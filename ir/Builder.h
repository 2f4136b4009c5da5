// The checked way to add nodes to a Function: every node's type comes from
// its op's shape rule (ir/OpRules.cpp), and it inherits the builder's current
// source location and gradOf note.
#pragma once

#include "ir/Graph.h"

#include <string>
#include <vector>

namespace dlc {

class Builder {
public:
  explicit Builder(Function &f) : fn_(f) {}

  Function &function() { return fn_; }
  void setLoc(const SourceLoc &l) { loc_ = l; }
  const SourceLoc &loc() const { return loc_; }
  void setGradOf(const Node *n) { gradOf_ = n; }

  // Creates a node; an ill-typed request is a compiler bug (InternalError).
  Node *create(OpKind op, std::vector<Node *> operands, Attrs attrs = {},
               const std::string &name = "",
               const TensorType *type = nullptr);
  // Same, but an ill-typed request returns nullptr and sets `error` (for the
  // frontend, which turns it into a diagnostic at the user's expression).
  Node *tryCreate(OpKind op, std::vector<Node *> operands, Attrs attrs,
                  const std::string &name, const TensorType *type,
                  std::string &error);

  Node *input(const std::string &inputName, const TensorType &t);
  Node *var(const std::string &varName, const TensorType &t);
  Node *constant(double value, const TensorType &t = TensorType::f32({}));

  Node *unary(OpKind op, Node *x) { return create(op, {x}); }
  Node *binary(OpKind op, Node *a, Node *b) { return create(op, {a, b}); }
  Node *add(Node *a, Node *b) { return binary(OpKind::Add, a, b); }
  Node *sub(Node *a, Node *b) { return binary(OpKind::Sub, a, b); }
  Node *mul(Node *a, Node *b) { return binary(OpKind::Mul, a, b); }
  Node *div(Node *a, Node *b) { return binary(OpKind::Div, a, b); }
  Node *neg(Node *x) { return unary(OpKind::Neg, x); }
  Node *matmul(Node *a, Node *b, bool transA = false, bool transB = false);
  Node *reshape(Node *x, const Dims &dims);
  Node *broadcast(Node *x, const Dims &dims);
  Node *reduceSum(Node *x, const std::vector<int64_t> &axes);
  Node *reduceMean(Node *x, const std::vector<int64_t> &axes);
  // Sums `x` down to `target` dims (the adjoint of numpy broadcasting):
  // reduces the stretched axes, then reshapes. Returns x when dims match.
  Node *sumToShape(Node *x, const Dims &target);

private:
  Function &fn_;
  SourceLoc loc_;
  const Node *gradOf_ = nullptr;
};

} // namespace dlc
