// The optimizer table (ir/Graph.h) and its expansions (passes/OptimizerUpdate):
// each optimizer's first two steps against its textbook update written in
// doubles, the state it declares, SGD without momentum as the plain update,
// compiled against interpreted, the DSL spelling of each, and Adam's bias
// correction against a double reference.
#include "frontend/Frontend.h"
#include "ir/Builder.h"
#include "ir/Interpreter.h"
#include "ir/Printer.h"
#include "ir/Support.h"
#include "ir/Verifier.h"
#include "passes/Autodiff.h"
#include "passes/OptimizerUpdate.h"
#include "passes/Pipeline.h"
#include "tests/unit/grad_support.h"
#include "tests/unit/jit_support.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <sstream>

using namespace dlc;
using namespace dlc::testing;

namespace {

using Hyper = std::vector<std::pair<std::string, double>>;

TensorType F(Dims d) { return TensorType::f32(std::move(d)); }

// A textbook optimizer on one param, in doubles: its state by slot name.
struct Textbook {
  std::vector<double> w;
  std::map<std::string, std::vector<double>> slot;
  std::vector<double> &s(const std::string &k) {
    auto &v = slot[k];
    v.resize(w.size());
    return v;
  }
};
using Rule = std::function<void(Textbook &, const std::vector<double> &g, int t)>;

// Runs `optimizer` two steps on TwoParamModel and the rule beside it; checks each
// param and each state variable ("step.<optimizer>.<slot>.<param>") after
// each step.
void checkTwoSteps(const std::string &optimizer, const Hyper &hyper, const Rule &rule,
                   const std::vector<std::string> &slots) {
  TwoParamModel tiny(optimizer, hyper);
  tiny.expand();
  std::map<std::string, Textbook> ref;
  for (const char *p : {"w", "b"})
    ref[p].w = tiny.vars.at(p).data;
  for (int t = 1; t <= 2; ++t) {
    tiny.step();
    for (auto &[p, tb] : ref) {
      INFO(optimizer << " step " << t << " param " << p);
      rule(tb, tiny.grad(p, tb.w), t); // db does not depend on w
      checkClose(tiny.vars.at(p).data, tb.w);
      for (const std::string &k : slots) {
        INFO("slot " << k);
        checkClose(tiny.vars.at("step." + optimizer + "." + k + "." + p).data, tb.s(k));
      }
    }
  }
}

} // namespace

TEST_CASE("optimizers: SGD, with momentum and with Nesterov, is Keras's") {
  const double lr = 0.1, mu = 0.9;
  checkTwoSteps("sgd", {{"lr", lr}}, [&](Textbook &x, const std::vector<double> &g, int) {
    for (size_t i = 0; i < g.size(); ++i)
      x.w[i] -= lr * g[i];
  }, {});
  checkTwoSteps("sgd", {{"lr", lr}, {"momentum", mu}},
                [&](Textbook &x, const std::vector<double> &g, int) {
                  for (size_t i = 0; i < g.size(); ++i) {
                    x.s("v")[i] = mu * x.s("v")[i] - lr * g[i];
                    x.w[i] += x.s("v")[i];
                  }
                },
                {"v"});
  checkTwoSteps("sgd", {{"lr", lr}, {"momentum", mu}, {"nesterov", 1}},
                [&](Textbook &x, const std::vector<double> &g, int) {
                  for (size_t i = 0; i < g.size(); ++i) {
                    x.s("v")[i] = mu * x.s("v")[i] - lr * g[i];
                    x.w[i] += mu * x.s("v")[i] - lr * g[i];
                  }
                },
                {"v"});
}

TEST_CASE("optimizers: RMSprop") {
  const double lr = 0.01, rho = 0.8, eps = 1e-3; // eps large enough to matter
  checkTwoSteps("rmsprop", {{"lr", lr}, {"rho", rho}, {"eps", eps}},
                [&](Textbook &x, const std::vector<double> &g, int) {
                  for (size_t i = 0; i < g.size(); ++i) {
                    x.s("s")[i] = rho * x.s("s")[i] + (1 - rho) * g[i] * g[i];
                    x.w[i] -= lr * g[i] / (std::sqrt(x.s("s")[i]) + eps);
                  }
                },
                {"s"});
}

TEST_CASE("optimizers: Adam and AdamW (decoupled weight decay)") {
  const double lr = 0.05, b1 = 0.8, b2 = 0.99, eps = 1e-3, wd = 0.1;
  for (double decay : {0.0, wd}) {
    Hyper hyper = {{"lr", lr}, {"beta1", b1}, {"beta2", b2}, {"eps", eps}};
    if (decay != 0)
      hyper.push_back({"weight_decay", decay});
    checkTwoSteps(decay != 0 ? "adamw" : "adam", hyper,
                  [&](Textbook &x, const std::vector<double> &g, int t) {
                    for (size_t i = 0; i < g.size(); ++i) {
                      double &m = x.s("m")[i], &v = x.s("v")[i];
                      m = b1 * m + (1 - b1) * g[i];
                      v = b2 * v + (1 - b2) * g[i] * g[i];
                      double mHat = m / (1 - std::pow(b1, t)), vHat = v / (1 - std::pow(b2, t));
                      x.w[i] -= lr * (mHat / (std::sqrt(vHat) + eps) + decay * x.w[i]);
                    }
                  },
                  {"m", "v"});
  }
}

TEST_CASE("optimizers: defaults come from the table") {
  const OptimizerInfo *adamw = findOptimizer("adamw");
  REQUIRE(adamw);
  CHECK(adamw->hyperNames() ==
        std::vector<std::string>{"lr", "beta1", "beta2", "eps", "weight_decay"});
  TrainSpec spec{nullptr, {}, "adamw", {{"lr", 0.5}}};
  CHECK(spec.hyperValue("lr") == 0.5);
  CHECK(spec.hyperValue("weight_decay") == 0.004);
  CHECK(spec.hyperValue("eps") == 1e-7);
  CHECK_THROWS_AS(spec.hyperValue("momentum"), InternalError);

  // Written nowhere, the expansion uses them: rmsprop's first step is
  // w - lr g / (sqrt((1 - rho) g²) + eps) with lr 0.001, rho 0.9, eps 1e-7.
  checkTwoSteps("rmsprop", {}, [&](Textbook &x, const std::vector<double> &g, int) {
    for (size_t i = 0; i < g.size(); ++i) {
      x.s("s")[i] = 0.9 * x.s("s")[i] + 0.1 * g[i] * g[i];
      x.w[i] -= 0.001 * g[i] / (std::sqrt(x.s("s")[i]) + 1e-7);
    }
  }, {"s"});
}

TEST_CASE("optimizers: the ranges of the table") {
  auto problem = [](const std::string &opt, const std::string &k, double v) {
    return findOptimizer(opt)->find(k)->problem(v);
  };
  CHECK(problem("sgd", "lr", 0.1) == "");
  CHECK(problem("sgd", "lr", 0) == "must be positive, got 0");
  CHECK(problem("sgd", "lr", 1e-50) == "must be positive, got 1e-50 (0 as f32)");
  CHECK(problem("sgd", "momentum", 0) == "");
  CHECK(problem("sgd", "momentum", 1) == "must be at least 0 and less than 1, got 1");
  CHECK(problem("sgd", "nesterov", 1) == "");
  CHECK(problem("sgd", "nesterov", 2) == "must be true or false (1 or 0), got 2");
  CHECK(problem("rmsprop", "eps", 0) == "must be positive, got 0");
  CHECK(problem("adam", "beta2", -0.5) == "must be at least 0 and less than 1, got -0.5");
  CHECK(problem("adamw", "weight_decay", 0) == "");
  CHECK(problem("adamw", "weight_decay", -1) == "must not be negative, got -1");
  CHECK(problem("adam", "lr", INFINITY) == "must be a finite number, got inf");
}

TEST_CASE("optimizers: state is declared under the documented names") {
  struct Want {
    std::string optimizer;
    Hyper hyper;
    std::set<std::string> state;
  };
  for (const Want &w : std::vector<Want>{
           {"sgd", {}, {}},
           {"sgd", {{"momentum", 0.5}}, {"step.sgd.v.w", "step.sgd.v.b"}},
           {"rmsprop", {}, {"step.rmsprop.s.w", "step.rmsprop.s.b"}},
           {"adam",
            {},
            {"step.adam.m.w", "step.adam.v.w", "step.adam.m.b", "step.adam.v.b", "step.adam.t"}},
           {"adamw",
            {},
            {"step.adamw.m.w", "step.adamw.v.w", "step.adamw.m.b", "step.adamw.v.b",
             "step.adamw.t"}}}) {
    INFO(w.optimizer);
    TwoParamModel tiny(w.optimizer, w.hyper);
    tiny.expand();
    std::set<std::string> state, updated;
    for (const VarDecl &d : tiny.m.vars) {
      if (d.trainable)
        continue;
      state.insert(d.name);
      CHECK(d.init.kind == Init::Zeros);
      std::string param = d.name.substr(d.name.rfind('.') + 1);
      CHECK(d.type == (param == "t" ? F({}) : tiny.m.findVar(param)->type));
    }
    CHECK(state == w.state);
    // Every param and every state variable gets exactly one update, params first.
    for (auto &[name, node] : tiny.f->updates) {
      CHECK(updated.insert(name).second);
      CHECK(node->type == tiny.m.findVar(name)->type);
    }
    CHECK(tiny.f->updates[0].first == "w");
    CHECK(tiny.f->updates[1].first == "b");
    CHECK(updated.size() == 2 + w.state.size());
  }
}

TEST_CASE("optimizers: SGD with momentum 0 is the plain update, graph for graph") {
  auto expanded = [](Hyper hyper) {
    TwoParamModel tiny("sgd", std::move(hyper));
    tiny.expand();
    // Everything but the train line, which repeats the hyper-parameters.
    std::istringstream text(printModule(tiny.m));
    std::string line, out;
    while (std::getline(text, line))
      if (line.find("  train loss") == std::string::npos)
        out += line + "\n";
    return out;
  };
  std::string plain = expanded({{"lr", 0.1}});
  CHECK(plain.find("state") == std::string::npos);
  CHECK(expanded({{"lr", 0.1}, {"momentum", 0}}) == plain);
  CHECK(expanded({{"lr", 0.1}, {"momentum", 0}, {"nesterov", 1}}) == plain);
}

TEST_CASE("optimizers: every optimizer of the table, compiled, agrees with the interpreter") {
  // Hyper-parameters that exercise every branch (momentum, Nesterov, decay).
  std::map<std::string, Hyper> hyper = {
      {"sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"nesterov", 1}}},
      {"adamw", {{"lr", 0.01}, {"weight_decay", 0.1}}},
  };
  for (const OptimizerInfo &o : optimizers()) {
    INFO(o.name);
    TwoParamModel tiny(o.name, hyper[o.name]);
    tiny.expand();
    TensorMap compiled = tiny.vars;
    for (int s = 1; s <= 2; ++s) { // the second step reads nonzero state
      INFO("step " << s);
      jitRun(tiny.m, 0, tiny.inputs, compiled);
      tiny.step();
      for (auto &[name, t] : tiny.vars) {
        INFO(name);
        checkClose(compiled.at(name).data, t.data);
      }
    }
  }
}

TEST_CASE("optimizers: each is written in the DSL as in a train statement") {
  for (std::string opt :
       {"sgd(lr = 0.1, momentum = 0.9, nesterov = 1)", "sgd(0.1, 0.9, nesterov = true)",
        "rmsprop(lr = 0.01, rho = 0.9)",
        "adam(lr = 0.01)", "adamw(lr = 0.01, weight_decay = 0.01)"}) {
    INFO(opt);
    std::string src = "model tiny(batch = 8) {\n"
                      "  input x : f32[batch, 4]\n"
                      "  input y : i32[batch]\n"
                      "  loss = cross_entropy(dense(x, 3), y)\n"
                      "  train step(loss, " + opt + ")\n"
                      "}\n";
    std::ostringstream errs;
    std::unique_ptr<Module> m = compileModelSource("tiny.dl", src, errs);
    REQUIRE_MESSAGE(m, errs.str());
    PassOptions check;
    check.verifyEach = true;
    PassManager pm(check);
    addDefaultPipeline(pm);
    pm.run(*m);
    Function *step = m->findFunction("step");
    REQUIRE(step);
    std::string name = opt.substr(0, opt.find('('));
    CHECK(step->train->optimizer == name);
    if (name == "sgd")
      CHECK(step->train->hyperValue("nesterov") == 1);
    for (const VarDecl &v : m->vars)
      if (!v.trainable)
        CHECK(v.name.rfind("step." + name + ".", 0) == 0);

    // Ten interpreted steps on one batch lower the loss; a compiled step
    // agrees with an interpreted one.
    TensorMap inputs = {{"x", f32Tensor({8, 4}, data(32, -1, 1))},
                        {"y", i32Tensor({8}, {0, 1, 2, 0, 1, 2, 0, 1})}};
    TensorMap vars = initVarsForTest(*m, 5), compiled = vars;
    jitRun(*m, 0, inputs, compiled);
    double first = 0, last = 0;
    for (int s = 0; s < 10; ++s) {
      InterpResult r = interpret(*step, inputs, vars);
      (s == 0 ? first : last) = r.outputs.at("loss").data[0];
      for (auto &[k, t] : r.updates)
        vars[k] = t;
      if (s == 0)
        for (auto &[k, t] : vars)
          checkClose(compiled.at(k).data, t.data);
    }
    CHECK(last < first);
  }
}

// 1 - beta^t was 1 - pow(beta, t) in f32; now -expm1(t log(beta)) with
// log(beta) folded in double (OptimizerUpdate.h). Measured against double
// for t = 1..10000, compiled and interpreted.
TEST_CASE("optimizers: Adam's bias correction is exact to float") {
  const int n = 10000;
  std::vector<double> ts;
  for (int t = 1; t <= n; ++t)
    ts.push_back(t);
  for (double beta : {0.9, 0.999, 0.99, 0.9999, 0.5, 0.1}) {
    INFO("beta " << beta);
    Module m;
    m.name = "corr";
    Function &f = m.addFunction("predict");
    Builder b(f);
    m.inputs.push_back({"t", F({n}), {}});
    f.outputs = {{"c", biasCorrection(b, b.input("t", F({n})), beta, "c")}};
    REQUIRE(problems(m) == "");
    TensorMap inputs = {{"t", f32Tensor({n}, ts)}}, noVars;
    std::vector<double> compiled = jitRun(m, 0, inputs, noVars).at("c").data;
    std::vector<double> interpreted = interpret(f, inputs, noVars).outputs.at("c").data;
    double worstCompiled = 0, worstInterpreted = 0;
    for (int i = 0; i < n; ++i) {
      double want = -std::expm1((i + 1) * std::log(beta));
      worstCompiled = std::max(worstCompiled, std::fabs(compiled[i] - want) / want);
      worstInterpreted =
          std::max(worstInterpreted, std::fabs((double)(float)interpreted[i] - want) / want);
    }
    MESSAGE("beta " << beta << ": max relative error compiled " << worstCompiled
                    << ", interpreted (as f32) " << worstInterpreted);
    CHECK(worstCompiled <= 1.2e-7);
    CHECK(worstInterpreted <= 1.2e-7);
  }

  // beta = 0: 1 - 0^t is 1, a constant (log(0) is never taken).
  Function f("g");
  Builder b(f);
  Node *c = biasCorrection(b, b.input("t", F({})), 0.0, "c");
  CHECK(c->op == OpKind::Constant);
  CHECK(c->attrs.getFloat("value") == 1.0);
}
