// Semantic checks and lowering of a parsed model to a dlc::Module (Lower.h).
#include "frontend/Lower.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <set>

namespace dlc {

namespace {

// Most iterations one for loop unrolls.
constexpr int64_t kMaxUnroll = 10000;
// Deepest chain of DSL function calls; deeper means unbounded recursion.
constexpr int kMaxCallDepth = 64;
// Work budgets: a program of a few lines can still ask for exponentially
// many calls (`fn f(x) { return g(x) + g(x) }`, nested); stop, don't hang.
constexpr int kMaxCalls = 100000;

std::string numStr(double v) { return fmt::format("{:.9g}", v); }

const char *bindingKindName(int k) {
  static const char *names[] = {"a model constant", "an input", "a param", "a name",
                                "an argument",      "an output", "a name"};
  return names[k];
}

} // namespace

std::string Value::describe() const {
  switch (kind) {
  case Error: return "an invalid value";
  case Absent: return "nothing";
  case Tensor: return fmt::format("tensor {}", node->type.str());
  case Int: return fmt::format("integer {}", i);
  case Float: return fmt::format("number {}", numStr(f));
  case Fn: return fmt::format("function '{}'", fn);
  case List: return fmt::format("a list of {}", list.size());
  case Str: return fmt::format("string \"{}\"", fn);
  case Instance: return fmt::format("instance '{}'", fn);
  }
  return "?";
}

Lowerer::Lowerer(DiagEngine &diags, std::shared_ptr<const std::string> preludeFile,
                 const FrontendOptions &opts)
    : diags_(diags), preludeFile_(std::move(preludeFile)), opts_(opts) {}

// --- diagnostics -------------------------------------------------------------

void Lowerer::error(const SourceLoc &loc, const std::string &message,
                    std::vector<DiagNote> notes) {
  report(false, loc, message, std::move(notes));
}

void Lowerer::warning(const SourceLoc &loc, const std::string &message,
                      std::vector<DiagNote> notes) {
  report(true, loc, message, std::move(notes));
}

void Lowerer::report(bool warn, const SourceLoc &loc, const std::string &message,
                     std::vector<DiagNote> notes) {
  SourceLoc primary = loc;
  const Frame *f = cur_;
  // The prelude is the compiler's code: point at the user's call that led
  // into it, and show the prelude line as a note.
  while (f && f->fn && isPrelude(primary)) {
    notes.push_back({primary, fmt::format("inside '{}' (instance {}), defined in the prelude",
                                          f->fn->name, f->prefix)});
    primary = f->callLoc;
    f = f->parent;
  }
  // A recursive chain repeats one call site; say so once, with a count.
  for (; f && f->fn; f = f->parent) {
    int repeats = 1;
    while (f->parent && f->parent->fn == f->fn && f->parent->callLoc.str() == f->callLoc.str()) {
      f = f->parent;
      ++repeats;
    }
    notes.push_back({f->callLoc, fmt::format("in call to '{}' here{}", f->fn->name,
                                             repeats > 1 ? fmt::format(" ({} times)", repeats)
                                                         : std::string())});
  }
  // One mistake in a layer can fail several of its statements the same way
  // (both params of a dense with a bad `units`), or every iteration of a
  // loop: report it once, at the first iteration it happens in.
  if (!reported_.insert(fmt::format("{}\n{}", primary.str(), message)).second)
    return;
  for (auto it = loops_.rbegin(); it != loops_.rend(); ++it)
    notes.push_back({it->loc, fmt::format("in the iteration of this loop where {} = {}",
                                          it->var, it->value)});
  if (warn)
    diags_.warning(primary, message, notes);
  else
    diags_.error(primary, message, notes);
}

void Lowerer::warnIfNotLogits(const std::string &fname, const std::string &param,
                              const Value &v, const SourceLoc &callLoc) {
  if (v.kind != Value::Tensor)
    return;
  const Node *n = v.node;
  bool sig = n->op == OpKind::Sigmoid;
  if (n->op != OpKind::Softmax && !(sig && fname == "binary_cross_entropy"))
    return;
  const char *act = sig ? "sigmoid" : "softmax";
  std::string fix = fname == "cross_entropy"
                        ? " (cross_entropy applies log_softmax itself)"
                        : ", or call it with from_logits = false";
  std::vector<DiagNote> notes;
  if (n->loc.known() && !isPrelude(n->loc))
    notes.push_back({n->loc, fmt::format("the {} is applied here", act)});
  warning(callLoc,
          fmt::format("{fname} expects logits, but '{param}' is already the output of a {act}: "
                      "pass the value before the {act}{fix}",
                      fmt::arg("fname", fname), fmt::arg("param", param), fmt::arg("act", act),
                      fmt::arg("fix", fix)),
          notes);
}

std::vector<std::string> Lowerer::functionNames() const {
  std::vector<std::string> names = builtinNames();
  for (auto &[n, f] : fns_)
    names.push_back(n);
  for (auto &[n, b] : cur_->env)
    if (b.value.kind == Value::Fn)
      names.push_back(n);
  return names;
}

void Lowerer::reportUnknown(const std::string &name, const SourceLoc &loc,
                            bool asCall) {
  // Once per name: a misspelt binding is one mistake, however often it is used.
  if (!unknownReported_.insert((asCall ? "call " : "name ") + name).second)
    return;
  if (asCall && isInitializerName(name))
    return error(loc, fmt::format("'{}' is an initializer; it can only follow '=' in a param "
                                  "declaration",
                                  name));
  if (isOptimizerName(name))
    return error(loc,
                 fmt::format("'{}' is an optimizer; it can only appear in a train statement", name));
  size_t dot = name.find('.');
  if (dot != std::string::npos) {
    std::string head = name.substr(0, dot), tail = name.substr(name.rfind('.') + 1);
    bool local = cur_->env.count(head) != 0;
    if (asCall) {
      // x.sum(), np.tanh(x), F.relu(x): methods and modules of other languages.
      std::string msg =
          fmt::format("'{}(...)' is not supported: the DSL has no methods or modules", name);
      if (findFn(tail) || findBuiltin(tail))
        msg += local ? fmt::format("; write {}({}, ...)", tail, head)
                     : fmt::format("; write {}(...)", tail);
      else
        msg += "; functions take the value as an argument, as in relu(x)";
      return error(loc, msg);
    }
    if (local) {
      // x.shape, x.T
      std::string fix =
          tail == "T"       ? fmt::format("write transpose({})", head)
          : tail == "shape" ? fmt::format("dim({0}, axis) is one dimension, rank({0}) their number",
                                          head)
                            : "functions take the value as an argument";
      return error(loc, fmt::format("'{}': values have no attributes; {}", name, fix));
    }
    // A dotted name is a param's full name: made by a call, later in the
    // source, or spelled differently. After an error, the call that would
    // have made it may be the one that failed: one mistake, one message.
    if (diags_.hasErrors())
      return;
    std::vector<std::string> params;
    for (auto &[n, node] : varNodes_)
      params.push_back(n);
    std::string near = closestName(name, params);
    return error(loc, fmt::format("no param '{}' has been made at this point{}", name,
                                  near.empty()
                                      ? " (a param is a value after the call that makes it)"
                                      : fmt::format("; did you mean '{}'?", near)));
  }
  // Suggestions of the same kind: functions for a call; for a value, the
  // names in scope and the functions (a function is a value too).
  std::vector<std::string> cands = functionNames();
  if (!asCall) {
    for (auto &[n, b] : cur_->env)
      cands.push_back(n);
    cands.push_back("true");
    cands.push_back("false");
  }
  std::string msg = fmt::format("unknown {} '{}'", asCall ? "function" : "name", name);
  std::string near = closestName(name, cands);
  if (!near.empty())
    msg += fmt::format("; did you mean '{}'?", near);
  error(loc, msg);
}

// --- values ------------------------------------------------------------------

std::string Lowerer::nodeName(const std::string &base) const {
  return cur_->prefix.empty() ? base : cur_->prefix + "." + base;
}

Value Lowerer::emit(OpKind op, std::vector<Node *> operands, const SourceLoc &loc,
                    Attrs attrs, const TensorType *type, const char *userName) {
  builder_.setLoc(loc);
  std::string err;
  // Final names are given per entry function (extractFunction), so that
  // each numbers its own temporaries; until then a node is only "$".
  if (graph_.nodes.size() >= opts_.maxNodes) {
    error(loc, fmt::format("the model is too large: it makes more than {} operations, beyond "
                           "what dlc compiles in reasonable time and memory",
                           opts_.maxNodes));
    throw CompileError("node budget exhausted");
  }
  Node *n = builder_.tryCreate(op, std::move(operands), std::move(attrs), "$", type, err);
  if (n) {
    names_[n] = {nodeName(op == OpKind::Constant ? "c" : "t"), false};
    return Value::tensor(n);
  }
  std::string irName = fmt::format("{}:", opName(op));
  if (userName && err.compare(0, irName.size(), irName) == 0)
    err = fmt::format("{}:{}", userName, err.substr(irName.size()));
  error(loc, err);
  return Value();
}

Node *Lowerer::asTensor(const Value &v, const SourceLoc &loc, const std::string &what) {
  if (v.kind == Value::Tensor)
    return v.node;
  if (v.isNumber()) {
    Attrs a;
    a.set("value", v.num());
    TensorType scalar = TensorType::f32({});
    return emit(OpKind::Constant, {}, loc, a, &scalar).node;
  }
  if (v.ok())
    error(loc, fmt::format("{} must be a tensor, got {}", what, v.describe()));
  return nullptr;
}

bool Lowerer::asInt(const Value &v, const SourceLoc &loc, const std::string &what,
                    int64_t &out) {
  if (v.kind == Value::Int) {
    out = v.i;
    return true;
  }
  if (v.kind == Value::Float && std::isfinite(v.f) && v.f == std::floor(v.f) &&
      std::fabs(v.f) < 9e15) {
    out = (int64_t)v.f;
    return true;
  }
  if (v.ok())
    error(loc, fmt::format("{} must be a compile-time integer, got {}", what, v.describe()));
  return false;
}

Value Lowerer::eval(const Expr &e) {
  switch (e.kind) {
  case Expr::Int:
    return Value::integer(e.intValue);
  case Expr::Float:
    return Value::number(e.floatValue);
  case Expr::String:
    return Value::string(e.name);
  case Expr::Ident: {
    auto it = cur_->env.find(e.name);
    if (it != cur_->env.end())
      return it->second.value;
    if (e.name == "true" || e.name == "false") // flags, as the integers 1 and 0
      return Value::integer(e.name == "true");
    Value v = lookupParamOrInstance(e.name);
    if (v.ok())
      return v;
    if (findFn(e.name) || findBuiltin(e.name))
      return Value::function(e.name);
    // A model whose header did not parse may have declared the name there.
    bool headerName = !cur_->fn && headerBroken_;
    if (!isPoisoned(e.name) && !headerName)
      reportUnknown(e.name, e.loc, false);
    return Value();
  }
  case Expr::Index:
    return evalIndex(e);
  case Expr::Range:
    error(e.loc, "a range 'lo:hi' can only be an index, as in x[:, 0:14]");
    return Value();
  case Expr::Neg: {
    Value v = eval(*e.args[0]);
    int64_t negated = 0;
    if (v.kind == Value::Int && !__builtin_sub_overflow(int64_t(0), v.i, &negated))
      return Value::integer(negated);
    if (v.kind == Value::Int)
      return Value::number(-(double)v.i);
    if (v.kind == Value::Float)
      return Value::number(-v.f);
    if (v.kind == Value::Tensor)
      return emit(OpKind::Neg, {v.node}, e.loc);
    if (v.ok())
      error(e.loc, fmt::format("cannot negate {}", v.describe()));
    return Value();
  }
  case Expr::Binary:
    return evalBinary(e);
  case Expr::List: {
    Value l;
    l.kind = Value::List;
    bool ok = true;
    for (auto &a : e.args) {
      l.list.push_back(eval(*a));
      ok &= l.list.back().ok();
    }
    return ok ? l : Value();
  }
  case Expr::Call:
    return evalCall(e);
  }
  internalError("eval: unknown expression kind");
}

bool Lowerer::isPoisoned(const std::string &name) const {
  // The name or a dotted prefix of it (D.dense_1 of D.dense_1.w), relative
  // to the current instance first.
  for (const std::string &full : {nodeName(name), name}) {
    size_t end = 0;
    do {
      end = full.find('.', end + 1);
      if (poisonedNames_.count(full.substr(0, end)))
        return true;
    } while (end != std::string::npos);
  }
  return false;
}

// The first model constant that `e` reads and a -D flag sets, or "": read
// directly, or through the arguments of the calls that led here (a flag's
// value passed to `dense` as its width).
std::string Lowerer::overriddenConstantIn(const Expr &e, const Frame &frame) const {
  if (e.kind == Expr::Ident) {
    auto it = frame.env.find(e.name); // names are looked up in this frame only
    if (it != frame.env.end()) {
      const Binding &b = it->second;
      if (b.kind == Binding::Const && opts_.constants.count(e.name))
        return e.name;
      if (b.kind == Binding::Arg && b.source && frame.parent)
        return overriddenConstantIn(*b.source, *frame.parent);
    }
  }
  for (auto &a : e.args)
    if (a) {
      std::string f = overriddenConstantIn(*a, frame);
      if (!f.empty())
        return f;
    }
  return "";
}

bool Lowerer::firstBlame(const Expr &e) {
  std::string flag = overriddenConstantIn(e, *cur_);
  return flag.empty() || blamedFlags_.insert(flag).second;
}

std::string Lowerer::blameFlag(const Expr &e) const {
  std::string flag = overriddenConstantIn(e, *cur_);
  if (flag.empty())
    return "";
  return fmt::format(": -D{0}={1} on the command line sets '{0}'", flag,
                     opts_.constants.at(flag));
}

// A param by its full name (dense_1.w, D.dense_1.b), or an instance by its
// prefix (D, dense_1), relative to the current instance first. Error (not
// reported) when there is neither.
Value Lowerer::lookupParamOrInstance(const std::string &name) {
  for (const std::string &full : {nodeName(name), name}) {
    auto it = varNodes_.find(full);
    if (it != varNodes_.end())
      return Value::tensor(it->second);
    auto after = varNodes_.upper_bound(full + ".");
    if (after != varNodes_.end() && after->first.compare(0, full.size() + 1, full + ".") == 0)
      return Value::instance(full);
  }
  return Value();
}

// s[i] of a list; x[i, lo:hi, ...] of a tensor, as numpy's basic indexing
// with step 1: an integer picks one position and drops the axis, a range
// keeps it, omitted trailing axes are whole. Negative positions count from
// the end. Out-of-range indices are errors, not clamped: a slice that
// silently came out shorter would only fail later, far away.
Value Lowerer::evalIndex(const Expr &e) {
  Value base = eval(*e.args[0]);
  if (!base.ok())
    return base;
  size_t items = e.args.size() - 1;
  auto position = [&](const Expr &x, int64_t size, bool end, const std::string &what,
                      int64_t &out) {
    Value v = eval(x);
    if (!asInt(v, x.loc, what, out))
      return false;
    int64_t p = out < 0 ? out + size : out;
    if (p < 0 || p > size || (!end && p == size)) {
      error(x.loc, fmt::format("{} {} is out of range for a size of {} (valid: {} to {})", what,
                               out, size, -size, end ? size : size - 1));
      return false;
    }
    out = p;
    return true;
  };
  if (base.kind == Value::List) {
    const Expr &ix = *e.args[1];
    int64_t k = 0;
    if (items != 1 || ix.kind == Expr::Range) {
      error(e.loc, "a list takes one integer index, as in s[0]");
      return Value();
    }
    if (!position(ix, (int64_t)base.list.size(), false, "list index", k))
      return Value();
    return base.list[(size_t)k];
  }
  if (base.kind != Value::Tensor) {
    error(e.loc, fmt::format("cannot index {}; only lists and tensors have elements",
                             base.describe()));
    return Value();
  }
  Node *x = base.node;
  const Dims &dims = x->type.dims;
  if ((int64_t)items > x->type.rank()) {
    error(e.loc, fmt::format("{} indices for {}, which has {} {}", items, x->type.str(),
                             x->type.rank(), x->type.rank() == 1 ? "axis" : "axes"));
    return Value();
  }
  std::vector<int64_t> begin, end;
  Dims kept;
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t lo = 0, hi = dims[i];
    if (i < items) {
      const Expr &ix = *e.args[i + 1];
      std::string axis = fmt::format("axis {}: ", i);
      if (ix.kind != Expr::Range) {
        if (!position(ix, dims[i], false, fmt::format("{}index", axis), lo))
          return Value();
        hi = lo + 1;
      } else {
        size_t a = 0;
        if (ix.hasLo && !position(*ix.args[a++], dims[i], true, fmt::format("{}start", axis), lo))
          return Value();
        if (ix.hasHi && !position(*ix.args[a], dims[i], true, fmt::format("{}end", axis), hi))
          return Value();
        if (lo >= hi) {
          error(ix.loc, fmt::format("{}the range {}:{} is empty", axis, lo, hi));
          return Value();
        }
      }
      if (ix.kind == Expr::Range)
        kept.push_back(hi - lo);
    } else {
      kept.push_back(hi);
    }
    begin.push_back(lo);
    end.push_back(hi);
  }
  Value r = base;
  if (TensorType(x->type.dtype, kept).numel() != x->type.numel() || kept.size() != dims.size()) {
    Attrs at;
    at.set("begin", begin);
    at.set("end", end);
    if (begin != std::vector<int64_t>(dims.size(), 0) || end != std::vector<int64_t>(dims))
      r = emit(OpKind::Slice, {x}, e.loc, at);
    if (r.ok() && kept.size() != dims.size()) {
      TensorType t(x->type.dtype, kept);
      r = emit(OpKind::Reshape, {r.node}, e.loc, {}, &t);
    }
  }
  return r;
}

namespace {

// base ** exp for exp >= 0 by squaring; false on overflow.
bool intPower(int64_t base, int64_t exp, int64_t &r) {
  r = 1;
  while (exp) {
    if ((exp & 1) && __builtin_mul_overflow(r, base, &r))
      return false;
    // Squared only while bits remain: an unneeded square may overflow.
    if ((exp >>= 1) && __builtin_mul_overflow(base, base, &base))
      return false;
  }
  return true;
}

} // namespace

Value Lowerer::evalBinary(const Expr &e) {
  // Both operands are evaluated before either is given up on: a mistake
  // in one is no reason not to report one in the other.
  Value a = eval(*e.args[0]);
  Value b = eval(*e.args[1]);
  if (!a.ok() || !b.ok())
    return Value();
  const std::string &op = e.op;
  if (op == "//") {
    // Floor division, as Python's: for dims (h // 2), never on tensors.
    if (!a.isNumber() || !b.isNumber()) {
      error(e.loc, fmt::format("operator '//' divides compile-time numbers (dims such as "
                               "h // 2), got {} and {}",
                               a.describe(), b.describe()));
      return Value();
    }
    if (b.num() == 0) {
      error(e.loc, "division by zero");
      return Value();
    }
    if (a.kind == Value::Int && b.kind == Value::Int) {
      if (a.i == INT64_MIN && b.i == -1) {
        error(e.loc, "integer overflow in '//'");
        return Value();
      }
      int64_t q = a.i / b.i;
      if ((a.i % b.i != 0) && ((a.i < 0) != (b.i < 0)))
        --q;
      return Value::integer(q);
    }
    return Value::number(std::floor(a.num() / b.num()));
  }
  if (a.isNumber() && b.isNumber() && op != "@") {
    // Compile-time arithmetic (dims, hyper-parameters). Integers stay
    // integers while exact, so `batch / 2` or `2 ** depth` can still be a
    // dimension; as in Python, an integer to a negative power is a number.
    if (a.kind == Value::Int && b.kind == Value::Int && !(op == "**" && b.i < 0)) {
      int64_t r = 0;
      bool overflow = false;
      if (op == "+")
        overflow = __builtin_add_overflow(a.i, b.i, &r);
      else if (op == "-")
        overflow = __builtin_sub_overflow(a.i, b.i, &r);
      else if (op == "*")
        overflow = __builtin_mul_overflow(a.i, b.i, &r);
      else if (op == "**")
        overflow = !intPower(a.i, b.i, r);
      else { // "/"
        if (b.i == 0) {
          error(e.loc, "division by zero");
          return Value();
        }
        if (b.i != -1 && a.i % b.i == 0)
          return Value::integer(a.i / b.i);
        return Value::number((double)a.i / (double)b.i);
      }
      if (overflow) {
        error(e.loc, fmt::format("integer overflow in '{}'", op));
        return Value();
      }
      return Value::integer(r);
    }
    double x = a.num(), y = b.num();
    if (op == "+")
      return Value::number(x + y);
    if (op == "-")
      return Value::number(x - y);
    if (op == "*")
      return Value::number(x * y);
    if (op == "**") {
      // 0 ** -1, (-8) ** 0.5 and overflow have no finite real value.
      double r = std::pow(x, y);
      if (!std::isfinite(r)) {
        auto str = [](double v) { return v < 0 ? fmt::format("({})", numStr(v)) : numStr(v); };
        error(e.loc, fmt::format("{} ** {} is not a finite real number", str(x), str(y)));
        return Value();
      }
      return Value::number(r);
    }
    if (y == 0) {
      error(e.loc, "division by zero");
      return Value();
    }
    return Value::number(x / y);
  }
  bool tensors = (a.kind == Value::Tensor || a.isNumber()) &&
                 (b.kind == Value::Tensor || b.isNumber());
  if (!tensors) {
    error(e.loc, fmt::format("operator '{}' cannot be applied to {} and {}", op, a.describe(),
                             b.describe()));
    return Value();
  }
  if (op == "@" && (a.kind != Value::Tensor || b.kind != Value::Tensor)) {
    error(e.loc, fmt::format("operator '@' needs two tensors, got {} and {}", a.describe(),
                             b.describe()));
    return Value();
  }
  Node *x = asTensor(a, e.args[0]->loc, "operand");
  Node *y = asTensor(b, e.args[1]->loc, "operand");
  if (!x || !y)
    return Value();
  OpKind kind = op == "+"    ? OpKind::Add
                : op == "-"  ? OpKind::Sub
                : op == "*"  ? OpKind::Mul
                : op == "/"  ? OpKind::Div
                : op == "**" ? OpKind::Pow
                             : OpKind::MatMul;
  return emit(kind, {x, y}, e.loc);
}

// --- calls -------------------------------------------------------------------

const FnDecl *Lowerer::findFn(const std::string &name) const {
  auto it = fns_.find(name);
  return it == fns_.end() ? nullptr : it->second;
}

bool Lowerer::bindArgs(const Expr &call, const std::string &fname,
                       const std::vector<std::string> &params, size_t required,
                       const char *what, std::vector<const Expr *> &slots,
                       const Expr **instanceName) {
  slots.assign(params.size(), nullptr);
  size_t positional = 0;
  for (size_t k = 0; k < call.args.size(); ++k) {
    const std::string &kw = call.argNames[k];
    if (instanceName && kw == "name" &&
        std::find(params.begin(), params.end(), kw) == params.end()) {
      *instanceName = call.args[k].get();
      continue;
    }
    if (kw.empty()) {
      if (positional >= params.size()) {
        std::string range = required == params.size()
                                ? fmt::to_string(required)
                                : fmt::format("{} to {}", required, params.size());
        error(call.args[k]->loc,
              fmt::format("{}: expected {} {}, got {}", fname, range,
                          params.size() == 1 ? "argument" : "arguments", call.args.size()));
        return false;
      }
      slots[positional++] = call.args[k].get();
      continue;
    }
    auto it = std::find(params.begin(), params.end(), kw);
    if (it == params.end()) {
      std::string msg = fmt::format("{}: unknown {} '{}'", fname, what, kw);
      std::string near = closestName(kw, params);
      if (!near.empty())
        msg += fmt::format("; did you mean '{}'?", near);
      else if (!params.empty())
        msg += fmt::format(" (expected {})", fmt::join(params, ", "));
      error(call.argNameLocs[k], msg);
      return false;
    }
    size_t idx = it - params.begin();
    if (slots[idx]) {
      error(call.argNameLocs[k], fmt::format("{}: argument '{}' given twice", fname, kw));
      return false;
    }
    slots[idx] = call.args[k].get();
  }
  for (size_t p = 0; p < required; ++p)
    if (!slots[p]) {
      error(call.loc, fmt::format("{}: missing argument '{}'", fname, params[p]));
      return false;
    }
  return true;
}

bool Lowerer::evalArgs(const Expr &call, const std::string &fname,
                       const std::vector<std::string> &params, size_t required,
                       std::vector<Value> &args, const Expr **instanceName,
                       std::vector<const Expr *> *argExprs) {
  std::vector<const Expr *> slots;
  if (!bindArgs(call, fname, params, required, "keyword argument", slots, instanceName))
    return false;
  if (argExprs)
    *argExprs = slots;
  bool ok = true; // every argument is checked, whichever are invalid
  for (const Expr *slot : slots) {
    args.push_back(slot ? eval(*slot) : Value::absent());
    ok &= args.back().ok();
  }
  return ok;
}

Value Lowerer::evalCall(const Expr &e) {
  // A local name holding a function (an `activation` argument) wins over a
  // global function of the same name, as in Python.
  std::string callee = e.name;
  auto it = cur_->env.find(e.name);
  if (it != cur_->env.end()) {
    const Value &v = it->second.value;
    if (!v.ok())
      return Value();
    if (v.kind != Value::Fn) {
      error(e.loc, fmt::format("'{}' is {}, not a function", e.name, v.describe()));
      return Value();
    }
    callee = v.fn;
  }
  if (const FnDecl *f = findFn(callee))
    return callUser(*f, e);
  const Builtin *b = findBuiltin(callee);
  if (!b) {
    reportUnknown(callee, e.loc, true);
    return Value();
  }
  std::vector<Value> args;
  if (!evalArgs(e, callee, b->params, b->required, args))
    return Value();
  return b->apply(*this, e, args);
}

Value Lowerer::callUser(const FnDecl &f, const Expr &call) {
  if (f.broken) {
    // Its header did not parse (reported): the arguments are still checked.
    for (auto &a : call.args)
      eval(*a);
    return Value();
  }
  std::vector<std::string> names;
  size_t required = 0;
  for (auto &p : f.params) {
    names.push_back(p.name);
    if (!p.dflt)
      required = names.size();
  }
  std::vector<Value> args;
  std::vector<const Expr *> argExprs;
  const Expr *nameArg = nullptr;
  if (!evalArgs(call, f.name, names, required, args, &nameArg, &argExprs)) {
    // The instance is not made: its params' names must not be reported as
    // missing later (dense_1.w in a penalty).
    poisonedNames_.insert(nameArg && nameArg->kind == Expr::String
                              ? nodeName(nameArg->name)
                              : nodeName(f.name + "_" + std::to_string(++cur_->instances[f.name])));
    return Value();
  }
  // name = "D" names the instance; naming one that exists shares its params.
  std::string instance;
  bool sharing = cur_->sharing;
  if (nameArg) {
    Value v = eval(*nameArg);
    if (!v.ok())
      return Value();
    // A name of the DSL's own: it becomes the prefix of parameter names
    // (D.w), which the IR and the checkpoints spell as identifiers.
    auto identifier = [](const std::string &s) {
      return !s.empty() && (std::isalpha((unsigned char)s[0]) || s[0] == '_') &&
             std::all_of(s.begin(), s.end(), [](char c) {
               return std::isalnum((unsigned char)c) || c == '_';
             });
    };
    if (v.kind != Value::Str || !identifier(v.fn)) {
      error(nameArg->loc, fmt::format("{}: the instance name must be a string such as \"D\" "
                                      "(letters, digits and _, not starting with a digit), "
                                      "got {}",
                                      f.name, v.describe()));
      return Value();
    }
    instance = nodeName(v.fn);
    auto [it, fresh] = named_.insert({instance, NamedInstance{&f, call.loc}});
    if (!fresh && it->second.fn != &f) {
      error(nameArg->loc,
            fmt::format("instance '{}' is a '{}', so this '{}' cannot share it", instance,
                        it->second.fn->name, f.name),
            {{it->second.loc, fmt::format("'{}' is made here", instance)}});
      return Value();
    }
    sharing |= !fresh;
  }
  if (callDepth_ >= kMaxCallDepth) {
    error(call.loc, fmt::format("calls nested more than {} deep; is '{}' recursive?",
                                kMaxCallDepth, f.name));
    throw CompileError("call depth exhausted");
  }
  if (++calls_ > kMaxCalls) {
    error(call.loc, fmt::format("more than {} function calls; the model is too large to unroll",
                                kMaxCalls));
    throw CompileError("call budget exhausted");
  }
  // The prelude's losses that take logits when from_logits = true.
  if (isPrelude(f.loc) &&
      (f.name == "binary_cross_entropy" || f.name == "categorical_cross_entropy")) {
    for (size_t k = 0; k < f.params.size(); ++k)
      if (f.params[k].name == "from_logits" && args[k].kind == Value::Int && args[k].i == 1)
        warnIfNotLogits(f.name, f.params[0].name, args[0], call.loc);
  }
  Frame frame;
  frame.parent = cur_;
  frame.fn = &f;
  frame.callLoc = call.loc;
  frame.sharing = sharing;
  // Keras naming: the n-th unnamed call of `dense` in a scope is instance
  // dense_n.
  frame.prefix = instance.empty()
                     ? nodeName(f.name + "_" + std::to_string(++cur_->instances[f.name]))
                     : instance;
  cur_ = &frame;
  ++callDepth_;
  for (size_t k = 0; k < f.params.size(); ++k) {
    // Defaults are evaluated in the callee, so they may use earlier arguments.
    Value v = args[k].kind != Value::Absent ? args[k] : eval(*f.params[k].dflt);
    frame.env[f.params[k].name] =
        Binding{v, Binding::Arg, f.params[k].loc, k < argExprs.size() ? argExprs[k] : nullptr};
  }
  for (const Stmt &s : f.body) {
    if (frame.returned && s.kind != Stmt::Error) {
      error(s.loc, fmt::format("statement after 'return' in function '{}'", f.name));
      break;
    }
    lowerStmt(s);
  }
  if (!frame.returned && !frame.broken)
    error(f.loc, fmt::format("function '{}' ends without 'return'", f.name));
  --callDepth_;
  cur_ = frame.parent;
  return frame.result;
}

// --- statements --------------------------------------------------------------

void Lowerer::bind(const std::string &name, Binding::Kind kind, const Value &v,
                   const SourceLoc &loc) {
  auto it = cur_->env.find(name);
  if (it != cur_->env.end()) {
    Binding::Kind old = it->second.kind;
    bool rebindable = (kind == Binding::Let &&
                       (old == Binding::Let || old == Binding::Arg)) ||
                      kind == Binding::Poison || old == Binding::Poison;
    if (!rebindable) {
      std::string msg = fmt::format("redefinition of '{}'", name);
      if (kind == Binding::Let)
        msg = fmt::format("cannot rebind '{}': it is {}; only names bound with '=' can be rebound",
                          name, bindingKindName(old));
      error(loc, msg, {{it->second.loc, fmt::format("previous definition of '{}' is here", name)}});
      return;
    }
  }
  cur_->env[name] = Binding{v, kind, loc};
}

void Lowerer::poison(const Stmt &s) {
  for (const std::string &name : s.poisoned) {
    bind(name, Binding::Poison, Value(), s.loc);
    poisonedNames_.insert(nodeName(name)); // it may have been a param
  }
  for (const Stmt &inner : s.body) {
    switch (inner.kind) {
    case Stmt::Input: case Stmt::Param: case Stmt::Let: case Stmt::Output: case Stmt::For:
      bind(inner.name, Binding::Poison, Value(), inner.loc);
      break;
    case Stmt::Train: case Stmt::Return: case Stmt::Error:
      break;
    }
    poison(inner);
  }
}

bool Lowerer::evalType(const TypeExpr &t, TensorType &out) {
  auto dt = parseDType(t.dtype);
  bool ok = true;
  if (!dt) {
    error(t.loc, fmt::format("unknown element type '{}' (expected f32 or i32)", t.dtype));
    ok = false;
  }
  Dims dims;
  double elements = 1;
  for (auto &d : t.dims) {
    int64_t v = 0;
    if (!asInt(eval(*d), d->loc, "a dimension", v)) {
      ok = false;
      continue;
    }
    if (v <= 0) {
      // A value from -D is the flag's mistake: say so, once per flag.
      if (firstBlame(*d))
        error(d->loc, fmt::format("dimension must be positive, got {}{}", v, blameFlag(*d)));
      ok = false;
    }
    dims.push_back(v);
    elements *= (double)v;
  }
  if (ok && elements > (double)kMaxTensorElements) {
    error(t.loc, fmt::format("tensor type {}{} is too large (more than 2^40 elements)", t.dtype,
                             dimsStr(dims)));
    ok = false;
  }
  if (ok)
    out = TensorType(*dt, dims);
  return ok;
}

void Lowerer::lowerStmt(const Stmt &s) {
  // Statements that make no operation (bindings of numbers, or statements
  // that did not parse) escape the node guard; nested loops of them could
  // still run for minutes.
  if (++statements_ > 4 * opts_.maxNodes) {
    error(s.loc, fmt::format("the model is too large: its loops and calls run more than {} "
                             "statements, beyond what dlc compiles in reasonable time",
                             4 * opts_.maxNodes));
    throw CompileError("statement budget exhausted");
  }
  switch (s.kind) {
  case Stmt::Input: {
    TensorType t;
    Value v;
    if (evalType(s.type, t)) {
      builder_.setLoc(s.loc);
      module_->inputs.push_back(InputDecl{s.name, t, s.loc});
      v = Value::tensor(builder_.input(s.name, t));
    }
    return bind(s.name, Binding::Input, v, s.nameLoc);
  }
  case Stmt::Param: {
    TensorType t;
    Init init;
    Value v;
    if (evalType(s.type, t)) {
      if (t.dtype != DType::F32)
        error(s.type.loc, fmt::format("param '{}' must be f32, got {}", s.name, t.str()));
      else if (evalInit(*s.value, t, init)) {
        std::string varName = nodeName(s.name);
        auto prev = varNodes_.find(varName);
        if (prev != varNodes_.end()) {
          // Point at the first call of the named instance this one repeats.
          const Frame *named = cur_;
          while (named && !named_.count(named->prefix))
            named = named->parent;
          std::vector<DiagNote> notes;
          if (named)
            notes.push_back({named_.at(named->prefix).loc,
                             fmt::format("'{}' is first made here", named->prefix)});
          if (!cur_->sharing)
            error(s.loc,
                  fmt::format("param '{}' already exists: the instance name '{}' is taken",
                              varName, cur_->prefix),
                  notes);
          else if (prev->second->type != t) {
            if (!cur_->shareMismatch)
              error(s.loc,
                    fmt::format("param '{}' is shared, but this call makes it {} where the "
                                "first made it {}",
                                varName, t.str(), prev->second->type.str()),
                    notes);
            cur_->shareMismatch = true;
          } else
            v = Value::tensor(prev->second);
        } else {
          builder_.setLoc(s.loc);
          module_->vars.push_back(VarDecl{varName, t, init, true, s.loc});
          v = Value::tensor(builder_.var(varName, t));
          varNodes_[varName] = v.node;
        }
      }
    }
    return bind(s.name, Binding::Param, v, s.nameLoc);
  }
  case Stmt::Let:
  case Stmt::Output: {
    size_t mark = graph_.nodes.size();
    Value v = eval(*s.value);
    if (s.kind == Stmt::Output && v.ok() && v.kind != Value::Tensor) {
      error(s.value->loc,
            fmt::format("output '{}' must be a tensor, got {}", s.name, v.describe()));
      v = Value();
    }
    // A node made by this statement takes the name it is bound to, so the IR
    // reads like the source (%h, %logits); earlier nodes keep theirs.
    if (v.kind == Value::Tensor)
      for (size_t k = mark; k < graph_.nodes.size(); ++k)
        if (graph_.nodes[k].get() == v.node)
          names_[v.node] = {nodeName(s.name), true};
    if (s.kind == Stmt::Output) {
      if (!cur_->env.count(s.name) && v.ok())
        outputs_.push_back({s.name, v.node});
      return bind(s.name, Binding::Output, v, s.nameLoc);
    }
    return bind(s.name, Binding::Let, v, s.nameLoc);
  }
  case Stmt::Return:
    cur_->result = eval(*s.value);
    cur_->returned = true;
    return;
  case Stmt::Train:
    return lowerTrain(s);
  case Stmt::For:
    return lowerFor(s);
  case Stmt::Error:
    // Reported by the parser: what it would have bound is poisoned, so that
    // nothing downstream reports it again.
    cur_->broken = true;
    return poison(s);
  }
}

// for NAME in range(...) { ... }: the body lowered once per value, in the
// enclosing scope, so it may rebind that scope's names (h = cell(h, ...)).
void Lowerer::lowerFor(const Stmt &s) {
  std::vector<Value> args;
  if (!evalArgs(*s.value, "range", {"start", "stop", "step"}, 1, args))
    return;
  int64_t a[3] = {0, 0, 1};
  const char *what[3] = {"range: start", "range: stop", "range: step"};
  size_t given = args[2].kind != Value::Absent ? 3 : args[1].kind != Value::Absent ? 2 : 1;
  for (size_t k = 0; k < given; ++k)
    if (!asInt(args[k], s.value->loc, what[k], a[given == 1 ? 1 : k]))
      return;
  int64_t start = a[0], stop = a[1], step = a[2];
  if (step == 0) {
    error(s.value->loc, "range: step must not be zero");
    return;
  }
  double trips = std::max(0.0, std::ceil(((double)stop - (double)start) / (double)step));
  if (trips > (double)kMaxUnroll) {
    error(s.value->loc, fmt::format("this loop runs {} times; a for loop is unrolled at compile "
                                    "time, at most {} times",
                                    numStr(trips), kMaxUnroll));
    return;
  }
  loops_.push_back({s.name, 0, s.loc});
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    loops_.back().value = i;
    bind(s.name, Binding::Let, Value::integer(i), s.nameLoc);
    for (const Stmt &inner : s.body) {
      if (cur_->returned) // a return inside the loop ends it, as in Python
        break;
      lowerStmt(inner);
    }
    if (cur_->returned)
      break;
  }
  loops_.pop_back();
}

void Lowerer::lowerTrain(const Stmt &s) {
  for (auto &t : trains_)
    if (t.name == s.name) {
      error(s.nameLoc, fmt::format("duplicate train entry '{}'", s.name),
            {{t.loc, fmt::format("previous train entry '{}' is here", s.name)}});
      return;
    }
  if (s.name == "predict") {
    error(s.nameLoc, "a train entry cannot be named 'predict' (the inference entry's name)");
    return;
  }
  std::vector<const Expr *> slots;
  if (!bindArgs(*s.value, fmt::format("train {}", s.name), {"loss", "optimizer", "params"}, 2,
                "argument", slots))
    return;
  Value loss = eval(*slots[0]);
  bool ok = loss.ok();
  if (ok && (loss.kind != Value::Tensor || loss.node->type.dtype != DType::F32 ||
             !loss.node->type.isScalar())) {
    error(slots[0]->loc, fmt::format("train loss must be a scalar f32 tensor, got {}{}",
                                     loss.describe(),
                                     loss.kind == Value::Tensor && !loss.node->type.isScalar()
                                         ? " (reduce it with mean(...))"
                                         : ""));
    ok = false;
  }
  TrainEntry entry{s.name, s.nameLoc, {}};
  // The optimizer: a call (or a bare name) of a known optimizer whose
  // hyper-parameters are compile-time numbers.
  const Expr &opt = *slots[1];
  const OptimizerInfo *info =
      opt.kind == Expr::Call || opt.kind == Expr::Ident ? findOptimizer(opt.name) : nullptr;
  if (!info) {
    std::string msg = opt.kind == Expr::Call || opt.kind == Expr::Ident
                          ? fmt::format("unknown optimizer '{}'", opt.name)
                          : std::string("expected an optimizer");
    std::vector<std::string> names;
    for (auto &o : optimizers())
      names.push_back(o.name);
    std::string near = opt.kind == Expr::Call || opt.kind == Expr::Ident
                           ? closestName(opt.name, names)
                           : "";
    if (!near.empty()) {
      error(opt.loc, fmt::format("{}; did you mean '{}'?", msg, near));
      return;
    }
    std::string expected;
    auto out = std::back_inserter(expected);
    const std::vector<OptimizerInfo> &all = optimizers();
    for (size_t k = 0; k < all.size(); ++k)
      fmt::format_to(out, "{}{}({})", k == 0 ? "" : k + 1 == all.size() ? " or " : ", ",
                     all[k].name, fmt::join(all[k].hyperNames(), ", "));
    error(opt.loc, fmt::format("{} (expected {})", msg, expected));
    return;
  }
  entry.spec.optimizer = info->name;
  if (opt.kind == Expr::Call) {
    std::vector<const Expr *> hs;
    if (!bindArgs(opt, opt.name, info->hyperNames(), 0, "hyper-parameter", hs))
      return;
    for (size_t k = 0; k < hs.size(); ++k) {
      if (!hs[k])
        continue;
      const HyperParam &hp = info->hyper[k];
      Value h = eval(*hs[k]);
      if (!h.ok())
        return;
      // The range comes from the optimizer table, which the IR parser
      // checks too.
      std::string problem = h.isNumber() ? hp.problem(h.num())
                                         : fmt::format("must be a number, got {}", h.describe());
      if (!problem.empty()) {
        error(hs[k]->loc, fmt::format("{}: hyper-parameter '{}' {}", opt.name, hp.name, problem));
        return;
      }
      entry.spec.hyper.push_back({hp.name, h.num()});
    }
  }
  if (!ok)
    return;
  // The params to train: every trainable variable the loss reads, in
  // declaration order; with params = [...], only those listed.
  if (slots[2]) {
    if (!trainParams(*slots[2], loss.node, entry.spec.params))
      return;
  } else {
    std::set<std::string> used;
    for (const Node *n : reachableFrom({loss.node}))
      if (n->op == OpKind::Var)
        used.insert(n->attrs.getString("name"));
    for (auto &v : module_->vars)
      if (v.trainable && used.count(v.name))
        entry.spec.params.push_back(v.name);
  }
  if (entry.spec.params.empty()) {
    error(slots[0]->loc, fmt::format("train '{}': the loss does not depend on any param, so "
                                     "there is nothing to train",
                                     s.name));
    return;
  }
  entry.spec.loss = loss.node;
  trains_.push_back(std::move(entry));
}

// params = [D, dense_3, G.dense_1.w]: instances (all their params) and
// params; each must hold a param the loss reads, or listing it is a mistake.
bool Lowerer::trainParams(const Expr &list, const Node *loss, std::vector<std::string> &out) {
  Value v = eval(list);
  if (!v.ok())
    return false;
  if (v.kind != Value::List || v.list.empty()) {
    error(list.loc, fmt::format("params must be a list of instances or params, such as [D] or "
                                "[dense_1.w], got {}",
                                v.describe()));
    return false;
  }
  std::set<std::string> used, chosen;
  for (const Node *n : reachableFrom({const_cast<Node *>(loss)}))
    if (n->op == OpKind::Var)
      used.insert(n->attrs.getString("name"));
  for (size_t k = 0; k < v.list.size(); ++k) {
    const Value &item = v.list[k];
    const SourceLoc &at = list.kind == Expr::List ? list.args[k]->loc : list.loc;
    std::string prefix;
    if (item.kind == Value::Instance) {
      prefix = item.fn + ".";
    } else if (item.kind == Value::Tensor && item.node->op == OpKind::Var) {
      prefix = item.node->attrs.getString("name");
    } else {
      error(at, fmt::format("params: expected an instance or a param, got {}", item.describe()));
      return false;
    }
    size_t found = 0;
    for (auto &var : module_->vars)
      if (var.trainable && used.count(var.name) &&
          var.name.compare(0, prefix.size(), prefix) == 0 &&
          (prefix.back() == '.' || var.name.size() == prefix.size())) {
        chosen.insert(var.name);
        ++found;
      }
    if (!found) {
      std::string what = item.kind == Value::Instance
                             ? fmt::format("instance '{}' has no param", item.fn)
                             : fmt::format("param '{}' is not one", prefix);
      error(at, fmt::format("params: {} that the loss depends on", what));
      return false;
    }
  }
  for (auto &var : module_->vars)
    if (chosen.count(var.name))
      out.push_back(var.name);
  return true;
}

Node *Lowerer::dropoutStep(const SourceLoc &loc) {
  if (!dropoutStep_) {
    const std::string name = "dropout.step";
    TensorType t = TensorType::f32({});
    builder_.setLoc(loc);
    module_->vars.push_back(VarDecl{name, t, Init{Init::Zeros, 0, 0}, false, loc});
    dropoutStep_ = builder_.var(name, t);
    names_[dropoutStep_] = {name, true};
  }
  return dropoutStep_;
}

void Lowerer::lowerModel(const ModelDecl &m) {
  Frame frame;
  cur_ = &frame;
  module_->name = m.name;
  headerBroken_ = m.broken;
  for (auto &[name, value] : opts_.constants) {
    if (m.broken) // the constant may be in the part of the header that did not parse
      break;
    std::vector<std::string> names;
    for (auto &c : m.constants)
      names.push_back(c.name);
    if (std::find(names.begin(), names.end(), name) != names.end())
      continue;
    std::string near = closestName(name, names);
    error(m.loc, fmt::format("-D{0}={1}: model '{2}' has no header constant '{0}' to override{3}",
                             name, value, m.name,
                             near.empty() ? "" : fmt::format("; did you mean '{}'?", near)));
  }
  for (auto &c : m.constants) {
    Value v;
    auto ov = opts_.constants.find(c.name);
    int64_t x = 0;
    if (c.poisoned) {
      bind(c.name, Binding::Poison, v, c.loc);
      continue;
    }
    if (ov != opts_.constants.end())
      v = Value::integer(ov->second);
    else if (!c.dflt)
      error(c.loc, fmt::format("constant '{0}' has no value; give it one in the header "
                               "({0} = 32) or with -D{0}=32",
                               c.name));
    else if (asInt(eval(*c.dflt), c.dflt->loc, fmt::format("constant '{}'", c.name), x))
      v = Value::integer(x);
    bind(c.name, Binding::Const, v, c.loc);
  }
  for (const Stmt &s : m.body)
    lowerStmt(s);
  if (outputs_.empty() && trains_.empty() && !diags_.hasErrors())
    error(m.loc, fmt::format("model '{}' has no 'output' and no 'train' entry; there is nothing "
                             "to compile",
                             m.name));
  cur_ = nullptr;
}

// --- entry points ------------------------------------------------------------

void Lowerer::extractFunction(Function &dst, std::vector<Node *> roots,
                              std::map<const Node *, Node *> &map, bool inference) {
  // What the roots need: in inference, through dropout's input only.
  std::unordered_set<const Node *> live;
  std::vector<const Node *> stack(roots.begin(), roots.end());
  while (!stack.empty()) {
    const Node *n = stack.back();
    stack.pop_back();
    if (!live.insert(n).second)
      continue;
    if (inference && n->op == OpKind::Dropout)
      stack.push_back(n->operands[0]);
    else
      stack.insert(stack.end(), n->operands.begin(), n->operands.end());
  }
  // graph_ is in topological order, so copying in its order keeps dst's.
  // Names are given after copying, in three rounds: inputs and params, then
  // bindings, then temporaries, so that a name the user wrote never loses to
  // a temporary that happens to come first (`%c.1 = var {name = "c"}`
  // because a constant took "c").
  std::vector<std::pair<Node *, std::string>> rounds[3];
  for (auto &n : graph_.nodes) {
    if (!live.count(n.get()))
      continue;
    if (inference && n->op == OpKind::Dropout) {
      map[n.get()] = map.at(n->operands[0]);
      continue;
    }
    auto c = std::make_unique<Node>(*n);
    c->name = "$";
    for (Node *&o : c->operands)
      o = map.at(o);
    Node *copy = dst.append(std::move(c));
    map[n.get()] = copy;
    if (n->op == OpKind::Input || n->op == OpKind::Var) {
      rounds[0].push_back({copy, n->attrs.getString("name")});
    } else {
      const NodeName &nm = names_.at(n.get());
      rounds[nm.bound ? 1 : 2].push_back({copy, nm.name});
    }
  }
  for (auto &round : rounds)
    for (auto &[node, name] : round)
      node->name = dst.uniqueName(name);
}

Node *Lowerer::scoresForTrainEntry(const Node *loss) const {
  if (outputs_.empty() || outputs_.front().first == "loss")
    return nullptr;
  Node *scores = outputs_.front().second;
  const TensorType &t = scores->type;
  // An input or a variable as the output is no prediction to count.
  if (t.dtype != DType::F32 || t.rank() != 2 || scores->op == OpKind::Input ||
      scores->op == OpKind::Var || scores->op == OpKind::Constant)
    return nullptr;
  // The inputs each root reads, as the train entry would extract them
  // (through dropout): the scores may not add an argument to the entry.
  auto inputsOf = [](const Node *root) {
    std::unordered_set<const Node *> seen, inputs;
    std::vector<const Node *> stack = {root};
    while (!stack.empty()) {
      const Node *n = stack.back();
      stack.pop_back();
      if (!seen.insert(n).second)
        continue;
      if (n->op == OpKind::Input)
        inputs.insert(n);
      stack.insert(stack.end(), n->operands.begin(), n->operands.end());
    }
    return inputs;
  };
  const std::unordered_set<const Node *> lossInputs = inputsOf(loss);
  for (const Node *in : inputsOf(scores))
    if (!lossInputs.count(in))
      return nullptr;
  return scores;
}

std::unique_ptr<Module> Lowerer::run(const Program &user, const Program &prelude) {
  module_ = std::make_unique<Module>();
  for (auto &f : prelude.fns)
    fns_[f->name] = f.get();
  std::map<std::string, const FnDecl *> userFns;
  for (auto &f : user.fns) {
    if (findBuiltin(f->name) || isInitializerName(f->name) || isOptimizerName(f->name)) {
      diags_.error(f->loc,
                   fmt::format("cannot define function '{}': it is a built-in name", f->name));
      continue;
    }
    auto prev = userFns.find(f->name);
    if (prev != userFns.end()) {
      diags_.error(f->loc, fmt::format("redefinition of function '{}'", f->name),
                   {{prev->second->loc, "previous definition is here"}});
      continue;
    }
    userFns[f->name] = f.get(); // a user's function shadows the prelude's
    fns_[f->name] = f.get();
  }
  DLC_ASSERT(user.model, "Lowerer::run needs a model");
  lowerModel(*user.model);
  if (diags_.hasErrors())
    return nullptr;

  if (!outputs_.empty()) {
    Function &f = module_->addFunction("predict");
    std::map<const Node *, Node *> map;
    std::vector<Node *> roots;
    for (auto &o : outputs_)
      roots.push_back(o.second);
    extractFunction(f, roots, map, true);
    for (auto &o : outputs_)
      f.outputs.push_back({o.first, map.at(o.second)});
  }
  for (auto &t : trains_) {
    Function &f = module_->addFunction(t.name);
    std::map<const Node *, Node *> map;
    Node *scores = opts_.scoresInTrainEntries ? scoresForTrainEntry(t.spec.loss) : nullptr;
    std::vector<Node *> roots = {t.spec.loss};
    if (scores)
      roots.push_back(scores);
    extractFunction(f, roots, map, false);
    f.train = t.spec;
    f.train->loss = map.at(t.spec.loss);
    // Each step of an entry with dropout draws new masks: it advances the
    // counter they are keyed by.
    if (dropoutStep_ && map.count(dropoutStep_)) {
      Builder fb(f);
      Node *step = map.at(dropoutStep_);
      fb.setLoc(step->loc);
      Node *next = fb.create(OpKind::Add, {step, fb.constant(1.0)}, {}, "dropout.step.next");
      f.updates.push_back({"dropout.step", next});
    }
    // A train step returns its loss (mnist_mlp_step(..., float *loss)).
    f.outputs.push_back({"loss", f.train->loss});
    if (scores)
      f.outputs.push_back({outputs_.front().first, map.at(scores)});
  }
  return std::move(module_);
}

} // namespace dlc
