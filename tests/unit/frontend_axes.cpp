// The DSL's functions over axes as a model writes them: max, sum/mean with
// keepdims, softmax and log_softmax on any axis, transpose, stop_gradient.
// Each expression over x : f32[3, 4] is checked three ways, as in
// frontend_elementwise.cpp: its values against numbers computed here, its
// gradient against f64 finite differences, and the compiled (fused) predict
// against the interpreter.
#include "frontend/Frontend.h"
#include "tests/unit/dsl_support.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <sstream>

using namespace dlc;
using namespace dlc::testing;

namespace {

// x[i][j]: distinct values, so every max has one position.
const std::vector<double> kX = {0.3, -1.2, 2.1,  0.7,  //
                                -0.4, 1.9, -2.3, 0.05, //
                                1.1,  0.6, -0.8, -1.7};
double x(int i, int j) { return (float)kX[(size_t)(i * 4 + j)]; }

struct AxisCase {
  std::string expr; // over x : f32[3, 4]
  Dims dims;        // its result's
  std::function<double(int64_t)> want; // its element at a flat index
};

double softmaxAt(int i, int j, bool overRows) { // over the row's axis 1, or axis 0
  double sum = 0;
  for (int k = 0; k < (overRows ? 4 : 3); ++k)
    sum += std::exp(overRows ? x(i, k) : x(k, j));
  return std::exp(x(i, j)) / sum;
}

const std::vector<AxisCase> &cases() {
  static const std::vector<AxisCase> c = {
      {"max(x, 1)", {3}, [](int64_t i) { return std::max({x(i, 0), x(i, 1), x(i, 2), x(i, 3)}); }},
      {"max(x, axis = 0, keepdims = true)", {1, 4},
       [](int64_t j) { return std::max({x(0, j), x(1, j), x(2, j)}); }},
      {"max(x)", {}, [](int64_t) { return x(0, 2); }},
      {"sum(x, -1, keepdims = true)", {3, 1},
       [](int64_t i) { return x(i, 0) + x(i, 1) + x(i, 2) + x(i, 3); }},
      {"mean(x, [0, 1], true)", {1, 1},
       [](int64_t) {
         double s = 0;
         for (double v : kX)
           s += (float)v;
         return s / 12;
       }},
      {"softmax(x)", {3, 4}, [](int64_t k) { return softmaxAt(k / 4, k % 4, true); }},
      {"softmax(x, axis = 0)", {3, 4}, [](int64_t k) { return softmaxAt(k / 4, k % 4, false); }},
      {"log_softmax(x)", {3, 4},
       [](int64_t k) { return std::log(softmaxAt(k / 4, k % 4, true)); }},
      {"log_softmax(x, -2)", {3, 4},
       [](int64_t k) { return std::log(softmaxAt(k / 4, k % 4, false)); }},
      {"transpose(x)", {4, 3}, [](int64_t k) { return x(k % 3, k / 3); }},
      {"transpose(x, [0, 1])", {3, 4}, [](int64_t k) { return x(k / 4, k % 4); }},
      // Data movement composes with what reads it: a column softmax, written
      // by hand the long way round.
      {"transpose(softmax(transpose(x, [1, 0])))", {3, 4},
       [](int64_t k) { return softmaxAt(k / 4, k % 4, false); }},
  };
  return c;
}

Tensor xTensor() {
  std::vector<double> v;
  for (double e : kX)
    v.push_back((float)e);
  return f32Tensor({3, 4}, v);
}

int count(const Function &f, OpKind op) {
  int n = 0;
  for (auto &node : f.nodes)
    n += node->op == op;
  return n;
}

} // namespace

TEST_CASE("DSL axis functions: interpreted values match numbers computed here, "
          "compiled values the interpreter") {
  for (const AxisCase &c : cases()) {
    INFO(c.expr);
    auto m = compileDsl("model m {\n  input x : f32[3, 4]\n  output y = " + c.expr + "\n}\n");
    TensorMap inputs{{"x", xTensor()}}, noVars;
    Tensor y = interpret(*m->findFunction("predict"), inputs, noVars).outputs.at("y");
    REQUIRE(y.type == TensorType::f32(c.dims));
    std::vector<double> want;
    for (int64_t i = 0; i < y.numel(); ++i)
      want.push_back(c.want(i));
    checkClose(y.data, want, 1e-12);
    checkClose(jitRun(*m, 0, inputs, noVars).at("y").data, y.data, 1e-5);
  }
}

TEST_CASE("DSL axis functions: gradients match f64 finite differences") {
  for (const AxisCase &c : cases()) {
    INFO(c.expr);
    auto m = compileDsl("model m {\n  input r : f32" + dimsStr(c.dims) +
                     "\n  param x : f32[3, 4] = zeros()\n  loss = sum(" + c.expr +
                     " * r)\n  train step(loss, sgd(lr = 0.1))\n}\n");
    Function &step = *m->findFunction("step");
    TensorMap inputs{{"r", f32Tensor(c.dims, data(TensorType::f32(c.dims).numel(), -1, 1))}};
    checkGradients(*m, step, inputs, {{"x", xTensor()}}, step.train->loss->name);
  }
}

// Fused kernels mix them forward and backward: reduce_max_grad and
// log_softmax anchors with the SGD update as their epilogue, written over
// the variable in place, transposes of gradients, a softmax on axis 0.
TEST_CASE("DSL axis functions: a train step through all of them, compiled as interpreted") {
  auto m = compileDsl("model m {\n  input x : f32[4, 6]\n  param w : f32[6, 5] = glorot_uniform()\n"
                   "  param v : f32[4, 6] = normal(0, 1)\n"
                   "  h = x @ w\n"
                   "  a = (max(v, 1, keepdims = true) *\n"
                   "       mean(log_softmax(h - stop_gradient(max(h, -1, true)))))\n"
                   "  b = sum(transpose(softmax(h, axis = 0)) * transpose(h), 0)\n"
                   "  loss = mean(a) + mean(b)\n  train step(loss, sgd(lr = 0.5))\n}\n");
  checkTrainStepCompiled(*m, {{"x", f32Tensor({4, 6}, data(24, -2, 2))}}); // moves v and w
}

// d/dx sum(x * stop_gradient(x) * r) is x * r: the second factor is a
// constant to autodiff (finite differences would say 2 x r). Simplify keeps
// the op until autodiff has run, then drops it.
TEST_CASE("DSL stop_gradient: no gradient through it, and simplify keeps it until "
          "autodiff has run") {
  auto m = compileDsl("model m {\n  input r : f32[3, 4]\n  param x : f32[3, 4] = zeros()\n"
                   "  loss = sum(x * stop_gradient(x) * r)\n"
                   "  train step(loss, sgd(lr = 0.1))\n}\n");
  Function &step = *m->findFunction("step");
  runSimplify(*m);
  CHECK(count(step, OpKind::StopGradient) == 1);
  REQUIRE(runAutodiff(*m));
  TensorMap inputs{{"r", f32Tensor({3, 4}, data(12, -1, 1))}}, vars{{"x", xTensor()}};
  std::vector<double> want;
  for (size_t i = 0; i < 12; ++i)
    want.push_back(vars.at("x").data[i] * inputs.at("r").data[i]);
  checkClose(interpret(step, inputs, vars).grads.at("x").data, want, 1e-12);
  runSimplify(*m);
  CHECK(count(step, OpKind::StopGradient) == 0);
  checkClose(interpret(step, inputs, vars).grads.at("x").data, want, 1e-12);
}
