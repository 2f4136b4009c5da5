// The primitive functions of the DSL, implemented in C++: the ops a prelude
// layer is made of (relu, softmax, matmul, reshape, sum, cross_entropy, ...),
// dimension queries, and the param initializers. Layers themselves live in
// prelude.dl, not here.
#include "frontend/Lower.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace dlc {

namespace {

using Args = std::vector<Value>;

// The parameter names of an op called by its name: x for one operand,
// a, b, c for more, unless an operand has a role worth naming.
std::vector<std::string> operandParams(const OpInfo &info) {
  if (info.kind == OpKind::Where)
    return {"cond", "a", "b"};
  if (info.kind == OpKind::Gather)
    return {"table", "ids"};
  int n = info.operands;
  if (n == 1)
    return {"x"};
  std::vector<std::string> p;
  for (int i = 0; i < n; ++i)
    p.push_back(std::string(1, char('a' + i)));
  return p;
}

// An op of ir/Ops.def flagged Builtin: its operands are its arguments.
Builtin opBuiltin(const OpInfo &info) {
  std::vector<std::string> params = operandParams(info);
  OpKind op = info.kind;
  return {info.name, params, params.size(),
          [op, params](Lowerer &L, const Expr &c, Args &a) {
            std::vector<Node *> operands;
            for (size_t i = 0; i < a.size(); ++i) {
              Node *x = L.asTensor(a[i], c.loc, fmt::format("{}: argument '{}'", c.name, params[i]));
              if (!x)
                return Value();
              operands.push_back(x);
            }
            return L.emit(op, operands, c.loc);
          }};
}

// A tensor argument that must really be a tensor (dims are queried).
Node *tensorArg(Lowerer &L, const Expr &c, const Value &v, const char *what) {
  if (v.kind == Value::Tensor)
    return v.node;
  L.error(c.loc, fmt::format("{}: argument '{}' must be a tensor, got {}", c.name, what,
                             v.describe()));
  return nullptr;
}

bool axisArg(Lowerer &L, const Expr &c, const Value &v, const TensorType &t,
             int64_t &axis) {
  if (!L.asInt(v, c.loc, fmt::format("{}: the axis", c.name), axis))
    return false;
  int64_t r = t.rank();
  if (axis < -r || axis >= r) {
    std::string valid = r ? fmt::format("valid: {} to {}", -r, r - 1) : "it has no axes";
    L.error(c.loc, fmt::format("{}: axis {} is out of range for {} ({})", c.name, axis, t.str(),
                               valid));
    return false;
  }
  if (axis < 0)
    axis += r;
  return true;
}

// A flag: true or false, which the DSL spells as the integers 1 and 0.
bool flagArg(Lowerer &L, const Expr &c, const Value &v, const char *what, bool &out) {
  if (v.kind == Value::Absent || (v.kind == Value::Int && (v.i == 0 || v.i == 1))) {
    out = v.kind == Value::Int && v.i == 1;
    return true;
  }
  if (v.ok() && what) // a null `what`: the caller reports it
    L.error(c.loc, fmt::format("{}: argument '{}' must be true or false (1 or 0), got {}", c.name,
                               what, v.describe()));
  return false;
}

// sum / mean / max: `axis` is one axis, a list of axes, or omitted for all of
// them; `keepdims` keeps the reduced axes as size 1, numpy's keepdims (a
// reshape of the result: the ops themselves always drop them).
Value reduce(Lowerer &L, const Expr &c, Args &a, OpKind op) {
  Node *x = tensorArg(L, c, a[0], "x");
  bool keepdims = false;
  if (!x || !flagArg(L, c, a[2], "keepdims", keepdims))
    return Value();
  std::vector<int64_t> axes;
  if (a[1].kind == Value::Absent) {
    for (int64_t i = 0; i < x->type.rank(); ++i)
      axes.push_back(i);
  } else {
    std::vector<Value> items = a[1].kind == Value::List ? a[1].list : Args{a[1]};
    for (const Value &v : items) {
      int64_t ax = 0;
      if (!axisArg(L, c, v, x->type, ax))
        return Value();
      if (std::find(axes.begin(), axes.end(), ax) != axes.end()) {
        L.error(c.loc, fmt::format("{}: axis {} is listed twice", c.name, ax));
        return Value();
      }
      axes.push_back(ax);
    }
    std::sort(axes.begin(), axes.end());
  }
  if (axes.empty())
    return Value::tensor(x);
  Attrs at;
  at.set("axes", axes);
  Value r = L.emit(op, {x}, c.loc, at, nullptr, c.name.c_str());
  if (!keepdims || !r.ok())
    return r;
  Dims kept = x->type.dims;
  for (int64_t ax : axes)
    kept[(size_t)ax] = 1;
  TensorType t = TensorType::f32(kept);
  return L.emit(OpKind::Reshape, {r.node}, c.loc, {}, &t);
}

// softmax / log_softmax over `axis`, the last when omitted. The attribute is
// written only for another axis, so that each softmax has one spelling.
Value rowWise(Lowerer &L, const Expr &c, Args &a, OpKind op) {
  Node *x = L.asTensor(a[0], c.loc, fmt::format("{}: argument 'x'", c.name));
  if (!x)
    return Value();
  Attrs at;
  int64_t axis = 0;
  if (a[1].kind != Value::Absent) {
    if (!axisArg(L, c, a[1], x->type, axis))
      return Value();
    if (axis != x->type.rank() - 1)
      at.set("axis", axis);
  }
  return L.emit(op, {x}, c.loc, at);
}

// transpose(x, perm): y's axis i is x's axis perm[i]; without perm, the axes
// reversed, as numpy.
Value transpose(Lowerer &L, const Expr &c, Args &a) {
  Node *x = tensorArg(L, c, a[0], "x");
  if (!x)
    return Value();
  int64_t r = x->type.rank();
  std::vector<int64_t> perm, written;
  if (a[1].kind == Value::Absent) {
    for (int64_t i = r; i-- > 0;)
      perm.push_back(i);
  } else if (a[1].kind == Value::List) {
    for (const Value &v : a[1].list) {
      int64_t ax = 0;
      if (!axisArg(L, c, v, x->type, ax))
        return Value();
      perm.push_back(ax);
      written.push_back(ax - (v.num() < 0 ? r : 0)); // as the user wrote it
    }
  } else {
    L.error(c.loc, fmt::format("transpose: argument 'perm' must be a list of axes such as "
                               "[1, 0], got {}",
                               a[1].describe()));
    return Value();
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool isPerm = (int64_t)perm.size() == r;
  for (int64_t i = 0; isPerm && i < r; ++i)
    isPerm = sorted[(size_t)i] == i;
  if (!isPerm) { // the shape rule would say so too, but with the axes made positive
    L.error(c.loc, fmt::format("transpose: perm {} is not a permutation of the axes of {}: it "
                               "must list each of 0 to {} once",
                               dimsStr(written), x->type.str(), r - 1));
    return Value();
  }
  Attrs at;
  at.set("perm", perm);
  return L.emit(OpKind::Transpose, {x}, c.loc, at);
}

Value reshape(Lowerer &L, const Expr &c, Args &a) {
  Node *x = tensorArg(L, c, a[0], "x");
  if (!x)
    return Value();
  if (a[1].kind != Value::List) {
    L.error(c.loc, fmt::format("reshape: the shape must be a list such as [batch, -1], got {}",
                               a[1].describe()));
    return Value();
  }
  Dims dims;
  int inferred = -1;
  int64_t known = 1;
  for (const Value &v : a[1].list) {
    int64_t d = 0;
    if (!L.asInt(v, c.loc, "reshape: a dimension", d))
      return Value();
    if (d == -1 && inferred < 0) {
      inferred = (int)dims.size();
    } else if (d <= 0) {
      L.error(c.loc, fmt::format("reshape: dimension {} {}", d,
                                 d == -1 ? "appears twice; only one can be inferred"
                                         : "is not positive"));
      return Value();
    } else if (__builtin_mul_overflow(known, d, &known)) {
      L.error(c.loc, "reshape: the shape is too large");
      return Value();
    }
    dims.push_back(d);
  }
  if (inferred >= 0) {
    int64_t total = x->type.numel();
    if (total % known != 0) {
      L.error(c.loc, fmt::format("reshape: cannot reshape {} to {}: {} elements are not "
                                 "divisible by {}",
                                 x->type.str(), dimsStr(dims), total, known));
      return Value();
    }
    dims[inferred] = total / known;
  }
  TensorType t(x->type.dtype, dims);
  return L.emit(OpKind::Reshape, {x}, c.loc, {}, &t);
}

// zeros([d, ...]), ones([d, ...]), full([d, ...], value): an f32 tensor of
// one value, usable anywhere a tensor is (an RNN's initial state). It is a
// const node: kernels read it as an immediate, nothing is filled at run time.
Value filled(Lowerer &L, const Expr &c, const Value &shape, const Value *value,
             double fixed) {
  if (shape.kind != Value::List) {
    L.error(c.loc, fmt::format("{}: the shape must be a list such as [batch, 4], got {}", c.name,
                               shape.describe()));
    return Value();
  }
  Dims dims;
  for (const Value &v : shape.list) {
    int64_t d = 0;
    if (!L.asInt(v, c.loc, fmt::format("{}: a dimension", c.name), d))
      return Value();
    if (d <= 0) {
      if (L.firstBlame(c))
        L.error(c.loc,
                fmt::format("{}: dimension {} is not positive{}", c.name, d, L.blameFlag(c)));
      return Value();
    }
    dims.push_back(d);
  }
  if (!withinSizeLimits(dims)) {
    L.error(c.loc, fmt::format("{}: the shape {} is too large (more than 2^40 elements)", c.name,
                               dimsStr(dims)));
    return Value();
  }
  double v = fixed;
  if (value) {
    if (!value->isNumber() || !std::isfinite(value->num())) {
      L.error(c.loc, fmt::format("{}: the value must be a finite number, got {}", c.name,
                                 value->describe()));
      return Value();
    }
    v = value->num();
  }
  Attrs at;
  at.set("value", v);
  TensorType t = TensorType::f32(dims);
  return L.emit(OpKind::Constant, {}, c.loc, at, &t);
}

// An integer or a list of two, as [a, b]: a conv2d kernel, a stride, a
// pool size (PyTorch's _pair, Keras's normalize_tuple).
bool pairArg(Lowerer &L, const Expr &c, const Value &v, const char *what,
             std::vector<int64_t> &out) {
  std::vector<Value> items = v.kind == Value::List ? v.list : Args{v, v};
  out.clear();
  if (items.size() == 2)
    for (const Value &item : items) {
      int64_t x = 0;
      if (item.kind != Value::Int && item.kind != Value::Float)
        break;
      if (!L.asInt(item, c.loc, fmt::format("{}: {}", c.name, what), x))
        return false;
      out.push_back(x);
    }
  if (out.size() == 2 && out[0] > 0 && out[1] > 0)
    return true;
  if (v.ok())
    L.error(c.loc, fmt::format("{}: {} must be a positive integer or a list of two, such as 3 "
                               "or [3, 3], got {}",
                               c.name, what, v.describe()));
  return false;
}

// patches(x, kernel, stride = 1, padding = "valid"): the windows conv2d
// multiplies by its filters (ir/Ops.def). "same" pads as Keras and
// TensorFlow do: the output is ceil(input / stride), the padding split with
// the odd element after.
Value patches(Lowerer &L, const Expr &c, Args &a) {
  Node *x = tensorArg(L, c, a[0], "x");
  std::vector<int64_t> kernel, stride{1, 1};
  if (!x || !pairArg(L, c, a[1], "the kernel", kernel) ||
      (a[2].kind != Value::Absent && !pairArg(L, c, a[2], "the stride", stride)))
    return Value();
  if (x->type.rank() != 4 || x->type.dtype != DType::F32) {
    L.error(c.loc, fmt::format("{}: expected an image f32[batch, height, width, channels] "
                               "(NHWC), got {}",
                               c.name, x->type.str()));
    return Value();
  }
  std::string padding = a[3].kind == Value::Absent ? "valid" : a[3].fn;
  if (a[3].kind != Value::Absent && (a[3].kind != Value::Str || (padding != "valid" && padding != "same"))) {
    L.error(c.loc, fmt::format("{}: padding must be \"valid\" or \"same\", got {}", c.name,
                               a[3].describe()));
    return Value();
  }
  Node *in = x;
  if (padding == "same") {
    std::vector<int64_t> low(4, 0), high(4, 0);
    bool any = false;
    for (int i = 0; i < 2; ++i) {
      int64_t size = x->type.dims[1 + i], out = (size + stride[i] - 1) / stride[i];
      int64_t total = std::max<int64_t>((out - 1) * stride[i] + kernel[i] - size, 0);
      low[1 + i] = total / 2;
      high[1 + i] = total - total / 2;
      any |= total != 0;
    }
    if (any) {
      Attrs at;
      at.set("low", low);
      at.set("high", high);
      Value p = L.emit(OpKind::Pad, {x}, c.loc, at);
      if (!p.ok())
        return p;
      in = p.node;
    }
  }
  Attrs at;
  at.set("kernel", kernel);
  at.set("stride", stride);
  return L.emit(OpKind::Patches, {in}, c.loc, at, nullptr, c.name.c_str());
}

// concat([a, b, ...], axis): the tensors one after another along axis.
Value concat(Lowerer &L, const Expr &c, Args &a) {
  if (a[0].kind != Value::List || a[0].list.empty()) {
    L.error(c.loc, fmt::format("concat: the first argument must be a list of tensors such as "
                               "[a, b], got {}",
                               a[0].describe()));
    return Value();
  }
  std::vector<Node *> parts;
  for (const Value &v : a[0].list) {
    if (v.kind != Value::Tensor) {
      L.error(c.loc, fmt::format("concat: every element of the list must be a tensor, got {}",
                                 v.describe()));
      return Value();
    }
    parts.push_back(v.node);
  }
  int64_t axis = 0;
  if (!axisArg(L, c, a[1], parts[0]->type, axis))
    return Value();
  Attrs at;
  at.set("axis", axis);
  return L.emit(OpKind::Concat, parts, c.loc, at);
}

// dropout(x, rate, seed = 0): see ir/Ops.def. Each call draws its own masks
// (its seed mixes the call's number in the model with `seed`).
Value dropout(Lowerer &L, const Expr &c, Args &a) {
  Node *x = L.asTensor(a[0], c.loc, "dropout: argument 'x'");
  if (!x)
    return Value();
  if (!a[1].isNumber() || !(a[1].num() >= 0 && a[1].num() < 1)) {
    if (a[1].ok())
      L.error(c.loc,
              fmt::format("dropout: rate must be a number in [0, 1), got {}", a[1].describe()));
    return Value();
  }
  int64_t seed = 0;
  if (a[2].kind != Value::Absent && !L.asInt(a[2], c.loc, "dropout: seed", seed))
    return Value();
  Attrs at;
  at.set("rate", a[1].num());
  at.set("seed", (int64_t)((uint64_t)seed * 1000003u + (uint64_t)L.nextDropoutSeed()));
  return L.emit(OpKind::Dropout, {x, L.dropoutStep(c.loc)}, c.loc, at);
}

Value crossEntropy(Lowerer &L, const Expr &c, Args &a) {
  Node *logits = tensorArg(L, c, a[0], "logits");
  Node *labels = logits ? tensorArg(L, c, a[1], "labels") : nullptr;
  if (!labels)
    return Value();
  L.warnIfNotLogits("cross_entropy", "logits", a[0], c.loc);
  // Sparse categorical: the per-row loss, then its mean over the batch.
  Value rows = L.emit(OpKind::SparseXent, {logits, labels}, c.loc, {}, nullptr,
                      "cross_entropy");
  if (!rows.ok())
    return rows;
  Attrs at;
  at.set("axes", std::vector<int64_t>{0});
  return L.emit(OpKind::ReduceMean, {rows.node}, c.loc, at);
}

Value dimQuery(Lowerer &L, const Expr &c, Args &a) {
  Node *x = tensorArg(L, c, a[0], "x");
  int64_t axis = 0;
  if (!x || !axisArg(L, c, a[1], x->type, axis))
    return Value();
  return Value::integer(x->type.dims[axis]);
}

const std::vector<Builtin> &builtins() {
  static const std::vector<Builtin> table = [] {
    std::vector<Builtin> t = {
      // The identity, for "no activation".
      {"none", {"x"}, 1, [](Lowerer &L, const Expr &c, Args &a) { return a[0]; }},
      {"matmul", {"a", "b"}, 2,
       [](Lowerer &L, const Expr &c, Args &a) {
         Node *x = tensorArg(L, c, a[0], "a");
         Node *y = x ? tensorArg(L, c, a[1], "b") : nullptr;
         return y ? L.emit(OpKind::MatMul, {x, y}, c.loc) : Value();
       }},
      {"reshape", {"x", "shape"}, 2, reshape},
      {"sum", {"x", "axis", "keepdims"}, 1, [](Lowerer &L, const Expr &c, Args &a) { return reduce(L, c, a, OpKind::ReduceSum); }},
      {"mean", {"x", "axis", "keepdims"}, 1, [](Lowerer &L, const Expr &c, Args &a) { return reduce(L, c, a, OpKind::ReduceMean); }},
      {"max", {"x", "axis", "keepdims"}, 1, [](Lowerer &L, const Expr &c, Args &a) { return reduce(L, c, a, OpKind::ReduceMax); }},
      {"softmax", {"x", "axis"}, 1, [](Lowerer &L, const Expr &c, Args &a) { return rowWise(L, c, a, OpKind::Softmax); }},
      {"log_softmax", {"x", "axis"}, 1, [](Lowerer &L, const Expr &c, Args &a) { return rowWise(L, c, a, OpKind::LogSoftmax); }},
      {"transpose", {"x", "perm"}, 1, transpose},
      {"patches", {"x", "kernel", "stride", "padding"}, 2, patches},
      {"concat", {"tensors", "axis"}, 2, concat},
      {"dropout", {"x", "rate", "seed"}, 2, dropout},
      {"pair", {"v"}, 1,
       [](Lowerer &L, const Expr &c, Args &a) {
         std::vector<int64_t> p;
         if (!pairArg(L, c, a[0], "the value", p))
           return Value();
         Value r;
         r.kind = Value::List;
         r.list = {Value::integer(p[0]), Value::integer(p[1])};
         return r;
       }},
      {"cross_entropy", {"logits", "labels"}, 2, crossEntropy},
      // A compile-time choice: `a` when the flag is true, else `b`, whatever
      // they are (functions, tensors, numbers). The DSL has no `if`; this is
      // how a prelude function switches on a flag such as from_logits.
      {"choose", {"flag", "a", "b"}, 3,
       [](Lowerer &L, const Expr &c, Args &a) {
         bool flag = false;
         if (flagArg(L, c, a[0], nullptr, flag))
           return flag ? a[1] : a[2];
         if (!a[0].ok())
           return Value();
         // Name the flag as the caller wrote it (from_logits), when a name.
         std::string what = "argument 'flag'";
         for (size_t k = 0; k < c.args.size(); ++k)
           if ((c.argNames[k].empty() ? k == 0 : c.argNames[k] == "flag") &&
               c.args[k]->kind == Expr::Ident)
             what = fmt::format("'{}'", c.args[k]->name);
         L.error(c.loc, fmt::format("choose: {} must be true or false (1 or 0), got {}", what,
                                    a[0].describe()));
         return Value();
       }},
      {"zeros", {"shape"}, 1,
       [](Lowerer &L, const Expr &c, Args &a) { return filled(L, c, a[0], nullptr, 0.0); }},
      {"ones", {"shape"}, 1,
       [](Lowerer &L, const Expr &c, Args &a) { return filled(L, c, a[0], nullptr, 1.0); }},
      {"full", {"shape", "value"}, 2,
       [](Lowerer &L, const Expr &c, Args &a) { return filled(L, c, a[0], &a[1], 0.0); }},
      {"dim", {"x", "axis"}, 2, dimQuery},
      {"rank", {"x"}, 1,
       [](Lowerer &L, const Expr &c, Args &a) {
         Node *x = tensorArg(L, c, a[0], "x");
         return x ? Value::integer(x->type.rank()) : Value();
       }},
    };
    for (const OpInfo &info : allOps())
      if (info.isBuiltin())
        t.push_back(opBuiltin(info));
    return t;
  }();
  return table;
}

// --- initializers --------------------------------------------------------------

struct InitRule {
  std::string name;
  std::vector<std::string> params;
  std::vector<double> defaults; // one per param; NaN marks a required one
};

const std::vector<InitRule> &initRules() {
  const double req = NAN;
  // Keras defaults: RandomNormal(0, 0.05), RandomUniform(-0.05, 0.05).
  static const std::vector<InitRule> rules = {
      {"zeros", {}, {}},
      {"ones", {}, {}},
      {"constant", {"value"}, {req}},
      {"normal", {"mean", "std"}, {0.0, 0.05}},
      {"uniform", {"lo", "hi"}, {-0.05, 0.05}},
      {"glorot_uniform", {}, {}},
      {"glorot_normal", {}, {}},
      {"he_normal", {}, {}},
      {"he_uniform", {}, {}},
  };
  return rules;
}

// Keras's fan computation: rank-2 weights are [fan_in, fan_out]; for conv
// kernels [h, w, in, out] the receptive field multiplies both.
void fans(const Dims &d, double &fanIn, double &fanOut) {
  if (d.empty()) {
    fanIn = fanOut = 1;
  } else if (d.size() == 1) {
    fanIn = fanOut = (double)d[0];
  } else {
    double receptive = 1;
    for (size_t k = 0; k + 2 < d.size(); ++k)
      receptive *= (double)d[k];
    fanIn = (double)d[d.size() - 2] * receptive;
    fanOut = (double)d[d.size() - 1] * receptive;
  }
}

} // namespace

const Builtin *findBuiltin(const std::string &name) {
  for (auto &b : builtins())
    if (b.name == name)
      return &b;
  return nullptr;
}

std::vector<std::string> builtinNames() {
  std::vector<std::string> names;
  for (auto &b : builtins())
    names.push_back(b.name);
  return names;
}

bool isInitializerName(const std::string &name) {
  for (auto &r : initRules())
    if (r.name == name)
      return true;
  return false;
}

bool isOptimizerName(const std::string &name) { return findOptimizer(name) != nullptr; }

bool Lowerer::evalInit(const Expr &e, const TensorType &t, Init &out) {
  const InitRule *rule = nullptr;
  for (auto &r : initRules())
    if ((e.kind == Expr::Call || e.kind == Expr::Ident) && r.name == e.name)
      rule = &r;
  if (!rule) {
    std::vector<std::string> names;
    for (auto &r : initRules())
      names.push_back(r.name);
    bool named = e.kind == Expr::Call || e.kind == Expr::Ident;
    std::string near = named ? closestName(e.name, names) : "";
    if (!near.empty())
      error(e.loc, fmt::format("unknown initializer '{}'; did you mean '{}'?", e.name, near));
    else
      error(e.loc, fmt::format("{} (expected one of {})",
                               named ? fmt::format("unknown initializer '{}'", e.name)
                                     : "expected an initializer",
                               fmt::join(names, ", ")));
    return false;
  }
  std::vector<double> v = rule->defaults;
  if (e.kind == Expr::Call) {
    size_t required = 0;
    for (size_t k = 0; k < v.size(); ++k)
      if (std::isnan(v[k]))
        required = k + 1;
    std::vector<const Expr *> slots;
    if (!bindArgs(e, rule->name, rule->params, required, "argument", slots))
      return false;
    for (size_t k = 0; k < slots.size(); ++k) {
      if (!slots[k])
        continue;
      Value x = eval(*slots[k]);
      if (!x.ok())
        return false;
      if (!x.isNumber() || !std::isfinite(x.num())) {
        error(slots[k]->loc, fmt::format("{}: '{}' must be a number, got {}", rule->name,
                                         rule->params[k], x.describe()));
        return false;
      }
      v[k] = x.num();
    }
  } else if (!v.empty() && std::isnan(v[0])) {
    error(e.loc, fmt::format("{}: missing argument '{}'", rule->name, rule->params[0]));
    return false;
  }
  double fanIn = 1, fanOut = 1;
  fans(t.dims, fanIn, fanOut);
  const std::string &n = rule->name;
  if (n == "zeros") {
    out = {Init::Zeros, 0, 0};
  } else if (n == "ones" || n == "constant") {
    out = {Init::Constant, n == "ones" ? 1.0 : v[0], 0};
  } else if (n == "normal") {
    if (v[1] < 0) {
      // {:f}: six decimals, as this message has always printed them.
      error(e.loc, fmt::format("normal: 'std' must not be negative, got {:f}", v[1]));
      return false;
    }
    out = {Init::Normal, v[0], v[1]};
  } else if (n == "uniform") {
    if (!(v[0] < v[1])) {
      error(e.loc, "uniform: 'lo' must be less than 'hi'");
      return false;
    }
    out = {Init::Uniform, v[0], v[1]};
  } else if (n == "glorot_uniform" || n == "he_uniform") {
    double limit = n == "glorot_uniform" ? std::sqrt(6.0 / (fanIn + fanOut))
                                         : std::sqrt(6.0 / fanIn);
    out = {Init::Uniform, -limit, limit};
  } else { // glorot_normal, he_normal: plain (not truncated) normals
    double std = n == "glorot_normal" ? std::sqrt(2.0 / (fanIn + fanOut))
                                      : std::sqrt(2.0 / fanIn);
    out = {Init::Normal, 0.0, std};
  }
  return true;
}

} // namespace dlc
