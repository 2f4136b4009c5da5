// The DSL's elementwise functions as a model writes them: the prelude's
// square, clip, leaky_relu and gelu, the ops called by name (sigmoid, tanh,
// abs, maximum, the comparisons, where) and `**`. Each expression over x is
// compiled from DSL and checked three ways: its values against the formula
// computed here, its gradient against f64 finite differences, and the
// compiled (fused) predict against the interpreter.
#include "frontend/Frontend.h"
#include "tests/unit/dsl_support.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

using namespace dlc;
using namespace dlc::testing;

namespace {

// Kinks and steps are at 0, ±0.25, ±0.5, 0.6: every x is 0.05 or more away.
const std::vector<double> kX = {-3.1, -1.7, -0.9, -0.45, -0.3, -0.05,
                                0.07, 0.3,  0.45, 0.8,   1.6,  2.9};

struct FnCase {
  std::string expr; // over x : f32[2, 6]
  std::function<double(double)> want;
};

double gelu(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

const std::vector<FnCase> &cases() {
  static const std::vector<FnCase> c = {
      {"square(x)", [](double x) { return x * x; }},
      {"clip(x, -0.5, 0.6)", [](double x) { return std::min(std::max(x, -0.5), 0.6); }},
      {"clip(x, lo = 0, hi = 1)", [](double x) { return std::min(std::max(x, 0.0), 1.0); }},
      {"leaky_relu(x)", [](double x) { return x > 0 ? x : 0.01 * x; }},
      {"leaky_relu(x, alpha = 0.2)", [](double x) { return x > 0 ? x : 0.2 * x; }},
      // A slope above 1: maximum(x, alpha * x) would be wrong here.
      {"leaky_relu(x, 1.5)", [](double x) { return x > 0 ? x : 1.5 * x; }},
      {"gelu(x)", gelu},
      {"sigmoid(x)", [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"tanh(x)", [](double x) { return std::tanh(x); }},
      {"abs(x)", [](double x) { return std::fabs(x); }},
      {"maximum(x, 0.25)", [](double x) { return std::max(x, 0.25); }},
      {"minimum(-0.25, x)", [](double x) { return std::min(-0.25, x); }},
      {"where(greater(x, 0.5), x, -x)", [](double x) { return x > 0.5 ? x : -x; }},
      {"where(cond = less(x, 0), a = 1, b = x * 3)",
       [](double x) { return x < 0 ? 1 : x * 3; }},
      // 0.45 is an x: equal and not_equal meet a tie (their gradient is zero
      // even there), and a constant is the f32 the kernels hold.
      {"greater_equal(x, 0.25) + less_equal(x, -0.25) * 2 + equal(x, 0.45) * 4 + "
       "not_equal(x, 0.45) * 8",
       [](double x) {
         double tie = (float)0.45;
         return (x >= 0.25) + (x <= -0.25) * 2 + (x == tie) * 4 + (x != tie) * 8;
       }},
      {"x ** 2", [](double x) { return x * x; }},
      {"-x ** 2", [](double x) { return -(x * x); }}, // -(x ** 2), as in Python
      {"2 ** x ** 2", [](double x) { return std::pow(2, x * x); }}, // 2 ** (x ** 2)
      {"abs(x) ** -0.5", [](double x) { return 1 / std::sqrt(std::fabs(x)); }},
  };
  return c;
}

// kX as a f32[2, 6] tensor of floats (what compiled code reads).
Tensor xTensor() {
  std::vector<double> v;
  for (double x : kX)
    v.push_back((float)x);
  return f32Tensor({2, 6}, v);
}

} // namespace

TEST_CASE("DSL elementwise functions: interpreted values match their formulas, "
          "compiled values the interpreter") {
  for (const FnCase &c : cases()) {
    INFO(c.expr);
    auto m = compileDsl("model m {\n  input x : f32[2, 6]\n  output y = " + c.expr + "\n}\n");
    TensorMap inputs{{"x", xTensor()}}, noVars;
    Tensor y = interpret(*m->findFunction("predict"), inputs, noVars).outputs.at("y");
    std::vector<double> want;
    for (double x : inputs.at("x").data)
      want.push_back(c.want(x));
    checkClose(y.data, want, 1e-6); // the DSL's constants are f32: 0.01f, ...
    checkClose(jitRun(*m, 0, inputs, noVars).at("y").data, y.data, 1e-5);
  }
}

TEST_CASE("DSL elementwise functions: gradients match f64 finite differences") {
  for (const FnCase &c : cases()) {
    INFO(c.expr);
    auto m = compileDsl("model m {\n  input r : f32[2, 6]\n  param x : f32[2, 6] = zeros()\n"
                     "  loss = sum(" + c.expr + " * r)\n  train step(loss, sgd(lr = 0.1))\n}\n");
    Function &step = *m->findFunction("step");
    TensorMap inputs{{"r", f32Tensor({2, 6}, data(12, -1, 1))}};
    checkGradients(*m, step, inputs, {{"x", xTensor()}}, step.train->loss->name);
  }
}

// Fused kernels mix them forward and backward (three-operand where, masks
// broadcast against constants, epilogues of a matmul).
TEST_CASE("DSL elementwise functions: a train step through all of them, compiled as "
          "interpreted") {
  auto m = compileDsl("model m {\n  input x : f32[4, 6]\n  param w : f32[6, 6] = glorot_uniform()\n"
                   "  h = x @ w\n"
                   "  a = square(clip(gelu(h), -0.5, 0.6)) + leaky_relu(h) * sigmoid(h)\n"
                   "  b = abs(tanh(h)) ** 1.5 + where(greater(h, 0.1), maximum(h, -h * 0.5), "
                   "minimum(h, 0.2))\n"
                   "  loss = mean(a + b)\n  train step(loss, sgd(lr = 0.5))\n}\n");
  checkTrainStepCompiled(*m, {{"x", f32Tensor({4, 6}, data(24, -2, 2))}});
}

TEST_CASE("DSL **: compile-time numbers as in Python, integers while exact") {
  auto dimsOf = [](const std::string &dim) {
    std::ostringstream errs;
    std::string src = "model m {\n  input x : f32[" + dim + "]\n  output y = x\n}\n";
    auto m = compileModelSource("t.dl", src, errs);
    return m ? m->inputs[0].type.str() : errs.str();
  };
  CHECK(dimsOf("2 ** 3 ** 2") == "f32[512]"); // 2 ** (3 ** 2)
  CHECK(dimsOf("-2 ** 2 + 10") == "f32[6]");  // -(2 ** 2) + 10
  CHECK(dimsOf("(-2) ** 3 + 9") == "f32[1]");
  CHECK(dimsOf("4 ** 0.5") == "f32[2]");
  CHECK(dimsOf("2 ** -1 * 8") == "f32[4]"); // a negative power is a number
  CHECK(dimsOf("(-1) ** 4611686018427387905 + 2") == "f32[1]");
  CHECK(dimsOf("2 ** 63").find("t.dl:2:19: error: integer overflow in '**'") == 0);
  CHECK(dimsOf("0 ** -1").find("t.dl:2:19: error: 0 ** (-1) is not a finite real number") == 0);
  CHECK(dimsOf("(-8) ** 0.5").find("t.dl:2:22: error: (-8) ** 0.5 is not a finite real number") ==
        0);
  CHECK(dimsOf("10.0 ** 400").find("error: 10 ** 400 is not a finite real number") !=
        std::string::npos);
}
