// Finite-difference checking of autodiff: random operands, and a check of
// every element of every param's gradient against central differences of
// the loss, all in the interpreter's double arithmetic.
#pragma once

#include "ir/Builder.h"
#include "ir/Interpreter.h"
#include "ir/Verifier.h"
#include "passes/Autodiff.h"
#include "passes/OptimizerUpdate.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>

namespace dlc::testing {

// The verifier's complaints as one string, so a failure shows them.
inline std::string problems(const Module &m) {
  std::string all;
  for (const std::string &p : verifyModule(m))
    all += p + "\n";
  return all;
}

// An operand of a test graph: its type and the range its values come from.
struct Operand {
  TensorType type;
  float lo = -1, hi = 1;
  float minMagnitude = 0; // keeps kinks (relu) and poles (div) out of reach
  bool whole = false;     // f32 values rounded down: masks (0 or 1 from [0, 2))
};

// Values drawn from `o`'s range, each a float (compiled code and the
// interpreter then read the same numbers); i32 values in [lo, hi).
inline Tensor randomTensor(const Operand &o, std::mt19937 &rng) {
  Tensor t = Tensor::zeros(o.type);
  std::uniform_real_distribution<float> u(o.lo, o.hi);
  std::uniform_int_distribution<int32_t> l((int32_t)o.lo, (int32_t)o.hi - 1);
  for (double &v : t.data) {
    if (o.type.dtype == DType::I32) {
      v = l(rng);
      continue;
    }
    float x;
    do
      x = u(rng);
    while (std::fabs(x) < o.minMagnitude);
    v = o.whole ? std::floor(x) : x;
  }
  return t;
}

// Runs autodiff on `m`, then checks d loss / d var for every element of
// every param of `f` against f64 central differences of the interpreted
// loss. The interpreter is exact to double, so the step can be tiny and the
// tolerance tight: a rule that is wrong in the 6th digit fails.
inline void checkGradients(Module &m, Function &f, const TensorMap &inputs, TensorMap vars,
                           const std::string &lossName, double eps = 1e-6,
                           double tol = 1e-6) {
  REQUIRE(runAutodiff(m));
  CHECK(problems(m) == "");
  REQUIRE(f.grads.size() == f.train->params.size());
  InterpResult analytic = interpret(f, inputs, vars);
  auto lossAt = [&](const TensorMap &v) {
    return interpret(f, inputs, v).values.at(lossName).data.at(0);
  };
  for (const std::string &p : f.train->params) {
    const Tensor &g = analytic.grads.at(p);
    REQUIRE(g.type == vars.at(p).type);
    for (size_t i = 0; i < g.data.size(); ++i) {
      double orig = vars[p].data[i];
      vars[p].data[i] = orig + eps;
      double up = lossAt(vars);
      vars[p].data[i] = orig - eps;
      double down = lossAt(vars);
      vars[p].data[i] = orig;
      double numeric = (up - down) / (2.0 * eps), got = g.data[i];
      INFO("param " << p << " element " << i << ": autodiff " << got
                    << ", finite difference " << numeric);
      CHECK(std::fabs(got - numeric) <= tol * (1 + std::fabs(numeric)));
    }
  }
}

// The optimizer tests' model: loss = reduce_sum((w * w + b) * r), so
// dw = 2 w r and db = r summed over rows. A param's gradient depends on the
// param, so successive steps differ.
struct TwoParamModel {
  Module m;
  Function *f = nullptr;
  TensorMap inputs, vars;

  TwoParamModel(const std::string &optimizer,
                std::vector<std::pair<std::string, double>> hyper) {
    m.name = "t";
    f = &m.addFunction("step");
    Builder b(*f);
    TensorType wt = TensorType::f32({2, 3}), bt = TensorType::f32({3});
    m.vars.push_back({"w", wt, {Init::Uniform, -1, 1}, true, {}});
    m.vars.push_back({"b", bt, {Init::Uniform, -1, 1}, true, {}});
    m.inputs.push_back({"r", wt, {}});
    Node *w = b.var("w", wt), *bias = b.var("b", bt);
    Node *loss = b.reduceSum(b.mul(b.add(b.mul(w, w), bias), b.input("r", wt)), {0, 1});
    f->train = TrainSpec{loss, {"w", "b"}, optimizer, std::move(hyper)};
    f->outputs = {{"loss", loss}};
    vars = initVarsForTest(m, 3);
    inputs["r"] = Tensor::of(wt, {0.5, -1.0, 2.0, 1.5, 0.25, -0.75});
  }

  // d loss / d p for w's values `w`, computed by hand.
  std::vector<double> grad(const std::string &p, const std::vector<double> &w) const {
    const std::vector<double> &r = inputs.at("r").data;
    std::vector<double> g;
    if (p == "w")
      for (size_t i = 0; i < 6; ++i)
        g.push_back(2 * w[i] * r[i]);
    else
      for (size_t j = 0; j < 3; ++j)
        g.push_back(r[j] + r[3 + j]);
    return g;
  }

  // Autodiff and the optimizer pass; the state starts at zeros().
  void expand() {
    REQUIRE(runAutodiff(m));
    REQUIRE(runOptimizerUpdate(m));
    CHECK(problems(m) == "");
    for (auto &d : m.vars)
      if (!vars.count(d.name))
        vars[d.name] = Tensor::zeros(d.type);
  }

  // One interpreted step, the updates fed back.
  void step() {
    for (auto &[name, t] : interpret(*f, inputs, vars).updates)
      vars[name] = t;
  }

  // expand(), then `steps` steps, check(step, variables before it) after each.
  void train(int steps, const std::function<void(int, const TensorMap &)> &check) {
    expand();
    for (int s = 1; s <= steps; ++s) {
      TensorMap before = vars;
      step();
      check(s, before);
    }
  }
};

} // namespace dlc::testing
