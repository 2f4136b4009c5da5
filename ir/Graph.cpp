#include "ir/Graph.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace dlc {

void internalError(const std::string &message) { throw InternalError(message); }

void internalError(const char *file, int line, const std::string &message) {
  throw InternalError(fmt::format("{}:{}: {}", file, line, message));
}

// --- Attrs -----------------------------------------------------------------

int64_t Attrs::getInt(const std::string &k, int64_t dflt) const {
  auto it = map_.find(k);
  if (it == map_.end())
    return dflt;
  if (auto *v = std::get_if<int64_t>(&it->second))
    return *v;
  internalError(fmt::format("attribute '{}' is not an integer", k));
}

double Attrs::getFloat(const std::string &k, double dflt) const {
  auto it = map_.find(k);
  if (it == map_.end())
    return dflt;
  if (auto *v = std::get_if<double>(&it->second))
    return *v;
  if (auto *v = std::get_if<int64_t>(&it->second))
    return (double)*v;
  internalError(fmt::format("attribute '{}' is not a number", k));
}

const std::vector<int64_t> &Attrs::getInts(const std::string &k) const {
  auto it = map_.find(k);
  DLC_ASSERT(it != map_.end(), fmt::format("missing attribute '{}'", k));
  auto *v = std::get_if<std::vector<int64_t>>(&it->second);
  DLC_ASSERT(v, fmt::format("attribute '{}' is not an integer list", k));
  return *v;
}

const std::string &Attrs::getString(const std::string &k) const {
  auto it = map_.find(k);
  DLC_ASSERT(it != map_.end(), fmt::format("missing attribute '{}'", k));
  auto *v = std::get_if<std::string>(&it->second);
  DLC_ASSERT(v, fmt::format("attribute '{}' is not a string", k));
  return *v;
}

// --- Init, optimizers, TrainSpec --------------------------------------------

std::string Init::str() const {
  switch (kind) {
  case Zeros: return "zeros()";
  case Constant: return fmt::format("constant({:.9g})", a);
  case Normal: return fmt::format("normal({:.9g}, {:.9g})", a, b);
  case Uniform: return fmt::format("uniform({:.9g}, {:.9g})", a, b);
  }
  return "?";
}

std::string HyperParam::problem(double v) const {
  if (!std::isfinite(v))
    return fmt::format("must be a finite number, got {:.9g}", v);
  switch (range) {
  case Positive: // and still positive once rounded to the f32 the update uses
    return v > 0 && (float)v > 0
               ? ""
               : fmt::format("must be positive, got {:.9g}{}", v, v > 0 ? " (0 as f32)" : "");
  case NonNegative:
    return v >= 0 ? "" : fmt::format("must not be negative, got {:.9g}", v);
  case Fraction:
    return v >= 0 && v < 1 ? "" : fmt::format("must be at least 0 and less than 1, got {:.9g}", v);
  case Flag:
    return v == 0 || v == 1 ? "" : fmt::format("must be true or false (1 or 0), got {:.9g}", v);
  }
  return "";
}

// Defaults are Keras's. docs/DSL.md gives each update rule in one line.
const std::vector<OptimizerInfo> &optimizers() {
  using H = HyperParam;
  static const std::vector<OptimizerInfo> table = {
      {"sgd", {{"lr", 0.01, H::Positive}, {"momentum", 0, H::Fraction}, {"nesterov", 0, H::Flag}}},
      {"rmsprop", {{"lr", 0.001, H::Positive}, {"rho", 0.9, H::Fraction}, {"eps", 1e-7, H::Positive}}},
      {"adam",
       {{"lr", 0.001, H::Positive},
        {"beta1", 0.9, H::Fraction},
        {"beta2", 0.999, H::Fraction},
        {"eps", 1e-7, H::Positive}}},
      {"adamw",
       {{"lr", 0.001, H::Positive},
        {"beta1", 0.9, H::Fraction},
        {"beta2", 0.999, H::Fraction},
        {"eps", 1e-7, H::Positive},
        {"weight_decay", 0.004, H::NonNegative}}},
  };
  return table;
}

const OptimizerInfo *findOptimizer(const std::string &name) {
  for (const OptimizerInfo &o : optimizers())
    if (o.name == name)
      return &o;
  return nullptr;
}

const HyperParam *OptimizerInfo::find(const std::string &k) const {
  for (const HyperParam &h : hyper)
    if (h.name == k)
      return &h;
  return nullptr;
}

std::vector<std::string> OptimizerInfo::hyperNames() const {
  std::vector<std::string> names;
  for (const HyperParam &h : hyper)
    names.push_back(h.name);
  return names;
}

double TrainSpec::hyperOr(const std::string &k, double dflt) const {
  for (auto &[name, v] : hyper)
    if (name == k)
      return v;
  return dflt;
}

double TrainSpec::hyperValue(const std::string &k) const {
  const OptimizerInfo *o = findOptimizer(optimizer);
  const HyperParam *h = o ? o->find(k) : nullptr;
  DLC_ASSERT(h, fmt::format("optimizer '{}' has no hyper-parameter '{}'", optimizer, k));
  return hyperOr(k, h->dflt);
}

// --- Function ----------------------------------------------------------------

std::string Function::uniqueName(const std::string &base) {
  std::string b = base.empty() ? "t" : base;
  // The first use keeps the plain name; later ones get .1, .2, ... skipping
  // names already taken (a parsed function may hold "h.1" before "h").
  for (int &count = nameCount_[b];; ++count) {
    std::string candidate = count == 0 ? b : fmt::format("{}.{}", b, count);
    if (usedNames_.insert(candidate).second) {
      ++count;
      return candidate;
    }
  }
}

Node *Function::append(std::unique_ptr<Node> n) {
  for (Node *op : n->operands)
    DLC_ASSERT(op, fmt::format("null operand appended to function {}", name));
  n->name = uniqueName(n->name);
  nodes.push_back(std::move(n));
  return nodes.back().get();
}

Node *Function::find(const std::string &nm) const {
  for (auto &n : nodes)
    if (n->name == nm)
      return n.get();
  return nullptr;
}

std::vector<Node *> Function::roots() const {
  std::vector<Node *> r;
  for (auto &p : outputs)
    r.push_back(p.second);
  for (auto &p : updates)
    r.push_back(p.second);
  for (auto &p : grads)
    r.push_back(p.second);
  if (train && train->loss)
    r.push_back(train->loss);
  return r;
}

const Node *viewRoot(const Node *n) {
  while (n->info().isView())
    n = n->operands[0];
  return n;
}

std::unordered_set<const Node *> reachableFrom(std::vector<Node *> roots) {
  std::unordered_set<const Node *> seen;
  while (!roots.empty()) {
    Node *n = roots.back();
    roots.pop_back();
    if (seen.insert(n).second)
      roots.insert(roots.end(), n->operands.begin(), n->operands.end());
  }
  return seen;
}

size_t Function::removeDeadNodes() {
  std::unordered_set<const Node *> live = reachableFrom(roots());
  size_t before = nodes.size();
  // gradOf notes may point at dead forward nodes; they are only notes.
  for (auto &n : nodes)
    if (n->gradOf && !live.count(n->gradOf))
      n->gradOf = nullptr;
  nodes.erase(std::remove_if(nodes.begin(), nodes.end(),
                             [&](auto &n) { return !live.count(n.get()); }),
              nodes.end());
  // A plan (read from an .ir file that already went through fusion and
  // memory planning) names nodes; once some are gone it describes another
  // graph, and its pointers dangle. Fusion and memory planning make it anew.
  if (nodes.size() != before)
    plan = Plan{};
  return before - nodes.size();
}

std::vector<std::string> Function::inputNames() const {
  std::vector<std::string> names;
  for (auto &n : nodes)
    if (n->op == OpKind::Input) {
      const std::string &nm = n->attrs.getString("name");
      if (std::find(names.begin(), names.end(), nm) == names.end())
        names.push_back(nm);
    }
  return names;
}

void Function::replaceAllUses(Node *from, Node *to) {
  for (auto &n : nodes)
    for (Node *&op : n->operands)
      if (op == from)
        op = to;
  for (auto *list : {&outputs, &updates, &grads})
    for (auto &p : *list)
      if (p.second == from)
        p.second = to;
  if (train && train->loss == from)
    train->loss = to;
}

// --- Module ------------------------------------------------------------------

const InputDecl *Module::findInput(const std::string &n) const {
  for (auto &i : inputs)
    if (i.name == n)
      return &i;
  return nullptr;
}

const VarDecl *Module::findVar(const std::string &n) const {
  for (auto &v : vars)
    if (v.name == n)
      return &v;
  return nullptr;
}

VarDecl *Module::findVar(const std::string &n) {
  for (auto &v : vars)
    if (v.name == n)
      return &v;
  return nullptr;
}

Function *Module::findFunction(const std::string &n) const {
  for (auto &f : functions)
    if (f->name == n)
      return f.get();
  return nullptr;
}

Function &Module::addFunction(const std::string &n) {
  DLC_ASSERT(!findFunction(n), fmt::format("duplicate function {}", n));
  functions.push_back(std::make_unique<Function>(n));
  return *functions.back();
}

int64_t Module::varBytes() const {
  int64_t total = 0;
  for (auto &v : vars)
    total += v.type.bytes();
  return total;
}

std::unique_ptr<Module> cloneModule(const Module &m) {
  auto out = std::make_unique<Module>();
  out->name = m.name;
  out->inputs = m.inputs;
  out->vars = m.vars;
  for (auto &f : m.functions) {
    Function &g = out->addFunction(f->name);
    std::unordered_map<const Node *, Node *> map;
    for (auto &n : f->nodes) {
      auto c = std::make_unique<Node>(*n);
      for (Node *&op : c->operands)
        op = map.at(op);
      if (c->gradOf)
        c->gradOf = map.count(c->gradOf) ? map.at(c->gradOf) : nullptr;
      map[n.get()] = g.append(std::move(c));
    }
    auto remap = [&](const std::vector<std::pair<std::string, Node *>> &in) {
      std::vector<std::pair<std::string, Node *>> r;
      for (auto &p : in)
        r.push_back({p.first, map.at(p.second)});
      return r;
    };
    g.outputs = remap(f->outputs);
    g.updates = remap(f->updates);
    g.grads = remap(f->grads);
    if (f->train) {
      g.train = *f->train;
      if (g.train->loss)
        g.train->loss = map.at(f->train->loss);
    }
  }
  return out;
}

} // namespace dlc
