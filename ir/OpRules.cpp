// Shape rules (and, below them, gradient rules) for every op in ir/Ops.def.
#include "ir/OpRules.h"
#include "ir/Builder.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace dlc {

namespace {

bool fail(std::string &error, std::string msg) {
  error = std::move(msg);
  return false;
}

std::nullopt_t failed(std::string &error, std::string msg) {
  error = std::move(msg);
  return std::nullopt;
}

bool needF32(OpKind op, const TensorType &t, std::string &error) {
  if (t.dtype == DType::F32)
    return true;
  return fail(error, fmt::format("{}: expected a f32 tensor, got {}", opName(op), t.str()));
}

// A reduction's axes: distinct axes of t, in any order.
bool checkAxes(OpKind op, const TensorType &t, std::vector<int64_t> axes,
               std::string &error) {
  std::sort(axes.begin(), axes.end());
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] < 0 || axes[i] >= t.rank() || (i && axes[i] == axes[i - 1]))
      return fail(error,
                  fmt::format("{}: bad axes {} for {}", opName(op), dimsStr(axes), t.str()));
  return true;
}

// dims without the reduced axes.
Dims reducedDims(const Dims &dims, const std::vector<int64_t> &axes) {
  Dims out;
  for (int64_t i = 0; i < (int64_t)dims.size(); ++i)
    if (std::find(axes.begin(), axes.end(), i) == axes.end())
      out.push_back(dims[i]);
  return out;
}

} // namespace

namespace {

// The shape rule proper; inferType adds the checks every op shares.
std::optional<TensorType> resultType(OpKind op, const std::vector<TensorType> &in,
                                     const Attrs &attrs, const TensorType *requested,
                                     std::string &error) {
  const OpInfo &info = opInfo(op);
  switch (op) {
  case OpKind::Input:
  case OpKind::Var:
  case OpKind::Constant:
    if (!requested) {
      error = fmt::format("{}: needs a declared type", info.name);
      return std::nullopt;
    }
    return *requested;

#define DLC_OP(Enum, Name, Operands, Kind, Schema, Flags) DLC_MAP_CASE_##Kind(Enum)
#include "ir/Ops.def"
  { // Every map: f32 operands under numpy broadcasting (one operand: its type).
    for (const TensorType &t : in)
      if (!needF32(op, t, error))
        return std::nullopt;
    Dims d = in[0].dims;
    for (size_t k = 1; k < in.size(); ++k) {
      auto b = broadcastDims(d, in[k].dims);
      if (!b) {
        error = fmt::format("{}: shapes do not broadcast: {} and {}", info.name,
                            TensorType::f32(d).str(), in[k].str());
        return std::nullopt;
      }
      d = *b;
    }
    return TensorType::f32(d);
  }

  case OpKind::Reshape:
    if (!requested) {
      error = "reshape: needs a target type";
      return std::nullopt;
    }
    if (requested->numel() != in[0].numel() || requested->dtype != in[0].dtype) {
      error = fmt::format("reshape: cannot reshape {} to {} (element counts differ)", in[0].str(),
                          requested->str());
      return std::nullopt;
    }
    return *requested;

  case OpKind::Broadcast: {
    if (!requested) {
      error = "broadcast: needs a target type";
      return std::nullopt;
    }
    auto d = broadcastDims(in[0].dims, requested->dims);
    if (!d || *d != requested->dims || requested->dtype != in[0].dtype) {
      error = fmt::format("broadcast: cannot broadcast {} to {}", in[0].str(), requested->str());
      return std::nullopt;
    }
    return *requested;
  }

  case OpKind::Transpose: {
    const std::vector<int64_t> &perm = attrs.getInts("perm");
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    bool isPerm = (int64_t)perm.size() == in[0].rank();
    for (int64_t i = 0; isPerm && i < (int64_t)sorted.size(); ++i)
      isPerm = sorted[i] == i;
    if (!isPerm) {
      error = fmt::format("transpose: perm {} is not a permutation of the axes of {}: it must "
                          "list each of 0 to {} once", dimsStr(perm), in[0].str(),
                          in[0].rank() - 1);
      return std::nullopt;
    }
    Dims out;
    for (int64_t p : perm)
      out.push_back(in[0].dims[p]);
    return TensorType(in[0].dtype, out);
  }

  case OpKind::Slice: {
    const std::vector<int64_t> &begin = attrs.getInts("begin"), &end = attrs.getInts("end");
    const Dims &d = in[0].dims;
    if ((int64_t)begin.size() != in[0].rank() || (int64_t)end.size() != in[0].rank())
      return failed(error, fmt::format("slice: begin {} and end {} need one entry per axis of {}",
                                       dimsStr(begin), dimsStr(end), in[0].str()));
    Dims out;
    for (size_t i = 0; i < d.size(); ++i) {
      if (begin[i] < 0 || begin[i] >= end[i] || end[i] > d[i])
        return failed(error, fmt::format("slice: axis {} range {}:{} is empty or outside 0:{} "
                                         "of {}", i, begin[i], end[i], d[i], in[0].str()));
      out.push_back(end[i] - begin[i]);
    }
    return TensorType(in[0].dtype, out);
  }

  case OpKind::Pad: {
    const std::vector<int64_t> &low = attrs.getInts("low"), &high = attrs.getInts("high");
    if ((int64_t)low.size() != in[0].rank() || (int64_t)high.size() != in[0].rank())
      return failed(error, fmt::format("pad: low {} and high {} need one entry per axis of {}",
                                       dimsStr(low), dimsStr(high), in[0].str()));
    Dims out = in[0].dims;
    for (size_t i = 0; i < out.size(); ++i) {
      if (low[i] < 0 || high[i] < 0 || low[i] > kMaxTensorElements ||
          high[i] > kMaxTensorElements)
        return failed(error, fmt::format("pad: amounts must be between 0 and 2^40, got low {}, "
                                         "high {}", dimsStr(low), dimsStr(high)));
      out[i] += low[i] + high[i];
    }
    return TensorType(in[0].dtype, out);
  }

  case OpKind::Concat: {
    int64_t axis = attrs.getInt("axis");
    if (axis < 0 || axis >= in[0].rank())
      return failed(error,
                    fmt::format("concat: axis {} is out of range for {}", axis, in[0].str()));
    Dims out = in[0].dims;
    for (size_t k = 1; k < in.size(); ++k) {
      Dims d = in[k].dims;
      bool same = in[k].dtype == in[0].dtype && d.size() == out.size();
      for (size_t i = 0; same && i < d.size(); ++i)
        same = (int64_t)i == axis || d[i] == out[i];
      if (!same)
        return failed(error, fmt::format("concat: operand {} {} does not match {} outside axis {}",
                                         k, in[k].str(), in[0].str(), axis));
      out[axis] += d[axis];
    }
    return TensorType(in[0].dtype, out);
  }

  case OpKind::Patches:
  case OpKind::PatchesGrad: {
    bool grad = op == OpKind::PatchesGrad;
    const std::vector<int64_t> &kernel = attrs.getInts("kernel"), &stride = attrs.getInts("stride");
    if (kernel.size() != 2 || stride.size() != 2 || kernel[0] < 1 || kernel[1] < 1 ||
        stride[0] < 1 || stride[1] < 1)
      return failed(error, fmt::format("{}: kernel {} and stride {} must each be two positive "
                                       "integers", info.name, dimsStr(kernel), dimsStr(stride)));
    if (grad && !requested)
      return failed(error, "patches_grad: needs the image type");
    const TensorType &image = grad ? *requested : in[0];
    if (image.dtype != DType::F32 || image.rank() != 4)
      return failed(error, fmt::format("{}: expected an image f32[n, h, w, c], got {}", info.name,
                                       image.str()));
    const Dims &d = image.dims;
    if (d[1] < kernel[0] || d[2] < kernel[1])
      return failed(error, fmt::format("{}: kernel {} is larger than the image {}", info.name,
                                       dimsStr(kernel), image.str()));
    TensorType windows = TensorType::f32({d[0], (d[1] - kernel[0]) / stride[0] + 1,
                                          (d[2] - kernel[1]) / stride[1] + 1,
                                          kernel[0] * kernel[1] * d[3]});
    if (!grad)
      return windows;
    if (in[0] != windows)
      return failed(error, fmt::format("patches_grad: expected d(patches) {} for {}, got {}",
                                       windows.str(), image.str(), in[0].str()));
    return image;
  }

  case OpKind::Gather:
  case OpKind::GatherGrad: {
    bool grad = op == OpKind::GatherGrad;
    if (grad && !requested)
      return failed(error, "gather_grad: needs the table type");
    const TensorType &table = grad ? *requested : in[0];
    const TensorType &ids = in[1];
    if (table.dtype != DType::F32 || table.rank() != 2)
      return failed(error, fmt::format("{}: expected a table f32[rows, dim], got {}", info.name,
                                       table.str()));
    if (ids.dtype != DType::I32)
      return failed(error, fmt::format("{}: expected i32 ids, got {}", info.name, ids.str()));
    Dims rows = ids.dims;
    rows.push_back(table.dims[1]);
    if (!grad)
      return TensorType::f32(rows);
    if (in[0] != TensorType::f32(rows))
      return failed(error, fmt::format("gather_grad: expected d(rows) {} for ids {}, got {}",
                                       TensorType::f32(rows).str(), ids.str(), in[0].str()));
    return table;
  }

  case OpKind::Dropout: {
    double rate = attrs.getFloat("rate");
    if (!(rate >= 0 && rate < 1))
      return failed(error, fmt::format("dropout: rate must be in [0, 1), got {:f}", rate));
    if (!needF32(op, in[0], error))
      return std::nullopt;
    if (in[1] != TensorType::f32({}))
      return failed(error, fmt::format("dropout: the step counter must be f32[], got {}",
                                       in[1].str()));
    return in[0];
  }

  case OpKind::ReduceSum:
  case OpKind::ReduceMean:
  case OpKind::ReduceMax: {
    const std::vector<int64_t> &axes = attrs.getInts("axes");
    if (!needF32(op, in[0], error) || !checkAxes(op, in[0], axes, error))
      return std::nullopt;
    return TensorType::f32(reducedDims(in[0].dims, axes));
  }

  case OpKind::ReduceMaxGrad: { // (dy, x), dy of reduce_max(x)'s type
    const std::vector<int64_t> &axes = attrs.getInts("axes");
    if (!needF32(op, in[0], error) || !needF32(op, in[1], error) ||
        !checkAxes(op, in[1], axes, error))
      return std::nullopt;
    TensorType dy = TensorType::f32(reducedDims(in[1].dims, axes));
    if (in[0] != dy) {
      error = fmt::format("reduce_max_grad: expected d(max) {} for {}, got {}", dy.str(),
                          in[1].str(), in[0].str());
      return std::nullopt;
    }
    return in[1];
  }

  case OpKind::Softmax:
  case OpKind::SoftmaxGrad:
  case OpKind::LogSoftmax: {
    for (const TensorType &t : in)
      if (!needF32(op, t, error))
        return std::nullopt;
    if (in.size() == 2 && in[0] != in[1]) {
      error = fmt::format("{}: operand types differ: {} and {}", info.name, in[0].str(),
                          in[1].str());
      return std::nullopt;
    }
    if (in[0].rank() < 1) {
      error = fmt::format("{}: expected at least one axis, got {}", info.name, in[0].str());
      return std::nullopt;
    }
    int64_t axis = attrs.getInt("axis", in[0].rank() - 1);
    if (axis < 0 || axis >= in[0].rank()) {
      error = fmt::format("{}: axis {} is out of range for {}", info.name, axis, in[0].str());
      return std::nullopt;
    }
    return in[0];
  }

  case OpKind::SparseXent:
  case OpKind::SparseXentGrad: {
    bool isGrad = op == OpKind::SparseXentGrad;
    const TensorType &logits = in[isGrad ? 1 : 0];
    const TensorType &labels = in[isGrad ? 2 : 1];
    if (logits.dtype != DType::F32 || logits.rank() != 2) {
      error = fmt::format("{}: expected logits f32[batch, classes], got {}", info.name,
                          logits.str());
      return std::nullopt;
    }
    TensorType rowType = TensorType::i32({logits.dims[0]});
    if (labels != rowType) {
      error = fmt::format("{}: expected labels {} for logits {}, got {}", info.name,
                          rowType.str(), logits.str(), labels.str());
      return std::nullopt;
    }
    TensorType loss = TensorType::f32({logits.dims[0]});
    if (!isGrad)
      return loss;
    if (in[0] != loss) {
      error = fmt::format("sparse_xent_grad: expected d(loss) {}, got {}", loss.str(),
                          in[0].str());
      return std::nullopt;
    }
    return logits;
  }

  case OpKind::MatMul: {
    if (in[0].dtype != DType::F32 || in[1].dtype != DType::F32 ||
        in[0].rank() != 2 || in[1].rank() != 2) {
      error = fmt::format("matmul: expected two rank-2 f32 tensors, got {} @ {}", in[0].str(),
                          in[1].str());
      return std::nullopt;
    }
    bool ta = attrs.getInt("transpose_a", 0), tb = attrs.getInt("transpose_b", 0);
    int64_t m = in[0].dims[ta ? 1 : 0], ka = in[0].dims[ta ? 0 : 1];
    int64_t kb = in[1].dims[tb ? 1 : 0], n = in[1].dims[tb ? 0 : 1];
    if (ka != kb) {
      error = fmt::format("matmul: inner dimensions differ: {}{} @ {}{}", in[0].str(),
                          ta ? "ᵀ" : "", in[1].str(), tb ? "ᵀ" : "");
      return std::nullopt;
    }
    return TensorType::f32({m, n});
  }
  }
  internalError("inferType: unhandled op");
}

} // namespace

std::optional<TensorType> inferType(OpKind op, const std::vector<TensorType> &in,
                                    const Attrs &attrs,
                                    const TensorType *requested,
                                    std::string &error) {
  const OpInfo &info = opInfo(op);
  if (info.operands < 0 ? in.empty() : (int)in.size() != info.operands) {
    if (info.operands < 0)
      error = fmt::format("{}: expected at least 1 operands, got {}", info.name, in.size());
    else
      error = fmt::format("{}: expected {} operands, got {}", info.name, info.operands,
                          in.size());
    return std::nullopt;
  }
  // Shape rules read attributes without checking their kinds: this is where
  // every node's attributes meet the op's schema.
  if (std::string p = attrsProblem(op, attrs.items()); !p.empty()) {
    error = fmt::format("{}: {}", info.name, p);
    return std::nullopt;
  }
  auto t = resultType(op, in, attrs, requested, error);
  // Broadcasting and matmul can make a result far larger than any operand
  // ([n, 1] + [1, n]); past the limit its element count would overflow.
  if (t && !withinSizeLimits(t->dims)) {
    bool empty = std::any_of(t->dims.begin(), t->dims.end(), [](int64_t d) { return d < 1; });
    error = fmt::format("{}: result {} {}", info.name, t->str(),
                        empty ? "has a dimension below 1"
                              : "is too large (more than 2^40 elements)");
    return std::nullopt;
  }
  return t;
}

// --- Gradient rules ------------------------------------------------------------
//
// Notation: y = fwd's result, dy its adjoint, da/db/dx the adjoints returned
// for the operands. Broadcasting ops sum an adjoint back to its operand's
// shape (the adjoint of numpy broadcasting). In code the second operand is
// `c`, because `b` is the Builder.

namespace {

// `dims` with the reduced `axes` kept as size 1: where a reduction's result
// sits before it is broadcast back.
Dims keepDims(Dims dims, const std::vector<int64_t> &axes) {
  for (int64_t a : axes)
    dims[a] = 1;
  return dims;
}

// reduce_sum over one axis, kept as size 1 so it broadcasts against t.
Node *sumKeep(Builder &b, Node *t, int64_t axis) {
  return b.reshape(b.reduceSum(t, {axis}), keepDims(t->type.dims, {axis}));
}

// The box of t at `begin` with dims `box`, as a slice.
Node *sliceBox(Builder &b, Node *t, const std::vector<int64_t> &begin, const Dims &box) {
  std::vector<int64_t> end;
  for (size_t i = 0; i < box.size(); ++i)
    end.push_back(begin[i] + box[i]);
  Attrs at;
  at.set("begin", begin);
  at.set("end", end);
  return b.create(OpKind::Slice, {t}, at);
}

} // namespace

std::vector<Node *> gradient(Builder &b, Node *fwd, Node *dy) {
  DLC_ASSERT(dy && dy->type == fwd->type,
             fmt::format("gradient: adjoint of %{} has the wrong type", fwd->name));
  Node *y = fwd;
  Node *a = fwd->operands.empty() ? nullptr : fwd->operands[0];
  Node *c = fwd->operands.size() > 1 ? fwd->operands[1] : nullptr;
  auto toA = [&](Node *g) { return b.sumToShape(g, a->type.dims); };
  auto toB = [&](Node *g) { return b.sumToShape(g, c->type.dims); };
  auto where = [&](Node *cond, Node *x, Node *y) { return b.create(OpKind::Where, {cond, x, y}); };

  switch (fwd->op) {
  case OpKind::Input:
  case OpKind::Var:
  case OpKind::Constant:
    return {};

  case OpKind::Neg: // dx = -dy
    return {b.neg(dy)};
  case OpKind::Relu: // dx = x > 0 ? dy : 0
    return {b.binary(OpKind::ReluGrad, dy, a)};
  case OpKind::Exp: // dx = dy * exp(x) = dy * y
    return {b.mul(dy, y)};
  case OpKind::Expm1: // dx = dy * exp(x) = dy * (y + 1)
    return {b.mul(dy, b.add(y, b.constant(1.0)))};
  case OpKind::Log: // dx = dy / x
    return {b.div(dy, a)};
  case OpKind::Sqrt: // dx = dy / (2 sqrt(x)) = dy / (2 y)
    return {b.div(dy, b.mul(b.constant(2.0), y))};
  case OpKind::Abs: // dx = dy * sign(x), sign(0) = 0 as in PyTorch
    return {b.mul(dy, b.sub(b.binary(OpKind::Greater, a, b.constant(0.0)),
                            b.binary(OpKind::Less, a, b.constant(0.0))))};
  case OpKind::Sigmoid: // dx = dy * y * (1 - y)
    return {b.mul(b.mul(dy, y), b.sub(b.constant(1.0), y))};
  case OpKind::Tanh: // dx = dy * (1 - y²)
    return {b.mul(dy, b.sub(b.constant(1.0), b.mul(y, y)))};
  case OpKind::StopGradient: // what it is for: nothing flows back through it
    return {nullptr};

  case OpKind::Add: // da = dy, db = dy
    return {toA(dy), toB(dy)};
  case OpKind::Sub: // da = dy, db = -dy
    return {toA(dy), toB(b.neg(dy))};
  case OpKind::Mul: // da = dy * b, db = dy * a
    return {toA(b.mul(dy, c)), toB(b.mul(dy, a))};
  case OpKind::Div: // da = dy / b, db = -dy * a / b² = -(dy * y) / b
    return {toA(b.div(dy, c)), toB(b.neg(b.div(b.mul(dy, y), c)))};
  case OpKind::Pow: { // da = dy * b * a^(b-1), db = dy * y * log(a)
    Node *bMinus1 = b.sub(c, b.constant(1.0));
    Node *da = b.mul(dy, b.mul(c, b.binary(OpKind::Pow, a, bMinus1)));
    Node *db = b.mul(b.mul(dy, y), b.unary(OpKind::Log, a));
    return {toA(da), toB(db)};
  }
  case OpKind::ReluGrad: // relu_grad(g, x): dg = relu_grad(dy, x); x: zero a.e.
    return {toA(b.binary(OpKind::ReluGrad, dy, c)), nullptr};
  case OpKind::Maximum:
  case OpKind::Minimum: { // dy goes to the operand the forward pass selected
    Node *first = b.binary(fwd->op == OpKind::Maximum ? OpKind::Greater : OpKind::Less, a, c);
    return {toA(where(first, dy, b.constant(0.0))), toB(where(first, b.constant(0.0), dy))};
  }
  case OpKind::Greater:
  case OpKind::Less:
  case OpKind::GreaterEqual:
  case OpKind::LessEqual:
  case OpKind::Equal:
  case OpKind::NotEqual: // a step function: zero wherever it is differentiable
    return {nullptr, nullptr};
  case OpKind::Where: { // dcond = 0 (a step); da = cond ? dy : 0, db = cond ? 0 : dy
    Node *cond = a, *x = c, *other = fwd->operands[2];
    return {nullptr, b.sumToShape(where(cond, dy, b.constant(0.0)), x->type.dims),
            b.sumToShape(where(cond, b.constant(0.0), dy), other->type.dims)};
  }

  case OpKind::Reshape: // dx = reshape(dy) back to x's shape
    return {b.reshape(dy, a->type.dims)};
  case OpKind::Broadcast: // dx = dy summed over the stretched axes
    return {toA(dy)};
  case OpKind::Transpose: { // dx = dy transposed back: by the inverse permutation
    const std::vector<int64_t> &perm = fwd->attrs.getInts("perm");
    std::vector<int64_t> inverse(perm.size());
    for (size_t i = 0; i < perm.size(); ++i)
      inverse[(size_t)perm[i]] = (int64_t)i;
    Attrs at;
    at.set("perm", inverse);
    return {b.create(OpKind::Transpose, {dy}, at)};
  }

  case OpKind::Slice: { // dx = dy padded back to x's shape
    const std::vector<int64_t> &begin = fwd->attrs.getInts("begin"), &end = fwd->attrs.getInts("end");
    std::vector<int64_t> high;
    for (size_t i = 0; i < end.size(); ++i)
      high.push_back(a->type.dims[i] - end[i]);
    Attrs at;
    at.set("low", begin);
    at.set("high", high);
    return {b.create(OpKind::Pad, {dy}, at)};
  }
  case OpKind::Pad: // dx = the box of dy where x was placed
    return {sliceBox(b, dy, fwd->attrs.getInts("low"), a->type.dims)};
  case OpKind::Concat: { // each operand's adjoint is its box of dy
    int64_t axis = fwd->attrs.getInt("axis");
    std::vector<Node *> grads;
    std::vector<int64_t> begin(fwd->type.dims.size(), 0);
    for (const Node *o : fwd->operands) {
      grads.push_back(sliceBox(b, dy, begin, o->type.dims));
      begin[axis] += o->type.dims[axis];
    }
    return grads;
  }
  case OpKind::Patches: // dx = each window's dy added back where it was read
    return {b.create(OpKind::PatchesGrad, {dy}, fwd->attrs, "", &a->type)};
  case OpKind::PatchesGrad: // linear: its adjoint is patches again
    return {b.create(OpKind::Patches, {dy}, fwd->attrs)};
  case OpKind::Gather: // each looked-up row's dy back into its table row
    return {b.create(OpKind::GatherGrad, {dy, c}, {}, "", &a->type), nullptr};
  case OpKind::GatherGrad: // linear in dy: d(dy) gathers the rows back
    return {b.create(OpKind::Gather, {dy, c}), nullptr};
  case OpKind::Dropout: // the same mask (same seed and step) on dy; step: none
    return {b.create(OpKind::Dropout, {dy, c}, fwd->attrs), nullptr};

  case OpKind::ReduceSum:
  case OpKind::ReduceMean: {
    // dx = broadcast(dy) back over the reduced axes (divided by their size
    // for a mean).
    const std::vector<int64_t> &axes = fwd->attrs.getInts("axes");
    Node *g = dy;
    if (fwd->op == OpKind::ReduceMean) {
      int64_t count = 1;
      for (int64_t ax : axes)
        count *= a->type.dims[ax];
      g = b.div(g, b.constant((double)count));
    }
    Node *kept = b.reshape(g, keepDims(a->type.dims, axes));
    return {kept->type.dims == a->type.dims ? kept
                                            : b.broadcast(kept, a->type.dims)};
  }

  case OpKind::ReduceMax: // dx = dy at the first position of each maximum
    return {b.create(OpKind::ReduceMaxGrad, {dy, a}, fwd->attrs)};
  case OpKind::ReduceMaxGrad: {
    // out = g at the first maximum of x's rows, so dg = dy read there:
    // sum(dy * reduce_max_grad(1, x)); x only moves which position, so its
    // gradient is zero wherever it is defined.
    Node *x = c, *ones = b.constant(1.0, a->type);
    Node *at = b.create(OpKind::ReduceMaxGrad, {ones, x}, fwd->attrs);
    return {b.reduceSum(b.mul(dy, at), fwd->attrs.getInts("axes")), nullptr};
  }

  // The row-wise ops keep their axis (attributes copied) in their gradients.
  case OpKind::Softmax: // dx = y * (dy - sum(dy * y))
    return {b.create(OpKind::SoftmaxGrad, {dy, y}, fwd->attrs)};
  case OpKind::SoftmaxGrad: {
    // out = s * (g - sum(g s)) with g = a, s = c; per row:
    //   dg = s * (dy - sum(dy s))            = softmax_grad(dy, s)
    //   ds = dy * (g - sum(g s)) - g * sum(dy s)
    int64_t axis = rowAxis(*fwd);
    Node *gs = sumKeep(b, b.mul(a, c), axis);
    Node *dys = sumKeep(b, b.mul(dy, c), axis);
    Node *ds = b.sub(b.mul(dy, b.sub(a, gs)), b.mul(a, dys));
    return {b.create(OpKind::SoftmaxGrad, {dy, c}, fwd->attrs), ds};
  }
  case OpKind::LogSoftmax: // dx = dy - softmax(x) * sum(dy), softmax(x) = exp(y)
    return {b.sub(dy, b.mul(b.unary(OpKind::Exp, y), sumKeep(b, dy, rowAxis(*fwd))))};

  case OpKind::SparseXent: // dlogits = dy[n] * (softmax(logits) - onehot(labels))
    return {b.create(OpKind::SparseXentGrad, {dy, a, c}), nullptr};
  case OpKind::SparseXentGrad: {
    // out = g[n] * (p - onehot) with p = softmax(logits), per row:
    //   dg      = sum(dy * (p - onehot))   (= sparse_xent_grad(1, ...) · dy)
    //   dlogits = g[n] * softmax_grad(dy, p)
    Node *logits = c, *labels = fwd->operands[2];
    int64_t n = logits->type.dims[0];
    Node *ones = b.constant(1.0, a->type);
    Node *pMinusOnehot = b.create(OpKind::SparseXentGrad, {ones, logits, labels});
    Node *dg = b.reduceSum(b.mul(dy, pMinusOnehot), {1});
    Node *p = b.unary(OpKind::Softmax, logits);
    Node *dlogits = b.mul(b.binary(OpKind::SoftmaxGrad, dy, p), b.reshape(a, {n, 1}));
    return {dg, dlogits, nullptr};
  }

  case OpKind::MatMul: {
    // y = op(A) @ op(B) where op transposes when the attribute says so.
    //   d op(A) = dy @ op(B)ᵀ, d op(B) = op(A)ᵀ @ dy,
    // and a transposed operand takes the transpose of its adjoint:
    //   dA = ta ? op(B) @ dyᵀ : dy @ op(B)ᵀ
    //   dB = tb ? dyᵀ @ op(A) : op(A)ᵀ @ dy
    // Each case is one matmul with the transposes folded into its flags.
    bool ta = fwd->attrs.getInt("transpose_a", 0);
    bool tb = fwd->attrs.getInt("transpose_b", 0);
    Node *da = ta ? b.matmul(c, dy, tb, true) : b.matmul(dy, c, false, !tb);
    Node *db = tb ? b.matmul(dy, a, true, ta) : b.matmul(a, dy, !ta, false);
    return {da, db};
  }
  }
  internalError("gradient: unhandled op");
}

Rows::Rows(const Dims &dims, int64_t axis) : size(dims.at((size_t)axis)) {
  for (size_t i = 0; i < (size_t)axis; ++i)
    outer *= dims[i];
  for (size_t i = (size_t)axis + 1; i < dims.size(); ++i)
    inner *= dims[i];
}

int64_t rowAxis(const Node &n) { return n.attrs.getInt("axis", n.type.rank() - 1); }

namespace {

// The box of a tensor of shape `whole` at `begin` with dims `box`.
Window boxWindow(const Dims &whole, const std::vector<int64_t> &begin, const Dims &box,
                 bool gather) {
  Window w;
  w.dims = box;
  w.gather = gather;
  int64_t stride = 1;
  w.strides.assign(whole.size(), 0);
  for (size_t i = whole.size(); i-- > 0;) {
    w.strides[i] = stride;
    w.offset += begin[i] * stride;
    stride *= whole[i];
  }
  return w;
}

} // namespace

Window windowOf(const Node &n, size_t k) {
  const Dims &x = n.operands[k]->type.dims;
  switch (n.op) {
  case OpKind::Slice:
    return boxWindow(x, n.attrs.getInts("begin"), n.type.dims, true);
  case OpKind::Pad:
    return boxWindow(n.type.dims, n.attrs.getInts("low"), x, false);
  case OpKind::Concat: {
    int64_t axis = n.attrs.getInt("axis");
    std::vector<int64_t> begin(x.size(), 0);
    for (size_t j = 0; j < k; ++j)
      begin[axis] += n.operands[j]->type.dims[axis];
    return boxWindow(n.type.dims, begin, x, false);
  }
  case OpKind::Patches:
  case OpKind::PatchesGrad: {
    // Windows [n, oh, ow] of [kh, kw, c] elements, over the image
    // [n, h, w, c]: moving a window by one steps the image by the stride.
    bool gather = n.op == OpKind::Patches;
    const Dims &image = gather ? x : n.type.dims;
    const Dims &windows = gather ? n.type.dims : x;
    const std::vector<int64_t> &kernel = n.attrs.getInts("kernel"),
                               &stride = n.attrs.getInts("stride");
    int64_t c = image[3], rowStride = image[2] * c;
    Window w;
    w.gather = gather;
    w.dims = {image[0], windows[1], windows[2], kernel[0], kernel[1], c};
    w.strides = {image[1] * rowStride, stride[0] * rowStride, stride[1] * c, rowStride, c, 1};
    return w;
  }
  default: // a partial function: only the ops above move through a window
    internalError(fmt::format("windowOf: {} moves no window", opName(n.op)));
  }
}

namespace {
uint64_t splitmix(uint64_t z) {
  z ^= z >> 30;
  z *= 0xBF58476D1CE4E5B9ull;
  z ^= z >> 27;
  z *= 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
} // namespace

uint64_t dropoutHash(int64_t seed, uint64_t step, uint64_t index) {
  // splitmix64's output number index + 1 from a state keyed by (seed, step).
  uint64_t key = splitmix((uint64_t)seed * 0x9E3779B97F4A7C15ull + step);
  return splitmix(key + (index + 1) * 0x9E3779B97F4A7C15ull);
}

uint64_t dropoutThreshold(double rate) { return (uint64_t)std::llround(rate * 16777216.0); }

} // namespace dlc

namespace dlc {

std::optional<IndexOperand> indexOperand(const Node &n) {
  if (n.op == OpKind::SparseXent)
    return IndexOperand{1, n.operands[0]->type.dims.back()};
  if (n.op == OpKind::SparseXentGrad)
    return IndexOperand{2, n.operands[1]->type.dims.back()};
  if (n.op == OpKind::Gather)
    return IndexOperand{1, n.operands[0]->type.dims[0]};
  if (n.op == OpKind::GatherGrad)
    return IndexOperand{1, n.type.dims[0]};
  return std::nullopt;
}

std::map<std::string, int64_t> inputIndexBounds(const Module &m) {
  std::map<std::string, int64_t> bounds;
  for (const auto &f : m.functions)
    for (const auto &n : f->nodes) {
      std::optional<IndexOperand> index = indexOperand(*n);
      if (!index)
        continue;
      const Node *source = n->operands[index->operand];
      while (source->op == OpKind::Reshape)
        source = source->operands[0];
      if (source->op != OpKind::Input)
        continue;
      auto [it, first] = bounds.try_emplace(source->attrs.getString("name"), index->bound);
      if (!first)
        it->second = std::min(it->second, index->bound);
    }
  return bounds;
}

} // namespace dlc
