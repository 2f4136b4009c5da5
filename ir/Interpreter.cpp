// The reference interpreter: every op of ir/Ops.def as plain loops over flat
// row-major buffers of doubles, so the oracle is more accurate than the float
// code it checks, never less. Elementwise ops evaluate ir/Formulas.h, the
// same formulas the kernels are generated from.
#include "ir/Interpreter.h"
#include "ir/Formulas.h"
#include "ir/OpRules.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <unordered_map>

namespace dlc {

Tensor Tensor::zeros(const TensorType &t) {
  Tensor r;
  r.type = t;
  r.data.assign((size_t)t.numel(), 0.0);
  return r;
}

Tensor Tensor::of(const TensorType &t, std::vector<double> values) {
  DLC_ASSERT((int64_t)values.size() == t.numel(),
             fmt::format("Tensor::of: {} values for {}", values.size(), t.str()));
  Tensor r;
  r.type = t;
  r.data = std::move(values);
  return r;
}

std::vector<float> Tensor::floats() const {
  return std::vector<float>(data.begin(), data.end());
}

std::vector<int32_t> Tensor::ints() const {
  std::vector<int32_t> out;
  for (double v : data)
    out.push_back((int32_t)v);
  return out;
}

namespace {

// Row-major strides of `dims`.
std::vector<int64_t> stridesOf(const Dims &dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int64_t i = (int64_t)dims.size() - 2; i >= 0; --i)
    s[i] = s[i + 1] * dims[i + 1];
  return s;
}

// Steps the multi-index `pos` to the next element of `dims` in row-major order.
void advance(std::vector<int64_t> &pos, const Dims &dims) {
  for (int64_t i = (int64_t)dims.size() - 1; i >= 0; --i) {
    if (++pos[i] < dims[i])
      return;
    pos[i] = 0;
  }
}

// For each element of a tensor of shape `out`, the flat index of the element
// of a tensor of shape `in` that numpy broadcasting reads for it.
std::vector<int64_t> broadcastIndex(const Dims &out, const Dims &in) {
  DLC_ASSERT(in.size() <= out.size(), "broadcast to a lower rank");
  size_t lead = out.size() - in.size();
  std::vector<int64_t> inStrides = stridesOf(in);
  int64_t total = TensorType::f32(out).numel();
  std::vector<int64_t> index((size_t)total);
  std::vector<int64_t> pos(out.size(), 0); // multi-index into `out`
  for (int64_t flat = 0; flat < total; ++flat) {
    int64_t off = 0;
    for (size_t i = 0; i < in.size(); ++i)
      if (in[i] != 1)
        off += pos[lead + i] * inStrides[i];
    index[(size_t)flat] = off;
    advance(pos, out);
  }
  return index;
}

// A reduction's operand dims with the reduced axes kept as size 1: where
// each element's result element is, under broadcastIndex.
Dims keptDims(Dims dims, const std::vector<int64_t> &axes) {
  for (int64_t a : axes)
    dims[(size_t)a] = 1;
  return dims;
}

// reduce_max's order, which its gradient shares: NaN is above every number
// (it propagates), and a later element takes over only when strictly
// larger, so of equal values the first in row-major order is the maximum.
bool beats(double v, double best) {
  return v > best || (std::isnan(v) && !std::isnan(best));
}

// The flat indices of each row of a row-wise op, along its axis.
std::vector<std::vector<int64_t>> rowIndices(const Node &n) {
  Rows r(n.type.dims, rowAxis(n));
  std::vector<std::vector<int64_t>> rows;
  for (int64_t o = 0; o < r.outer; ++o)
    for (int64_t i = 0; i < r.inner; ++i) {
      std::vector<int64_t> &row = rows.emplace_back();
      for (int64_t j = 0; j < r.size; ++j)
        row.push_back((o * r.size + j) * r.inner + i);
    }
  return rows;
}

// log(sum(exp(x))), stable: the max is taken out before exp.
double logSumExp(const double *x, int64_t cols) {
  double mx = -INFINITY, sum = 0;
  for (int64_t j = 0; j < cols; ++j)
    mx = std::max(mx, x[j]);
  for (int64_t j = 0; j < cols; ++j)
    sum += std::exp(x[j] - mx);
  return mx + std::log(sum);
}

void softmaxRow(const double *x, double *y, int64_t cols) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < cols; ++j)
    mx = std::max(mx, x[j]);
  double sum = 0;
  for (int64_t j = 0; j < cols; ++j)
    sum += std::exp(x[j] - mx);
  for (int64_t j = 0; j < cols; ++j)
    y[j] = std::exp(x[j] - mx) / sum;
}

int32_t checkedLabel(const Node &n, const Tensor &labels, int64_t row,
                     int64_t classes) {
  int32_t l = (int32_t)labels.data[(size_t)row];
  if (l < 0 || l >= classes)
    internalError(fmt::format("{} %{}: label {} of row {} is outside [0, {})", opName(n.op),
                              n.name, l, row, classes));
  return l;
}

Tensor evalNode(const Node &n, const std::vector<const Tensor *> &in) {
  Tensor out = Tensor::zeros(n.type);
  std::vector<double> &y = out.data;
  switch (n.op) {
  case OpKind::Input:
  case OpKind::Var:
    internalError("evalNode: sources are read by interpret()");

  case OpKind::Constant: {
    double v = n.attrs.getFloat("value");
    // A constant holds what the kernel stores: an f32 one the value rounded
    // to float (a comparison with 0.1 must see the kernel's 0.1f), an i32
    // one the value truncated.
    std::fill(y.begin(), y.end(),
              n.type.dtype == DType::F32 ? (double)(float)v : (double)(int32_t)v);
    return out;
  }

#define DLC_OP(Enum, Name, Operands, Kind, Schema, Flags) DLC_MAP_CASE_##Kind(Enum)
#include "ir/Ops.def"
  { // every elementwise and broadcast op: its formula at each element

    std::vector<std::vector<int64_t>> index;
    for (const Tensor *t : in)
      index.push_back(broadcastIndex(n.type.dims, t->type.dims));
    std::vector<double> x(in.size());
    for (size_t i = 0; i < y.size(); ++i) {
      for (size_t k = 0; k < in.size(); ++k)
        x[k] = in[k]->data[(size_t)index[k][i]];
      y[i] = mapFormula<double>(n.op, x.data());
    }
    return out;
  }

  case OpKind::Reshape:
    out.data = in[0]->data;
    return out;

  case OpKind::Broadcast: {
    auto ix = broadcastIndex(n.type.dims, in[0]->type.dims);
    for (size_t i = 0; i < ix.size(); ++i)
      y[i] = in[0]->data[(size_t)ix[i]];
    return out;
  }

  case OpKind::Transpose: { // y's axis i walks x's axis perm[i]
    const std::vector<int64_t> &perm = n.attrs.getInts("perm");
    std::vector<int64_t> xs = stridesOf(in[0]->type.dims), pos(perm.size(), 0);
    for (double &v : y) {
      int64_t off = 0;
      for (size_t i = 0; i < perm.size(); ++i)
        off += pos[i] * xs[(size_t)perm[i]];
      v = in[0]->data[(size_t)off];
      advance(pos, n.type.dims);
    }
    return out;
  }

  case OpKind::Slice:
  case OpKind::Pad:
  case OpKind::Concat:
  case OpKind::Patches:
  case OpKind::PatchesGrad: // each operand's elements through its window
    for (size_t k = 0; k < in.size(); ++k) {
      Window w = windowOf(n, k);
      std::vector<int64_t> pos(w.dims.size(), 0);
      const std::vector<double> &x = in[k]->data;
      for (int64_t i = 0, count = TensorType::f32(w.dims).numel(); i < count; ++i) {
        int64_t at = w.offset;
        for (size_t d = 0; d < pos.size(); ++d)
          at += pos[d] * w.strides[d];
        if (w.gather)
          y[(size_t)i] = x[(size_t)at];
        else
          y[(size_t)at] += x[(size_t)i];
        advance(pos, w.dims);
      }
    }
    return out;

  case OpKind::Gather:
  case OpKind::GatherGrad: { // row ids[i] of the table, both ways
    bool grad = n.op == OpKind::GatherGrad;
    const Dims &table = grad ? n.type.dims : in[0]->type.dims;
    int64_t rows = table[0], dim = table[1];
    const std::vector<double> &ids = in[1]->data, &x = in[0]->data;
    for (size_t i = 0; i < ids.size(); ++i) {
      int64_t id = (int64_t)ids[i];
      bool valid = id >= 0 && id < rows;
      for (int64_t k = 0; k < dim; ++k) {
        if (!grad)
          y[i * dim + k] = valid ? x[(size_t)(id * dim + k)] : NAN;
        else if (valid)
          y[(size_t)(id * dim + k)] += x[i * dim + k];
      }
    }
    return out;
  }

  case OpKind::Dropout: {
    double rate = n.attrs.getFloat("rate");
    // As the kernel's llvm.fptoui.sat: NaN and negatives are 0.
    double counter = in[1]->data[0];
    uint64_t step = !(counter > 0) ? 0 : counter >= 0x1p64 ? UINT64_MAX : (uint64_t)counter;
    uint64_t threshold = dropoutThreshold(rate);
    int64_t seed = n.attrs.getInt("seed");
    for (size_t i = 0; i < y.size(); ++i)
      y[i] = (dropoutHash(seed, step, i) >> 40) >= threshold ? in[0]->data[i] / (1 - rate) : 0;
    return out;
  }

  case OpKind::ReduceSum:
  case OpKind::ReduceMean:
  case OpKind::ReduceMax: {
    // Each input element goes into the output element that drops the
    // reduced axes.
    const std::vector<int64_t> &axes = n.attrs.getInts("axes");
    const Dims &xd = in[0]->type.dims;
    auto ix = broadcastIndex(xd, keptDims(xd, axes));
    bool max = n.op == OpKind::ReduceMax;
    if (max)
      std::fill(y.begin(), y.end(), -INFINITY);
    for (size_t i = 0; i < ix.size(); ++i) {
      double v = in[0]->data[i], &acc = y[(size_t)ix[i]];
      if (!max)
        acc += v;
      else if (beats(v, acc))
        acc = v;
    }
    if (n.op == OpKind::ReduceMean)
      for (double &v : y)
        v /= (double)(in[0]->numel() / out.numel());
    return out;
  }

  case OpKind::ReduceMaxGrad: { // dy at the first maximum of each row, in row-major order
    const Tensor &dy = *in[0], &x = *in[1];
    auto ix = broadcastIndex(x.type.dims, keptDims(x.type.dims, n.attrs.getInts("axes")));
    const size_t none = SIZE_MAX;
    std::vector<size_t> arg((size_t)dy.numel(), none);
    for (size_t i = 0; i < ix.size(); ++i) {
      size_t &a = arg[(size_t)ix[i]];
      if (a == none || beats(x.data[i], x.data[a]))
        a = i;
    }
    for (size_t g = 0; g < arg.size(); ++g)
      y[arg[g]] = dy.data[g];
    return out;
  }

  case OpKind::Softmax:
  case OpKind::LogSoftmax:
    for (const std::vector<int64_t> &row : rowIndices(n)) {
      std::vector<double> x, r(row.size());
      for (int64_t at : row)
        x.push_back(in[0]->data[(size_t)at]);
      if (n.op == OpKind::Softmax) {
        softmaxRow(x.data(), r.data(), (int64_t)x.size());
      } else { // x - logsumexp(x)
        double lse = logSumExp(x.data(), (int64_t)x.size());
        for (size_t j = 0; j < x.size(); ++j)
          r[j] = x[j] - lse;
      }
      for (size_t j = 0; j < row.size(); ++j)
        y[(size_t)row[j]] = r[j];
    }
    return out;

  case OpKind::SoftmaxGrad: { // y * (dy - sum(dy * y)) per row
    const std::vector<double> &dy = in[0]->data, &sy = in[1]->data;
    for (const std::vector<int64_t> &row : rowIndices(n)) {
      double dot = 0;
      for (int64_t at : row)
        dot += dy[(size_t)at] * sy[(size_t)at];
      for (int64_t at : row)
        y[(size_t)at] = sy[(size_t)at] * (dy[(size_t)at] - dot);
    }
    return out;
  }

  case OpKind::SparseXent:
  case OpKind::SparseXentGrad: {
    bool isGrad = n.op == OpKind::SparseXentGrad;
    const Tensor &logits = *in[isGrad ? 1 : 0];
    const Tensor &labels = *in[isGrad ? 2 : 1];
    int64_t rows = logits.type.dims[0], cols = logits.type.dims[1];
    std::vector<double> p((size_t)cols);
    for (int64_t r = 0; r < rows; ++r) {
      const double *x = &logits.data[r * cols];
      int32_t label = checkedLabel(n, labels, r, cols);
      if (!isGrad) { // logsumexp(x) - x[label], stable
        y[r] = logSumExp(x, cols) - x[label];
        continue;
      }
      softmaxRow(x, p.data(), cols); // dy[r] * (softmax(x) - onehot(label))
      double dy = in[0]->data[r];
      for (int64_t j = 0; j < cols; ++j)
        y[r * cols + j] = dy * (p[j] - (j == label ? 1.0 : 0.0));
    }
    return out;
  }

  case OpKind::MatMul: {
    bool ta = n.attrs.getInt("transpose_a", 0), tb = n.attrs.getInt("transpose_b", 0);
    const Dims &ad = in[0]->type.dims, &bd = in[1]->type.dims;
    int64_t m = n.type.dims[0], nn = n.type.dims[1], k = ta ? ad[0] : ad[1];
    const double *a = in[0]->data.data(), *b = in[1]->data.data();
    // Element (i, p) of op(a) and (p, j) of op(b), for either layout.
    int64_t aRow = ta ? 1 : ad[1], aCol = ta ? ad[1] : 1;
    int64_t bRow = tb ? 1 : bd[1], bCol = tb ? bd[1] : 1;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < nn; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += a[i * aRow + p * aCol] * b[p * bRow + j * bCol];
        y[i * nn + j] = acc;
      }
    return out;
  }
  }
  internalError("interpret: unhandled op");
}

const Tensor &lookup(const TensorMap &map, const char *what, const Node &n) {
  const std::string &name = n.attrs.getString("name");
  auto it = map.find(name);
  if (it == map.end())
    internalError(fmt::format("interpret: missing {} '{}'", what, name));
  const Tensor &t = it->second;
  size_t have = t.data.size();
  if (t.type != n.type || have != (size_t)n.type.numel())
    internalError(fmt::format("interpret: {} '{}' is {} with {} elements, expected {}", what,
                              name, t.type.str(), have, n.type.str()));
  return t;
}

// splitmix64: a tiny generator with the same output on every platform (the
// standard library's distributions are implementation-defined).
struct TestRng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return (double)(next() >> 11) * 0x1.0p-53; } // [0, 1)
  double normal() { // Box-Muller
    double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
};

} // namespace

InterpResult interpret(const Function &f, const TensorMap &inputs,
                       const TensorMap &vars) {
  std::unordered_map<const Node *, Tensor> value;
  for (auto &np : f.nodes) {
    const Node &n = *np;
    if (n.op == OpKind::Input) {
      value[&n] = lookup(inputs, "input", n);
      continue;
    }
    if (n.op == OpKind::Var) {
      value[&n] = lookup(vars, "variable", n);
      continue;
    }
    std::vector<const Tensor *> in;
    for (const Node *o : n.operands) {
      auto it = value.find(o);
      DLC_ASSERT(it != value.end(), fmt::format("interpret: %{} uses %{} before it is defined",
                                                n.name, o->name));
      in.push_back(&it->second);
    }
    value[&n] = evalNode(n, in);
  }

  InterpResult r;
  auto collect = [&](const std::vector<std::pair<std::string, Node *>> &from,
                     TensorMap &to) {
    for (auto &[name, node] : from) {
      auto it = value.find(node);
      DLC_ASSERT(it != value.end(),
                 fmt::format("interpret: '{}' refers to a node outside {}", name, f.name));
      to[name] = it->second;
    }
  };
  collect(f.outputs, r.outputs);
  collect(f.updates, r.updates);
  collect(f.grads, r.grads);
  for (auto &np : f.nodes)
    r.values[np->name] = std::move(value[np.get()]);
  return r;
}

TensorMap initVarsForTest(const Module &m, uint64_t seed) {
  TensorMap vars;
  TestRng rng{seed};
  for (const VarDecl &v : m.vars) {
    Tensor t = Tensor::zeros(v.type);
    for (int64_t i = 0; i < t.numel(); ++i) {
      double x = 0;
      switch (v.init.kind) {
      case Init::Zeros: x = 0; break;
      case Init::Constant: x = v.init.a; break;
      case Init::Normal: x = v.init.a + v.init.b * rng.normal(); break;
      case Init::Uniform: x = v.init.a + (v.init.b - v.init.a) * rng.uniform(); break;
      }
      // Rounded as the compiled model would store it, so both see one value.
      t.data[(size_t)i] = v.type.dtype == DType::F32 ? (double)(float)x : (double)(int32_t)x;
    }
    vars[v.name] = std::move(t);
  }
  return vars;
}

} // namespace dlc
