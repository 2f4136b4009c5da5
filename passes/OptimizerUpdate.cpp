// Optimizer updates expanded into graph ops: each train function's grads
// become new values for its params and for the optimizer's persistent state.
// What each optimizer takes (hyper-parameters, defaults, ranges) is the
// table in ir/Graph.cpp; how each expands is here, one method per row.
#include "passes/OptimizerUpdate.h"
#include "ir/Builder.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

namespace dlc {

namespace {

Node *scalarConstant(Builder &b, double v, const std::string &name) {
  Attrs a;
  a.set("value", v);
  TensorType t = TensorType::f32({});
  return b.create(OpKind::Constant, {}, a, name, &t);
}

class UpdateEmitter {
public:
  // Both lookups the updates make per param (a variable's declaration, its
  // var node) would scan the whole module or function each time, quadratic
  // in model depth; index them once here and keep the indexes current as
  // this emitter adds declarations and var nodes.
  UpdateEmitter(Module &m, Function &f)
      : m_(m), f_(f), b_(f), prefix_(f.name + "." + f.train->optimizer + ".") {
    for (size_t i = 0; i < m_.vars.size(); ++i)
      declIndex_.emplace(m_.vars[i].name, i); // the first of a name, as findVar
    for (auto &n : f_.nodes)
      if (n->op == OpKind::Var)
        varNodes_.emplace(n->attrs.getString("name"), n.get()); // the first
  }

  // Keras's SGD: w' = w - lr g without momentum (no state); with it,
  // v' = momentum v - lr g and w' = w + v', or with nesterov
  // w' = w + momentum v' - lr g. (PyTorch keeps v' = momentum v + g and
  // scales by lr afterwards: the same for a constant lr.)
  void sgd() {
    double momentum = hyper("momentum");
    bool nesterov = hyper("nesterov") != 0;
    Node *lr = constant(hyper("lr"), "sgd.lr");
    Node *mu = momentum != 0 ? constant(momentum, "sgd.momentum") : nullptr;
    for (auto &[p, g] : f_.grads) {
      Node *step = op(OpKind::Mul, lr, g, p + ".sgd.step"); // lr g
      if (!mu) { // no state: exactly the plain update w' = w - lr g
        update(p, op(OpKind::Sub, varNode(p), step, p + ".new"));
        continue;
      }
      std::string vName = prefix_ + "v." + p;
      declareState(vName, g->type);
      Node *vNew = op(OpKind::Sub, op(OpKind::Mul, mu, varNode(vName), p + ".sgd.mv"), step,
                      vName + ".new");
      Node *delta = nesterov ? op(OpKind::Sub, op(OpKind::Mul, mu, vNew, p + ".sgd.mv_new"),
                                  step, p + ".sgd.delta")
                             : vNew;
      update(p, op(OpKind::Add, varNode(p), delta, p + ".new"));
      state_.push_back({vName, vNew});
    }
    finish();
  }

  // RMSprop as tf.keras 2 and PyTorch: s' = rho s + (1 - rho) g²,
  // w' = w - lr g / (sqrt(s') + eps). (Keras 3 takes sqrt(s' + eps).)
  void rmsprop() {
    double rho = hyper("rho");
    Node *lr = constant(hyper("lr"), "rmsprop.lr"), *eps = constant(hyper("eps"), "rmsprop.eps");
    Node *cr = constant(rho, "rmsprop.rho"), *crc = constant(1 - rho, "rmsprop.1_rho");
    for (auto &[p, g] : f_.grads) {
      std::string sName = prefix_ + "s." + p;
      declareState(sName, g->type);
      Node *g2 = op(OpKind::Mul, g, g, p + ".rmsprop.g2");
      Node *sNew = op(OpKind::Add, op(OpKind::Mul, cr, varNode(sName), p + ".rmsprop.rs"),
                      op(OpKind::Mul, crc, g2, p + ".rmsprop.g2s"), sName + ".new");
      Node *denom = op(OpKind::Add, b_.create(OpKind::Sqrt, {sNew}, {}, p + ".rmsprop.rms"), eps,
                       p + ".rmsprop.denom");
      Node *step = op(OpKind::Div, op(OpKind::Mul, lr, g, p + ".rmsprop.lrg"), denom,
                      p + ".rmsprop.step");
      update(p, op(OpKind::Sub, varNode(p), step, p + ".new"));
      state_.push_back({sName, sNew});
    }
    finish();
  }

  void adam() { adamFamily(0); }
  void adamw() { adamFamily(hyper("weight_decay")); }

private:
  // Adam with bias correction, as PyTorch (and Keras up to where eps sits):
  //   t' = t + 1, m' = b1 m + (1 - b1) g, v' = b2 v + (1 - b2) g²,
  //   m̂ = m' / (1 - b1^t'), v̂ = v' / (1 - b2^t'),
  //   w' = w - lr (m̂ / (sqrt(v̂) + eps) + wd w)
  // where wd, AdamW's decoupled weight decay, reads the old w.
  void adamFamily(double wd) {
    const std::string &o = f_.train->optimizer; // "adam", "adamw": names below
    double b1 = hyper("beta1"), b2 = hyper("beta2");

    // The step count and the bias corrections are scalars shared by every
    // param. t counts in f32, exactly up to 2^24 steps, where it stops: by
    // then the corrections of any beta up to 1 - 2e-6 round to 1.
    std::string tName = prefix_ + "t";
    declareState(tName, TensorType::f32({}));
    Node *one = constant(1.0, o + ".one");
    Node *t = op(OpKind::Add, varNode(tName), one, tName + ".new");
    Node *corr1 = biasCorrection(b_, t, b1, o + ".corr1");
    Node *corr2 = biasCorrection(b_, t, b2, o + ".corr2");
    Node *cb1 = constant(b1, o + ".beta1"), *cb1c = constant(1 - b1, o + ".1_beta1");
    Node *cb2 = constant(b2, o + ".beta2"), *cb2c = constant(1 - b2, o + ".1_beta2");
    Node *clr = constant(hyper("lr"), o + ".lr"), *ceps = constant(hyper("eps"), o + ".eps");
    Node *cwd = wd != 0 ? constant(wd, o + ".weight_decay") : nullptr;
    // lr m̂ / (√v̂ + eps) evaluated as PyTorch does, lr / corr1 times
    // m / (√v / √corr2 + eps), the corrections folded into two scalars, but
    // for one thing: √v is multiplied by 1 / √corr2, not divided by it. The
    // divider was most of an update's time (a root and two divisions per
    // weight, about 2 cycles with AVX-512); the product differs from the
    // quotient by about an ulp, and adam_vs_torch.py still finds dlc within
    // an ulp of PyTorch in float64 (median), as PyTorch's float32 is.
    Node *stepSize = op(OpKind::Div, clr, corr1, o + ".step_size");
    Node *rootCorr2 = b_.create(OpKind::Sqrt, {corr2}, {}, o + ".sqrt_corr2");
    Node *invRootCorr2 = op(OpKind::Div, one, rootCorr2, o + ".inv_sqrt_corr2");

    for (auto &[p, g] : f_.grads) {
      std::string q = p + "." + o + ".";
      std::string mName = prefix_ + "m." + p, vName = prefix_ + "v." + p;
      declareState(mName, g->type);
      declareState(vName, g->type);
      Node *mNew = op(OpKind::Add, op(OpKind::Mul, cb1, varNode(mName), q + "b1m"),
                      op(OpKind::Mul, cb1c, g, q + "g1"), mName + ".new");
      Node *g2 = op(OpKind::Mul, g, g, q + "g2");
      Node *vNew = op(OpKind::Add, op(OpKind::Mul, cb2, varNode(vName), q + "b2v"),
                      op(OpKind::Mul, cb2c, g2, q + "g2s"), vName + ".new");
      Node *rms = op(OpKind::Mul, b_.create(OpKind::Sqrt, {vNew}, {}, q + "rms"), invRootCorr2,
                     q + "rms_hat");
      Node *denom = op(OpKind::Add, rms, ceps, q + "denom");
      Node *step = op(OpKind::Mul, stepSize, op(OpKind::Div, mNew, denom, q + "dir"), q + "step");
      if (cwd) // decoupled: lr wd w, beside the Adam step
        step = op(OpKind::Add, step,
                  op(OpKind::Mul, op(OpKind::Mul, clr, cwd, q + "lr_wd"), varNode(p), q + "decay"),
                  q + "step_decay");
      update(p, op(OpKind::Sub, varNode(p), step, p + ".new"));
      state_.push_back({mName, mNew});
      state_.push_back({vName, vNew});
    }
    state_.push_back({tName, t});
    finish();
  }

  double hyper(const std::string &k) const { return f_.train->hyperValue(k); }

  // Params were updated first (what a reader looks for), then the state.
  void finish() {
    for (auto &s : state_)
      f_.updates.push_back(s);
  }

  Node *constant(double v, const std::string &name) { return scalarConstant(b_, v, name); }

  Node *op(OpKind k, Node *x, Node *y, const std::string &name) {
    return b_.create(k, {x, y}, {}, name);
  }

  // The function's var node for `name` (the first, when the frontend made
  // several), or a new one.
  Node *varNode(const std::string &name) {
    if (auto it = varNodes_.find(name); it != varNodes_.end())
      return it->second;
    const VarDecl *v = findVar(name);
    DLC_ASSERT(v, fmt::format("optimizer update: no variable '{}'", name));
    return varNodes_[name] = b_.var(name, v->type);
  }

  // Module::findVar through the index. It holds positions, not pointers:
  // declareState appends to m_.vars, which may move the declarations.
  const VarDecl *findVar(const std::string &name) const {
    auto it = declIndex_.find(name);
    return it == declIndex_.end() ? nullptr : &m_.vars[it->second];
  }

  // State is shared by name: a second train function gets its own (the
  // function name is part of it), a re-run finds what it declared.
  void declareState(const std::string &name, const TensorType &type) {
    if (const VarDecl *v = findVar(name)) {
      DLC_ASSERT(!v->trainable && v->type == type,
                 fmt::format("optimizer update: variable '{}' exists as {} {}", name,
                             v->type.str(), v->trainable ? "param" : "state"));
      return;
    }
    VarDecl d;
    d.name = name;
    d.type = type;
    d.init.kind = Init::Zeros;
    d.trainable = false;
    declIndex_.emplace(name, m_.vars.size());
    m_.vars.push_back(d);
  }

  void update(const std::string &param, Node *value) {
    const VarDecl *v = findVar(param);
    DLC_ASSERT(v && v->type == value->type,
               fmt::format("optimizer update: new value of '{}' has type {}", param,
                           value->type.str()));
    f_.updates.push_back({param, value});
  }

  Module &m_;
  Function &f_;
  Builder b_;
  std::string prefix_; // "<func>.<optimizer>.", the state's names
  std::vector<std::pair<std::string, Node *>> state_; // state var <- new value
  std::unordered_map<std::string, size_t> declIndex_; // var name -> m_.vars index
  std::unordered_map<std::string, Node *> varNodes_;  // var name -> first var node
};

// The expansion of each row of the optimizer table (ir/Graph.cpp).
const std::map<std::string, void (UpdateEmitter::*)()> &expansions() {
  static const std::map<std::string, void (UpdateEmitter::*)()> table = {
      {"sgd", &UpdateEmitter::sgd},
      {"rmsprop", &UpdateEmitter::rmsprop},
      {"adam", &UpdateEmitter::adam},
      {"adamw", &UpdateEmitter::adamw},
  };
  return table;
}

} // namespace

Node *biasCorrection(Builder &b, Node *t, double beta, const std::string &name) {
  if (beta == 0) // 1 - 0^t is 1 for t >= 1; log(0) would be -inf
    return scalarConstant(b, 1.0, name);
  // 1 - beta^t = -expm1(t L) with L = log(beta) in double: no cancellation,
  // and beta is never rounded to f32 (rounding 0.999 to f32 alone moves
  // 1 - 0.999^t by up to 1.3e-5 relative). The product x = t L matters
  // only while |x| is small (the relative error of -expm1(x) is that of x
  // times |x| e^x / (1 - e^x) <= 1), so L is split into a head of few
  // enough bits that t * head is exact for every t with |x| <= 16, and a
  // tail: x then takes one rounding, not two (for beta 0.999, a worst
  // error of 1.0e-7 instead of 1.25e-7; above 1 - 2e-6 no head is short
  // enough and the bound loosens a little).
  double L = std::log(beta);
  int tBits = (int)std::ceil(std::log2(16 / -L + 1)), e;
  int headBits = std::clamp(24 - tBits, 1, 24);
  std::frexp(L, &e);
  double head = std::ldexp(std::nearbyint(std::ldexp(L, headBits - e)), e - headBits);
  auto mul = [&](double c, const std::string &part) {
    return b.create(OpKind::Mul, {t, scalarConstant(b, c, name + ".log_" + part)}, {},
                    name + ".x_" + part);
  };
  Node *x = b.create(OpKind::Add, {mul(head, "head"), mul(L - head, "tail")}, {}, name + ".x");
  return b.create(OpKind::Neg, {b.create(OpKind::Expm1, {x}, {}, name + ".expm1")}, {}, name);
}

namespace {

// The update's nodes point at the DSL: each param's arithmetic at the line
// that declares the param (as its gradient does), what the params share
// (hyper-parameters, the step count, bias corrections) at the loss. So
// --emit=fused and, later, the debug info name a line for every kernel.
void locateUpdates(const Module &m, Function &f, size_t firstNew,
                   const std::vector<std::pair<std::string, Node *>> &grads) {
  std::unordered_map<const Node *, bool> fresh;
  for (size_t i = firstNew; i < f.nodes.size(); ++i)
    fresh[f.nodes[i].get()] = true;
  std::unordered_map<std::string, SourceLoc> paramLoc;
  for (auto &[p, g] : grads)
    if (const VarDecl *d = m.findVar(p))
      paramLoc[p] = d->loc;
  // Walk back from each update to the nodes this pass made, claiming the
  // unlocated ones for the param the update belongs to: the param itself, or
  // the param whose name ends the state's ("step.adam.m.dense_1.w").
  for (auto &[var, value] : f.updates) {
    const SourceLoc *loc = nullptr;
    for (auto &[p, l] : paramLoc)
      if (var == p || (var.size() > p.size() && var.compare(var.size() - p.size(), p.size(), p) == 0 &&
                       var[var.size() - p.size() - 1] == '.'))
        loc = &l;
    if (!loc)
      continue;
    std::vector<Node *> stack{value};
    while (!stack.empty()) {
      Node *n = stack.back();
      stack.pop_back();
      if (!fresh.count(n) || n->loc.known() || n->type.numel() == 1)
        continue; // scalars are shared by every param: the loss's line below
      n->loc = *loc;
      stack.insert(stack.end(), n->operands.begin(), n->operands.end());
    }
  }
  SourceLoc lossLoc = f.train->loss ? f.train->loss->loc : SourceLoc();
  for (auto &[n, isFresh] : fresh)
    if (!n->loc.known())
      const_cast<Node *>(n)->loc = lossLoc;
}

} // namespace

bool runOptimizerUpdate(Module &m) {
  bool changed = false;
  for (auto &f : m.functions) {
    if (!f->isTrain() || f->grads.empty())
      continue;
    const std::string &opt = f->train->optimizer;
    auto it = expansions().find(opt);
    if (it == expansions().end() || !findOptimizer(opt))
      internalError(fmt::format("optimizer update: unknown optimizer '{}' in {}", opt, f->name));
    size_t before = f->nodes.size();
    std::vector<std::pair<std::string, Node *>> grads = f->grads;
    UpdateEmitter e(m, *f);
    (e.*(it->second))();
    locateUpdates(m, *f, before, grads);
    f->grads.clear();
    changed = true;
  }
  return changed;
}

} // namespace dlc
