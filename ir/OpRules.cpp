// Shape rules (and, below them, gradient rules) for every op in ir/Ops.def.
#include "ir/OpRules.h"
#include "ir/Builder.h"
#include "ir/Support.h"

#include <algorithm>

namespace dlc {

namespace {

bool fail(std::string &error, std::string msg) {
  error = std::move(msg);
  return false;
}

bool needF32(OpKind op, const TensorType &t, std::string &error) {
  if (t.dtype == DType::F32)
    return true;
  return fail(error, std::string(opName(op)) + ": expected a f32 tensor, got " +
                         t.str());
}

} // namespace

std::optional<TensorType> inferType(OpKind op, const std::vector<TensorType> &in,
                                    const Attrs &attrs,
                                    const TensorType *requested,
                                    std::string &error) {
  const OpInfo &info = opInfo(op);
  if ((int)in.size() != info.arity) {
    error = std::string(info.name) + ": expected " + std::to_string(info.arity) +
            " operands, got " + std::to_string(in.size());
    return std::nullopt;
  }
  switch (op) {
  case OpKind::Input:
  case OpKind::Var:
  case OpKind::Constant:
    if (!requested) {
      error = std::string(info.name) + ": needs a declared type";
      return std::nullopt;
    }
    return *requested;

  case OpKind::Neg:
  case OpKind::Relu:
  case OpKind::Exp:
  case OpKind::Log:
  case OpKind::Sqrt:
    if (!needF32(op, in[0], error))
      return std::nullopt;
    return in[0];

  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Div:
  case OpKind::Pow:
  case OpKind::ReluGrad: {
    if (!needF32(op, in[0], error) || !needF32(op, in[1], error))
      return std::nullopt;
    auto d = broadcastDims(in[0].dims, in[1].dims);
    if (!d) {
      error = std::string(info.name) + ": shapes do not broadcast: " +
              in[0].str() + " and " + in[1].str();
      return std::nullopt;
    }
    return TensorType::f32(*d);
  }

  case OpKind::Reshape:
    if (!requested) {
      error = "reshape: needs a target type";
      return std::nullopt;
    }
    if (requested->numel() != in[0].numel() || requested->dtype != in[0].dtype) {
      error = "reshape: cannot reshape " + in[0].str() + " to " +
              requested->str() + " (element counts differ)";
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
      error = "broadcast: cannot broadcast " + in[0].str() + " to " +
              requested->str();
      return std::nullopt;
    }
    return *requested;
  }

  case OpKind::ReduceSum:
  case OpKind::ReduceMean: {
    if (!needF32(op, in[0], error))
      return std::nullopt;
    if (!attrs.has("axes")) {
      error = std::string(info.name) + ": needs an 'axes' attribute";
      return std::nullopt;
    }
    std::vector<int64_t> axes = attrs.getInts("axes");
    std::sort(axes.begin(), axes.end());
    for (size_t i = 0; i < axes.size(); ++i)
      if (axes[i] < 0 || axes[i] >= in[0].rank() ||
          (i && axes[i] == axes[i - 1])) {
        error = std::string(info.name) + ": bad axes " + dimsStr(axes) +
                " for " + in[0].str();
        return std::nullopt;
      }
    Dims out;
    for (int64_t i = 0; i < in[0].rank(); ++i)
      if (!std::binary_search(axes.begin(), axes.end(), i))
        out.push_back(in[0].dims[i]);
    return TensorType::f32(out);
  }

  case OpKind::Softmax:
    if (!needF32(op, in[0], error))
      return std::nullopt;
    if (in[0].rank() < 1) {
      error = "softmax: expected at least one axis, got " + in[0].str();
      return std::nullopt;
    }
    return in[0];

  case OpKind::SoftmaxGrad:
    if (in[0] != in[1] || in[0].dtype != DType::F32 || in[0].rank() < 1) {
      error = "softmax_grad: operand types differ: " + in[0].str() + " and " +
              in[1].str();
      return std::nullopt;
    }
    return in[0];

  case OpKind::SparseXent:
  case OpKind::SparseXentGrad: {
    bool isGrad = op == OpKind::SparseXentGrad;
    const TensorType &logits = in[isGrad ? 1 : 0];
    const TensorType &labels = in[isGrad ? 2 : 1];
    if (logits.dtype != DType::F32 || logits.rank() != 2) {
      error = std::string(info.name) +
              ": expected logits f32[batch, classes], got " + logits.str();
      return std::nullopt;
    }
    TensorType rowType = TensorType::i32({logits.dims[0]});
    if (labels != rowType) {
      error = std::string(info.name) + ": expected labels " + rowType.str() +
              " for logits " + logits.str() + ", got " + labels.str();
      return std::nullopt;
    }
    TensorType loss = TensorType::f32({logits.dims[0]});
    if (!isGrad)
      return loss;
    if (in[0] != loss) {
      error = "sparse_xent_grad: expected d(loss) " + loss.str() + ", got " +
              in[0].str();
      return std::nullopt;
    }
    return logits;
  }

  case OpKind::MatMul: {
    if (in[0].dtype != DType::F32 || in[1].dtype != DType::F32 ||
        in[0].rank() != 2 || in[1].rank() != 2) {
      error = "matmul: expected two rank-2 f32 tensors, got " + in[0].str() +
              " @ " + in[1].str();
      return std::nullopt;
    }
    bool ta = attrs.getInt("transpose_a", 0), tb = attrs.getInt("transpose_b", 0);
    int64_t m = in[0].dims[ta ? 1 : 0], ka = in[0].dims[ta ? 0 : 1];
    int64_t kb = in[1].dims[tb ? 1 : 0], n = in[1].dims[tb ? 0 : 1];
    if (ka != kb) {
      error = "matmul: inner dimensions differ: " + in[0].str() +
              (ta ? "ᵀ" : "") + " @ " + in[1].str() + (tb ? "ᵀ" : "");
      return std::nullopt;
    }
    return TensorType::f32({m, n});
  }
  }
  internalError("inferType: unhandled op");
}

} // namespace dlc
