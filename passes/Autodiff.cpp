// Reverse-mode autodiff as a graph-to-graph transformation: each train
// function gets the adjoint graph of its loss appended, built from the
// gradient rules in ir/OpRules.cpp, and its Function::grads recorded.
#include "passes/Autodiff.h"
#include "ir/Builder.h"
#include "ir/OpRules.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace dlc {

namespace {

bool isParamVar(const Node *n, const std::set<std::string> &params) {
  return n->op == OpKind::Var && params.count(n->attrs.getString("name"));
}

// Nodes on a path from a param's var node to the loss: only these need an
// adjoint (everything else either has none or is not needed for the grads).
std::unordered_set<const Node *> activeNodes(const std::vector<Node *> &fwd,
                                             const Node *loss,
                                             const std::set<std::string> &params) {
  std::unordered_set<const Node *> fromParam, toLoss{loss}, active;
  for (Node *n : fwd) {
    bool reached = isParamVar(n, params);
    for (Node *op : n->operands)
      reached = reached || fromParam.count(op);
    if (reached)
      fromParam.insert(n);
  }
  for (auto it = fwd.rbegin(); it != fwd.rend(); ++it)
    if (toLoss.count(*it)) {
      for (Node *op : (*it)->operands)
        toLoss.insert(op);
      if (fromParam.count(*it))
        active.insert(*it);
    }
  return active;
}

// Gradient rules return every operand's adjoint; those of inactive operands
// (the input of a matmul, say) are never used. Drop them so the dump shows
// only the adjoint graph that matters.
void removeDeadNewNodes(Function &f, size_t firstNew) {
  std::unordered_set<const Node *> live = reachableFrom(f.roots());
  std::vector<std::unique_ptr<Node>> kept;
  for (size_t i = 0; i < f.nodes.size(); ++i)
    if (i < firstNew || live.count(f.nodes[i].get()))
      kept.push_back(std::move(f.nodes[i]));
  f.nodes = std::move(kept);
}

// Names nodes made by autodiff once they all exist, so the readable names go
// to the right nodes: a param's grad is "d.<param>", the adjoint of %h is
// "d.h", and a step inside the rule of %h is "d.h.<op>" (e.g. "d.h.mul").
void nameAdjoints(Function &f, size_t firstNew, const std::vector<Node *> &fwd,
                  const std::unordered_map<const Node *, Node *> &adjoint) {
  std::unordered_set<const Node *> fresh, named;
  for (size_t i = firstNew; i < f.nodes.size(); ++i)
    fresh.insert(f.nodes[i].get());
  auto claim = [&](Node *n, const std::string &base) {
    if (fresh.count(n) && named.insert(n).second)
      n->name = f.uniqueName(base);
  };
  for (auto &[param, g] : f.grads)
    claim(g, "d." + param);
  for (auto it = fwd.rbegin(); it != fwd.rend(); ++it) {
    auto a = adjoint.find(*it);
    if (a != adjoint.end())
      claim(a->second, "d." + (*it)->name);
  }
  for (size_t i = firstNew; i < f.nodes.size(); ++i) {
    Node *n = f.nodes[i].get();
    if (named.count(n))
      continue;
    DLC_ASSERT(n->gradOf, fmt::format("autodiff: node %{} has no grad_of note", n->name));
    claim(n, "d." + n->gradOf->name + "." + opName(n->op));
  }
}

void differentiate(Module &m, Function &f) {
  const TrainSpec &spec = *f.train;
  Node *loss = spec.loss;
  DLC_ASSERT(loss, fmt::format("autodiff: train function {} has no loss", f.name));
  DLC_ASSERT(loss->type == TensorType::f32({}),
             fmt::format("autodiff: loss of {} is {}, expected f32[]", f.name, loss->type.str()));
  std::set<std::string> params(spec.params.begin(), spec.params.end());
  // Module::findVar scans every variable; with one lookup per param that is
  // quadratic in model depth, so index the declarations once (the first of a
  // name wins, as with findVar). m.vars does not change during this pass.
  std::unordered_map<std::string, const VarDecl *> decls;
  for (const VarDecl &v : m.vars)
    decls.emplace(v.name, &v);
  for (const std::string &p : spec.params) {
    auto v = decls.find(p);
    DLC_ASSERT(v != decls.end() && v->second->type.dtype == DType::F32,
               fmt::format("autodiff: param '{}' of {} is not a f32 variable", p, f.name));
  }

  size_t firstNew = f.nodes.size();
  std::vector<Node *> fwd;
  for (auto &n : f.nodes)
    fwd.push_back(n.get());
  std::unordered_set<const Node *> active = activeNodes(fwd, loss, params);

  Builder b(f);
  std::unordered_map<const Node *, Node *> adjoint;
  if (active.count(loss)) {
    b.setLoc(loss->loc);
    b.setGradOf(loss);
    adjoint[loss] = b.constant(1.0, loss->type); // d loss / d loss
  }
  // `fwd` is topological, so walking it backwards finishes every adjoint
  // (all users have contributed) before it is propagated further.
  for (auto it = fwd.rbegin(); it != fwd.rend(); ++it) {
    Node *n = *it;
    auto dy = adjoint.find(n);
    if (!active.count(n) || dy == adjoint.end() || n->operands.empty())
      continue;
    b.setLoc(n->loc);
    b.setGradOf(n);
    std::vector<Node *> d = gradient(b, n, dy->second);
    DLC_ASSERT(d.size() == n->operands.size(),
               fmt::format("gradient rule of {} returned the wrong number of adjoints",
                           opName(n->op)));
    for (size_t i = 0; i < d.size(); ++i) {
      Node *op = n->operands[i];
      if (!d[i] || !active.count(op))
        continue;
      DLC_ASSERT(d[i]->type == op->type,
                 fmt::format("gradient rule of {} gave an adjoint of type {} for {}",
                             opName(n->op), d[i]->type.str(), op->type.str()));
      auto [slot, first] = adjoint.try_emplace(op, d[i]);
      if (!first) // a value with several users: their adjoints add up
        slot->second = b.add(slot->second, d[i]);
    }
  }

  // A variable read by several var nodes gets the sum of their adjoints; one
  // that no path joins to the loss gets an explicit zero gradient, so every
  // param has a grad and the optimizer treats all alike. The param var nodes
  // with an adjoint are grouped by variable in one walk over `fwd` (rather
  // than a walk per param, quadratic in depth); each group keeps fwd order,
  // so the adds are made in the same order as before.
  std::unordered_map<std::string, std::vector<Node *>> readsOf;
  for (Node *n : fwd)
    if (isParamVar(n, params) && adjoint.count(n))
      readsOf[n->attrs.getString("name")].push_back(n);
  for (const std::string &p : spec.params) {
    const VarDecl &decl = *decls.at(p);
    b.setLoc(decl.loc);
    Node *g = nullptr;
    if (auto reads = readsOf.find(p); reads != readsOf.end())
      for (Node *n : reads->second) {
        b.setGradOf(n);
        g = g ? b.add(g, adjoint.at(n)) : adjoint.at(n);
      }
    if (!g) {
      b.setGradOf(nullptr);
      g = b.constant(0.0, decl.type);
    }
    f.grads.push_back({p, g});
  }

  removeDeadNewNodes(f, firstNew);
  nameAdjoints(f, firstNew, fwd, adjoint);
}

} // namespace

bool awaitsAutodiff(const Function &f) {
  // Not when already differentiated (e.g. parsed from a --emit=grad or
  // --emit=opt dump): it has grads, or updates of its params. Updates of
  // other state (the dropout counter) come from the frontend.
  if (!f.isTrain() || !f.grads.empty() || f.train->params.empty())
    return false;
  for (auto &[var, value] : f.updates)
    if (std::find(f.train->params.begin(), f.train->params.end(), var) != f.train->params.end())
      return false;
  return true;
}

bool runAutodiff(Module &m) {
  bool changed = false;
  for (auto &f : m.functions) {
    if (!awaitsAutodiff(*f))
      continue;
    differentiate(m, *f);
    changed = true;
  }
  return changed;
}

} // namespace dlc
