// Structural and type checks of a Module (ir/Verifier.h). It reports every
// problem it finds rather than stopping at the first: after a broken pass the
// whole list is what points at the cause.
#include "ir/Verifier.h"
#include "ir/RowIndependence.h"
#include "ir/OpRules.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_map>

namespace dlc {

namespace {

// The text form's NAME (docs/IR.md): anything else would not parse back.
bool validName(const std::string &s) {
  if (s.empty() || !(std::isalpha((unsigned char)s[0]) || s[0] == '_'))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum((unsigned char)c) || c == '_' || c == '.';
  });
}

class FunctionVerifier {
public:
  FunctionVerifier(const Module &m, const Function &f, std::vector<std::string> &out)
      : m_(m), f_(f), out_(out) {}

  void run() {
    for (size_t i = 0; i < f_.nodes.size(); ++i)
      index_[f_.nodes[i].get()] = i;
    std::set<std::string> names;
    for (size_t i = 0; i < f_.nodes.size(); ++i) {
      const Node &n = *f_.nodes[i];
      if (!validName(n.name))
        report(n, "name is not a valid IR name");
      else if (!names.insert(n.name).second)
        report(n, "duplicate name");
      checkNode(n, i);
    }
    // In the text form's order, so messages read top to bottom.
    if (f_.train)
      checkTrain(*f_.train);
    checkRoots("grad", f_.grads, true);
    checkRoots("update", f_.updates, true);
    checkRoots("output", f_.outputs, false);
    for (const EntryProblem &p : entryContractProblems(f_))
      problem(p.name.empty() ? fmt::format("{}: {}", p.kind, p.message)
                             : fmt::format("{} {}: {}", p.kind, p.name, p.message));
  }

private:
  const Module &m_;
  const Function &f_;
  std::vector<std::string> &out_;
  std::unordered_map<const Node *, size_t> index_;

  void problem(const std::string &msg) {
    out_.push_back(fmt::format("func {}: {}", f_.name, msg));
  }
  void report(const Node &n, const std::string &msg) {
    problem(fmt::format("%{} = {}: {}", n.name, opName(n.op), msg));
  }
  bool inFunction(const Node *n) const { return n && index_.count(n); }

  void checkNode(const Node &n, size_t i) {
    bool operandsOk = true;
    for (const Node *o : n.operands) {
      if (!o) {
        report(n, "null operand");
        operandsOk = false;
      } else if (!inFunction(o)) {
        report(n, fmt::format("operand %{} belongs to another function", o->name));
        operandsOk = false;
      } else if (index_.at(o) >= i) {
        report(n, fmt::format("operand %{} is not defined before its use", o->name));
      }
    }
    if (n.gradOf && !inFunction(n.gradOf))
      report(n, "grad_of refers to a node outside the function");
    std::string attrs = attrsProblem(n.op, n.attrs.items());
    if (!attrs.empty())
      report(n, attrs);
    else if (operandsOk)
      checkType(n);
    if (std::string p = sourceProblem(m_, n.op, n.attrs, n.type); !p.empty())
      report(n, p);
  }

  // The shape rule must give the node's own type.
  void checkType(const Node &n) {
    std::vector<TensorType> in;
    for (const Node *o : n.operands)
      in.push_back(o->type);
    std::string err;
    auto t = inferType(n.op, in, n.attrs, n.info().typed() ? &n.type : nullptr, err);
    if (!t)
      report(n, err);
    else if (*t != n.type)
      report(n, fmt::format("type is {} but the shape rule gives {}", n.type.str(), t->str()));
  }

  void checkRoots(const std::string &kind,
                  const std::vector<std::pair<std::string, Node *>> &list,
                  bool namesVar) {
    std::set<std::string> seen;
    for (auto &[name, n] : list) {
      std::string what = fmt::format("{} {}", kind, name);
      if (!seen.insert(name).second)
        problem(fmt::format("duplicate {}", what));
      if (!validName(name))
        problem(fmt::format("{}: name is not a valid IR name", what));
      if (!n) {
        problem(fmt::format("{}: no value", what));
        continue;
      }
      if (!inFunction(n))
        problem(fmt::format("{}: %{} is not a node of this function", what, n->name));
      if (!namesVar)
        continue;
      const VarDecl *v = m_.findVar(name);
      if (!v)
        problem(fmt::format("{}: unknown variable", what));
      else if (v->type != n->type)
        problem(fmt::format("{}: variable is {}, value %{} is {}", what, v->type.str(), n->name,
                            n->type.str()));
    }
  }

  void checkTrain(const TrainSpec &t) {
    if (!t.loss)
      problem("train: no loss");
    else if (!inFunction(t.loss))
      problem(fmt::format("train: loss %{} is not a node of this function", t.loss->name));
    else if (t.loss->type != TensorType::f32({}))
      problem(fmt::format("train: loss %{} is {}, expected f32[]", t.loss->name,
                          t.loss->type.str()));
    const OptimizerInfo *opt = findOptimizer(t.optimizer);
    if (!opt)
      problem(fmt::format("train: unknown optimizer '{}'", t.optimizer));
    std::set<std::string> given;
    for (auto &[k, v] : t.hyper) {
      const HyperParam *h = opt ? opt->find(k) : nullptr;
      if (opt && !h)
        problem(fmt::format("train: {} has no hyper-parameter '{}'", t.optimizer, k));
      else if (h && !h->problem(v).empty())
        problem(fmt::format("train: {}: hyper-parameter '{}' {}", t.optimizer, k, h->problem(v)));
      if (!given.insert(k).second)
        problem(fmt::format("train: hyper-parameter '{}' is given twice", k));
    }
    std::set<std::string> seen;
    for (auto &p : t.params) {
      const VarDecl *v = m_.findVar(p);
      if (!v)
        problem(fmt::format("train: unknown variable '{}'", p));
      else if (!v->trainable || v->type.dtype != DType::F32)
        problem(fmt::format("train: '{}' is not a trainable f32 param", p));
      if (!seen.insert(p).second)
        problem(fmt::format("train: param '{}' is listed twice", p));
    }
  }
};

} // namespace

std::vector<EntryProblem> entryContractProblems(const Function &f) {
  std::vector<EntryProblem> out;
  if (!f.train) {
    for (auto &[name, n] : f.grads)
      out.push_back({"grad", name, fmt::format("only a train entry has grads, and '{}' has no "
                                               "train line", f.name)});
    for (auto &[name, n] : f.updates)
      out.push_back({"update", name, fmt::format("only a train entry changes variables, and "
                                                 "'{}' has no train line", f.name)});
    return out;
  }
  const std::vector<std::string> &params = f.train->params;
  auto isParam = [&](const std::string &v) {
    return std::find(params.begin(), params.end(), v) != params.end();
  };
  auto has = [](const std::vector<std::pair<std::string, Node *>> &roots,
                const std::string &v) {
    return std::any_of(roots.begin(), roots.end(), [&](auto &r) { return r.first == v; });
  };
  bool updatesParams = false;
  for (auto &[name, n] : f.updates)
    updatesParams = updatesParams || isParam(name);
  for (auto &[name, n] : f.grads) {
    if (!isParam(name))
      out.push_back({"grad", name, fmt::format("'{}' is not in the train line's params", name)});
    else if (has(f.updates, name))
      out.push_back({"grad", name,
                     fmt::format("'{}' has both a grad and an update: the optimizer would "
                                 "update it a second time (a function holds grads before the "
                                 "optimizer pass, param updates after it)", name)});
  }
  for (const std::string &p : params) {
    if (has(f.grads, p) || has(f.updates, p))
      continue;
    if (!f.grads.empty())
      out.push_back({"train", "", fmt::format("param '{}' has no grad line, though other "
                                              "params have one (autodiff gives every param "
                                              "a grad)", p)});
    else if (updatesParams)
      out.push_back({"train", "", fmt::format("param '{}' has no update line, though other "
                                              "params have one (the optimizer updates every "
                                              "param)", p)});
  }
  return out;
}

std::string sourceProblem(const Module &m, OpKind op, const Attrs &attrs,
                          const TensorType &type) {
  if (op != OpKind::Input && op != OpKind::Var)
    return "";
  auto it = attrs.items().find("name");
  if (it == attrs.items().end() || !std::holds_alternative<std::string>(it->second))
    return ""; // the schema check reports it
  const std::string &name = std::get<std::string>(it->second);
  const TensorType *declared = nullptr;
  if (op == OpKind::Input) {
    if (auto *d = m.findInput(name))
      declared = &d->type;
  } else if (auto *d = m.findVar(name)) {
    declared = &d->type;
  }
  if (!declared)
    return fmt::format("{} '{}' is not declared", op == OpKind::Input ? "input" : "variable",
                       name);
  if (*declared != type)
    return fmt::format("'{}' is declared {}, used as {}", name, declared->str(), type.str());
  return "";
}

std::vector<std::string> verifyModule(const Module &m) {
  std::vector<std::string> out;
  if (!validName(m.name))
    out.push_back(fmt::format("model name '{}' is not a valid IR name", m.name));
  std::set<std::string> decls;
  auto checkDecl = [&](const char *kind, const std::string &name, const TensorType &t) {
    if (!validName(name) || !decls.insert(name).second)
      out.push_back(fmt::format("{} '{}': invalid or duplicate name", kind, name));
    if (!withinSizeLimits(t.dims))
      out.push_back(fmt::format("{} '{}': type {} has a dimension below 1 or more than 2^40 "
                                "elements", kind, name, t.str()));
  };
  for (auto &in : m.inputs)
    checkDecl("input", in.name, in.type);
  for (auto &v : m.vars)
    checkDecl("variable", v.name, v.type);
  std::set<std::string> funcs;
  for (auto &f : m.functions) {
    if (!validName(f->name) || !funcs.insert(f->name).second)
      out.push_back(fmt::format("func '{}': invalid or duplicate name", f->name));
    FunctionVerifier(m, *f, out).run();
    if (!f->plan.kernels.empty() || f->plan.planned)
      for (std::string &p : verifyPlan(*f))
        out.push_back(std::move(p));
    if (f->plan.planned)
      for (std::string &p : verifyRowGroups(*f, modelBatch(m)))
        out.push_back(std::move(p));
  }
  return out;
}

void verifyOrThrow(const Module &m, const std::string &afterPass) {
  std::vector<std::string> problems = verifyModule(m);
  if (problems.empty())
    return;
  internalError(fmt::format("IR verification failed after '{}':\n  {}", afterPass,
                            fmt::join(problems, "\n  ")));
}

} // namespace dlc
