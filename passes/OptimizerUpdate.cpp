// Optimizer updates expanded into graph ops: each train function's grads
// become new values for its params and for the optimizer's persistent state.
#include "passes/OptimizerUpdate.h"
#include "ir/Builder.h"
#include "ir/Support.h"

#include <unordered_map>

namespace dlc {

namespace {

class UpdateEmitter {
public:
  // Both lookups the updates make per param (a variable's declaration, its
  // var node) would scan the whole module or function each time, quadratic
  // in model depth; index them once here and keep the indexes current as
  // this emitter adds declarations and var nodes.
  UpdateEmitter(Module &m, Function &f) : m_(m), f_(f), b_(f) {
    for (size_t i = 0; i < m_.vars.size(); ++i)
      declIndex_.emplace(m_.vars[i].name, i); // the first of a name, as findVar
    for (auto &n : f_.nodes)
      if (n->op == OpKind::Var)
        varNodes_.emplace(n->attrs.getString("name"), n.get()); // the first
  }

  void sgd() {
    const TrainSpec &spec = *f_.train;
    Node *lr = constant(spec.hyperOr("lr", 0.01), "sgd.lr");
    for (auto &[param, g] : f_.grads) { // w' = w - lr g
      Node *step = op(OpKind::Mul, lr, g, param + ".sgd.step");
      update(param, op(OpKind::Sub, varNode(param), step, param + ".new"));
    }
  }

  // Keras/PyTorch Adam with bias correction:
  //   t' = t + 1, m' = b1 m + (1 - b1) g, v' = b2 v + (1 - b2) g²,
  //   w' = w - lr (m' / (1 - b1^t')) / (sqrt(v' / (1 - b2^t')) + eps)
  void adam() {
    const TrainSpec &spec = *f_.train;
    double lr = spec.hyperOr("lr", 0.001), b1 = spec.hyperOr("beta1", 0.9),
           b2 = spec.hyperOr("beta2", 0.999), eps = spec.hyperOr("eps", 1e-7);
    std::string prefix = f_.name + ".adam.";

    // The bias corrections are scalars shared by every param.
    std::string tName = prefix + "t";
    declareState(tName, TensorType::f32({}));
    Node *one = constant(1.0, "adam.one");
    Node *cb1 = constant(b1, "adam.beta1"), *cb1c = constant(1 - b1, "adam.1_beta1");
    Node *cb2 = constant(b2, "adam.beta2"), *cb2c = constant(1 - b2, "adam.1_beta2");
    Node *clr = constant(lr, "adam.lr"), *ceps = constant(eps, "adam.eps");
    Node *t = op(OpKind::Add, varNode(tName), one, tName + ".new");
    Node *corr1 = op(OpKind::Sub, one, op(OpKind::Pow, cb1, t, "adam.beta1_t"), "adam.corr1");
    Node *corr2 = op(OpKind::Sub, one, op(OpKind::Pow, cb2, t, "adam.beta2_t"), "adam.corr2");

    std::vector<std::pair<std::string, Node *>> state;
    for (auto &[p, g] : f_.grads) {
      const TensorType &type = g->type;
      std::string mName = prefix + "m." + p, vName = prefix + "v." + p;
      declareState(mName, type);
      declareState(vName, type);
      Node *mNew = op(OpKind::Add, op(OpKind::Mul, cb1, varNode(mName), p + ".adam.b1m"),
                      op(OpKind::Mul, cb1c, g, p + ".adam.g1"), mName + ".new");
      Node *g2 = op(OpKind::Mul, g, g, p + ".adam.g2");
      Node *vNew = op(OpKind::Add, op(OpKind::Mul, cb2, varNode(vName), p + ".adam.b2v"),
                      op(OpKind::Mul, cb2c, g2, p + ".adam.g2s"), vName + ".new");
      Node *mHat = op(OpKind::Div, mNew, corr1, p + ".adam.mhat");
      Node *vHat = op(OpKind::Div, vNew, corr2, p + ".adam.vhat");
      Node *denom = op(OpKind::Add, b_.create(OpKind::Sqrt, {vHat}, {}, p + ".adam.rms"),
                       ceps, p + ".adam.denom");
      Node *step = op(OpKind::Mul, clr, op(OpKind::Div, mHat, denom, p + ".adam.dir"),
                      p + ".adam.step");
      update(p, op(OpKind::Sub, varNode(p), step, p + ".new"));
      state.push_back({mName, mNew});
      state.push_back({vName, vNew});
    }
    // Params first (what a reader looks for), then the moments, then t.
    for (auto &s : state)
      f_.updates.push_back(s);
    f_.updates.push_back({tName, t});
  }

private:
  Node *constant(double v, const std::string &name) {
    Attrs a;
    a.set("value", v);
    TensorType t = TensorType::f32({});
    return b_.create(OpKind::Constant, {}, a, name, &t);
  }

  Node *op(OpKind k, Node *x, Node *y, const std::string &name) {
    return b_.create(k, {x, y}, {}, name);
  }

  // The function's var node for `name` (the first, when the frontend made
  // several), or a new one.
  Node *varNode(const std::string &name) {
    if (auto it = varNodes_.find(name); it != varNodes_.end())
      return it->second;
    const VarDecl *v = findVar(name);
    DLC_ASSERT(v, "optimizer update: no variable '" + name + "'");
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
                 "optimizer update: variable '" + name + "' exists as " +
                     v->type.str() + (v->trainable ? " param" : " state"));
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
               "optimizer update: new value of '" + param + "' has type " +
                   value->type.str());
    f_.updates.push_back({param, value});
  }

  Module &m_;
  Function &f_;
  Builder b_;
  std::unordered_map<std::string, size_t> declIndex_; // var name -> m_.vars index
  std::unordered_map<std::string, Node *> varNodes_;  // var name -> first var node
};

} // namespace

bool runOptimizerUpdate(Module &m) {
  bool changed = false;
  for (auto &f : m.functions) {
    if (!f->isTrain() || f->grads.empty())
      continue;
    UpdateEmitter e(m, *f);
    const std::string &opt = f->train->optimizer;
    if (opt == "sgd")
      e.sgd();
    else if (opt == "adam")
      e.adam();
    else
      internalError("optimizer update: unknown optimizer '" + opt + "' in " + f->name);
    f->grads.clear();
    changed = true;
  }
  return changed;
}

} // namespace dlc
