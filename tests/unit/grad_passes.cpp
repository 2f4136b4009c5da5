// The passes after autodiff: SGD and Adam update math against a hand-written
// reference over three steps, the state they declare, and dead-node removal.
#include "ir/Builder.h"
#include "ir/Interpreter.h"
#include "ir/Verifier.h"
#include "ir/Support.h"
#include "passes/Autodiff.h"
#include "passes/OptimizerUpdate.h"
#include "passes/Simplify.h"

#include "tests/unit/grad_support.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

using namespace dlc;
using namespace dlc::testing;

namespace {

TensorType F(Dims d) { return TensorType::f32(std::move(d)); }

void checkClose(const Tensor &got, const std::vector<double> &want, const char *what) {
  REQUIRE(got.data.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(what << " element " << i);
    CHECK(got.data[i] == doctest::Approx(want[i]).epsilon(1e-5));
  }
}

std::vector<double> asDouble(const Tensor &t) { return {t.data.begin(), t.data.end()}; }

} // namespace

TEST_CASE("grad passes: SGD is w - lr * g for three steps") {
  TwoParamModel model("sgd", {{"lr", 0.1}});
  std::map<std::string, std::vector<double>> ref;
  for (const char *p : {"w", "b"})
    ref[p] = asDouble(model.vars.at(p));
  model.train(3, [&](int, const TensorMap &) {
    TensorMap refVars = model.vars;
    for (auto &[p, w] : ref) {
      for (size_t i = 0; i < w.size(); ++i)
        refVars[p].data[i] = (float)w[i];
    }
    for (auto &[p, w] : ref) {
      std::vector<double> g = model.grad(p, refVars.at("w").data);
      for (size_t i = 0; i < w.size(); ++i)
        w[i] -= 0.1 * g[i];
      checkClose(model.vars.at(p), w, p.c_str());
    }
  });
  Function &f = *model.f;
  CHECK(f.grads.empty());
  CHECK(model.m.vars.size() == 2); // SGD keeps no state
  REQUIRE(f.updates.size() == 2);
  CHECK(f.updates[0].first == "w");
  CHECK(f.updates[0].second->name == "w.new");
  CHECK(f.updates[1].first == "b");
}

TEST_CASE("grad passes: Adam matches the Keras/PyTorch formula for three steps") {
  const double lr = 0.05, b1 = 0.8, b2 = 0.99, eps = 1e-7;
  TwoParamModel model("adam", {{"lr", lr}, {"beta1", b1}, {"beta2", b2}});
  struct Ref {
    std::vector<double> w, m, v;
  };
  std::map<std::string, Ref> ref;
  for (const char *p : {"w", "b"}) {
    size_t n = model.vars.at(p).data.size();
    ref[p] = {asDouble(model.vars.at(p)), std::vector<double>(n), std::vector<double>(n)};
  }
  model.train(3, [&](int t, const TensorMap &before) {
    for (auto &[p, s] : ref) {
      std::vector<double> g = model.grad(p, before.at("w").data);
      for (size_t i = 0; i < s.w.size(); ++i) {
        s.m[i] = b1 * s.m[i] + (1 - b1) * g[i];
        s.v[i] = b2 * s.v[i] + (1 - b2) * g[i] * g[i];
        double mHat = s.m[i] / (1 - std::pow(b1, t));
        double vHat = s.v[i] / (1 - std::pow(b2, t));
        s.w[i] -= lr * mHat / (std::sqrt(vHat) + eps);
      }
      checkClose(model.vars.at(p), s.w, p.c_str());
      checkClose(model.vars.at("step.adam.m." + p), s.m, "m");
      checkClose(model.vars.at("step.adam.v." + p), s.v, "v");
    }
    CHECK(model.vars.at("step.adam.t").data.at(0) == (float)t);
  });

  // State: zero-initialised, not trainable, shaped like its param.
  const Module &m = model.m;
  for (const char *p : {"w", "b"})
    for (const char *slot : {"m", "v"}) {
      const VarDecl *d = m.findVar(std::string("step.adam.") + slot + "." + p);
      REQUIRE(d);
      CHECK_FALSE(d->trainable);
      CHECK(d->init.kind == Init::Zeros);
      CHECK(d->type == m.findVar(p)->type);
    }
  const VarDecl *t = m.findVar("step.adam.t");
  REQUIRE(t);
  CHECK(t->type == F({}));
  CHECK_FALSE(t->trainable);
  std::set<std::string> updated;
  for (auto &[name, node] : model.f->updates) {
    updated.insert(name);
    CHECK(node->type == m.findVar(name)->type);
  }
  CHECK(updated == std::set<std::string>{"w", "b", "step.adam.m.w", "step.adam.v.w",
                                         "step.adam.m.b", "step.adam.v.b", "step.adam.t"});
  CHECK(model.f->grads.empty());
}

TEST_CASE("grad passes: Adam's default hyper-parameters are lr 0.001, eps 1e-7") {
  TwoParamModel model("adam", {});
  std::vector<double> w = asDouble(model.vars.at("w"));
  model.train(1, [&](int, const TensorMap &before) {
    // Step 1: mHat = g, vHat = g², so w' = w - lr * g / (|g| + eps).
    std::vector<double> g = model.grad("w", before.at("w").data);
    for (size_t i = 0; i < w.size(); ++i)
      w[i] -= 0.001 * g[i] / (std::fabs(g[i]) + 1e-7);
    checkClose(model.vars.at("w"), w, "w");
  });
}

TEST_CASE("grad passes: an unknown optimizer is an internal error") {
  TwoParamModel model("adagrad", {});
  REQUIRE(runAutodiff(model.m));
  CHECK_THROWS_AS(runOptimizerUpdate(model.m), InternalError);
}

TEST_CASE("grad passes: simplify removes nodes nothing depends on") {
  Module m;
  Function &f = m.addFunction("predict");
  Builder b(f);
  Node *x = b.input("x", F({2}));
  Node *dead = b.unary(OpKind::Exp, x);
  b.mul(dead, dead);
  Node *y = b.neg(x);
  f.outputs = {{"y", y}};
  Function &g = m.addFunction("other");
  Builder bg(g);
  g.outputs = {{"z", bg.input("x", F({2}))}};
  CHECK(runSimplify(m));
  REQUIRE(f.nodes.size() == 2);
  CHECK(f.nodes[0].get() == x);
  CHECK(f.nodes[1].get() == y);
  CHECK(g.nodes.size() == 1);
  CHECK_FALSE(runSimplify(m)); // nothing left to remove
}
