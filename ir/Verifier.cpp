// Structural and type checks of a Module (ir/Verifier.h). It reports every
// problem it finds rather than stopping at the first: after a broken pass the
// whole list is what points at the cause.
#include "ir/Verifier.h"
#include "ir/OpRules.h"
#include "ir/Support.h"

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
      problem(p.kind + (p.name.empty() ? "" : " " + p.name) + ": " + p.message);
  }

private:
  const Module &m_;
  const Function &f_;
  std::vector<std::string> &out_;
  std::unordered_map<const Node *, size_t> index_;

  void problem(const std::string &msg) { out_.push_back("func " + f_.name + ": " + msg); }
  void report(const Node &n, const std::string &msg) {
    problem("%" + n.name + " = " + opName(n.op) + ": " + msg);
  }
  bool inFunction(const Node *n) const { return n && index_.count(n); }

  void checkNode(const Node &n, size_t i) {
    bool operandsOk = true;
    for (const Node *o : n.operands) {
      if (!o) {
        report(n, "null operand");
        operandsOk = false;
      } else if (!inFunction(o)) {
        report(n, "operand %" + o->name + " belongs to another function");
        operandsOk = false;
      } else if (index_.at(o) >= i) {
        report(n, "operand %" + o->name + " is not defined before its use");
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
      report(n, "type is " + n.type.str() + " but the shape rule gives " + t->str());
  }

  void checkRoots(const std::string &kind,
                  const std::vector<std::pair<std::string, Node *>> &list,
                  bool namesVar) {
    std::set<std::string> seen;
    for (auto &[name, n] : list) {
      std::string what = kind + " " + name;
      if (!seen.insert(name).second)
        problem("duplicate " + what);
      if (!validName(name))
        problem(what + ": name is not a valid IR name");
      if (!n) {
        problem(what + ": no value");
        continue;
      }
      if (!inFunction(n))
        problem(what + ": %" + n->name + " is not a node of this function");
      if (!namesVar)
        continue;
      const VarDecl *v = m_.findVar(name);
      if (!v)
        problem(what + ": unknown variable");
      else if (v->type != n->type)
        problem(what + ": variable is " + v->type.str() + ", value %" + n->name +
                " is " + n->type.str());
    }
  }

  void checkTrain(const TrainSpec &t) {
    if (!t.loss)
      problem("train: no loss");
    else if (!inFunction(t.loss))
      problem("train: loss %" + t.loss->name + " is not a node of this function");
    else if (t.loss->type != TensorType::f32({}))
      problem("train: loss %" + t.loss->name + " is " + t.loss->type.str() +
              ", expected f32[]");
    const OptimizerInfo *opt = findOptimizer(t.optimizer);
    if (!opt)
      problem("train: unknown optimizer '" + t.optimizer + "'");
    std::set<std::string> given;
    for (auto &[k, v] : t.hyper) {
      const HyperParam *h = opt ? opt->find(k) : nullptr;
      if (opt && !h)
        problem("train: " + t.optimizer + " has no hyper-parameter '" + k + "'");
      else if (h && !h->problem(v).empty())
        problem("train: " + t.optimizer + ": hyper-parameter '" + k + "' " + h->problem(v));
      if (!given.insert(k).second)
        problem("train: hyper-parameter '" + k + "' is given twice");
    }
    std::set<std::string> seen;
    for (auto &p : t.params) {
      const VarDecl *v = m_.findVar(p);
      if (!v)
        problem("train: unknown variable '" + p + "'");
      else if (!v->trainable || v->type.dtype != DType::F32)
        problem("train: '" + p + "' is not a trainable f32 param");
      if (!seen.insert(p).second)
        problem("train: param '" + p + "' is listed twice");
    }
  }
};

} // namespace

std::vector<EntryProblem> entryContractProblems(const Function &f) {
  std::vector<EntryProblem> out;
  if (!f.train) {
    for (auto &[name, n] : f.grads)
      out.push_back({"grad", name, "only a train entry has grads, and '" + f.name +
                                       "' has no train line"});
    for (auto &[name, n] : f.updates)
      out.push_back({"update", name, "only a train entry changes variables, and '" +
                                         f.name + "' has no train line"});
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
      out.push_back({"grad", name, "'" + name + "' is not in the train line's params"});
    else if (has(f.updates, name))
      out.push_back({"grad", name,
                     "'" + name + "' has both a grad and an update: the optimizer "
                     "would update it a second time (a function holds grads before "
                     "the optimizer pass, param updates after it)"});
  }
  for (const std::string &p : params) {
    if (has(f.grads, p) || has(f.updates, p))
      continue;
    if (!f.grads.empty())
      out.push_back({"train", "", "param '" + p + "' has no grad line, though other "
                                  "params have one (autodiff gives every param a grad)"});
    else if (updatesParams)
      out.push_back({"train", "", "param '" + p + "' has no update line, though other "
                                  "params have one (the optimizer updates every param)"});
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
    return std::string(op == OpKind::Input ? "input" : "variable") + " '" + name +
           "' is not declared";
  if (*declared != type)
    return "'" + name + "' is declared " + declared->str() + ", used as " + type.str();
  return "";
}

std::vector<std::string> verifyModule(const Module &m) {
  std::vector<std::string> out;
  if (!validName(m.name))
    out.push_back("model name '" + m.name + "' is not a valid IR name");
  std::set<std::string> decls;
  auto checkDecl = [&](const char *kind, const std::string &name, const TensorType &t) {
    if (!validName(name) || !decls.insert(name).second)
      out.push_back(std::string(kind) + " '" + name + "': invalid or duplicate name");
    if (!withinSizeLimits(t.dims))
      out.push_back(std::string(kind) + " '" + name + "': type " + t.str() +
                    " has a dimension below 1 or more than 2^40 elements");
  };
  for (auto &in : m.inputs)
    checkDecl("input", in.name, in.type);
  for (auto &v : m.vars)
    checkDecl("variable", v.name, v.type);
  std::set<std::string> funcs;
  for (auto &f : m.functions) {
    if (!validName(f->name) || !funcs.insert(f->name).second)
      out.push_back("func '" + f->name + "': invalid or duplicate name");
    FunctionVerifier(m, *f, out).run();
    if (!f->plan.kernels.empty() || f->plan.planned)
      for (std::string &p : verifyPlan(*f))
        out.push_back(std::move(p));
  }
  return out;
}

void verifyOrThrow(const Module &m, const std::string &afterPass) {
  std::vector<std::string> problems = verifyModule(m);
  if (problems.empty())
    return;
  std::string msg = "IR verification failed after '" + afterPass + "':";
  for (auto &p : problems)
    msg += "\n  " + p;
  internalError(msg);
}

} // namespace dlc
