// Per-op rules, one case per op in ir/OpRules.cpp: the shape rule (the result
// type of an op applied to operands) and the gradient rule (the adjoint of
// each operand, written as graph ops so gradients of gradients would work).
#pragma once

#include "ir/Graph.h"

#include <map>
#include <optional>
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

// An operand whose values index something (class labels, embedding ids):
// which operand, and the exclusive bound of its values, from the node's
// types. The kernels cannot report a bad value, so the runtime checks index
// inputs before an entry runs (dlc_tensor_desc::index_bound).
struct IndexOperand {
  size_t operand;
  int64_t bound;
};
std::optional<IndexOperand> indexOperand(const Node &n);

// The bound of each input whose values index something, through views
// (reshape) of it; the least when several ops use it. Inputs used as no
// index are absent.
std::map<std::string, int64_t> inputIndexBounds(const Module &m);

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

// How a data-movement op (slice, pad, concat, patches, patches_grad) moves
// elements, for interpreter and kernels alike: a strided box in one tensor,
// walked in the row-major order of `dims` while the other tensor is walked
// contiguously. Element pos of the box is element
// offset + sum(pos[i] * strides[i]) of the strided tensor.
struct Window {
  Dims dims;
  std::vector<int64_t> strides;
  int64_t offset = 0;
  // gather: y (contiguous) = x[window]; scatter: y[window] += operand
  // (contiguous), into a y that starts at zero. Only patches_grad's windows
  // overlap, which is why it adds.
  bool gather = true;
};
// The window of node n's operand k (a slice, pad, concat, patches or
// patches_grad node).
Window windowOf(const Node &n, size_t k);

// Whether dropout keeps element `index`: a splitmix64 hash of
// (seed, step, index), its top 24 bits against rate * 2^24. The kernel
// emits the same integer steps (codegen/Kernels.cpp).
uint64_t dropoutHash(int64_t seed, uint64_t step, uint64_t index);
uint64_t dropoutThreshold(double rate); // keep when (hash >> 40) >= this

} // namespace dlc
