// Per-op rules, one case per op in ir/OpRules.cpp: the shape rule (the result
// type of an op applied to operands) and the gradient rule (the adjoint of
// each operand, written as graph ops so gradients of gradients would work).
#pragma once

#include "ir/Graph.h"

#include <string>
#include <vector>

namespace dlc {

class Builder;

// Result type of `op` on operands of types `in`. `requested` is the declared
// result type for ops whose result is not implied by their operands (input,
// var, const, reshape, broadcast: OpInfo::typed) and ignored otherwise. The
// attributes are checked against the op's schema first. On an ill-typed
// application, returns nullopt and sets `error` to a message that names the
// shapes involved, e.g. "matmul: inner dimensions differ: f32[128, 784] @ f32[100, 10]".
std::optional<TensorType> inferType(OpKind op,
                                    const std::vector<TensorType> &in,
                                    const Attrs &attrs,
                                    const TensorType *requested,
                                    std::string &error);

// Gradient rule: given forward node `fwd` and the adjoint `dy` of its result
// (same type as fwd), returns one adjoint per operand of fwd, each with the
// operand's type, or nullptr where no gradient flows (integer labels, or an
// operand that is not differentiable). Nodes are created through `b`, whose
// location and gradOf are already set to fwd's by the caller.
std::vector<Node *> gradient(Builder &b, Node *fwd, Node *dy);

// The rows a row-wise op (softmax, softmax_grad, log_softmax) works on, for
// interpreter and kernels alike: along `axis` of `dims`, `outer` blocks of
// `inner` rows; a row has `size` elements, `inner` apart, and row (o, i)
// starts at o * size * inner + i. The last axis gives inner = 1.
struct Rows {
  int64_t outer = 1, size = 1, inner = 1;
  Rows(const Dims &dims, int64_t axis);
};
// The axis of a softmax, softmax_grad or log_softmax: its attribute, or the last.
int64_t rowAxis(const Node &n);

} // namespace dlc
